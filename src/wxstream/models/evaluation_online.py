"""The test period replayed as a stream, scoring the online-calibrated interval.

At each issue hour ``t``, in order, the calibrator first learns from every pair whose
observation hour is at most ``t`` (the forecasts of earlier hours whose lead has come
due), then recalibrates the forecasts issued at ``t``: what a service sees at ``t`` and
nothing later. The state starts empty at the start of the test period, as a service
that starts serving a model does, so the first hours serve the offline interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from wxstream.models.baselines import IntArray
from wxstream.models.evaluation import FloatArray, coverage_by_lead, width_by_lead
from wxstream.models.online_calibration import (
    METHOD,
    CalibrationState,
    OnlineCalibrationSettings,
    Pair,
    check_no_look_ahead,
    initial_state,
    scales,
    update,
)


@dataclass(frozen=True)
class OnlineResult:
    """The recalibrated bounds ``(samples, leads)`` and the state at the end."""

    lower: FloatArray
    upper: FloatArray
    state: CalibrationState


def simulate_online(
    station_ids: Sequence[str],
    station: IntArray,
    issue: IntArray,
    *,
    quantiles: FloatArray,
    observed: FloatArray,
    settings: OnlineCalibrationSettings,
) -> OnlineResult:
    """Recalibrate every sample's interval with only the pairs observed by its issue hour.

    Args:
        station_ids: station id of each station index.
        station: station index of each sample.
        issue: issue hour of each sample (grid column).
        quantiles: ``(samples, leads, 3)`` the served (offline-calibrated) p10, p50, p90.
        observed: ``(samples, leads)`` observations; lead ``h`` is column ``h - 1``.
        settings: the calibrator's settings.
    """
    n, horizon = observed.shape
    leads = np.arange(1, horizon + 1, dtype=np.int64)
    lower = np.full((n, horizon), np.nan)
    upper = np.full((n, horizon), np.nan)
    # every (sample, lead) becomes a pair once observed; fed in observation-hour order
    pair_sample = np.repeat(np.arange(n, dtype=np.int64), horizon)
    pair_lead = np.tile(leads, n)
    pair_hour = issue[pair_sample] + pair_lead
    pair_order = np.lexsort((pair_lead, station[pair_sample], pair_hour))
    due_hours = pair_hour[pair_order]
    fed = 0
    state = initial_state(settings)
    sample_order = np.lexsort((station, issue))
    hours, starts = np.unique(issue[sample_order], return_index=True)
    bounds = [*starts.tolist(), n]
    for t, lo, hi in zip(hours.tolist(), bounds[:-1], bounds[1:], strict=True):
        due = int(np.searchsorted(due_hours, t, side="right"))
        # these pairs were issued before t, so their bounds are already filled in
        pairs = _pairs(
            station_ids,
            station,
            issue,
            served=(lower, upper),
            observed=observed,
            flat=pair_order[fed:due],
        )
        state = update(state, pairs)
        fed = due
        check_no_look_ahead(state, t)
        for k in sample_order[lo:hi].tolist():
            sid = station_ids[int(station[k])]
            s = np.array([scales(state, sid, h) for h in range(1, horizon + 1)])
            q = quantiles[k]
            lower[k] = q[:, 1] - s[:, 0] * (q[:, 1] - q[:, 0])
            upper[k] = q[:, 1] + s[:, 1] * (q[:, 2] - q[:, 1])
    return OnlineResult(lower=lower, upper=upper, state=state)


def _pairs(
    station_ids: Sequence[str],
    station: IntArray,
    issue: IntArray,
    *,
    served: tuple[FloatArray, FloatArray],
    observed: FloatArray,
    flat: IntArray,
) -> list[Pair]:
    horizon = observed.shape[1]
    sample, col = np.divmod(flat, horizon)
    return [
        Pair(station_ids[st], c + 1, i, lo, hi, o)
        for st, c, i, lo, hi, o in zip(
            station[sample].tolist(),
            col.tolist(),
            issue[sample].tolist(),
            served[0][sample, col].tolist(),
            served[1][sample, col].tolist(),
            observed[sample, col].tolist(),
            strict=True,
        )
    ]


def online_section(
    result: OnlineResult,
    quantiles: FloatArray,
    observed: FloatArray,
    settings: OnlineCalibrationSettings,
) -> dict[str, Any]:
    """The report's ``online_calibration`` section: coverage and width with and without."""
    horizon = observed.shape[1]
    leads = [str(h) for h in range(1, horizon + 1)]

    def per_lead(values: FloatArray) -> dict[str, float]:
        return {h: round(float(v), 4) for h, v in zip(leads, values, strict=True)}

    offline_width = width_by_lead(quantiles[..., 0], quantiles[..., 2])
    online_width = width_by_lead(result.lower, result.upper)
    own = sum(v.pairs >= settings.min_station_pairs for v in result.state.by_station.values())
    return {
        "method": METHOD,
        "gamma": settings.gamma,
        "min_station_pairs": settings.min_station_pairs,
        "target_coverage": settings.target_coverage,
        "coverage_p10_p90": per_lead(coverage_by_lead(result.lower, result.upper, observed)),
        "mean_width_p10_p90": per_lead(online_width),
        "offline_coverage_p10_p90": per_lead(
            coverage_by_lead(quantiles[..., 0], quantiles[..., 2], observed)
        ),
        "offline_mean_width_p10_p90": per_lead(offline_width),
        "width_ratio_mean": round(float(np.mean(online_width / offline_width)), 4),
        "station_leads_on_own_scale": int(own),
    }
