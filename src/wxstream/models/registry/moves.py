"""Changing a model name: adding a version, moving an alias, rolling the champion back.

Every change happens under an exclusive ``fcntl.flock`` on ``<forecasting_dir>/.<NAME>.lock``
(a sibling, so it also guards turning a legacy folder into a versioned one). O_APPEND
alone would keep history lines whole, but a move reads the aliases, decides, and writes
both files: two promotes at once must see each other's result, or the second line's
``from`` would be wrong.

A move is first appended to ``history.jsonl`` (flushed and fsynced), then
``aliases.json`` is replaced (temp file + ``os.replace``). The history is the record;
if a process dies between the two writes, the next change replays the last line of each
alias into ``aliases.json`` before it decides anything.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wxstream.errors import AliasMoveError, ModelError
from wxstream.models.model_dir import VERSIONS_DIR, ModelBundle, model_path, write_model_dir
from wxstream.models.registry.layout import (
    ALIASES,
    ALIASES_FILE,
    CHALLENGER,
    CHAMPION,
    HISTORY_FILE,
    LEGACY_VERSION,
    ModelRef,
    is_legacy,
    name_dir_of,
    read_aliases,
    resolve_version,
    verify_version,
    version_id,
)

ACTIONS = ("first", "adopt", "promote", "rollback", "decision")
DECISION = "decision"
"""A promotion decision, made or declined: recorded, moves no alias."""


@dataclass(frozen=True)
class AliasMove:
    """One line of ``history.jsonl``.

    Attributes:
        at: ISO UTC time of the move.
        who: who moved it (an OS user, or ``--who``).
        alias: ``champion`` or ``challenger``.
        from_version: the version it pointed at before (``None``: unset).
        to_version: the version it points at now.
        why: the reason given.
        action: ``first`` (a new name's first version), ``adopt`` (a legacy folder
            became versioned), ``promote``, ``rollback`` or ``decision`` (a promotion
            decision, made or declined; it moves nothing: ``to`` is where the champion
            stands, and the figures name both versions).
        figures: numbers behind an automatic decision, else empty.
    """

    at: str
    who: str
    alias: str
    from_version: str | None
    to_version: str
    why: str
    action: str = "promote"
    figures: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object of one history line."""
        line: dict[str, Any] = {
            "at": self.at,
            "who": self.who,
            "alias": self.alias,
            "from": self.from_version,
            "to": self.to_version,
            "why": self.why,
            "action": self.action,
        }
        if self.figures:
            line["figures"] = dict(self.figures)
        return line

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AliasMove:
        """Inverse of :meth:`to_json`."""
        return cls(
            at=str(data["at"]),
            who=str(data["who"]),
            alias=str(data["alias"]),
            from_version=None if data.get("from") is None else str(data["from"]),
            to_version=str(data["to"]),
            why=str(data.get("why", "")),
            action=str(data.get("action", "promote")),
            figures=dict(data.get("figures") or {}),
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def read_history(forecasting_dir: Path, name: str) -> list[AliasMove]:
    """Every alias move of ``name``, oldest first (empty for a legacy name)."""
    path = name_dir_of(forecasting_dir, name) / HISTORY_FILE
    if not path.is_file():
        return []
    moves = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not text.strip():
            continue
        try:
            moves.append(AliasMove.from_json(json.loads(text)))
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(
                f"{path}:{number}: not a history line: {exc}",
                fix="repair or remove that line; the other lines are kept as they are",
            ) from exc
    return moves


@contextmanager
def _locked(forecasting_dir: Path, name: str) -> Iterator[None]:
    model_path(forecasting_dir, name)  # refuses names that would escape the folder
    forecasting_dir.mkdir(parents=True, exist_ok=True)
    with (forecasting_dir / f".{name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _append_history(name_dir: Path, move: AliasMove) -> None:
    line = (json.dumps(move.to_json(), sort_keys=True) + "\n").encode()
    fd = os.open(name_dir / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_aliases(name_dir: Path, aliases: Mapping[str, str]) -> None:
    tmp = name_dir / f".{ALIASES_FILE}.tmp-{uuid.uuid4().hex[:8]}"
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(dict(sorted(aliases.items())), indent=2) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, name_dir / ALIASES_FILE)
    _fsync_dir(name_dir)


def _roll_forward(name_dir: Path, history: list[AliasMove]) -> dict[str, str]:
    """``aliases.json`` as the history says it is (repairs a move cut short)."""
    aliases = read_aliases(name_dir)
    wanted = dict(aliases)
    for move in history:
        if move.action != DECISION:
            wanted[move.alias] = move.to_version
    if wanted != aliases:
        _write_aliases(name_dir, wanted)
    return wanted


def _move(name_dir: Path, aliases: dict[str, str], move: AliasMove) -> AliasMove:
    _append_history(name_dir, move)
    aliases[move.alias] = move.to_version
    _write_aliases(name_dir, aliases)
    return move


def _adopt_legacy(forecasting_dir: Path, name: str, who: str) -> None:
    """Turn the legacy folder ``name`` into a versioned one whose champion is its model.

    The new layout is built beside it and swapped in with two renames, so a reader sees
    either the old folder or the new one (or, for an instant, none).
    """
    name_dir = forecasting_dir / name
    staging = forecasting_dir / f".{name}.adopt-{uuid.uuid4().hex[:8]}"
    try:
        copy = staging / VERSIONS_DIR / ".copy"
        shutil.copytree(name_dir, copy)
        version = version_id(copy)
        os.replace(copy, staging / VERSIONS_DIR / version)
        move = AliasMove(
            _now(),
            who,
            CHAMPION,
            None,
            version,
            "the model directory became its first version",
            action="adopt",
        )
        _move(staging, {}, move)
        old = forecasting_dir / f".{name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(name_dir, old)
        os.replace(staging, name_dir)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def add_version(
    forecasting_dir: Path, name: str, bundle: ModelBundle, *, who: str
) -> tuple[str, AliasMove | None]:
    """Write ``bundle`` as a new version of ``name`` and return its id and any alias move.

    A new name's first version becomes its champion (there is nothing else to serve).
    Any later version gets no alias: a version starts taking traffic only when someone
    promotes it (``promote``), never as a side effect of training. A legacy folder of
    that name first becomes a versioned name (its model, the champion).
    """
    with _locked(forecasting_dir, name):
        name_dir = forecasting_dir / name
        if is_legacy(name_dir):
            _adopt_legacy(forecasting_dir, name, who)
        versions_dir = name_dir / VERSIONS_DIR
        versions_dir.mkdir(parents=True, exist_ok=True)
        staging = versions_dir / f".new-{uuid.uuid4().hex[:8]}"
        try:
            written = write_model_dir(staging, name, bundle)
            version = version_id(written)
            target = versions_dir / version
            if target.exists():
                raise ModelError(
                    f"model {name!r} already has version {version} with these very files",
                    fix=f"see `wxstream models versions {name}`",
                )
            os.replace(written, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        _fsync_dir(versions_dir)
        history = read_history(forecasting_dir, name)
        aliases = _roll_forward(name_dir, history)
        if CHAMPION in aliases:
            return version, None
        move = AliasMove(
            _now(), who, CHAMPION, None, version, "first version of a new name", action="first"
        )
        return version, _move(name_dir, aliases, move)


def promote(
    forecasting_dir: Path,
    name: str,
    version: str,
    *,
    why: str,
    who: str,
    alias: str = CHAMPION,
    figures: Mapping[str, Any] | None = None,
) -> AliasMove:
    """Point ``alias`` of ``name`` at ``version`` and record the move.

    Raises:
        AliasMoveError: unknown alias, a legacy name (one version only), or the alias
            already points there.
        ModelVersionNotFoundError: no such version.
        IncompleteVersionError: the version is half-copied or changed.
    """
    if alias not in ALIASES:
        raise AliasMoveError(f"unknown alias {alias!r}", fix=f"use one of {', '.join(ALIASES)}")
    if not why.strip():
        raise AliasMoveError("a move needs a reason", fix="say why with --why TEXT")
    with _locked(forecasting_dir, name):
        name_dir = name_dir_of(forecasting_dir, name)
        if is_legacy(name_dir):
            raise AliasMoveError(
                f"model {name!r} has a single version ({LEGACY_VERSION})",
                fix=f"train a new version with `wxstream train --name {name}`",
            )
        _, path = resolve_version(forecasting_dir, ModelRef(name, version))
        verify_version(path)
        aliases = _roll_forward(name_dir, read_history(forecasting_dir, name))
        current = aliases.get(alias)
        if current == version:
            raise AliasMoveError(f"{alias} of {name!r} is already {version}", fix="nothing to do")
        move = AliasMove(_now(), who, alias, current, version, why, figures=dict(figures or {}))
        return _move(name_dir, aliases, move)


def champion_stack(history: list[AliasMove]) -> list[str]:
    """The champions in force, oldest first: a promote pushes, a rollback pops."""
    stack: list[str] = []
    for move in history:
        if move.alias != CHAMPION or move.action == DECISION:
            continue
        if move.action == "rollback" and stack:
            stack.pop()
        else:
            stack.append(move.to_version)
    return stack


def rollback(forecasting_dir: Path, name: str, *, why: str, who: str) -> AliasMove:
    """Point the champion of ``name`` back at the champion before it.

    Repeated rollbacks walk further back (A -> B -> C, rollback: B, rollback: A).

    Raises:
        AliasMoveError: a legacy name, or no earlier champion in the history.
    """
    with _locked(forecasting_dir, name):
        name_dir = name_dir_of(forecasting_dir, name)
        history = read_history(forecasting_dir, name)
        stack = champion_stack(history)
        if is_legacy(name_dir) or len(stack) < 2:
            raise AliasMoveError(
                f"model {name!r} has no earlier champion to roll back to",
                fix=f"see `wxstream models history {name}`, or promote a version",
            )
        aliases = _roll_forward(name_dir, history)
        move = AliasMove(
            _now(), who, CHAMPION, aliases.get(CHAMPION), stack[-2], why, action="rollback"
        )
        return _move(name_dir, aliases, move)


def record_decision(
    forecasting_dir: Path,
    name: str,
    *,
    champion: str,
    challenger: str,
    promote_challenger: bool,
    decision: Mapping[str, Any],
    why: str,
    who: str,
) -> list[AliasMove]:
    """Append a promotion decision between ``champion`` and ``challenger`` to the
    history and, when ``promote_challenger``, swap the two aliases.

    The decision line is written whatever was decided (action ``decision``; its
    ``figures`` are ``decision``). A swap then moves ``champion`` to the challenger and
    ``challenger`` to the old champion: the old champion keeps being served beside the
    new one, so live evidence keeps accruing and a later decision can bring it back;
    ``rollback`` pops the champion as after any promote.

    Raises:
        AliasMoveError: the aliases moved since the decision was computed (someone
            promoted in between): nothing is written.
    """
    with _locked(forecasting_dir, name):
        name_dir = name_dir_of(forecasting_dir, name)
        aliases = _roll_forward(name_dir, read_history(forecasting_dir, name))
        if aliases.get(CHAMPION) != champion or aliases.get(CHALLENGER) != challenger:
            raise AliasMoveError(
                f"the aliases of {name!r} moved while deciding (champion "
                f"{aliases.get(CHAMPION)}, challenger {aliases.get(CHALLENGER)})",
                fix=f"run `wxstream models decide {name}` again",
            )
        figures = dict(decision)
        line = AliasMove(
            _now(), who, CHAMPION, champion, champion, why, action=DECISION, figures=figures
        )
        _append_history(name_dir, line)
        moves = [line]
        if promote_challenger:
            at = _now()
            reason = f"promoted by measured accuracy (decision at {line.at})"
            moves.append(
                _move(name_dir, aliases, AliasMove(at, who, CHAMPION, champion, challenger, reason))
            )
            back = f"the previous champion, kept as challenger (decision at {line.at})"
            moves.append(
                _move(name_dir, aliases, AliasMove(at, who, CHALLENGER, challenger, champion, back))
            )
        return moves
