"""Promotion by measured accuracy: does the challenger replace the champion?

The rules (all must hold; :class:`PromotionRules` holds the numbers):

1. **Enough evidence**: at least ``min_pairs_per_lead`` paired forecasts at every lead.
2. **Better overall**: a one-sided Diebold-Mariano test (:mod:`.diebold_mariano`) on
   the loss differences ``champion - challenger`` rejects equal accuracy at ``alpha``.
   The loss is the mean pinball loss of p10/p50/p90 (a proper score of the whole
   forecast; ``loss="abs_error"`` tests the median alone).
   Leads are combined into one test, not tested one by one: per issue time the
   differences are averaged over stations (stations at one hour share the weather, so
   their differences are correlated: one average per hour carries that into the
   variance) and then over leads (each lead weighs the same), giving one series over
   issue times; its horizon is the longest lead, so the variance takes ``max_lead - 1``
   lags. One test at ``alpha`` needs no multiple-comparison correction, and the mean
   over leads is the quantity the promotion is about. Per-lead tests (lead ``h`` with
   ``h - 1`` lags) are reported in the figures.
3. **No lead worse**: at no lead is the challenger's MAE of the median more than
   ``max_lead_worse`` (2 %) above the champion's on the same forecasts.
4. **Calibrated**: the challenger's 80 % interval (p10-p90) holds between 75 % and 85 %
   of the observations over all leads.

Default ``min_pairs_per_lead`` = :data:`DEFAULT_MIN_PAIRS` (see
``docs/model-versions.md``, "Live skill and promotion", for the simulation it comes
from: :func:`wxstream.rollout.power.promotion_rate`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from wxstream.rollout.diebold_mariano import DieboldMariano, Kernel, diebold_mariano
from wxstream.rollout.paired import ModelId, pair_versions

DEFAULT_MIN_PAIRS: Final = 2000
"""Paired forecasts per lead before a decision is made (see the module docstring)."""

Loss = Literal["pinball", "abs_error"]


@dataclass(frozen=True)
class PromotionRules:
    """The numbers of the promotion rules (module docstring).

    Attributes:
        alpha: significance level of the one-sided overall test.
        max_lead_worse: largest relative MAE increase allowed at any lead (0.02 = 2 %).
        coverage_low: lowest 80 %-interval coverage of the challenger accepted.
        coverage_high: highest accepted.
        min_pairs_per_lead: paired forecasts needed at every lead.
        loss: the loss the test compares: ``pinball`` or ``abs_error``.
        kernel: autocovariance weights of the test's variance: ``uniform`` (default:
            the Bartlett weights of Newey-West under-estimate the variance of 24-step
            differences and promote identical models too often, see the docs) or
            ``bartlett``.
    """

    alpha: float = 0.05
    max_lead_worse: float = 0.02
    coverage_low: float = 0.75
    coverage_high: float = 0.85
    min_pairs_per_lead: int = DEFAULT_MIN_PAIRS
    loss: Loss = "pinball"
    kernel: Kernel = "uniform"

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError("alpha must lie in (0, 1)")
        if self.max_lead_worse < 0.0 or self.min_pairs_per_lead < 2:
            raise ValueError("max_lead_worse must be >= 0 and min_pairs_per_lead >= 2")
        if not 0.0 <= self.coverage_low <= self.coverage_high <= 1.0:
            raise ValueError("coverage bounds must satisfy 0 <= low <= high <= 1")
        if self.loss not in ("pinball", "abs_error"):
            raise ValueError("loss must be 'pinball' or 'abs_error'")
        if self.kernel not in ("uniform", "bartlett"):
            raise ValueError("kernel must be 'uniform' or 'bartlett'")


@dataclass(frozen=True)
class PromotionDecision:
    """A decision, made or declined, ready for a history line.

    Attributes:
        promote: whether the challenger should become champion.
        reasons: why, one line per rule that decided (all of them when promoting).
        figures: the numbers behind it (JSON-ready: str keys, floats, ints, None).
    """

    promote: bool
    reasons: list[str]
    figures: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The decision as plain data (``json.dumps`` takes it as is)."""
        return asdict(self)

    def headline(self) -> str:
        """The reason a history line shows: the test result of a promotion (every rule
        passed, the test is the news), the first failed rule of a decline."""
        if self.promote:
            return next((r for r in self.reasons if "overall" in r), self.reasons[0])
        return self.reasons[0] if self.reasons else "no reason given"


def _test_figures(test: DieboldMariano | None) -> dict[str, Any]:
    if test is None:
        return {"statistic": None, "p_value": None, "mean_difference": None}
    return {
        "statistic": test.statistic,
        "p_value": test.p_value,
        "mean_difference": test.mean_difference,
    }


def _try_test(series: pd.Series, horizon_h: int, kernel: Kernel) -> DieboldMariano | None:
    try:
        return diebold_mariano(series.to_numpy(dtype=np.float64), horizon_h, kernel)
    except ValueError:
        return None  # too few issue times for this horizon


