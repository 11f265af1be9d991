"""Quality-control checks of one station's hourly feature messages, one message at a time.

Streaming-shaped: the caller keeps a :class:`QcState` per station and calls
:func:`check` for each arriving message; the state is an immutable value, so a caller
can keep it in a dict, snapshot it or drop it. The layered checks follow the classic
station QC of NOAA MADIS / HadISD / GHCN-Daily: time (duplicate, out of order, gap),
range, internal consistency (dew point above temperature, min <= avg <= max), step,
spike and flat line. Every limit is learnt (:class:`~.thresholds.QcThresholds`).

A spike is only known when the hour after it arrives, so it is reported one message
late, for the hour it happened; the step back out of a reported spike is not reported
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from wxstream.anomalies.anomaly import VARIABLES, Anomaly, Severity
from wxstream.anomalies.thresholds import QcThresholds, VariableLimits
from wxstream.messages import FeatureMessage
from wxstream.messages.features import AVERAGE_TOLERANCE_C

_NAMES = tuple(VARIABLES)
_FIELDS = tuple(VARIABLES.values())
_SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class QcState:
    """What the checks remember of one station.

    Attributes:
        station_id: the station.
        last_hour: ``window_start`` of the newest accepted message (``None``: none yet).
        last: its values, in :data:`~.anomaly.VARIABLES` order.
        before: the values of the hour before ``last_hour`` when that hour arrived too.
        runs: hours each value has been repeated, ending at ``last_hour``.
    """

    station_id: str
    last_hour: datetime | None = None
    last: tuple[float, ...] = ()
    before: tuple[float, ...] | None = None
    runs: tuple[int, ...] = ()


def initial_state(station_id: str) -> QcState:
    """The state of a station nothing has arrived from."""
    return QcState(station_id)


def _severity(value: float, suspect: float, bad: float) -> Severity | None:
    if value > bad:
        return "bad"
    if value > suspect:
        return "suspect"
    return None


def _time_checks(
    state: QcState, msg: FeatureMessage, thresholds: QcThresholds
) -> tuple[int | None, list[Anomaly]]:
    """Hours since the last accepted message (``None``: first one) and time anomalies."""
    if state.last_hour is None:
        return None, []
    delta_h = round((msg.window_start - state.last_hour).total_seconds() / _SECONDS_PER_HOUR)
    station, hour = msg.station_id, msg.window_start
    if delta_h == 0:
        return 0, [Anomaly(station, hour, "time", "duplicate", 1.0, "bad")]
    if delta_h < 0:
        return delta_h, [Anomaly(station, hour, "time", "out_of_order", float(-delta_h), "bad")]
    if delta_h > thresholds.max_gap_h:
        score = delta_h / max(thresholds.max_gap_h, 1)
        return delta_h, [Anomaly(station, hour, "time", "gap", score, "suspect")]
    return delta_h, []


def _consistency(msg: FeatureMessage, thresholds: QcThresholds) -> list[Anomaly]:
    found: list[Anomaly] = []
    excess = msg.avg_dewpoint - msg.avg_temperature
    severity = _severity(
        excess, thresholds.dewpoint_excess_suspect_c, thresholds.dewpoint_excess_bad_c
    )
    if severity is not None:
        score = excess / thresholds.dewpoint_excess_suspect_c
        found.append(
            Anomaly(
                msg.station_id,
                msg.window_start,
                "dewpoint",
                "dewpoint_above_temperature",
                score,
                severity,
            )
        )
    low, avg, high = msg.min_temperature, msg.avg_temperature, msg.max_temperature
    if low > high or not low - AVERAGE_TOLERANCE_C <= avg <= high + AVERAGE_TOLERANCE_C:
        found.append(
            Anomaly(msg.station_id, msg.window_start, "temperature", "min_avg_max", 1.0, "bad")
        )
    return found


def _value_checks(  # noqa: PLR0917 - one variable's whole context
    name: str,
    value: float,
    limits: VariableLimits,
    index: int,
    state: QcState,
    msg: FeatureMessage,
    consecutive: bool,
) -> tuple[int, list[Anomaly]]:
    """Range, spike, step and flat line of one variable: (run length, anomalies)."""
    station, hour = msg.station_id, msg.window_start
    found: list[Anomaly] = []
    if not limits.low <= value <= limits.high:
        width = max(limits.high - limits.low, 1e-9)
        distance = limits.low - value if value < limits.low else value - limits.high
        found.append(Anomaly(station, hour, name, "range", 1.0 + distance / width, "bad"))
    if not consecutive:
        return 1, found
    previous = state.last[index]
    spiked = False
    if state.before is not None and state.last_hour is not None:
        into, out_of = previous - state.before[index], previous - value
        if (into > 0 and out_of > 0) or (into < 0 and out_of < 0):
            size = min(abs(into), abs(out_of))
            severity = _severity(size, limits.spike_suspect, limits.spike_bad)
            if severity is not None:
                spiked = True
                score = size / limits.spike_suspect
                found.append(Anomaly(station, state.last_hour, name, "spike", score, severity))
    change = abs(value - previous)
    severity = _severity(change, limits.step_suspect, limits.step_bad)
    if severity is not None and not spiked:
        # The step back out of a spike is the spike's, already reported.
        found.append(Anomaly(station, hour, name, "step", change / limits.step_suspect, severity))
    run = state.runs[index] + 1 if value == previous else 1
    if run >= limits.flat_hours_suspect:
        severity = "bad" if run >= limits.flat_hours_bad else "suspect"
        score = run / limits.flat_hours_suspect
        found.append(Anomaly(station, hour, name, "flat_line", score, severity))
    return run, found


def check(
    state: QcState, msg: FeatureMessage, thresholds: QcThresholds
) -> tuple[QcState, list[Anomaly]]:
    """Check one arriving message of ``state``'s station.

    Duplicates and out-of-order messages are reported and leave the state unchanged
    (the service would not use them). Every other message becomes the newest hour.

    Returns:
        the new state and the anomalies found (possibly for the previous hour: spikes).
    """
    delta_h, found = _time_checks(state, msg, thresholds)
    if delta_h is not None and delta_h <= 0:
        return state, found
    found.extend(_consistency(msg, thresholds))
    consecutive = delta_h == 1 and len(state.last) == len(_NAMES)
    values = tuple(float(getattr(msg, f)) for f in _FIELDS)
    runs: list[int] = []
    for index, name in enumerate(_NAMES):
        limits = thresholds.variables.get(name)
        if limits is None:
            runs.append(1)
            continue
        run, more = _value_checks(name, values[index], limits, index, state, msg, consecutive)
        runs.append(run)
        found.extend(more)
    # The constructor, not dataclasses.replace: this runs for every record the service
    # reads, and replace() costs several times as much.
    new_state = QcState(
        state.station_id,
        msg.window_start,
        values,
        state.last if consecutive else None,
        tuple(runs),
    )
    return new_state, found


@dataclass
class QcRunner:
    """Keeps one :class:`QcState` per station: ``runner.check(msg)`` -> anomalies."""

    thresholds: QcThresholds
    states: dict[str, QcState]

    @classmethod
    def new(cls, thresholds: QcThresholds) -> QcRunner:
        """A runner with no station seen yet."""
        return cls(thresholds, {})

    def check(self, msg: FeatureMessage) -> list[Anomaly]:
        """Check ``msg`` against its station's state and keep the new state."""
        state = self.states.get(msg.station_id) or initial_state(msg.station_id)
        self.states[msg.station_id], found = check(state, msg, self.thresholds)
        return found
