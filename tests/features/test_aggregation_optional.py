"""Hourly aggregation of the optional columns (small synthetic frames: a pure function)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from wxstream.data.observations import wind_vector
from wxstream.features import FEATURE_COLUMNS, aggregate_hourly
from wxstream.messages.optional_fields import OPTIONAL_FIELDS


def _observations(**extra: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "station_id": ["A", "A", "A"],
            "timestamp": pd.to_datetime(
                ["2024-01-01T10:00Z", "2024-01-01T10:30Z", "2024-01-01T11:10Z"], utc=True
            ),
            "temperature_c": [1.0, 2.0, 3.0],
            "dewpoint_c": [0.0, 0.5, 1.0],
            "wind_speed_ms": [2.0, 6.0, 0.0],
            **extra,
        }
    )


def test_without_optional_columns_the_frame_is_unchanged() -> None:
    assert list(aggregate_hourly(_observations()).columns) == list(FEATURE_COLUMNS)


def test_means_sums_vectors_and_coordinates() -> None:
    # 10:00 from the north at 2 m/s, 10:30 from the east at 6 m/s; 11:10 calm.
    u, v = wind_vector(np.array([2.0, 6.0, 0.0]), np.array([0.0, 90.0, 270.0]))
    out = aggregate_hourly(
        _observations(
            pressure_hpa=[1000.0, 1002.0, np.nan],
            relative_humidity=[50.0, np.nan, 70.0],
            wind_u_ms=list(u),
            wind_v_ms=list(v),
            precipitation_mm=[0.2, 0.3, np.nan],
            latitude=[40.0, 40.0, 40.0],
            longitude=[np.nan, 116.4, 116.4],
            elevation_m=[np.nan, np.nan, np.nan],
        )
    )
    assert list(out.columns) == [*FEATURE_COLUMNS, *OPTIONAL_FIELDS]
    first, second = out.iloc[0], out.iloc[1]
    assert first["avg_pressure_hpa"] == 1001.0
    assert first["avg_relative_humidity"] == 50.0  # nulls skipped
    # The mean vector: each reading weighs by its speed (the east wind dominates).
    assert math.isclose(first["avg_wind_u"], (0.0 - 6.0) / 2, abs_tol=1e-12)
    assert math.isclose(first["avg_wind_v"], (-2.0 + 0.0) / 2, abs_tol=1e-12)
    assert math.hypot(first["avg_wind_u"], first["avg_wind_v"]) <= first["avg_wind_speed"]
    assert math.isclose(first["precipitation_mm"], 0.5)
    assert math.isnan(second["precipitation_mm"])  # only nulls: null, not 0 (Spark's sum)
    assert first["longitude"] == 116.4  # first non-null
    assert math.isnan(first["elevation_m"])
    assert (second["avg_wind_u"], second["avg_wind_v"]) == (0.0, 0.0)  # calm


def test_only_the_columns_present_are_aggregated() -> None:
    out = aggregate_hourly(_observations(pressure_hpa=[1000.0, 1001.0, 1002.0]))
    assert list(out.columns) == [*FEATURE_COLUMNS, "avg_pressure_hpa"]


def test_wind_vector_directions_and_calm_rule() -> None:
    u, v = wind_vector(
        np.array([1.0, 1.0, 0.0, 3.0, 2.0, np.nan]),
        np.array([0.0, 90.0, 45.0, 180.0, np.nan, 10.0]),
        calm=np.array([False, False, False, True, False, False]),
    )
    np.testing.assert_allclose(u[:2], [0.0, -1.0], atol=1e-12)  # from N: blows south
    np.testing.assert_allclose(v[:2], [-1.0, 0.0], atol=1e-12)  # from E: blows west
    assert (u[2], v[2]) == (0.0, 0.0)  # speed 0
    assert (u[3], v[3]) == (0.0, 0.0)  # a calm/variable label
    assert np.isnan(u[4:]).all()
    assert np.isnan(v[4:]).all()
