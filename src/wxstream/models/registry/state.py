"""A model name's alias state as the control topic carries it
(:class:`~wxstream.messages.alias_state.AliasState`), read from the alias files and
the history on disk: those stay the source of truth, the topic only announces them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from wxstream.messages.alias_state import AliasState
from wxstream.models.registry.layout import (
    CHALLENGER,
    CHAMPION,
    ModelRef,
    name_dir_of,
    read_aliases,
    resolve_version,
)
from wxstream.models.registry.moves import DECISION, read_history


def alias_state(forecasting_dir: Path, name: str, *, who: str, why: str = "") -> AliasState:
    """Where ``name``'s aliases point now, stamped with its last move (``who`` and
    ``why`` stand in where the name has no recorded move).

    Raises:
        ModelNotFoundError: no such name.
        ModelVersionNotFoundError: the name has no champion.
    """
    aliases = read_aliases(name_dir_of(forecasting_dir, name))
    champion = aliases.get(CHAMPION)
    if champion is None:
        champion, _ = resolve_version(forecasting_dir, ModelRef(name, CHAMPION))
    history = read_history(forecasting_dir, name)
    moves = [move for move in history if move.action != DECISION]
    last = moves[-1] if moves else None
    moved_at = datetime.fromisoformat(last.at.replace("Z", "+00:00")) if last else datetime.now(UTC)
    challenger = aliases.get(CHALLENGER)
    return AliasState(
        name=name,
        champion=champion,
        challenger=None if challenger in (None, champion) else challenger,
        moved_at=moved_at,
        who=last.who if last else who,
        why=last.why if last else why,
        # Every line of the history counts, decisions too: the sequence only grows.
        sequence=len(history),
    )
