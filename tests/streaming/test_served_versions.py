"""Which versions serve runs, resolved by the registry: the champion alone, the champion
and its challenger, a pinned version alone; a fraction without a challenger is refused."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from wxstream.errors import ConfigError
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import add_version, promote
from wxstream.settings import ModelSettings, ServeSettings
from wxstream.streaming.served_versions import resolve_versions
from wxstream.streaming.service import served_models

pytestmark = pytest.mark.slow  # trains the session's small test model


@pytest.fixture
def registry(serve_model_dir: Path, tmp_path: Path) -> tuple[Path, str, str]:
    """The test model as a versioned name's champion, and a copy of it (its metadata
    marked, so its own id) added as a second version; returns the storage root and the
    two ids."""
    forecasting = tmp_path / "trained" / "forecasting"
    bundle = read_model_dir(serve_model_dir)
    first, _ = add_version(forecasting, "nyc", bundle, who="test")
    copy = replace(bundle, metadata={**bundle.metadata, "copy": True})
    second, _ = add_version(forecasting, "nyc", copy, who="test")
    return tmp_path, first, second


def test_a_name_without_a_challenger_serves_its_champion_alone(
    registry: tuple[Path, str, str],
) -> None:
    storage, first, _ = registry
    found = resolve_versions(ModelSettings(storage_path=storage, model_name="nyc"))
    assert (found.name, found.champion_version, found.challenger_dir) == ("nyc", first, None)
    settings = ServeSettings(model=ModelSettings(storage_path=storage, model_name="nyc"))
    with pytest.raises(ConfigError, match="no challenger"):
        served_models(replace(settings, challenger_fraction=0.2))
    _, _, challenger = served_models(settings)
    assert challenger is None


def test_a_challenger_is_served_beside_the_champion(registry: tuple[Path, str, str]) -> None:
    storage, first, second = registry
    promote(
        storage / "trained" / "forecasting", "nyc", second, alias="challenger", why="t", who="t"
    )
    model = ModelSettings(storage_path=storage, model_name="nyc")
    found = resolve_versions(model)
    assert (found.champion_version, found.challenger_version) == (first, second)
    assert found.champion_dir.name == first
    assert found.challenger_dir is not None
    assert found.challenger_dir.name == second
    _, champion, challenger = served_models(ServeSettings(model=model, challenger_fraction=0.5))
    assert challenger is not None
    assert challenger.version == second
    assert tuple(challenger.model.leads_h) == tuple(champion.leads_h)
    # A pinned reference serves that version alone.
    pinned = resolve_versions(replace(model, model_name="nyc@challenger"))
    assert (pinned.name, pinned.champion_version, pinned.challenger_dir) == ("nyc", second, None)


def test_a_legacy_directory_keeps_its_metadata_version(
    serve_model_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(serve_model_dir, tmp_path / "trained" / "forecasting" / "old")
    found = resolve_versions(ModelSettings(storage_path=tmp_path, model_name="old"))
    assert (found.name, found.champion_version, found.challenger_dir) == ("old", None, None)
