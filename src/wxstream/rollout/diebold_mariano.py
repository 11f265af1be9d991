"""The Diebold-Mariano test of equal forecast accuracy, for multi-step forecasts.

Given loss differences ``d_t = L(champion)_t - L(challenger)_t`` (positive: the
challenger did better) over consecutive issue times, the test asks whether their mean is
above zero. Errors of an ``h``-step forecast overlap for ``h - 1`` issue times (two
forecasts issued an hour apart share ``h - 1`` hours of future weather), so ``d_t`` is
autocorrelated up to lag ``h - 1`` even for an optimal forecast; its long-run variance
is estimated from its autocovariances over ``h - 1`` lags:

    V = g_0 + 2 * sum_{k=1}^{h-1} w_k g_k,   g_k = (1/n) sum_t (d_t - m)(d_{t-k} - m)

with Newey-West (Bartlett) weights ``w_k = 1 - k/h`` (never negative; the default) or
the uniform weights ``w_k = 1`` of the original test (unbiased for ``h - 1``-dependent
differences, which Bartlett weights under-estimate: see ``docs/model-versions.md`` for
what that does to the size of the test at ``h = 24``).
Statistic ``DM = m / sqrt(V / n)``, with the Harvey-Leybourne-Newbold (1997) small-sample
correction

    DM* = DM * sqrt((n + 1 - 2h + h(h - 1)/n) / n)

compared with Student's t with ``n - 1`` degrees of freedom. The p-value is one-sided:
``P(T > DM*)``, the chance of a challenger advantage this large with equal accuracy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from wxstream.rollout.student_t import t_sf

Kernel = Literal["bartlett", "uniform"]


@dataclass(frozen=True, slots=True)
class DieboldMariano:
    """One Diebold-Mariano test.

    Attributes:
        n: loss differences used.
        horizon_h: the forecast horizon ``h`` (``h - 1`` lags in the variance).
        mean_difference: mean of ``champion loss - challenger loss``.
        variance: the Newey-West long-run variance ``V`` of the differences.
        statistic: the HLN-corrected statistic ``DM*``.
        p_value: one-sided ``P(T_{n-1} > DM*)``: small when the challenger is better.
    """

    n: int
    horizon_h: int
    mean_difference: float
    variance: float
    statistic: float
    p_value: float


def long_run_variance(differences: npt.NDArray[np.float64], lags: int, kernel: Kernel) -> float:
    """Long-run variance of a series from its autocovariances up to ``lags``.

    ``bartlett`` (Newey-West) weighs lag ``k`` by ``1 - k/(lags + 1)`` and is never
    negative; ``uniform`` weighs every lag fully (the estimator of Diebold-Mariano 1995
    and of the HLN correction), unbiased when the series is ``lags``-dependent, and falls
    back to Bartlett in the rare sample where it comes out not positive.
    """
    d = differences - differences.mean()
    n = int(d.size)
    gammas = [float(d @ d) / n] + [
        float(d[k:] @ d[:-k]) / n for k in range(1, min(lags, n - 1) + 1)
    ]
    uniform: float = gammas[0] + 2.0 * sum(gammas[1:])
    if kernel == "uniform" and uniform > 0.0:
        return uniform
    bartlett: float = gammas[0] + 2.0 * sum(
        (1.0 - k / (lags + 1)) * gamma for k, gamma in enumerate(gammas[1:], start=1)
    )
    return bartlett


def hln_factor(n: int, horizon_h: int) -> float:
    """The Harvey-Leybourne-Newbold correction factor.

    Raises:
        ValueError: fewer than ``2 h`` differences: the correction (derived for ``n``
            much larger than ``h``) turns meaningless, even grows, as ``n`` nears ``h``.
    """
    h = horizon_h
    if n < 2 * h:
        raise ValueError(f"{n} loss differences are too few for a {h}-step test (need {2 * h})")
    return math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)


def diebold_mariano(
    differences: Sequence[float] | npt.ArrayLike, horizon_h: int, kernel: Kernel = "bartlett"
) -> DieboldMariano:
    """The Diebold-Mariano test (HAC variance, HLN correction) of ``differences``.

    Args:
        differences: ``champion loss - challenger loss`` per issue time, in time order.
        horizon_h: the forecast lead ``h`` the losses are of (>= 1).
        kernel: weights of the ``h - 1`` autocovariances (:func:`long_run_variance`).

    Raises:
        ValueError: fewer than two differences, a non-finite one, or ``horizon_h < 1``.
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    if horizon_h < 1:
        raise ValueError("horizon_h must be >= 1")
    if d.size < 2 or not np.isfinite(d).all():
        raise ValueError("need at least two finite loss differences")
    n = int(d.size)
    mean = float(d.mean())
    variance = long_run_variance(d, horizon_h - 1, kernel)
    factor = hln_factor(n, horizon_h)
    if variance > 0.0:
        statistic = mean / math.sqrt(variance / n) * factor
    else:  # every difference equal: the sign of the mean decides outright
        statistic = math.copysign(math.inf, mean) if mean != 0.0 else 0.0
    return DieboldMariano(
        n=n,
        horizon_h=horizon_h,
        mean_difference=mean,
        variance=variance,
        statistic=statistic,
        p_value=t_sf(statistic, n - 1) if statistic != 0.0 else 0.5,
    )
