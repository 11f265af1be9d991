"""Interval calibration: per-lead factors that stretch p10..p90 around p50 to cover 80 %.

One piece serves training (which fits the factors on the validation windows and stores
them in ``metadata.json`` under ``interval_calibration``), the served model (which
applies them in :meth:`wxstream.models.forecasting_model.ForecastingModel.predict`) and
the evaluation (which scores what ``predict`` serves). Pure numpy, torch-free.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

INTERVAL_LEVEL = 0.8  # p10..p90
METADATA_KEY = "interval_calibration"
METHOD = "validation-scale"


def interval_scale(
    quantiles: npt.ArrayLike, observed: npt.ArrayLike, level: float = INTERVAL_LEVEL
) -> FloatArray:
    """Per-lead factor that stretches p10..p90 around p50 to cover ``level`` of ``observed``.

    The interval ``[p50 - s (p50 - p10), p50 + s (p90 - p50)]`` covers an observation
    exactly when ``s`` is at least that observation's ratio of distance to half-width;
    the ``level`` quantile of those ratios is the smallest ``s`` with that coverage.

    Args:
        quantiles: ``(samples, leads, 3)`` p10, p50, p90.
        observed: ``(samples, leads)``.
        level: wanted coverage.
    """
    q = np.asarray(quantiles, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    above = o >= q[..., 1]
    half = np.where(above, q[..., 2] - q[..., 1], q[..., 1] - q[..., 0])
    dist = np.abs(o - q[..., 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(dist == 0.0, 0.0, dist / half)
    # "higher" and the tiny stretch make sure rounding never leaves coverage below level
    factor = np.quantile(ratio, level, axis=0, method="higher")
    return np.asarray(factor * (1.0 + 1e-9))


def scale_interval(quantiles: npt.ArrayLike, factor: npt.ArrayLike) -> npt.NDArray[Any]:
    """Quantiles ``(samples, leads, 3)`` with p10/p90 moved by ``factor`` (per lead) around p50.

    p50 is unchanged. A float32 input stays float32 (the served dtype), anything else
    becomes float64. With ``factor > 0`` the order p10 <= p50 <= p90 is kept: each bound
    moves by a non-negative amount on its own side of p50.
    """
    q = np.array(quantiles, copy=True)
    if q.dtype != np.float32:
        q = q.astype(np.float64)
    s = np.asarray(factor, dtype=q.dtype)[None, :]
    mid = q[..., 1].copy()
    q[..., 0] = mid - s * (mid - q[..., 0])
    q[..., 2] = mid + s * (q[..., 2] - mid)
    return q


def calibration_entry(
    factor: npt.ArrayLike,
    *,
    validation_samples: int,
    raw_coverage: float,
    calibrated_coverage: float,
    level: float = INTERVAL_LEVEL,
) -> dict[str, Any]:
    """The ``interval_calibration`` entry of ``metadata.json`` for fitted ``factor``."""
    return {
        "method": METHOD,
        "target_coverage": level,
        "scale_per_lead": [float(f) for f in np.asarray(factor, dtype=np.float64)],
        "validation_samples": int(validation_samples),
        "validation_coverage": {"raw": raw_coverage, "calibrated": calibrated_coverage},
    }


def fit_interval_calibration(pred: npt.ArrayLike, observed: npt.ArrayLike) -> dict[str, Any] | None:
    """The ``interval_calibration`` entry for validation forecasts ``pred`` of ``observed``.

    Per lead, the factor that makes the served p10..p90 cover 80 % of the validation
    windows (:func:`interval_scale`, the one evaluation uses). ``None`` (and a
    warning) when a factor is not a finite number > 0, which only a degenerate
    validation set gives; the raw interval is then served.
    """
    q = np.asarray(pred, dtype=np.float64)
    y = np.asarray(observed, dtype=np.float64)
    factor = interval_scale(q, y, INTERVAL_LEVEL)
    if not (np.isfinite(factor).all() and (factor > 0).all()):
        logger.warning("interval calibration skipped: factors %s are not all > 0", factor)
        return None
    served = scale_interval(q, factor)
    raw_cov = float(((y >= q[..., 0]) & (y <= q[..., 2])).mean())
    cal_cov = float(((y >= served[..., 0]) & (y <= served[..., 2])).mean())
    logger.info("interval calibration: validation coverage %.3f -> %.3f", raw_cov, cal_cov)
    return calibration_entry(
        factor, validation_samples=len(y), raw_coverage=raw_cov, calibrated_coverage=cal_cov
    )


def scale_from_metadata(metadata: Mapping[str, Any], horizon: int) -> FloatArray | None:
    """The per-lead factors recorded in ``metadata`` (``None`` when it records none).

    Raises:
        ValueError: the entry is malformed: not an object, an unknown method, or
            ``scale_per_lead`` not ``horizon`` finite numbers > 0.
    """
    entry = metadata.get(METADATA_KEY)
    if entry is None:
        return None
    if not isinstance(entry, Mapping):
        raise ValueError(f"'{METADATA_KEY}' must be an object")
    if entry.get("method") != METHOD:
        raise ValueError(f"'{METADATA_KEY}.method' must be {METHOD!r}, got {entry.get('method')!r}")
    values = entry.get("scale_per_lead")
    if not isinstance(values, list) or len(values) != horizon:
        raise ValueError(f"'{METADATA_KEY}.scale_per_lead' must be a list of {horizon} numbers")
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v > 0
        for v in values
    ):
        raise ValueError(f"'{METADATA_KEY}.scale_per_lead' must hold finite numbers > 0")
    return np.asarray(values, dtype=np.float64)
