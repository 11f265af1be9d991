"""The forecast-residual detector's arithmetic (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from wxstream.anomalies import (
    P10_P90_WIDTH_SD,
    ResidualLimits,
    learn_residual_limits,
    residual_anomaly,
    standardised_residual,
)

LIMITS = ResidualLimits(lead_h=1, z_suspect=4.0, z_bad=8.0)
HOUR = datetime(2013, 11, 1, tzinfo=UTC)


def test_the_interval_is_read_as_a_normal_80_percent_interval() -> None:
    # p10..p90 = 2.563 standard deviations: here sigma = 1 degC.
    z = standardised_residual(13.0, 10.0 - P10_P90_WIDTH_SD / 2, 10.0, 10.0 + P10_P90_WIDTH_SD / 2)
    assert float(z) == pytest.approx(3.0)


def test_severity_by_size_and_none_inside() -> None:
    def at(observed: float) -> str | None:
        found = residual_anomaly("EWR", HOUR, observed, 9.0, 10.0, 11.0, LIMITS)
        return None if found is None else found.severity

    sigma = 2.0 / P10_P90_WIDTH_SD
    assert at(10.0 + 3 * sigma) is None
    assert at(10.0 - 5 * sigma) == "suspect"
    assert at(10.0 + 9 * sigma) == "bad"


def test_learnt_limits_ignore_missing_forecasts() -> None:
    z = np.array([np.nan, -1.0, 2.0, -3.0, 4.0, np.nan])
    limits = learn_residual_limits(z, quantile=1.0, bad_ratio=2.0)
    assert (limits.z_suspect, limits.z_bad, limits.lead_h) == (4.0, 8.0, 1)
