"""Which samples each period holds when every station keeps its own source's split."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from wxstream.data.combined import StationSplits
from wxstream.data.splits import Bounds, Split
from wxstream.models import baselines
from wxstream.models.baselines import HourlyGrid, IntArray


def period_samples(grid: HourlyGrid, bounds: Bounds, horizon: int) -> tuple[IntArray, IntArray]:
    """``(station, issue)`` of every issue hour in ``bounds`` whose ``horizon`` leads stay inside.

    Only samples with an observed temperature at issue time are kept (persistence and
    every residual forecast need it).
    """
    lo = max(grid.index_of(bounds[0]), 0)
    hi = min(grid.index_of(bounds[1]), grid.n_hours) - horizon
    issue = np.arange(lo, max(hi, lo), dtype=np.int64)
    n = len(grid.station_ids)
    station = np.repeat(np.arange(n, dtype=np.int64), issue.size)
    issue_all = np.tile(issue, n)
    ok = ~np.isnan(grid.temperature[station, issue_all]) if issue.size else np.zeros(0, bool)
    return station[ok], issue_all[ok]


def station_samples(
    grid: HourlyGrid, splits: StationSplits, period: str, horizon: int
) -> tuple[IntArray, IntArray]:
    """:func:`period_samples` of each station in ``splits`` within its own split's ``period``."""
    lookup = {s: k for k, s in enumerate(grid.station_ids)}
    stations: list[IntArray] = []
    issues: list[IntArray] = []
    for name, split in splits.items():
        if name not in lookup:
            continue
        station, issue = period_samples(grid, split.ranges()[period], horizon)
        keep = station == lookup[name]
        stations.append(station[keep])
        issues.append(issue[keep])
    if not stations:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(stations), np.concatenate(issues)


def by_station(split: Split | StationSplits, grid: HourlyGrid) -> dict[str, Split]:
    """One split for every station of ``grid``, or the per-station splits as given."""
    if isinstance(split, Split):
        return dict.fromkeys(grid.station_ids, split)
    return dict(split)


def training_climatology(grid: HourlyGrid, splits: StationSplits) -> baselines.Climatology:
    """Climatology of each station fitted on its own training period only."""
    masked = grid.temperature.copy()
    for k, name in enumerate(grid.station_ids):
        split = splits.get(name)
        end = grid.index_of(split.train[1]) if split is not None else 0
        masked[k, max(0, end) :] = np.nan
    return baselines.fit_climatology(replace(grid, temperature=masked), grid.n_hours)


def dedupe_shared_weather(observations: pd.DataFrame) -> pd.DataFrame:
    """Keep the stations that name their own weather group (one per weather series)."""
    if "weather_group" not in observations.columns:
        return observations
    keep = observations["station_id"] == observations["weather_group"]
    return observations.loc[keep].reset_index(drop=True)


def split_rows(rows: pd.DataFrame, bounds: Bounds) -> pd.DataFrame:
    """Feature rows whose ``window_start`` lies in ``bounds``."""
    starts = pd.to_datetime(rows["window_start"], utc=True)
    return rows.loc[(starts >= bounds[0]) & (starts < bounds[1])].reset_index(drop=True)
