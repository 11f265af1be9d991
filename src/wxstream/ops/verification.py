"""Forecast verification: pairs each forecast with the observation it predicted.

Pure: :class:`Verifier` takes forecasts and observed feature windows in any order (they
arrive on two topics) and keeps a running mean absolute error and p10-p90 coverage per
lead. Used by ``wxstream tail --verify`` and the demo.

Alignment (the one the training set uses, see :mod:`wxstream.models.dataset`): a
forecast issued at ``issued_at`` (the ``window_end`` of its newest input window)
predicts for lead ``h`` the average temperature of the hourly window starting at
``issued_at + (h - 1) h``. Lead 1 is the window right after the newest input.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

from wxstream.messages import FeatureMessage
from wxstream.models.plots import ForecastLike

_HOUR = timedelta(hours=1)
DEFAULT_MAX_PENDING = 2_000_000
DEFAULT_MAX_OBSERVATIONS = 500_000


Forecast: TypeAlias = ForecastLike
"""What the verifier reads of a forecast (a ``PredictionMessage`` fits)."""


def target_window_start(issued_at: datetime, lead_h: int) -> datetime:
    """Start of the hourly window a forecast for ``lead_h`` predicts."""
    return issued_at + (lead_h - 1) * _HOUR


@dataclass(frozen=True, slots=True)
class VerifiedPair:
    """One forecast value next to the observation it predicted."""

    station_id: str
    issued_at: datetime
    lead_h: int
    p10_c: float
    p50_c: float
    p90_c: float
    observed_c: float

    @property
    def error_c(self) -> float:
        """Forecast (median) minus observed."""
        return self.p50_c - self.observed_c

    @property
    def covered(self) -> bool:
        """Whether the observation fell inside the p10-p90 interval."""
        return self.p10_c <= self.observed_c <= self.p90_c


@dataclass(slots=True)
class LeadScore:
    """Running absolute error and interval coverage of one lead."""

    count: int = 0
    abs_error_sum: float = 0.0
    covered: int = 0

    @property
    def mae_c(self) -> float:
        """Mean absolute error so far (NaN before the first pair)."""
        return self.abs_error_sum / self.count if self.count else math.nan

    @property
    def coverage(self) -> float:
        """Share of observations inside p10-p90 so far (NaN before the first pair)."""
        return self.covered / self.count if self.count else math.nan


@dataclass(frozen=True, slots=True)
class _Pending:
    issued_at: datetime
    lead_h: int
    p10_c: float
    p50_c: float
    p90_c: float


class Verifier:
    """Pairs forecasts with later observations; keeps a running MAE per lead.

    Either may arrive first (they come from two topics), so both sides are kept until
    matched: forecasts waiting for their target window, and recent observations. Both
    are bounded; the oldest entries are dropped first (counted in ``expired``).

    Args:
        max_pending: most forecast values waiting for an observation.
        max_observations: most observations kept for forecasts still to come.
        excluded: pairs it accepts are verified and returned but left out of the
            scores (the demo keeps hours with injected faults out of its clean MAE).
    """

    def __init__(
        self,
        max_pending: int = DEFAULT_MAX_PENDING,
        max_observations: int = DEFAULT_MAX_OBSERVATIONS,
        excluded: Callable[[VerifiedPair], bool] | None = None,
    ) -> None:
        self.max_pending = max_pending
        self.max_observations = max_observations
        self.excluded = excluded
        self.excluded_count = 0
        self._pending: OrderedDict[tuple[str, datetime], list[_Pending]] = OrderedDict()
        self._pending_count = 0
        self._observed: OrderedDict[tuple[str, datetime], float] = OrderedDict()
        self.scores: dict[int, LeadScore] = {}
        self.expired = 0

    @property
    def pending(self) -> int:
        """Forecast values still waiting for their observation."""
        return self._pending_count

    def add_forecast(self, forecast: Forecast) -> list[VerifiedPair]:
        """Register a forecast; returns the pairs already verifiable (observation first)."""
        verified: list[VerifiedPair] = []
        for i, lead in enumerate(forecast.leads_h):
            key = (forecast.station_id, target_window_start(forecast.issued_at, lead))
            item = _Pending(
                forecast.issued_at,
                lead,
                forecast.temperature_p10_c[i],
                forecast.temperature_c[i],
                forecast.temperature_p90_c[i],
            )
            observed = self._observed.get(key)
            if observed is not None:
                verified.append(self._score(key[0], item, observed))
                continue
            self._pending.setdefault(key, []).append(item)
            self._pending_count += 1
        while self._pending_count > self.max_pending:
            _, dropped = self._pending.popitem(last=False)
            self._pending_count -= len(dropped)
            self.expired += len(dropped)
        return verified

    def add_observation(
        self, station_id: str, window_start: datetime, temperature_c: float
    ) -> list[VerifiedPair]:
        """Register an observed window; returns the forecasts it verifies."""
        key = (station_id, window_start)
        self._observed[key] = temperature_c
        self._observed.move_to_end(key)
        while len(self._observed) > self.max_observations:
            self._observed.popitem(last=False)
        waiting = self._pending.pop(key, None)
        if not waiting:
            return []
        self._pending_count -= len(waiting)
        return [self._score(station_id, item, temperature_c) for item in waiting]

    def add_feature(self, message: FeatureMessage) -> list[VerifiedPair]:
        """:meth:`add_observation` for a decoded feature message (its average temperature)."""
        return self.add_observation(
            message.station_id, message.window_start, message.avg_temperature
        )

    def _score(self, station_id: str, item: _Pending, observed: float) -> VerifiedPair:
        pair = VerifiedPair(
            station_id, item.issued_at, item.lead_h, item.p10_c, item.p50_c, item.p90_c, observed
        )
        if self.excluded is not None and self.excluded(pair):
            self.excluded_count += 1
            return pair
        score = self.scores.setdefault(item.lead_h, LeadScore())
        score.count += 1
        score.abs_error_sum += abs(pair.error_c)
        score.covered += pair.covered
        return pair

    def mae_by_lead(self) -> dict[int, float]:
        """Lead (hours) -> running MAE (degC), for every lead verified at least once."""
        return {lead: self.scores[lead].mae_c for lead in sorted(self.scores)}

    def verified_count(self) -> int:
        """Forecast values verified so far, all leads."""
        return sum(score.count for score in self.scores.values())
