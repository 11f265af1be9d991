"""The Diebold-Mariano test and the t distribution it is read against."""

from __future__ import annotations

import math

import numpy as np
import pytest

from wxstream.rollout import diebold_mariano
from wxstream.rollout.diebold_mariano import hln_factor, long_run_variance
from wxstream.rollout.student_t import incomplete_beta, t_cdf, t_sf


def test_one_step_case_by_hand() -> None:
    # d = 1, 2, 3, 4: mean 2.5, g0 = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25,
    # DM = 2.5 / sqrt(1.25 / 4) = sqrt(20); HLN: sqrt((4 + 1 - 2 + 0) / 4) = sqrt(3/4);
    # DM* = sqrt(15).
    test = diebold_mariano([1.0, 2.0, 3.0, 4.0], horizon_h=1)
    assert test.mean_difference == 2.5
    assert test.variance == pytest.approx(1.25, abs=1e-15)
    assert test.statistic == pytest.approx(math.sqrt(15.0), abs=1e-12)
    # P(T_3 > sqrt(15)), T_3's closed form: 1/2 - (atan(x) + x/(1+x^2)) / pi, x = t/sqrt(3)
    x = math.sqrt(5.0)
    assert test.p_value == pytest.approx(0.5 - (math.atan(x) + x / (1 + x * x)) / math.pi, 1e-12)


def test_two_step_case_by_hand() -> None:
    # d = 2, -1, 3, 0, 1: mean 1, centred 1, -2, 2, -1, 0; g0 = 10/5 = 2,
    # g1 = (1*-2 + -2*2 + 2*-1 + -1*0) / 5 = -1.6.
    # Bartlett (w1 = 1/2): V = 2 - 1.6 = 0.4; DM^2 = 1 / (0.4/5) = 12.5;
    # HLN^2 = (5 + 1 - 4 + 2/5) / 5 = 0.48; DM*^2 = 6.
    d = [2.0, -1.0, 3.0, 0.0, 1.0]
    bartlett = diebold_mariano(d, horizon_h=2)
    assert bartlett.variance == pytest.approx(0.4, abs=1e-15)
    assert bartlett.statistic == pytest.approx(math.sqrt(6.0), abs=1e-12)
    # T_4 closed form: P(T_4 > t) = 1/2 - (3/4)(s - s^3/3)... via s = t / sqrt(t^2 + 4)
    s = math.sqrt(6.0) / math.sqrt(10.0)
    assert bartlett.p_value == pytest.approx(0.5 - 0.75 * (s - s**3 / 3.0), abs=1e-12)
    # Uniform weights: V = 2 - 3.2 < 0, so the Bartlett estimate stands in.
    assert diebold_mariano(d, horizon_h=2, kernel="uniform").variance == bartlett.variance


def test_uniform_weights_take_every_autocovariance_fully() -> None:
    d = np.array([1.0, 2.0, 2.0, 3.0, 5.0, 4.0])
    c = d - d.mean()
    g = [float(c @ c) / 6, float(c[1:] @ c[:-1]) / 6, float(c[2:] @ c[:-2]) / 6]
    assert long_run_variance(d, 2, "uniform") == pytest.approx(g[0] + 2 * g[1] + 2 * g[2])
    assert long_run_variance(d, 2, "bartlett") == pytest.approx(
        g[0] + 2 * (2 / 3) * g[1] + 2 * (1 / 3) * g[2]
    )


def test_constant_differences_decide_by_their_sign() -> None:
    assert diebold_mariano([0.5] * 10, 1).p_value == 0.0
    assert diebold_mariano([-0.5] * 10, 1).p_value == 1.0
    assert diebold_mariano([0.0] * 10, 1).p_value == 0.5


def test_too_short_series_are_refused() -> None:
    with pytest.raises(ValueError, match="two finite"):
        diebold_mariano([1.0], 1)
    with pytest.raises(ValueError, match="two finite"):
        diebold_mariano([1.0, math.nan], 1)
    with pytest.raises(ValueError, match="too few"):
        hln_factor(3, 24)
    with pytest.raises(ValueError, match="too few"):
        diebold_mariano([1.0, 2.0, 3.0], 2)
    assert hln_factor(48, 24) == pytest.approx(math.sqrt((48 + 1 - 48 + 24 * 23 / 48) / 48))


@pytest.mark.parametrize("df", [1.0, 2.5, 3.0, 10.0, 120.0, 999.0])
@pytest.mark.parametrize("t", [-30.0, -2.0, -0.3, 0.0, 0.7, 1.96, 4.0])
def test_t_cdf_matches_scipy(t: float, df: float) -> None:
    stats = pytest.importorskip("scipy.stats")
    assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-12)
    assert t_sf(t, df) == pytest.approx(stats.t.sf(t, df), abs=1e-12)


def test_t_cdf_for_many_degrees_of_freedom_is_near_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in (1e4, 1e6, 1e8):
        for t in (-3.0, 0.1, 1.645):
            assert t_cdf(t, df) == pytest.approx(stats.t.cdf(t, df), abs=1e-8)


def test_t_cdf_edges_and_the_beta_function() -> None:
    assert t_cdf(math.inf, 5) == 1.0
    assert t_cdf(-math.inf, 5) == 0.0
    assert math.isnan(t_cdf(math.nan, 5))
    assert t_cdf(1.0, 1.0) == pytest.approx(0.75, abs=1e-14)  # Cauchy: 1/2 + atan(1)/pi
    assert incomplete_beta(2.0, 3.0, 0.0) == 0.0
    assert incomplete_beta(2.0, 3.0, 1.0) == 1.0
    # I_x(1, b) = 1 - (1 - x)^b
    assert incomplete_beta(1.0, 3.0, 0.4) == pytest.approx(1 - 0.6**3, abs=1e-14)
    with pytest.raises(ValueError, match="positive"):
        t_cdf(0.0, 0.0)
