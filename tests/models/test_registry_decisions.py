"""Promotion decisions in the history: recorded made or declined, moving no alias
unless asked, invisible to rollback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.registry_support import add_versions
from wxstream.errors import AliasMoveError
from wxstream.models.model_dir import ModelBundle, read_model_dir
from wxstream.models.registry import (
    champion_stack,
    promote,
    read_aliases,
    read_history,
    record_decision,
    rollback,
)

FIGURES = {"promote": False, "reasons": ["lead 1 h: 5 paired forecasts, 2000 needed"]}


@pytest.fixture(scope="module")
def bundle(serve_model_dir: Path) -> ModelBundle:
    return read_model_dir(serve_model_dir)


@pytest.fixture
def store(tmp_path: Path, bundle: ModelBundle) -> tuple[Path, str, str, str]:
    """Name ``wx``: versions a (champion, then b), b (champion), c (challenger)."""
    root = tmp_path / "trained" / "forecasting"
    ids = add_versions(root, "wx", bundle, 3)
    a, b, c = ids
    promote(root, "wx", b, why="better", who="ana")
    promote(root, "wx", c, why="try it", who="ana", alias="challenger")
    return root, a, b, c


def test_a_declined_decision_is_recorded_and_moves_nothing(
    store: tuple[Path, str, str, str],
) -> None:
    root, a, b, c = store
    moves = record_decision(
        root,
        "wx",
        champion=b,
        challenger=c,
        promote_challenger=False,
        decision=FIGURES,
        why="decline: too few pairs",
        who="bo",
    )
    assert len(moves) == 1
    line = read_history(root, "wx")[-1]
    assert (line.action, line.alias, line.from_version, line.to_version) == (
        "decision",
        "champion",
        b,
        b,
    )
    assert dict(line.figures) == FIGURES
    assert read_aliases(root / "wx") == {"champion": b, "challenger": c}
    assert champion_stack(read_history(root, "wx")) == [a, b]
    # Rollback still pops the champion pushed before the decision.
    assert rollback(root, "wx", why="back", who="bo").to_version == a


def test_a_promotion_swaps_champion_and_challenger(store: tuple[Path, str, str, str]) -> None:
    root, _, b, c = store
    moves = record_decision(
        root,
        "wx",
        champion=b,
        challenger=c,
        promote_challenger=True,
        decision={**FIGURES, "promote": True},
        why="promote",
        who="bo",
    )
    assert [(m.action, m.alias, m.from_version, m.to_version) for m in moves] == [
        ("decision", "champion", b, b),
        ("promote", "champion", b, c),
        ("promote", "challenger", c, b),
    ]
    assert read_aliases(root / "wx") == {"champion": c, "challenger": b}
    lines = (root / "wx" / "history.jsonl").read_text().splitlines()
    assert json.loads(lines[-3])["figures"]["promote"] is True
    assert rollback(root, "wx", why="regressed", who="bo").to_version == b


def test_a_decision_on_aliases_that_moved_meanwhile_is_refused(
    store: tuple[Path, str, str, str],
) -> None:
    root, a, _, c = store
    before = read_history(root, "wx")
    with pytest.raises(AliasMoveError, match="moved while deciding"):
        record_decision(
            root,
            "wx",
            champion=a,
            challenger=c,
            promote_challenger=True,
            decision=FIGURES,
            why="promote",
            who="bo",
        )
    assert read_history(root, "wx") == before
