"""The service's forecast-observation join: :class:`~wxstream.rollout.pairing.ForecastJoin`'s
rules (see :mod:`wxstream.rollout.pairing`) over whole epoch hours, fed whole forecasts
(:class:`PendingForecast`, the leads' quantiles as lists) and returning unscored
:data:`Pair` s; :func:`score_pairs` makes their records where the errors are needed (live
skill), the online calibration learns from them as they are.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from wxstream.messages import SkillRecord
from wxstream.rollout.skill import Forecast, scored

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HOUR = timedelta(hours=1)


def epoch_hour(moment: datetime) -> int:
    """Whole hours since the Unix epoch: the service join's (and calibrator's) hourly axis
    (feature windows end on whole hours, and forecasts are issued at their ends)."""
    return (moment - _EPOCH) // _HOUR


class PendingForecast:
    """One forecast (all its leads) in a :class:`LeadJoin`.

    Attributes:
        station_id, issued_at, model_name, model_version: as in
            :class:`~wxstream.rollout.skill.Forecast`.
        issued_hour: ``issued_at`` in whole hours on the join's axis (hours since the
            Unix epoch in the service).
        leads_h: the leads; ``p10_c``, ``p50_c``, ``p90_c`` hold one value per lead.
        waiting: leads not paired yet (0 once all are paired or it was evicted).
    """

    __slots__ = (
        "issued_at",
        "issued_hour",
        "leads_h",
        "model_name",
        "model_version",
        "p10_c",
        "p50_c",
        "p90_c",
        "station_id",
        "waiting",
    )

    def __init__(
        self,
        station_id: str,
        issued_at: datetime,
        issued_hour: int,
        leads_h: Sequence[int],
        quantiles: tuple[Sequence[float], Sequence[float], Sequence[float]],
        *,
        model: tuple[str, str],
    ) -> None:
        self.station_id = station_id
        self.issued_at = issued_at
        self.issued_hour = issued_hour
        self.leads_h = leads_h
        self.p10_c, self.p50_c, self.p90_c = quantiles
        self.model_name, self.model_version = model
        self.waiting = 0


Pair = tuple[PendingForecast, int, float]
"""An unscored pair: ``(forecast, index of the lead, observed_c)`` (one small tuple per
pair; read the lead's values at that index, score it with :func:`score_pair`)."""


def score_pair(pair: Pair) -> SkillRecord:
    """The :class:`~wxstream.messages.SkillRecord` of a pair: :func:`score`'s numbers."""
    return score_pairs([pair])[0]


def score_pairs(pairs: Iterable[Pair]) -> list[SkillRecord]:
    """Each pair's record, as :func:`~wxstream.rollout.skill.score` makes it (the same
    :func:`~wxstream.rollout.skill.scored`), without a
    :class:`~wxstream.rollout.skill.Forecast` per pair."""
    return [
        scored(
            forecast.station_id,
            forecast.issued_at,
            forecast.leads_h[j],
            forecast.model_name,
            forecast.model_version,
            forecast.p10_c[j],
            forecast.p50_c[j],
            forecast.p90_c[j],
            observed_c,
        )
        for forecast, j, observed_c in pairs
    ]


def entries_of(forecasts: Iterable[Forecast]) -> list[PendingForecast]:
    """Forecast leads as :class:`LeadJoin` entries: each run of consecutive leads of one
    station, issue time and model version becomes one entry (fed to the join in that
    order, they pair and evict exactly as the leads one by one)."""
    out: list[PendingForecast] = []
    last: tuple[str, datetime, str, str] | None = None
    leads: list[int] = []
    p10: list[float] = []
    p50: list[float] = []
    p90: list[float] = []
    for forecast in forecasts:
        key = (forecast.station_id, forecast.issued_at, forecast.model_name, forecast.model_version)
        if key != last:
            leads, p10, p50, p90 = [], [], [], []
            out.append(
                PendingForecast(
                    forecast.station_id,
                    forecast.issued_at,
                    epoch_hour(forecast.issued_at),
                    leads,
                    (p10, p50, p90),
                    model=(forecast.model_name, forecast.model_version),
                )
            )
            last = key
        leads.append(forecast.lead_h)
        p10.append(forecast.p10_c)
        p50.append(forecast.p50_c)
        p90.append(forecast.p90_c)
    return out


@dataclass
class _Hours:
    """One station's state in a :class:`LeadJoin`, keyed by integer hours."""

    newest: int | None = None
    observed: dict[int, float] = field(default_factory=dict)
    observed_order: list[int] = field(default_factory=list)  # heap of held hours
    # valid hour -> the (forecast, lead index) waiting for it, in arrival order
    pending: dict[int, list[tuple[PendingForecast, int]]] = field(default_factory=dict)
    pending_order: list[tuple[int, int, PendingForecast]] = field(default_factory=list)


class LeadJoin:
    """:class:`ForecastJoin`'s rules over whole hours, fed whole forecasts, returning
    unscored :data:`Pair` s: the service's join (one entry per forecast, no object per
    lead, no datetime arithmetic; an observation finds its waiting leads in one lookup).

    Fed the same forecasts and observations (as whole hours), it pairs the same leads in
    the same order and evicts the same ones as :class:`ForecastJoin`.

    Args:
        max_lead_h: the longest lead served.
        slack_h: how much later than its valid hour an observation may still arrive.
    """

    def __init__(self, max_lead_h: int, slack_h: int = 6) -> None:
        if max_lead_h < 1 or slack_h < 0:
            raise ValueError("max_lead_h must be >= 1 and slack_h >= 0")
        self.horizon_h = max_lead_h + slack_h
        self._stations: dict[str, _Hours] = {}
        self._seq = 0  # heap tie-break: forecasts of one issue hour in arrival order
        self.evicted = 0
        """Forecast leads dropped unpaired."""
        self.paired = 0
        """Forecast leads paired so far."""
        self._waiting = 0

    @property
    def pending(self) -> int:
        """Forecast leads waiting for their observation."""
        return self._waiting

    @property
    def held_observations(self) -> int:
        """Observations kept for forecasts that may still arrive."""
        return sum(len(s.observed) for s in self._stations.values())

    def add(self, forecast: PendingForecast) -> list[Pair]:
        """Feed every lead of one forecast; the pairs of leads already observed."""
        station = self._stations.get(forecast.station_id)
        if station is None:
            station = self._stations[forecast.station_id] = _Hours()
        issued = forecast.issued_hour
        observed = station.observed
        out: list[Pair] = []
        if station.newest is not None and issued < station.newest - self.horizon_h:
            for j, lead in enumerate(forecast.leads_h):
                value = observed.get(issued + lead)
                if value is not None:
                    out.append((forecast, j, value))
            self.paired += len(out)
            self.evicted += len(forecast.leads_h) - len(out)
            return out
        pending = station.pending
        waiting = 0
        for j, lead in enumerate(forecast.leads_h):
            valid = issued + lead
            value = observed.get(valid)
            if value is not None:
                out.append((forecast, j, value))
                continue
            bucket = pending.get(valid)
            if bucket is None:
                pending[valid] = [(forecast, j)]
            else:
                bucket.append((forecast, j))
            waiting += 1
        self.paired += len(out)
        if waiting:
            forecast.waiting = waiting
            self._waiting += waiting
            self._seq += 1
            heapq.heappush(station.pending_order, (issued, self._seq, forecast))
        return out

    def observe(self, station_id: str, hour: int, temperature_c: float) -> list[Pair]:
        """Feed one observation (``hour`` on the forecasts' axis); the pairs it makes."""
        if not math.isfinite(temperature_c):
            return []  # a window whose temperatures were all missing: nothing observed
        station = self._stations.get(station_id)
        if station is None:
            station = self._stations[station_id] = _Hours()
        if hour in station.observed:
            return []
        newest = station.newest
        if newest is not None and hour < newest - self.horizon_h:
            return []
        station.observed[hour] = temperature_c
        heapq.heappush(station.observed_order, hour)
        waiting = station.pending.pop(hour, None)
        out: list[Pair] = []
        if waiting:
            for forecast, j in waiting:
                if forecast.waiting:  # not evicted
                    forecast.waiting -= 1
                    out.append((forecast, j, temperature_c))
            self._waiting -= len(out)
            self.paired += len(out)
        if newest is None or hour > newest:
            station.newest = hour
            self._forget(station, hour - self.horizon_h)
        return out

    def _forget(self, station: _Hours, cutoff: int) -> None:
        """Drop observations older than ``cutoff``, evict forecasts issued before it."""
        observed_order = station.observed_order
        while observed_order and observed_order[0] < cutoff:
            del station.observed[heapq.heappop(observed_order)]
        pending_order = station.pending_order
        while pending_order and pending_order[0][0] < cutoff:
            forecast = heapq.heappop(pending_order)[2]
            if not forecast.waiting:
                continue  # every lead paired
            self.evicted += forecast.waiting
            self._waiting -= forecast.waiting
            forecast.waiting = 0
            # its buckets are cleared when their hour is observed or falls behind
            for lead in forecast.leads_h:
                valid = forecast.issued_hour + lead
                bucket = station.pending.get(valid)
                if bucket is not None and not any(f.waiting for f, _ in bucket):
                    del station.pending[valid]
