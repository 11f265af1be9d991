"""The quality stage of ``wxstream serve``: every decoded feature message passes through
it before the station windows.

:class:`QualityStage` keeps the per-station state of the checks (:mod:`.qc`), the lead-1
forecasts issued for hours still to come (the forecast-residual detector, :mod:`.residual`)
and which hours were flagged (so each forecast can say whether its input window held
flagged values). It decides, by the policy, what a flagged value does to the window:

* ``use``: the message goes into the window as it came (the forecast is marked);
* ``skip``: a message whose own hour is flagged does not enter the window;
* ``impute``: the flagged values are replaced (the model's own earlier forecast for the
  temperature, the station's last clean value for the others).

Pure: no clock, no IO. The service calls :meth:`QualityStage.screen` in arrival order
(restored records too, with their findings discarded, so that a restart rebuilds the
state like the windows) and :meth:`QualityStage.remember_forecast` once a forecast is
known.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final, Literal

from wxstream.anomalies.anomaly import VARIABLES, Anomaly
from wxstream.anomalies.qc import QcState, check, initial_state
from wxstream.anomalies.residual import residual_anomaly
from wxstream.anomalies.thresholds import QcThresholds
from wxstream.messages import FeatureMessage

QcPolicy = Literal["use", "skip", "impute"]
POLICIES: Final[tuple[QcPolicy, ...]] = ("use", "skip", "impute")

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


class QualityStage:
    """Per-station checks in front of the windows (see the module docstring).

    Args:
        thresholds: the model's learnt limits; ``None`` turns the stage off (every
            message passes unchanged and nothing is flagged).
        policy: what a flagged value does to the window.
    """

    def __init__(self, thresholds: QcThresholds | None, policy: QcPolicy = "use") -> None:
        self.thresholds = thresholds
        self.policy = policy
        self._stations: dict[str, _Station] = {}

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
        residual = self._residual(station, msg, thresholds)
        if residual is not None:
            found.append(residual)
        values = tuple(_value_of(a, msg, previous) for a in found)
        own = any(a.hour == msg.window_start for a in found)
        for hour in sorted({a.hour for a in found}):
            _remember_flag(station.flagged, hour)
        return Screened(msg, tuple(found), values, own)

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
        if station is None or self.thresholds is None or self.thresholds.residual is None:
            return
        station.forecasts[hour] = (p10, p50, p90)

    def forget(self, station_ids: Iterable[str]) -> None:
        """Drop the state of stations no longer served here."""
        for station_id in station_ids:
            self._stations.pop(station_id, None)

    def reset(self) -> None:
        """Forget every station (after a rewind: the restore rebuilds the state)."""
        self._stations.clear()

    def _residual(
        self, station: _Station, msg: FeatureMessage, thresholds: QcThresholds
    ) -> Anomaly | None:
        limits = thresholds.residual
        if limits is None or not station.forecasts:
            return None
        forecast = station.forecasts.pop(msg.window_start, None)
        # Forecasts for hours that have passed will never be scored: drop them.
        for hour in [h for h in station.forecasts if h < msg.window_start]:
            del station.forecasts[hour]
        if forecast is None:
            return None
        p10, p50, p90 = forecast
        observed = float(msg.avg_temperature)
        return residual_anomaly(msg.station_id, msg.window_start, observed, p10, p50, p90, limits)


def _remember_flag(flagged: deque[datetime], hour: datetime) -> None:
    # Kept in time order; a finding for an hour before the newest flagged one (an
    # out-of-order record) adds nothing a window of later hours would need.
    if flagged and hour <= flagged[-1]:
        return
    flagged.append(hour)
    horizon = hour - timedelta(hours=_FLAGGED_MEMORY_H)
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
