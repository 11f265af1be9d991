"""Learning the quality-control limits from a training period's feature rows.

Every limit is a high quantile of what the real series did in training (hour-to-hour
changes, spike statistics, runs of one value, gaps, dew point above temperature);
:class:`LearningQuantiles` holds the quantile levels and the few ratios that turn them
into ``suspect`` / ``bad`` limits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.anomalies.anomaly import VARIABLES
from wxstream.anomalies.series import run_lengths, spike_statistic, station_series
from wxstream.anomalies.thresholds import QcThresholds, VariableLimits
from wxstream.errors import DataError


@dataclass(frozen=True)
class LearningQuantiles:
    """Quantile levels and ratios of the learnt limits.

    Attributes:
        range_tail: the range spans the ``range_tail`` .. ``1 - range_tail`` quantiles
            of training values, widened by ``range_pad`` of its width on each side
            (training does not hold every season's extreme).
        step / spike: quantile of ``|change|`` / of the spike statistic that is the
            ``suspect`` limit.
        flat: quantile of the run lengths of one value; a run one hour longer is flagged.
        gap: quantile of the hours between consecutive rows.
        dewpoint_excess: quantile of ``dewpoint - temperature``; at least
            ``dewpoint_excess_floor_c`` (instruments report whole or tenth degrees).
        residual: quantile of ``|standardised forecast residual|`` on a clean period.
        flat_forecast: quantile of the forecast flat-line score over every station-hour
            of a clean period (0 off runs), so about ``1 - flat_forecast`` of clean
            hours are flagged.
        flat_forecast_min_run_h: repeated hours before a run is scored.
        bad_ratio: ``bad`` limits are this many times the ``suspect`` ones.
    """

    range_tail: float = 1e-4
    range_pad: float = 0.25
    step: float = 0.9999
    spike: float = 0.9999
    flat: float = 0.9999
    gap: float = 0.9999
    dewpoint_excess: float = 0.9999
    dewpoint_excess_floor_c: float = 0.5
    residual: float = 0.9995
    flat_forecast: float = 0.9998
    flat_forecast_min_run_h: int = 4
    bad_ratio: float = 2.0


def _concat(parts: list[npt.NDArray[np.float64]]) -> npt.NDArray[np.float64]:
    joined = np.concatenate(parts) if parts else np.empty(0)
    return np.asarray(joined[np.isfinite(joined)], dtype=np.float64)


def _variable_limits(
    values: npt.NDArray[np.float64],
    changes: npt.NDArray[np.float64],
    spikes: npt.NDArray[np.float64],
    runs: list[int],
    q: LearningQuantiles,
) -> VariableLimits:
    low_q, high_q = np.quantile(values, [q.range_tail, 1.0 - q.range_tail])
    pad = q.range_pad * float(high_q - low_q)
    step = float(np.quantile(np.abs(changes), q.step))
    spike = float(np.quantile(spikes, q.spike))
    flat = math.ceil(float(np.quantile(np.asarray(runs, dtype=np.float64), q.flat))) + 1
    return VariableLimits(
        low=float(low_q) - pad,
        high=float(high_q) + pad,
        step_suspect=step,
        step_bad=step * q.bad_ratio,
        spike_suspect=spike,
        spike_bad=spike * q.bad_ratio,
        flat_hours_suspect=flat,
        flat_hours_bad=math.ceil(flat * q.bad_ratio),
        diff_std=float(np.std(changes)),
    )


def learn_thresholds(
    features: pd.DataFrame, quantiles: LearningQuantiles | None = None, *, source: str = ""
) -> QcThresholds:
    """The QC limits of :class:`QcThresholds` learnt from training feature rows.

    Args:
        features: hourly feature rows (``aggregate_hourly`` output, publishable rows).
        quantiles: quantile levels; default :class:`LearningQuantiles`.
        source: recorded in ``learned_from``.

    Raises:
        DataError: too few consecutive hours to learn from.
    """
    q = quantiles or LearningQuantiles()
    values: dict[str, list[npt.NDArray[np.float64]]] = {v: [] for v in VARIABLES}
    changes: dict[str, list[npt.NDArray[np.float64]]] = {v: [] for v in VARIABLES}
    spikes: dict[str, list[npt.NDArray[np.float64]]] = {v: [] for v in VARIABLES}
    runs: dict[str, list[int]] = {v: [] for v in VARIABLES}
    gaps: list[npt.NDArray[np.float64]] = []
    excess: list[npt.NDArray[np.float64]] = []
    for series in station_series(features):
        cons = series.consecutive
        both = cons[:-1] & cons[1:]
        gaps.append(np.diff(series.hours).astype(np.float64))
        excess.append(series.values["dewpoint"] - series.values["temperature"])
        for name, x in series.values.items():
            values[name].append(x)
            changes[name].append(np.diff(x)[cons])
            if len(x) > 2:
                spikes[name].append(spike_statistic(x)[both])
            runs[name].extend(run_lengths(x, cons))
    n_changes = sum(len(c) for c in changes["temperature"])
    if n_changes < 100:
        raise DataError(
            f"only {n_changes} consecutive hours to learn QC limits from",
            fix="learn from a longer training period",
        )
    variables = {
        name: _variable_limits(
            _concat(values[name]), _concat(changes[name]), _concat(spikes[name]), runs[name], q
        )
        for name in VARIABLES
    }
    dew_excess = max(float(np.quantile(_concat(excess), q.dewpoint_excess)), 0.0)
    suspect_excess = max(dew_excess, q.dewpoint_excess_floor_c)
    return QcThresholds(
        variables=variables,
        dewpoint_excess_suspect_c=suspect_excess,
        dewpoint_excess_bad_c=suspect_excess * q.bad_ratio,
        max_gap_h=math.ceil(float(np.quantile(_concat(gaps), q.gap))),
        learned_from={
            "source": source,
            "rows": len(features),
            "stations": int(features["station_id"].nunique()),
            "first_window": str(features["window_start"].min()),
            "last_window": str(features["window_start"].max()),
            "quantiles": {
                "step": q.step,
                "spike": q.spike,
                "flat": q.flat,
                "gap": q.gap,
                "dewpoint_excess": q.dewpoint_excess,
                "bad_ratio": q.bad_ratio,
            },
        },
    )
