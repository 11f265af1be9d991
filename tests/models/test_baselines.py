"""Baselines on tiny synthetic series where the right answer is known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wxstream.models import baselines
from wxstream.models.baselines import HourlyGrid

START = pd.Timestamp("2021-01-01 00:00", tz="UTC")


def _grid(temperature: np.ndarray, start: pd.Timestamp = START) -> HourlyGrid:
    t = np.atleast_2d(np.asarray(temperature, dtype=np.float64))
    return HourlyGrid(
        station_ids=tuple(f"S{k}" for k in range(t.shape[0])),
        start=start,
        temperature=t,
        dewpoint=t - 5.0,
        wind_speed=np.ones_like(t),
    )


def _idx(*values: int) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def test_targets_are_the_values_h_hours_after_issue() -> None:
    grid = _grid(np.arange(100.0))
    out = baselines.targets(grid, _idx(0, 0), _idx(10, 50), [1, 2, 24])
    np.testing.assert_array_equal(out, [[11, 12, 34], [51, 52, 74]])


def test_targets_beyond_the_grid_are_nan() -> None:
    grid = _grid(np.arange(30.0))
    out = baselines.targets(grid, _idx(0), _idx(28), [1, 2, 3])
    assert out[0, 0] == 29.0
    assert np.isnan(out[0, 1:]).all()


def test_persistence_repeats_the_last_observation() -> None:
    grid = _grid(np.vstack([np.arange(50.0), -np.arange(50.0)]))
    out = baselines.persistence(grid, _idx(0, 1), _idx(30, 40), [1, 6, 24])
    np.testing.assert_array_equal(out, [[30, 30, 30], [-40, -40, -40]])


def test_persistence_is_nan_where_the_issue_hour_is_missing() -> None:
    values = np.arange(50.0)
    values[30] = np.nan
    out = baselines.persistence(_grid(values), _idx(0), _idx(30), [1, 2])
    assert np.isnan(out).all()


def test_diurnal_persistence_is_exact_on_a_pure_daily_cycle() -> None:
    hours = np.arange(24 * 10, dtype=np.float64)
    cycle = 10.0 + 5.0 * np.sin(2 * np.pi * hours / 24.0)
    grid = _grid(cycle)
    leads = list(range(1, 25))
    issue = _idx(48, 100, 150)
    station = _idx(0, 0, 0)
    forecast = baselines.diurnal_persistence(grid, station, issue, leads)
    np.testing.assert_allclose(forecast, baselines.targets(grid, station, issue, leads))


def test_diurnal_persistence_reads_issue_plus_h_minus_24() -> None:
    grid = _grid(np.arange(100.0))
    out = baselines.diurnal_persistence(grid, _idx(0), _idx(50), [1, 12, 24, 25, 48])
    # leads beyond a day go back whole days: always a value known at issue time
    np.testing.assert_array_equal(out, [[27, 38, 50, 27, 50]])


def test_diurnal_persistence_before_the_grid_is_nan() -> None:
    out = baselines.diurnal_persistence(_grid(np.arange(40.0)), _idx(0), _idx(5), [1, 24])
    assert np.isnan(out[0, 0])
    assert out[0, 1] == 5.0


def test_climatology_is_the_station_month_hour_mean_of_training() -> None:
    # Two stations; January value = hour of day, station 1 adds 100; February = -1 flat.
    jan = 31 * 24
    hours = np.arange(jan + 28 * 24)
    base = np.where(hours < jan, (hours % 24).astype(np.float64), -1.0)
    grid = _grid(np.vstack([base, base + 100.0]))
    clim = baselines.fit_climatology(grid, end=grid.n_hours)
    assert clim.mean_c.shape == (2, 12, 24)
    np.testing.assert_allclose(clim.mean_c[0, 0], np.arange(24.0))
    np.testing.assert_allclose(clim.mean_c[1, 0], np.arange(24.0) + 100.0)
    np.testing.assert_allclose(clim.mean_c[0, 1], -1.0)
    # months never seen fall back to the station's mean for that hour of day
    expected_fallback = (np.arange(24.0) * 31 - 28) / (31 + 28)
    np.testing.assert_allclose(clim.mean_c[0, 6], expected_fallback)
    out = baselines.climatology_forecast(clim, grid, _idx(0, 1), _idx(10, jan - 3), [1, 5])
    np.testing.assert_allclose(out, [[11.0, 15.0], [122.0, -1.0 + 100.0]])


def test_climatology_ignores_columns_after_end() -> None:
    values = np.concatenate([np.full(48, 1.0), np.full(48, 50.0)])
    grid = _grid(values)
    clim = baselines.fit_climatology(grid, end=48)
    np.testing.assert_allclose(clim.mean_c[0, 0], 1.0)


def test_grid_from_feature_rows_places_values_and_leaves_gaps_nan() -> None:
    rows = pd.DataFrame(
        {
            "station_id": ["B", "A", "A"],
            "window_start": [START + pd.Timedelta(hours=h) for h in (1, 0, 3)],
            "avg_temperature": [7.0, 1.0, 3.0],
            "avg_dewpoint": [0.0, 0.0, 0.0],
            "avg_wind_speed": [2.0, 2.0, 2.0],
        }
    )
    grid = baselines.grid_from_feature_rows(rows)
    assert grid.station_ids == ("A", "B")
    assert grid.start == START
    np.testing.assert_array_equal(grid.temperature[0], [1.0, np.nan, np.nan, 3.0])
    np.testing.assert_array_equal(grid.temperature[1], [np.nan, 7.0, np.nan, np.nan])
    assert grid.index_of(START + pd.Timedelta(hours=3, minutes=59)) == 3


def test_leads_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        baselines.persistence(_grid(np.arange(5.0)), _idx(0), _idx(1), [0, 1])
