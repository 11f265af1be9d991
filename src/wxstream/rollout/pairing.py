"""The live join of forecasts with the observations that arrive later.

Forecasts and observations are fed in arrival order, whichever comes first: a forecast
usually waits for the observation of its valid hour, but after a restart or in a replay
the observation may already be known. Each pairing returns a
:class:`~wxstream.messages.SkillRecord` (for ``weather-verification`` and a
:class:`~wxstream.rollout.skill.SkillTable`).

Memory is bounded per station by the newest observation seen there: with
``horizon_h = max_lead_h + slack_h``,

- observations older than ``newest - horizon_h`` are forgotten, and
- pending forecasts issued before ``newest - horizon_h`` are evicted (counted in
  :attr:`ForecastJoin.evicted`): their observation is missing, or came too late.

A forecast arriving already that old is paired if its observation is still held, else
counted as evicted. The first observation of a station and hour counts; a repeat (a
replayed record) is ignored, so each forecast is paired at most once. An observation
without a finite temperature (every value of its window missing) is no observation.

Two joins keep these rules: :class:`ForecastJoin`, fed lead by lead with datetimes and
returning scored records (the offline paths: replays, ``models skill``), and
:class:`~wxstream.rollout.lead_join.LeadJoin`, the service's (live skill, online
calibration), fed whole forecasts on whole epoch hours and returning unscored pairs,
scored only where the errors are needed. Fed the same events they pair the same leads in
the same order.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wxstream.messages import SkillRecord
from wxstream.rollout.skill import Forecast, Observation, score

_HOURS: dict[int, timedelta] = {}


def _hours(lead_h: int) -> timedelta:
    """``timedelta(hours=lead_h)``, made once per lead (once per forecast lead is a
    measurable share of the join's cost)."""
    step = _HOURS.get(lead_h)
    if step is None:
        step = _HOURS[lead_h] = timedelta(hours=lead_h)
    return step


@dataclass
class _Station:
    """One station's held observations and pending forecasts."""

    newest: datetime | None = None
    observed: dict[datetime, float] = field(default_factory=dict)
    observed_order: list[datetime] = field(default_factory=list)  # heap of held hours
    pending: dict[datetime, list[Forecast]] = field(default_factory=dict)  # by valid hour
    pending_order: list[tuple[datetime, datetime]] = field(default_factory=list)  # (issued, valid)
    pending_count: int = 0


class ForecastJoin:
    """Pairs forecast leads with observations; see the module docstring for the rules.

    Args:
        max_lead_h: the longest lead of the models served.
        slack_h: how much later than its valid hour an observation may still arrive
            (as measured by the station's newest observation).
    """

    def __init__(self, max_lead_h: int, slack_h: int = 6) -> None:
        if max_lead_h < 1 or slack_h < 0:
            raise ValueError("max_lead_h must be >= 1 and slack_h >= 0")
        self.horizon = timedelta(hours=max_lead_h + slack_h)
        self._stations: dict[str, _Station] = {}
        self.evicted = 0
        """Forecasts dropped unpaired (their observation never came in time)."""
        self.paired = 0
        """Forecasts paired so far."""

    @property
    def pending(self) -> int:
        """Forecasts waiting for their observation."""
        return sum(s.pending_count for s in self._stations.values())

    @property
    def held_observations(self) -> int:
        """Observations kept for forecasts that may still arrive."""
        return sum(len(s.observed) for s in self._stations.values())

    def _station(self, station_id: str) -> _Station:
        station = self._stations.get(station_id)
        if station is None:
            station = self._stations[station_id] = _Station()
        return station

    def add_forecast(self, forecast: Forecast) -> list[SkillRecord]:
        """Feed one forecast lead; returns its record if its observation is known."""
        record = self.pair_forecast(forecast)
        return [] if record is None else [record]

    def pair_forecast(self, forecast: Forecast) -> SkillRecord | None:
        """:meth:`add_forecast` returning the record itself, or ``None`` (no list per
        lead: the service feeds every lead it sends)."""
        station = self._stations.get(forecast.station_id)
        if station is None:
            station = self._stations[forecast.station_id] = _Station()
        valid_at = forecast.issued_at + _hours(forecast.lead_h)
        observed = station.observed.get(valid_at)
        if observed is not None:
            self.paired += 1
            return score(forecast, observed)
        if station.newest is not None and forecast.issued_at < station.newest - self.horizon:
            self.evicted += 1
            return None
        station.pending.setdefault(valid_at, []).append(forecast)
        heapq.heappush(station.pending_order, (forecast.issued_at, valid_at))
        station.pending_count += 1
        return None

    def add_forecasts(self, forecasts: list[Forecast]) -> list[SkillRecord]:
        """Feed several forecast leads (e.g. all leads of one prediction), in order."""
        out: list[SkillRecord] = []
        for forecast in forecasts:
            out.extend(self.add_forecast(forecast))
        return out

    def add_observation(self, observation: Observation) -> list[SkillRecord]:
        """Feed one observation; returns the records of the forecasts it pairs."""
        if not math.isfinite(observation.temperature_c):
            return []  # a window whose temperatures were all missing: nothing observed
        station = self._station(observation.station_id)
        hour = observation.hour
        if hour in station.observed:
            return []
        if station.newest is not None and hour < station.newest - self.horizon:
            return []  # older than anything that may still be waiting or arrive in time
        station.observed[hour] = observation.temperature_c
        heapq.heappush(station.observed_order, hour)
        waiting = station.pending.pop(hour, [])
        station.pending_count -= len(waiting)
        self.paired += len(waiting)
        records = [score(forecast, observation.temperature_c) for forecast in waiting]
        if station.newest is None or hour > station.newest:
            station.newest = hour
            self._forget(station, hour - self.horizon)
        return records

    def _forget(self, station: _Station, cutoff: datetime) -> None:
        """Drop observations older than ``cutoff``, evict forecasts issued before it."""
        observed_order = station.observed_order
        while observed_order and observed_order[0] < cutoff:
            del station.observed[heapq.heappop(observed_order)]
        pending_order = station.pending_order
        while pending_order and pending_order[0][0] < cutoff:
            _, valid_at = heapq.heappop(pending_order)
            bucket = station.pending.get(valid_at)
            if not bucket:
                continue  # already paired or evicted
            kept = [f for f in bucket if f.issued_at >= cutoff]
            dropped = len(bucket) - len(kept)
            self.evicted += dropped
            station.pending_count -= dropped
            if kept:
                station.pending[valid_at] = kept
            else:
                del station.pending[valid_at]
