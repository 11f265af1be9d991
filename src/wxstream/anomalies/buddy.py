"""The buddy check of :mod:`.neighbours`, one arriving message at a time.

:class:`BuddyCheck` keeps, per station with learnt buddy limits, the latest values of
its group and the state of the three tests, and raises the same ``neighbours`` findings
as the vectorised :func:`~.neighbours.neighbour_scores` does on the same arrival
sequence (``instant`` / ``rolling`` / ``stuck``: the rolling test keeps the last
``window_h + baseline_h`` departures of a station, a few kB).

A station's hour is scored against the median of the other members' values *of that
hour*, so it is scored once every other member of the group has reached that hour (sent
it, or moved past it), or once the station itself is ``wait_h`` hours further on: a
member that is late or absent for that long is left out of that hour's median. The
finding of an hour may therefore come with a later message, possibly a neighbour's.

Only the stations this instance sees take part: a group's stations must be consumed by
the same instance (one instance, or partitions assigned so that a group stays
together). Where a station's neighbours are absent, its departures are not finite and
nothing is flagged: the check is skipped for it, after ``wait_h`` hours of delay.

Duplicate and out-of-order messages (already ``bad`` in the QC's time checks) are not
scored here; the vectorised form scores every row, so on a stream with a shifted clock
the two differ on those rows.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from wxstream.anomalies.anomaly import Anomaly
from wxstream.anomalies.thresholds import NeighbourLimits, QcThresholds

DEFAULT_WAIT_H: Final = 3
"""Hours a station's hour waits for its neighbours' values of that hour."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR: Final = timedelta(hours=1)
# Hours of neighbour values kept beyond the wait (a late member's hour still finds them).
_VALUE_MEMORY_H: Final = 48


def epoch_hour(stamp: datetime) -> int:
    """Whole hours since the epoch (UTC), as :func:`~.series.epoch_hours` counts them."""
    return (stamp - _EPOCH) // _HOUR


@dataclass
class _Station:
    """The buddy state of one station."""

    limits: NeighbourLimits
    newest: int | None = None
    pending: deque[tuple[int, float]] = field(default_factory=deque)
    departures: deque[float] = field(default_factory=deque)
    # Sums and counts of the finite departures of the recent and the baseline window
    # (kept as they slide, like pandas' rolling mean).
    recent_sum: float = 0.0
    recent_n: int = 0
    baseline_sum: float = 0.0
    baseline_n: int = 0
    rows: int = 0
    past: bool = False
    since: int = -1
    run_value: float = math.nan
    run_hour: int | None = None
    run_length: int = 0
    run_low: float = math.nan
    run_high: float = math.nan


@dataclass(frozen=True, slots=True)
class BuddyScores:
    """One scored station-hour: each test's score as a ratio to its limit (NaN: none)."""

    station_id: str
    hour: int
    temperature_c: float
    instant: float
    rolling: float
    stuck: float
    rolling_alarm: bool

    @property
    def flagged(self) -> bool:
        """The instant or stuck test past its limit, or a rolling alarm."""
        return self.instant > 1 or self.stuck > 1 or self.rolling_alarm

    def anomaly(self) -> Anomaly:
        """The ``neighbours`` finding (``suspect``: a departure from the neighbours says
        the stations disagree, not which one is wrong); score = the largest ratio past
        its limit."""
        parts = [s for s in (self.instant, self.stuck) if s > 1]
        if self.rolling_alarm:
            parts.append(self.rolling)
        hour = _EPOCH + self.hour * _HOUR
        return Anomaly(self.station_id, hour, "temperature", "neighbours", max(parts), "suspect")