def issue_differences(paired: pd.DataFrame, loss: Loss) -> pd.DataFrame:
    """Loss differences ``champion - challenger`` averaged over stations: one row per
    issue time, one column per lead (NaN where a lead has no pair), time-sorted."""
    column = f"{loss}_c" if loss == "pinball" else "abs_error_c"
    diff = paired[f"{column}_champion"] - paired[f"{column}_challenger"]
    frame = pd.DataFrame({"issued_at": paired["issued_at"], "lead_h": paired["lead_h"], "d": diff})
    table = frame.groupby(["issued_at", "lead_h"], sort=True)["d"].mean().unstack("lead_h")
    return table.sort_index()


def _lead_figures(
    paired: pd.DataFrame, by_issue: pd.DataFrame, kernel: Kernel
) -> dict[int, dict[str, Any]]:
    grouped = paired.groupby("lead_h", sort=True)
    out: dict[int, dict[str, Any]] = {}
    for lead, rows in grouped:
        champion_mae = float(rows["abs_error_c_champion"].mean())
        challenger_mae = float(rows["abs_error_c_challenger"].mean())
        lead_h = int(str(lead))
        test = _try_test(by_issue[lead_h].dropna(), lead_h, kernel)
        out[lead_h] = {
            "n": len(rows),
            "mae_champion_c": champion_mae,
            "mae_challenger_c": challenger_mae,
            "mae_change": challenger_mae / champion_mae - 1.0 if champion_mae > 0 else 0.0,
            "coverage_champion": float(rows["covered_champion"].mean()),
            "coverage_challenger": float(rows["covered_challenger"].mean()),
            **_test_figures(test),
        }
    return out


def decide(paired: pd.DataFrame, rules: PromotionRules | None = None) -> PromotionDecision:
    """Apply the promotion rules to paired forecasts (:func:`.paired.pair_versions`)."""
    rules = rules or PromotionRules()
    figures: dict[str, Any] = {"rules": asdict(rules)}
    if paired.empty:
        return PromotionDecision(False, ["no paired forecasts of the two versions yet"], figures)
    by_issue = issue_differences(paired, rules.loss)
    leads = _lead_figures(paired, by_issue, rules.kernel)
    overall = _try_test(by_issue.mean(axis=1, skipna=True), max(leads), rules.kernel)
    coverage = float(paired["covered_challenger"].mean())
    figures.update(
        overall={"n_issues": len(by_issue), "horizon_h": max(leads), **_test_figures(overall)},
        coverage_challenger=coverage,
        leads={str(lead): values for lead, values in leads.items()},
    )
    passed, failed = _judge(rules, leads, overall, coverage)
    if failed:
        return PromotionDecision(False, failed, figures)
    return PromotionDecision(True, passed, figures)


def _judge(
    rules: PromotionRules,
    leads: dict[int, dict[str, Any]],
    overall: DieboldMariano | None,
    coverage: float,
) -> tuple[list[str], list[str]]:
    """What passed and what failed, as sentences."""
    passed: list[str] = []
    failed: list[str] = []
    short = {lead: v["n"] for lead, v in leads.items() if v["n"] < rules.min_pairs_per_lead}
    if short:
        failed.extend(
            f"lead {lead} h: {n} paired forecasts, {rules.min_pairs_per_lead} needed"
            for lead, n in short.items()
        )
    else:
        passed.append(f"every lead has >= {rules.min_pairs_per_lead} paired forecasts")
    if overall is None:
        failed.append("too few issue times for the overall test")
    elif overall.p_value < rules.alpha and overall.mean_difference > 0:
        passed.append(
            f"challenger better overall ({rules.loss}): DM* = {overall.statistic:.3f}, "
            f"p = {overall.p_value:.4g} < {rules.alpha}"
        )
    else:
        failed.append(
            f"challenger not better overall ({rules.loss}): DM* = {overall.statistic:.3f}, "
            f"p = {overall.p_value:.4g} >= {rules.alpha}"
        )
    worse = {
        lead: v["mae_change"] for lead, v in leads.items() if v["mae_change"] > rules.max_lead_worse
    }
    failed.extend(
        f"lead {lead} h: challenger MAE {change:+.1%} vs champion (limit "
        f"{rules.max_lead_worse:+.0%})"
        for lead, change in worse.items()
    )
    if not worse:
        passed.append(f"no lead's MAE worse by more than {rules.max_lead_worse:.0%}")
    if rules.coverage_low <= coverage <= rules.coverage_high:
        passed.append(f"challenger 80 % coverage {coverage:.1%} within range")
    else:
        failed.append(
            f"challenger 80 % coverage {coverage:.1%} outside "
            f"{rules.coverage_low:.0%}-{rules.coverage_high:.0%}"
        )
    return passed, failed


def decide_versions(
    verified: pd.DataFrame,
    champion: ModelId,
    challenger: ModelId,
    rules: PromotionRules | None = None,
) -> PromotionDecision:
    """Pair two versions' verification rows and decide; the figures name both."""
    decision = decide(pair_versions(verified, champion, challenger), rules)
    figures = {
        "champion": {"model_name": champion[0], "model_version": champion[1]},
        "challenger": {"model_name": challenger[0], "model_version": challenger[1]},
        **decision.figures,
    }
    return PromotionDecision(decision.promote, decision.reasons, figures)
