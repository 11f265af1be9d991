"""Online interval calibration: keep p10..p90 at 80 % coverage while the weather drifts.

The offline calibration (:mod:`wxstream.models.calibration`) fits one factor per lead on
the validation period; once the season or the station differs from it, the interval
covers less or more than it promises. Here the factor keeps learning from the paired
(forecast, observation) history the service sees a few hours after each forecast.

Method: adaptive conformal inference (Gibbs & Candes 2021) applied to the interval's
scale, i.e. online quantile tracking of the nonconformity score (Angelopoulos, Candes &
Tibshirani 2023). The served interval is ``[p50 - s_lo (p50 - p10), p50 + s_hi (p90 -
p50)]``; each side keeps its own log-scale and, for every paired observation,

    log s <- log s + gamma * (miss - alpha_side)

where ``miss`` is 1 when the observation falls outside that side of the interval at the
current scale and ``alpha_side`` = 10 %. A miss widens by ``gamma * 0.9``, a hit narrows
by ``gamma * 0.1``: the scale settles where 10 % of observations fall beyond each side,
whatever the distribution does, which is the long-run coverage guarantee of ACI. Per side,
so a drifting bias (a colder December than the model learnt) moves one bound only.
The multiplicative step keeps the scale positive and makes ``gamma`` a relative rate.

State is one ``(log s_lo, log s_hi, pairs)`` per lead, and one per (station, lead) that
takes over once that station has ``min_station_pairs`` pairs at that lead: a few hundred
numbers, serialisable with :func:`state_to_json`. It is a pure function of the pair
sequence, so a service rebuilds it after a restart by feeding the history again
(:func:`update` in any chunking of the same sequence gives the identical state).

No look-ahead, by construction: a pair's observation hour is its issue hour plus a lead
of at least one hour, the state records the newest observation hour it has seen, and
:func:`apply` refuses to calibrate a forecast issued before that hour.

Clock-free: hours are integers on any one hourly axis (hours since the Unix epoch in a
service, grid columns in the evaluation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from wxstream.errors import DataError

METHOD = "aci-scale"
TARGET_COVERAGE = 0.8
# 0.05: the smallest step of those measured (docs/evaluation.md) that holds >= 77 % at
# every lead on the demo replay with the demo's `rich` model (0.02 holds 75.8 % at 21 h);
# where the offline interval already holds it costs 2-5 % of width.
DEFAULT_GAMMA = 0.05
DEFAULT_MIN_STATION_PAIRS = 168  # a week of hourly forecasts at one lead
# bounds of the scale: a run of misses never makes the interval useless or empty
_LOG_MIN = math.log(0.1)
_LOG_MAX = math.log(10.0)


@dataclass(frozen=True)
class OnlineCalibrationSettings:
    """How the calibrator learns.

    Attributes:
        gamma: step of the log-scale per pair (relative change of the scale).
        min_station_pairs: pairs a station needs at a lead before its own scale is used
            (until then the lead's scale, learnt from every station, serves it).
        target_coverage: wanted coverage of the interval, split evenly on both sides.
    """

    gamma: float = DEFAULT_GAMMA
    min_station_pairs: int = DEFAULT_MIN_STATION_PAIRS
    target_coverage: float = TARGET_COVERAGE

    def __post_init__(self) -> None:
        if not self.gamma > 0:
            raise ValueError(f"gamma must be > 0, got {self.gamma}")
        if self.min_station_pairs < 1:
            raise ValueError(f"min_station_pairs must be >= 1, got {self.min_station_pairs}")
        if not 0.0 < self.target_coverage < 1.0:
            raise ValueError(f"target_coverage must lie in (0, 1), got {self.target_coverage}")

    @property
    def alpha_side(self) -> float:
        """Wanted share of observations beyond one bound."""
        return (1.0 - self.target_coverage) / 2.0


@dataclass(frozen=True)
class Pair:
    """One forecast lead and the observation it forecast.

    Attributes:
        station: station id.
        lead: lead in hours (>= 1).
        issued_hour: the forecast's issue hour (its newest observed hour).
        lower, upper: the p10 and p90 served to users (what :func:`apply` returned at
            issue time): the calibrator learns from the misses of what it served.
        observed: the observed value at ``issued_hour + lead``.
    """

    station: str
    lead: int
    issued_hour: int
    lower: float
    upper: float
    observed: float

    @property
    def observed_hour(self) -> int:
        """The hour of the observation: always after the issue hour."""
        return self.issued_hour + self.lead


@dataclass(frozen=True)
class Scale:
    """Log-scales of the lower and upper half-width and the pairs that shaped them."""

    log_lo: float = 0.0
    log_hi: float = 0.0
    pairs: int = 0


@dataclass(frozen=True)
class CalibrationState:
    """Everything the calibrator has learnt; build it with :func:`update`.

    Attributes:
        settings: how it learns.
        by_lead: lead -> scale learnt from every station.
        by_station: (station, lead) -> scale learnt from that station.
        observed_through: newest observation hour fed (``None``: nothing yet).
    """

    settings: OnlineCalibrationSettings = field(default_factory=OnlineCalibrationSettings)
    by_lead: Mapping[int, Scale] = field(default_factory=dict)
    by_station: Mapping[tuple[str, int], Scale] = field(default_factory=dict)
    observed_through: int | None = None


def initial_state(settings: OnlineCalibrationSettings | None = None) -> CalibrationState:
    """The state before any pair: every scale 1 (the offline interval served as is)."""
    return CalibrationState(settings=settings or OnlineCalibrationSettings())


def _step(scale: Scale, pair: Pair, gamma: float, alpha: float) -> Scale:
    miss_lo = 1.0 if pair.observed < pair.lower else 0.0
    miss_hi = 1.0 if pair.observed > pair.upper else 0.0
    return Scale(
        log_lo=min(max(scale.log_lo + gamma * (miss_lo - alpha), _LOG_MIN), _LOG_MAX),
        log_hi=min(max(scale.log_hi + gamma * (miss_hi - alpha), _LOG_MIN), _LOG_MAX),
        pairs=scale.pairs + 1,
    )


def update(state: CalibrationState, pairs: Iterable[Pair]) -> CalibrationState:
    """The state after learning from ``pairs``, taken in order.

    A station's own scale starts from its lead's scale at its first pair. Pairs with
    a non-finite value are skipped (a missing observation teaches nothing).

    Raises:
        DataError: a pair with a lead below one hour (its observation would not come
            after its forecast).
    """
    gamma, alpha = state.settings.gamma, state.settings.alpha_side
    by_lead = dict(state.by_lead)
    by_station = dict(state.by_station)
    through = state.observed_through
    for pair in pairs:
        if pair.lead < 1:
            raise DataError(
                f"pair of station {pair.station} has lead {pair.lead} h",
                fix="pair a forecast only with an observation at least one hour after it",
            )
        if not all(math.isfinite(v) for v in (pair.lower, pair.upper, pair.observed)):
            continue
        lead_scale = by_lead.get(pair.lead, Scale())
        key = (pair.station, pair.lead)
        station_scale = by_station.get(key, Scale(lead_scale.log_lo, lead_scale.log_hi, 0))
        by_lead[pair.lead] = _step(lead_scale, pair, gamma, alpha)
        by_station[key] = _step(station_scale, pair, gamma, alpha)
        hour = pair.observed_hour
        through = hour if through is None else max(through, hour)
    return CalibrationState(state.settings, by_lead, by_station, through)


def scales(state: CalibrationState, station: str, lead: int) -> tuple[float, float]:
    """``(s_lo, s_hi)`` served for ``station`` at ``lead``: its own once it has enough pairs."""
    own = state.by_station.get((station, lead))
    if own is not None and own.pairs >= state.settings.min_station_pairs:
        return math.exp(own.log_lo), math.exp(own.log_hi)
    pooled = state.by_lead.get(lead, Scale())
    return math.exp(pooled.log_lo), math.exp(pooled.log_hi)


def apply(
    state: CalibrationState,
    station: str,
    lead: int,
    *,
    p10: float,
    p50: float,
    p90: float,
    issued_hour: int,
) -> tuple[float, float]:
    """``(p10', p90')``: the interval of a forecast issued at ``issued_hour``, recalibrated.

    p50 stays; each bound moves on its own side of it, so the order p10 <= p50 <= p90
    holds.

    Raises:
        DataError: the state has learnt from an observation after ``issued_hour``
            (calibrating with it would look ahead).
    """
    check_no_look_ahead(state, issued_hour)
    s_lo, s_hi = scales(state, station, lead)
    return p50 - s_lo * (p50 - p10), p50 + s_hi * (p90 - p50)


def check_no_look_ahead(state: CalibrationState, issued_hour: int) -> None:
    """Raise :class:`DataError` when ``state`` has seen an observation after ``issued_hour``."""
    if state.observed_through is not None and state.observed_through > issued_hour:
        raise DataError(
            f"calibration state has seen hour {state.observed_through}, after the "
            f"forecast's issue hour {issued_hour}",
            fix="calibrate a forecast with the state as it was at its issue hour",
        )


class LiveCalibration:
    """The state of :func:`update` kept in place, for a service that learns one pair
    at a time and calibrates every forecast it serves.

    :func:`update` and :func:`scales` are the reference; this holds the same numbers
    (the same float operations in the same order, so the same state bit for bit) in
    mutable ``[log_lo, log_hi, pairs]`` lists per lead and per (station, lead), without
    a :class:`Pair` or :class:`Scale` per step. :meth:`state` gives a
    :class:`CalibrationState` to compare or serialise.

    Args:
        settings: how it learns.
    """

    def __init__(self, settings: OnlineCalibrationSettings | None = None) -> None:
        self.settings = settings or OnlineCalibrationSettings()
        self._gamma = self.settings.gamma
        self._alpha = self.settings.alpha_side
        self._by_lead: dict[int, list[float]] = {}
        self._by_station: dict[tuple[str, int], list[float]] = {}
        self.observed_through: int | None = None

    def learn(self, pairs: Iterable[tuple[str, int, int, float, float, float]]) -> None:
        """Learn from ``(station, lead, issued_hour, lower, upper, observed)`` pairs in
        order, as :func:`update` does (one loop, no object per pair: the service's hot
        path).

        Raises:
            DataError: a pair with a lead below one hour.
        """
        gamma, alpha = self._gamma, self._alpha
        by_lead, by_station = self._by_lead, self._by_station
        isfinite = math.isfinite
        lo_min, lo_max = _LOG_MIN, _LOG_MAX
        through = self.observed_through
        for station, lead, issued_hour, lower, upper, observed in pairs:
            if lead < 1:
                raise DataError(
                    f"pair of station {station} has lead {lead} h",
                    fix="pair a forecast only with an observation at least one hour after it",
                )
            if not (isfinite(lower) and isfinite(upper) and isfinite(observed)):
                continue
            step_lo = gamma * ((1.0 if observed < lower else 0.0) - alpha)
            step_hi = gamma * ((1.0 if observed > upper else 0.0) - alpha)
            pooled = by_lead.get(lead)
            if pooled is None:
                pooled = by_lead[lead] = [0.0, 0.0, 0]
            key = (station, lead)
            own = by_station.get(key)
            if own is None:  # a station's own scale starts from its lead's
                own = by_station[key] = [pooled[0], pooled[1], 0]
            # _step's min(max(...)) unrolled: the same value, without four calls per scale
            for scale in (pooled, own):
                lo = scale[0] + step_lo
                hi = scale[1] + step_hi
                scale[0] = lo_min if lo < lo_min else (lo_max if lo > lo_max else lo)
                scale[1] = lo_min if hi < lo_min else (lo_max if hi > lo_max else hi)
                scale[2] += 1
            hour = issued_hour + lead
            if through is None or hour > through:
                through = hour
            self.observed_through = through

    def scales(self, station: str, leads: Iterable[int]) -> list[tuple[float, float]]:
        """``(s_lo, s_hi)`` per lead served for ``station``, as :func:`scales` gives."""
        own_after = self.settings.min_station_pairs
        by_station, by_lead = self._by_station, self._by_lead
        out: list[tuple[float, float]] = []
        for lead in leads:
            scale = by_station.get((station, lead))
            if scale is None or scale[2] < own_after:
                scale = by_lead.get(lead)
            out.append((1.0, 1.0) if scale is None else (math.exp(scale[0]), math.exp(scale[1])))
        return out

    def state(self) -> CalibrationState:
        """What it has learnt, as :func:`update` would have returned it."""
        return CalibrationState(
            self.settings,
            {lead: Scale(lo, hi, int(n)) for lead, (lo, hi, n) in self._by_lead.items()},
            {key: Scale(lo, hi, int(n)) for key, (lo, hi, n) in self._by_station.items()},
            self.observed_through,
        )


def state_to_json(state: CalibrationState) -> dict[str, Any]:
    """A JSON-ready dict of ``state`` (:func:`state_from_json` reads it back exactly)."""
    s = state.settings
    return {
        "method": METHOD,
        "settings": {
            "gamma": s.gamma,
            "min_station_pairs": s.min_station_pairs,
            "target_coverage": s.target_coverage,
        },
        "observed_through": state.observed_through,
        "by_lead": [
            [lead, v.log_lo, v.log_hi, v.pairs] for lead, v in sorted(state.by_lead.items())
        ],
        "by_station": [
            [station, lead, v.log_lo, v.log_hi, v.pairs]
            for (station, lead), v in sorted(state.by_station.items())
        ],
    }


def state_from_json(data: Mapping[str, Any]) -> CalibrationState:
    """The state written by :func:`state_to_json`.

    Raises:
        DataError: another method or a malformed entry.
    """
    if data.get("method") != METHOD:
        raise DataError(
            f"online calibration method {data.get('method')!r} is not {METHOD!r}",
            fix="rebuild the state by feeding the paired history again",
        )
    try:
        settings = OnlineCalibrationSettings(**data["settings"])
        by_lead = {int(h): Scale(float(lo), float(hi), int(n)) for h, lo, hi, n in data["by_lead"]}
        by_station = {
            (str(st), int(h)): Scale(float(lo), float(hi), int(n))
            for st, h, lo, hi, n in data["by_station"]
        }
        through = data["observed_through"]
        return CalibrationState(
            settings, by_lead, by_station, None if through is None else int(through)
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(
            f"malformed online calibration state: {exc}",
            fix="rebuild the state by feeding the paired history again",
        ) from exc
