"""``wxstream models versions|promote|rollback|history`` and ``show NAME@VERSION``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.support.registry_support import add_versions
from wxstream.cli import ENV_PREFIX, cli
from wxstream.errors import AliasMoveError, IncompleteVersionError
from wxstream.models.model_dir import METADATA_FILE, read_model_dir


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), auto_envvar_prefix=ENV_PREFIX)


@pytest.fixture
def storage(tmp_path: Path, serve_model_dir: Path) -> tuple[Path, list[str]]:
    """A store whose model ``wx`` has three versions (the first one champion)."""
    bundle = read_model_dir(serve_model_dir)
    root = tmp_path / "trained" / "forecasting"
    ids = add_versions(root, "wx", bundle, 3)
    return tmp_path, ids


def test_versions_promote_history_rollback(storage: tuple[Path, list[str]]) -> None:
    path, (a, b, c) = storage
    where = ("--model-storage-path", str(path))
    table = run("models", "versions", "wx", *where)
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split() == ["VERSION", "CREATED", "ALIASES", "VAL", "MAE@1h"]
    assert [line.split()[0] for line in lines[1:]] == [a, b, c]
    assert lines[1].split()[2] == "champion"
    assert lines[2].split()[2] == "-"

    moved = run("models", "promote", "wx", b, "--why", "lower MAE", "--who", "bo", *where)
    assert moved.exit_code == 0, moved.output
    assert f"wx: champion {a} -> {b}" in moved.output
    challenger = run("models", "promote", "wx", c, "--alias", "challenger", "--why", "ab", *where)
    assert challenger.exit_code == 0, challenger.output
    rows = [
        json.loads(x)
        for x in run("models", "versions", "wx", "--json", *where).output.split("\n")
        if x
    ]
    assert {r["version"]: r["aliases"] for r in rows} == {
        a: [],
        b: ["champion"],
        c: ["challenger"],
    }

    shown = run("models", "show", "wx@challenger", *where)
    assert shown.exit_code == 0, shown.output
    assert f"version id            {c}" in shown.output
    assert f"version id            {b}" in run("models", "show", "wx", *where).output

    back = run("models", "rollback", "wx", "--why", "b drifts", *where)
    assert back.exit_code == 0, back.output
    assert f"wx: champion {b} -> {a}" in back.output

    history = run("models", "history", "wx", "--json", *where)
    moves = [json.loads(x) for x in history.output.splitlines()]
    assert [(m["action"], m["alias"], m["from"], m["to"]) for m in moves] == [
        ("first", "champion", None, a),
        ("promote", "champion", a, b),
        ("promote", "challenger", None, c),
        ("rollback", "champion", b, a),
    ]
    assert moves[1]["who"] == "bo"
    assert moves[3]["why"] == "b drifts"
    text = run("models", "history", "wx", *where).output
    assert "lower MAE" in text
    assert "rollback" in text


def test_who_comes_from_its_variable_and_why_is_required(
    storage: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, (_, b, _) = storage
    where = ("--model-storage-path", str(path))
    no_reason = run("models", "promote", "wx", b, *where)
    assert no_reason.exit_code == 2
    assert "--why" in no_reason.output
    monkeypatch.setenv("WXSTREAM_WHO", "release-bot")
    monkeypatch.setenv("WXSTREAM_MODELS_PROMOTE_WHY", "from the environment")
    assert run("models", "promote", "wx", b, *where).exit_code == 2  # still required
    assert run("models", "promote", "wx", b, "--why", "ok", *where).exit_code == 0
    (last,) = [
        json.loads(x) for x in run("models", "history", "wx", "--json", *where).output.splitlines()
    ][-1:]
    assert last["who"] == "release-bot"
    assert "WXSTREAM_WHO" in run("models", "promote", "--help").output


def test_refusals_are_errors_with_a_fix(storage: tuple[Path, list[str]]) -> None:
    path, (a, b, _) = storage
    where = ("--model-storage-path", str(path))
    nothing_before = run("models", "rollback", "wx", *where)
    assert isinstance(nothing_before.exception, AliasMoveError)
    assert nothing_before.exception.fix
    (path / "trained" / "forecasting" / "wx" / "versions" / b / METADATA_FILE).unlink()
    half = run("models", "show", f"wx@{b}", *where)
    assert isinstance(half.exception, IncompleteVersionError)
    assert "half-copied" in half.exception.message
    assert run("models", "show", f"wx@{a}", *where).exit_code == 0


def test_decide_needs_a_challenger_and_every_flag_names_its_variable(
    storage: tuple[Path, list[str]],
) -> None:
    path, _ = storage
    # Refused before any Kafka is asked: the registry has no challenger for wx.
    alone = run("models", "decide", "wx", "--model-storage-path", str(path))
    assert isinstance(alone.exception, AliasMoveError)
    assert "promote wx VERSION --alias challenger" in str(alone.exception.fix)
    text = run("models", "decide", "--help").output
    for variable in (
        "WXSTREAM_AUTO_PROMOTE",
        "WXSTREAM_MIN_PAIRS",
        "WXSTREAM_PROMOTION_ALPHA",
        "WXSTREAM_READ_TIMEOUT_S",
        "WXSTREAM_SKILL_SLACK_H",
        "KAFKA_BOOTSTRAP_SERVERS",
    ):
        assert variable in text
    assert "WXSTREAM_VERIFICATION_TOPIC" in run("models", "skill", "--help").output
