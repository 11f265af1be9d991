"""A flat line the forecast says should have moved: a stuck sensor within hours.

Stations that report whole degrees repeat a real temperature for many hours (the
learnt ``flat_line`` limit is 12 h at New York, 20 h in the five cities), so a run's
length alone cannot tell a stuck sensor from a calm night before half a day has passed.
The forecast issued when the run began can: it says how far the temperature should
have moved at each of the next 24 hours. While one value repeats, each repeated hour
``j`` is scored against that forecast's lead ``j``, ``z_j = (value - p50_j) / sigma_j``
(``sigma_j`` from the calibrated p10..p90 range), and the run's score is the combined
``sum(z_j) / sqrt(k)`` over its ``k`` repeated hours: a sensor frozen through the
morning rise departs further each hour, a real flat spell stays where the forecast
expected little change.

Streaming-shaped, per station, like :mod:`.qc`: :func:`observe` each arriving
temperature, :func:`forecast_issued` each forecast the station's window produced (the
one issued at the run's first hour is kept). :class:`FlatForecastState` is immutable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from wxstream.anomalies.anomaly import Anomaly, Severity
from wxstream.anomalies.residual import standardised_residual
from wxstream.anomalies.thresholds import FlatForecastLimits

_HOUR: Final = timedelta(hours=1)

Quantiles = tuple[tuple[float, float, float], ...] | npt.NDArray[np.float32]
"""p10, p50, p90 per lead 1..horizon (degC): tuples, or the model's own ``(horizon, 3)``
array (the service hands over a view of its batch output: no copy per forecast)."""


@dataclass(frozen=True, slots=True)
class FlatForecastState:
    """One station's current run of one temperature value.

    Attributes:
        value: the repeated value (``None``: nothing yet).
        start: hour of the run's first value.
        last_hour: newest hour of the run.
        forecast: the forecast issued at ``start`` (``None``: none was issued).
        z_sum: sum of the repeated hours' standardised departures from it.
        scored: how many repeated hours were scored.
    """

    value: float | None = None
    start: datetime | None = None
    last_hour: datetime | None = None
    forecast: Quantiles | None = None
    z_sum: float = 0.0
    scored: int = 0

    @property
    def score(self) -> float:
        """``sum(z_j) / sqrt(k)`` of the run so far (0 before any scored hour)."""
        return self.z_sum / math.sqrt(self.scored) if self.scored else 0.0


def forecast_issued(
    state: FlatForecastState, issued_at: datetime, quantiles: Quantiles
) -> FlatForecastState:
    """Keep the forecast issued at the run's first hour (any other is not needed)."""
    if state.start is None or issued_at != state.start or state.forecast is not None:
        return state
    return replace(state, forecast=quantiles)


def observe(
    state: FlatForecastState, hour: datetime, value: float, limits: FlatForecastLimits
) -> tuple[FlatForecastState, float]:
    """One arriving temperature: the new state and the run's score after it (0: none).

    Out-of-order and duplicate hours leave the state as it is (the QC reports them)."""
    if state.last_hour is not None and hour <= state.last_hour:
        return state, 0.0
    if state.value != value or state.last_hour is None or hour - state.last_hour != _HOUR:
        return FlatForecastState(value=value, start=hour, last_hour=hour), 0.0
    assert state.start is not None  # a run with a last hour has a start
    lead = round((hour - state.start) / _HOUR)
    state = replace(state, last_hour=hour)
    if state.forecast is None or lead > len(state.forecast):
        return state, state.score if lead > limits.min_run_h else 0.0
    p10, p50, p90 = (float(v) for v in state.forecast[lead - 1])
    z = float(standardised_residual(value, p10, p50, p90))
    if not math.isfinite(z):
        return state, 0.0
    state = replace(state, z_sum=state.z_sum + z, scored=state.scored + 1)
    return state, state.score if lead >= limits.min_run_h else 0.0


def flat_forecast_anomaly(
    station_id: str, hour: datetime, score: float, limits: FlatForecastLimits
) -> Anomaly | None:
    """The ``flat_line`` anomaly of a run's score, or ``None`` when within the limits."""
    size = abs(score)
    if size <= limits.z_suspect:
        return None
    severity: Severity = "bad" if size > limits.z_bad else "suspect"
    return Anomaly(station_id, hour, "temperature", "flat_line", size / limits.z_suspect, severity)


def run_scores(
    hours: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    issued: npt.NDArray[np.float64],
    limits: FlatForecastLimits,
) -> npt.NDArray[np.float64]:
    """One stream's scores row by row, through :func:`observe` as the service would.

    Args:
        hours: the rows' hours (epoch hours, arrival order).
        values: their temperatures.
        issued: ``(n, horizon, 3)`` the forecast issued after each row (NaN: none).
        limits: the run's minimum length.
    """
    epoch = datetime(1970, 1, 1)
    state = FlatForecastState()
    out = np.zeros(len(values))
    for i in range(len(values)):
        hour = epoch + _HOUR * int(hours[i])
        state, out[i] = observe(state, hour, float(values[i]), limits)
        if np.isfinite(issued[i, 0, 1]):
            quantiles = tuple((float(a), float(b), float(c)) for a, b, c in issued[i])
            state = forecast_issued(state, hour, quantiles)
    return out


def learn_flat_forecast_limits(
    scores: npt.NDArray[np.float64], *, min_run_h: int, quantile: float, bad_ratio: float
) -> FlatForecastLimits:
    """Limits from the scores of every station-hour of a clean period (0 off runs)."""
    finite = np.abs(scores[np.isfinite(scores)])
    if finite.size == 0:
        raise ValueError("no flat-line scores to learn from")
    suspect = max(float(np.quantile(finite, quantile)), 1e-6)
    return FlatForecastLimits(min_run_h=min_run_h, z_suspect=suspect, z_bad=suspect * bad_ratio)
