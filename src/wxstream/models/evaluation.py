"""Forecast scores: error metrics per lead, interval coverage, the report and its table.

Pure functions over arrays: ``forecast`` and ``observed`` are ``(samples, leads)`` degC.
The interval calibration factors live in :mod:`wxstream.models.calibration`.
The pipeline that produces them lives in :mod:`wxstream.models.evaluation_run`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

PERSISTENCE = "persistence"
DIURNAL = "diurnal_persistence"
CLIMATOLOGY = "climatology"
LIGHTGBM = "lightgbm"
MODEL = "model"
METHODS: tuple[str, ...] = (MODEL, LIGHTGBM, PERSISTENCE, DIURNAL, CLIMATOLOGY)
"""Every method a report scores, in table order."""


def _errors(forecast: npt.ArrayLike, observed: npt.ArrayLike) -> FloatArray:
    f = np.asarray(forecast, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    if f.shape != o.shape or f.ndim != 2:
        raise ValueError(f"forecast {f.shape} and observed {o.shape} must be equal 2-d shapes")
    return f - o


def mae_by_lead(forecast: npt.ArrayLike, observed: npt.ArrayLike) -> FloatArray:
    """Mean absolute error of each lead (column); NaN for a lead without samples."""
    err = np.abs(_errors(forecast, observed))
    if err.shape[0] == 0:
        return np.full(err.shape[1], np.nan)
    return np.asarray(err.mean(axis=0))


def rmse_by_lead(forecast: npt.ArrayLike, observed: npt.ArrayLike) -> FloatArray:
    """Root mean squared error of each lead (column)."""
    err = _errors(forecast, observed)
    if err.shape[0] == 0:
        return np.full(err.shape[1], np.nan)
    return np.asarray(np.sqrt((err**2).mean(axis=0)))


def coverage_by_lead(
    lower: npt.ArrayLike, upper: npt.ArrayLike, observed: npt.ArrayLike
) -> FloatArray:
    """Fraction of observations inside ``[lower, upper]`` for each lead (bounds included)."""
    lo = np.asarray(lower, dtype=np.float64)
    hi = np.asarray(upper, dtype=np.float64)
    o = np.asarray(observed, dtype=np.float64)
    if not lo.shape == hi.shape == o.shape:
        raise ValueError("lower, upper and observed must have one shape")
    if o.shape[0] == 0:
        return np.full(o.shape[1], np.nan)
    return np.asarray(((o >= lo) & (o <= hi)).mean(axis=0))


def width_by_lead(lower: npt.ArrayLike, upper: npt.ArrayLike) -> FloatArray:
    """Mean width ``upper - lower`` of the interval for each lead."""
    diff = _errors(upper, lower)
    if diff.shape[0] == 0:
        return np.full(diff.shape[1], np.nan)
    return np.asarray(diff.mean(axis=0))


def skill(mae: npt.ArrayLike, reference_mae: npt.ArrayLike) -> FloatArray:
    """Skill score ``1 - MAE / MAE_reference`` (1 perfect, 0 no better, < 0 worse)."""
    m = np.asarray(mae, dtype=np.float64)
    r = np.asarray(reference_mae, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(1.0 - m / r)


@dataclass(frozen=True)
class MethodScores:
    """Scores of one method, one value per lead."""

    mae: FloatArray
    rmse: FloatArray
    skill: FloatArray
    coverage: FloatArray | None = None
    width: FloatArray | None = None

    def to_json(self, leads: Sequence[int]) -> dict[str, Any]:
        """``{"mae": {"1": ..}, ...}`` with leads as string keys; NaN becomes ``None``."""

        def per_lead(values: FloatArray) -> dict[str, float | None]:
            return {str(h): _finite(v) for h, v in zip(leads, values, strict=True)}

        out: dict[str, Any] = {
            "mae": per_lead(self.mae),
            "rmse": per_lead(self.rmse),
            "skill_vs_persistence": per_lead(self.skill),
        }
        if self.coverage is not None and self.width is not None:
            out["coverage_p10_p90"] = per_lead(self.coverage)
            out["mean_width_p10_p90"] = per_lead(self.width)
        return out


def _finite(value: float) -> float | None:
    v = float(value)
    return round(v, 5) if math.isfinite(v) else None


def score_methods(
    forecasts: Mapping[str, FloatArray],
    observed: FloatArray,
    intervals: Mapping[str, tuple[FloatArray, FloatArray]] | None = None,
) -> dict[str, MethodScores]:
    """Score every method on the same samples.

    Args:
        forecasts: method name -> ``(samples, leads)`` point forecasts; must include
            ``persistence`` (the skill reference).
        observed: ``(samples, leads)``.
        intervals: method name -> ``(p10, p90)`` arrays for methods with an interval.
    """
    if PERSISTENCE not in forecasts:
        raise ValueError("persistence is the skill reference and must be scored")
    reference = mae_by_lead(forecasts[PERSISTENCE], observed)
    out: dict[str, MethodScores] = {}
    for name, forecast in forecasts.items():
        mae = mae_by_lead(forecast, observed)
        cov = width = None
        if intervals and name in intervals:
            lower, upper = intervals[name]
            cov = coverage_by_lead(lower, upper, observed)
            width = width_by_lead(lower, upper)
        out[name] = MethodScores(
            mae=mae,
            rmse=rmse_by_lead(forecast, observed),
            skill=skill(mae, reference),
            coverage=cov,
            width=width,
        )
    return out


@dataclass(frozen=True)
class GoalCheck:
    """One criterion of the quality goal."""

    criterion: str
    value: float
    limit: str
    met: bool

    def to_json(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "criterion": self.criterion,
            "value": _finite(self.value),
            "limit": self.limit,
            "met": self.met,
        }


def goal_checks(scores: Mapping[str, MethodScores], leads: Sequence[int]) -> list[GoalCheck]:
    """The quality goal, for the leads present (1, 6, 24 h).

    * lead 1: model MAE <= 0.70 x persistence;
    * lead 6: <= 0.80 x the better of persistence and diurnal persistence;
    * lead 24: <= 0.93 x diurnal persistence;
    * no worse than LightGBM at 1, 6, 24 h;
    * p10-p90 coverage (mean over leads) within 76-84 %.
    """
    index = {h: k for k, h in enumerate(leads)}
    model, checks = scores[MODEL], []

    def mae(name: str, lead: int) -> float:
        return float(scores[name].mae[index[lead]])

    rules = (
        (1, 0.70, (PERSISTENCE,)),
        (6, 0.80, (PERSISTENCE, DIURNAL)),
        (24, 0.93, (DIURNAL,)),
    )
    for lead, factor, refs in rules:
        if lead not in index or any(r not in scores for r in refs):
            continue
        ref = min(mae(r, lead) for r in refs)
        ratio = mae(MODEL, lead) / ref
        names = " / ".join(refs)
        checks.append(
            GoalCheck(f"MAE {lead} h / {names}", ratio, f"<= {factor:.2f}", ratio <= factor)
        )
    for lead in (1, 6, 24):
        if lead in index and LIGHTGBM in scores:
            diff = mae(MODEL, lead) - mae(LIGHTGBM, lead)
            checks.append(GoalCheck(f"MAE {lead} h - LightGBM", diff, "<= 0", diff <= 0.0))
    if model.coverage is not None:
        cov = float(np.nanmean(model.coverage))
        checks.append(
            GoalCheck("p10-p90 coverage (mean)", cov, "0.76 .. 0.84", 0.76 <= cov <= 0.84)
        )
    return checks


def format_table(report: Mapping[str, Any], leads: Sequence[int]) -> str:
    """A plain-text table of MAE / RMSE / skill (and coverage) at ``leads``."""
    methods: Mapping[str, Any] = report["methods"]
    shown = [h for h in leads if str(h) in methods[PERSISTENCE]["mae"]]
    head = f"{'method':<20}" + "".join(
        f"{f'MAE {h}h':>9}{f'RMSE {h}h':>10}{f'skill {h}h':>10}" for h in shown
    )
    lines = [head, "-" * len(head)]
    for name in METHODS:
        if name not in methods:
            continue
        m = methods[name]
        cells = "".join(
            f"{_cell(m['mae'][str(h)]):>9}{_cell(m['rmse'][str(h)]):>10}"
            f"{_cell(m['skill_vs_persistence'][str(h)]):>10}"
            for h in shown
        )
        lines.append(f"{name:<20}{cells}")
    model = methods.get(MODEL, {})
    if "coverage_p10_p90" in model:
        cov = "  ".join(
            f"{h}h {_cell(model['coverage_p10_p90'][str(h)], pct=True)}"
            f" width {_cell(model['mean_width_p10_p90'][str(h)])}"
            for h in shown
        )
        lines.append(f"model p10-p90 coverage: {cov}")
    online = report.get("online_calibration")
    if online is not None:
        cov = "  ".join(
            f"{h}h {_cell(online['coverage_p10_p90'][str(h)], pct=True)}"
            f" width {_cell(online['mean_width_p10_p90'][str(h)])}"
            for h in shown
        )
        lines.append(f"online-calibrated coverage: {cov}")
    return "\n".join(lines)


def _cell(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f}%" if pct else f"{value:.3f}"
