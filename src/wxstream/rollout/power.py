"""How often the promotion rules promote, by simulation: the evidence behind
:data:`~wxstream.rollout.promotion.DEFAULT_MIN_PAIRS` and the false-promotion check.

These are statistical simulations of forecast *errors*, not weather: one station, one
forecast per hour, leads ``1..H``. Each forecaster's hourly surprises follow an AR(1)
process (``phi``), and the error of the forecast issued at ``t`` for lead ``h`` is the
sum of the surprises of hours ``t+1 .. t+h``: errors of consecutive issues overlap by
``h - 1`` hours, as real multi-step errors do. The challenger's surprises are
``scale * (rho * champion + sqrt(1 - rho^2) * own)``: correlated with the champion's
(both see the same weather) and, for ``improvement > 0``, smaller by that fraction in
every lead's MAE. Quantiles are the median +- 1.2816 of the error's true standard
deviation, so both cover 80 %.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.rollout.promotion import PromotionRules, decide

Z80 = 1.2815515655446004
"""The standard normal's 90th percentile: p10/p90 = median -+ Z80 sigma."""


@dataclass(frozen=True)
class ErrorModel:
    """The simulated forecasters.

    Attributes:
        leads_h: the leads (1..H).
        phi: AR(1) coefficient of the hourly surprises.
        rho: correlation of the challenger's surprises with the champion's.
        improvement: relative MAE reduction of the challenger (0: identical accuracy).
    """

    leads_h: Sequence[int] = tuple(range(1, 25))
    phi: float = 0.5
    rho: float = 0.8
    improvement: float = 0.0


def _ar1(rng: np.random.Generator, n: int, phi: float) -> npt.NDArray[np.float64]:
    """A stationary AR(1) series of unit innovation variance."""
    eps = rng.standard_normal(n)
    out = np.empty(n)
    out[0] = eps[0] / np.sqrt(1.0 - phi * phi)
    for t in range(1, n):
        out[t] = phi * out[t - 1] + eps[t]
    return out


def _error_sd(lead: int, phi: float) -> float:
    """Standard deviation of a sum of ``lead`` consecutive AR(1) values."""
    var = lead + 2.0 * sum((lead - k) * phi**k for k in range(1, lead))
    return float(np.sqrt(var / (1.0 - phi * phi)))


def _scores(errors: npt.NDArray[np.float64], sd: float) -> dict[str, npt.NDArray[np.float64]]:
    """Scores of forecasts with median error ``errors`` (observed - median) and an
    interval of +-Z80 sd."""
    spread = Z80 * sd
    pinball = (
        np.maximum(0.1 * (errors + spread), -0.9 * (errors + spread))
        + np.maximum(0.5 * errors, -0.5 * errors)
        + np.maximum(0.9 * (errors - spread), -0.1 * (errors - spread))
    ) / 3.0
    return {
        "abs_error_c": np.abs(errors),
        "pinball_c": pinball,
        "covered": (np.abs(errors) <= spread).astype(np.float64),
    }


def simulate_paired(model: ErrorModel, n_issues: int, seed: int) -> pd.DataFrame:
    """Paired scores (the shape of :func:`~wxstream.rollout.paired.pair_versions`) of
    ``n_issues`` hourly issues of both simulated forecasters."""
    rng = np.random.default_rng(seed)
    max_lead = max(model.leads_h)
    hours = n_issues + max_lead
    champion = _ar1(rng, hours, model.phi)
    own = _ar1(rng, hours, model.phi)
    scale = 1.0 - model.improvement
    challenger = scale * (model.rho * champion + np.sqrt(1.0 - model.rho**2) * own)
    cum_a = np.concatenate([[0.0], np.cumsum(champion)])
    cum_b = np.concatenate([[0.0], np.cumsum(challenger)])
    issued = pd.date_range("2000-01-01", periods=n_issues, freq="h", tz="UTC")
    parts = []
    for lead in model.leads_h:
        t = np.arange(n_issues)
        sd = _error_sd(lead, model.phi)
        a = _scores(cum_a[t + lead + 1] - cum_a[t + 1], sd)
        b = _scores(cum_b[t + lead + 1] - cum_b[t + 1], scale * sd)
        part = {"station_id": "sim", "issued_at": issued, "lead_h": lead}
        part.update({f"{k}_champion": v for k, v in a.items()})
        part.update({f"{k}_challenger": v for k, v in b.items()})
        parts.append(pd.DataFrame(part))
    return pd.concat(parts, ignore_index=True)


def promotion_rate(
    model: ErrorModel, n_issues: int, runs: int, rules: PromotionRules | None = None, seed: int = 0
) -> float:
    """Share of ``runs`` seeded simulations (seeds ``seed .. seed + runs - 1``) in which
    the rules promote the challenger."""
    promoted = sum(
        decide(simulate_paired(model, n_issues, seed + run), rules).promote for run in range(runs)
    )
    return promoted / runs
