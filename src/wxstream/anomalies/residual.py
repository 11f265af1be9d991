"""The forecast-residual detector: an observation against the forecasts made for its hour.

Before an hour's observation arrives, the service has already forecast it (lead 1 from
the hour before, lead 2 from the one before that, ...), each with a calibrated 80 %
interval p10..p90. For a normal error, p90 - p10 spans 2 x 1.2816 = 2.563 standard
deviations, so ``(observed - p50) / ((p90 - p10) / 2.563)`` is a standardised residual;
one far outside what the model's residuals usually reach flags the observation.
Pure: the forecasts and the observation come in; the learnt limits decide.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from wxstream.anomalies.anomaly import Anomaly, Severity
from wxstream.anomalies.thresholds import ResidualLimits

P10_P90_WIDTH_SD: Final = 2.563
"""Width of the central 80 % of a standard normal distribution (2 x 1.2816)."""

# An interval narrower than this (degC) is treated as this wide: a degenerate forecast
# must not turn a rounding difference into an anomaly.
_MIN_WIDTH_C: Final = 1e-3


def standardised_residual(
    observed: npt.ArrayLike, p10: npt.ArrayLike, p50: npt.ArrayLike, p90: npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """``(observed - p50) / ((p90 - p10) / 2.563)``, elementwise (NaN where no forecast)."""
    obs = np.asarray(observed, dtype=np.float64)
    width = np.maximum(np.asarray(p90, dtype=np.float64) - np.asarray(p10, dtype=np.float64), 0)
    sigma = np.maximum(width, _MIN_WIDTH_C) / P10_P90_WIDTH_SD
    return np.asarray((obs - np.asarray(p50, dtype=np.float64)) / sigma, dtype=np.float64)


def residual_severity(z: float, limits: ResidualLimits) -> Severity | None:
    """``bad`` / ``suspect`` when ``|z|`` passes the limits, else ``None`` (also for NaN)."""
    size = abs(z)
    if size > limits.z_bad:
        return "bad"
    if size > limits.z_suspect:
        return "suspect"
    return None


def residual_anomaly(  # noqa: PLR0917 - one observation and its forecast
    station_id: str,
    hour: datetime,
    observed_c: float,
    p10_c: float,
    p50_c: float,
    p90_c: float,
    limits: ResidualLimits,
) -> Anomaly | None:
    """The anomaly of one observation scored against its forecast, or ``None``."""
    z = float(standardised_residual(observed_c, p10_c, p50_c, p90_c))
    severity = residual_severity(z, limits)
    if severity is None:
        return None
    return Anomaly(
        station_id, hour, "temperature", "forecast_residual", abs(z) / limits.z_suspect, severity
    )


def residual_flags(z: npt.NDArray[np.float64], limits: ResidualLimits) -> npt.NDArray[np.bool_]:
    """Vectorised: ``|z| > z_suspect`` (NaN: no forecast, not flagged)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(np.abs(z) > limits.z_suspect, dtype=bool)


def learn_residual_limits(
    z: npt.NDArray[np.float64], *, quantile: float, bad_ratio: float, lead_h: int = 1
) -> ResidualLimits:
    """Limits from standardised residuals of a clean period (NaN ignored)."""
    finite = np.abs(z[np.isfinite(z)])
    if finite.size == 0:
        raise ValueError("no standardised residuals to learn from")
    suspect = float(np.quantile(finite, quantile))
    return ResidualLimits(lead_h=lead_h, z_suspect=suspect, z_bad=suspect * bad_ratio)
