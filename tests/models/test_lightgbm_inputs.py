"""The LightGBM baseline reads the inputs of the model it is compared with."""

from __future__ import annotations

import numpy as np
import pandas as pd

from wxstream.data import get_split
from wxstream.features.adapter import FeatureAdapter, InputSpec, default_adapter
from wxstream.models.baselines import grid_from_feature_rows
from wxstream.models.evaluation_splits import period_samples
from wxstream.models.lightgbm_baseline import (
    LightGBMSettings,
    fit_lightgbm_direct,
    legacy_input_grid,
    lightgbm_features,
    model_input_grid,
    predict_lightgbm_direct,
)


def _richer_adapter() -> FeatureAdapter:
    base = default_adapter(with_time_encodings=True)
    extra = (
        InputSpec("pressure", field="avg_pressure_hpa", unit="hPa"),
        InputSpec("humidity", field="avg_relative_humidity", unit="%"),
        InputSpec("latitude", field="latitude", unit="deg"),
    )
    return FeatureAdapter(inputs=(*base.inputs, *extra), target=base.target)


def test_model_inputs_land_on_the_grid(nyc_features: pd.DataFrame) -> None:
    grid = grid_from_feature_rows(nyc_features)
    adapter = _richer_adapter()
    inputs = model_input_grid(adapter, nyc_features, grid)
    assert inputs.names == adapter.input_names
    first = inputs.names.index("temperature")
    assert np.allclose(inputs.values[first], grid.temperature, equal_nan=True)
    # measurements are windowed; time encodings and station constants are read at issue
    windowed = dict(zip(inputs.names, inputs.windowed, strict=True))
    assert windowed["pressure"]
    assert windowed["humidity"]
    assert windowed["dewpoint"]
    assert not windowed["hour_sin"]
    assert not windowed["latitude"]


def test_feature_columns_follow_the_inputs(nyc_features: pd.DataFrame) -> None:
    grid = grid_from_feature_rows(nyc_features)
    station = np.array([0, 1], dtype=np.int64)
    issue = np.array([100, 200], dtype=np.int64)
    lookback = 6
    legacy = lightgbm_features(grid, station, issue, lookback)
    assert legacy.shape == (2, 3 * lookback + 3)
    # the legacy set is what the baseline always used: the last column before the
    # three calendar/station ones is the issue-hour wind speed
    assert legacy[0, 3 * lookback - 1] == np.float32(grid.wind_speed[0, 100])
    adapter = _richer_adapter()
    richer = lightgbm_features(
        grid, station, issue, lookback, model_input_grid(adapter, nyc_features, grid)
    )
    n_windowed, n_single = 5, 5  # temp, wind, dew, pressure, humidity; 4 times + latitude
    assert richer.shape == (2, n_windowed * lookback + n_single + 1)
    without = lightgbm_features(grid, station, issue, lookback, station_feature=False)
    assert without.shape == (2, 3 * lookback + 2)
    assert legacy_input_grid(grid).names[:3] == ("temperature", "dewpoint", "wind_speed")


def test_baseline_with_richer_inputs_fits_and_forecasts(nyc_features: pd.DataFrame) -> None:
    grid = grid_from_feature_rows(nyc_features)
    split = get_split("nycflights13")
    inputs = model_input_grid(_richer_adapter(), nyc_features, grid)
    settings = LightGBMSettings(lookback=6, max_rounds=10, train_stride=4)
    leads = [1, 3]
    train = period_samples(grid, split.train, 3)
    model = fit_lightgbm_direct(
        grid, train, period_samples(grid, split.validation, 3), leads, settings, inputs=inputs
    )
    station, issue = period_samples(grid, split.test, 3)
    out = predict_lightgbm_direct(model, grid, station, issue, inputs=inputs)
    assert out.shape == (issue.size, 2)
    assert np.isfinite(out).all()