class BuddyCheck:
    """Streaming buddy check (see the module docstring).

    Args:
        thresholds: the learnt limits (``neighbours`` empty: the check does nothing).
        min_run_h: shortest run of one value the stuck test looks at (the learning's).
        wait_h: how long an hour waits for the neighbours' values of that hour.
    """

    def __init__(self, thresholds: QcThresholds, *, min_run_h: int, wait_h: int) -> None:
        self._window_h = thresholds.neighbour_window_h
        self._baseline_h = thresholds.neighbour_baseline_h
        self._min_run_h = min_run_h
        self._wait_h = wait_h
        self._limits = dict(thresholds.neighbours)
        self._members: dict[str, tuple[str, ...]] = {}
        for station, limits in self._limits.items():
            self._members[limits.group] = (*self._members.get(limits.group, ()), station)
        self._stations: dict[str, _Station] = {}
        self._values: dict[str, dict[int, dict[str, float]]] = {}
        self._newest: dict[str, int] = {}

    @property
    def enabled(self) -> bool:
        """Whether any station has buddy limits."""
        return bool(self._limits)

    def observe(self, station_id: str, hour: datetime, temperature_c: float) -> list[BuddyScores]:
        """Take one arriving temperature; return the station-hours this completes."""
        limits = self._limits.get(station_id)
        if limits is None:
            return []
        state = self._stations.get(station_id)
        if state is None:
            state = self._stations[station_id] = _Station(limits)
        h = epoch_hour(hour)
        if state.newest is not None and h <= state.newest:
            return []
        state.newest = h
        state.pending.append((h, temperature_c))
        values = self._values.setdefault(limits.group, {})
        values.setdefault(h, {})[station_id] = temperature_c
        self._newest[limits.group] = max(self._newest.get(limits.group, h), h)
        return self._drain(limits.group)

    def forget(self, station_ids: Iterable[str]) -> None:
        """Drop the state of stations no longer served here."""
        for station_id in station_ids:
            self._stations.pop(station_id, None)
            limits = self._limits.get(station_id)
            if limits is None:
                continue
            for by_station in self._values.get(limits.group, {}).values():
                by_station.pop(station_id, None)

    def reset(self) -> None:
        """Forget every station."""
        self._stations.clear()
        self._values.clear()
        self._newest.clear()

    def _ready(self, station_id: str, state: _Station, hour: int, group: str) -> bool:
        assert state.newest is not None
        if state.newest >= hour + self._wait_h:
            return True
        for member in self._members[group]:
            if member == station_id:
                continue
            other = self._stations.get(member)
            if other is None or other.newest is None or other.newest < hour:
                return False
        return True

    def _drain(self, group: str) -> list[BuddyScores]:
        values = self._values[group]
        out: list[BuddyScores] = []
        for member in self._members[group]:
            state = self._stations.get(member)
            if state is None:
                continue
            while state.pending and self._ready(member, state, state.pending[0][0], group):
                hour, temperature = state.pending.popleft()
                others = [v for s, v in values.get(hour, {}).items() if s != member]
                median = float(statistics.median(others)) if others else math.nan
                out.append(self._score(member, state, hour, temperature, median))
        # Hours come in (nearly) in order, so the oldest keys are first.
        cutoff = self._newest[group] - self._wait_h - _VALUE_MEMORY_H
        while values and (oldest := next(iter(values))) < cutoff:
            del values[oldest]
        return out

    def _score(
        self, station_id: str, state: _Station, hour: int, temperature: float, median: float
    ) -> BuddyScores:
        limits = state.limits
        departure = temperature - median - limits.hour_offset_c[hour % 24]
        instant = abs(departure) / limits.instant_c
        rolling = abs(self._rolling(state, departure)) / limits.rolling_c
        alarm = False
        past = rolling > 1
        if past and (
            state.since < 0 or not state.past or state.rows - state.since >= self._window_h
        ):
            alarm = True
            state.since = state.rows
        state.past = past
        state.rows += 1
        stuck = self._stuck(state, hour, temperature, median) / max(limits.stuck_range_c, 1e-9)
        return BuddyScores(station_id, hour, temperature, instant, rolling, stuck, alarm)

    def _rolling(self, state: _Station, departure: float) -> float:
        """Take one departure; the mean of the last ``window_h`` departures minus the mean
        of the ``baseline_h`` before them, with the vectorised form's minimum counts of
        finite values (NaN when short)."""
        window = state.departures
        window.append(departure)
        if math.isfinite(departure):
            state.recent_sum += departure
            state.recent_n += 1
        if len(window) > self._window_h:
            # The oldest recent departure moves into the baseline.
            moved = window[-self._window_h - 1]
            if math.isfinite(moved):
                state.recent_sum -= moved
                state.recent_n -= 1
                state.baseline_sum += moved
                state.baseline_n += 1
        if len(window) > self._window_h + self._baseline_h:
            dropped = window.popleft()
            if math.isfinite(dropped):
                state.baseline_sum -= dropped
                state.baseline_n -= 1
        if (
            len(window) <= self._window_h
            or state.recent_n < max(self._window_h // 2, 1)
            or state.baseline_n < max(self._baseline_h // 3, 1)
        ):
            return math.nan
        return state.recent_sum / state.recent_n - state.baseline_sum / state.baseline_n

    def _stuck(self, state: _Station, hour: int, temperature: float, median: float) -> float:
        """How far the neighbours' median moved over a run of one value ending here
        (NaN: no run of ``min_run_h`` hours, or no median over it)."""
        continues = (
            state.run_hour is not None
            and hour - state.run_hour == 1
            and temperature == state.run_value
        )
        if continues:
            state.run_length += 1
            if math.isfinite(median):
                state.run_low = median if math.isnan(state.run_low) else min(state.run_low, median)
                state.run_high = (
                    median if math.isnan(state.run_high) else max(state.run_high, median)
                )
        else:
            state.run_length = 1
            state.run_low = state.run_high = median
        state.run_value, state.run_hour = temperature, hour
        if state.run_length < self._min_run_h or math.isnan(state.run_low):
            return math.nan
        return state.run_high - state.run_low
