"""The demo's interval coverage, served and as the model made it (synthetic values:
pure functions only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wxstream.messages import FeatureMessage
from wxstream.messages.predictions import LeadView, PredictionMessage
from wxstream.tools.demo_intervals import interval_coverage, model_interval

T0 = datetime(2020, 1, 1, tzinfo=UTC)


def prediction(scale: tuple[tuple[float, ...], tuple[float, ...]] | None) -> PredictionMessage:
    p50 = (10.0, 10.0)
    return PredictionMessage(
        station_id="S",
        issued_at=T0,
        model_name="m",
        model_version="v",
        leads_h=(1, 2),
        temperature_c=p50,
        temperature_p10_c=(8.0, 6.0),
        temperature_p90_c=(11.0, 13.0),
        short_term=LeadView((1,), p50[:1]),
        long_term=LeadView((1, 2), p50),
        first_window_start=T0 - timedelta(hours=3),
        last_window_start=T0 - timedelta(hours=1),
        produced_at=T0,
        interval_scale=scale,
    )


def feature(hour: int, temperature: float) -> FeatureMessage:
    start = T0 + timedelta(hours=hour)
    return FeatureMessage("S", start, start + timedelta(hours=1), temperature, 0.0, 1.0, 0, 0, 1)


def test_the_model_interval_undoes_the_online_scales() -> None:
    raw = model_interval(prediction(((2.0, 4.0), (0.5, 1.5))))
    assert raw.temperature_p10_c == pytest.approx((9.0, 9.0))
    assert raw.temperature_p90_c == pytest.approx((12.0, 12.0))
    assert raw.interval_scale is None
    plain = prediction(None)
    assert model_interval(plain) is plain


def test_coverage_is_counted_for_both_intervals() -> None:
    # +1 h observed 8.5: inside the served 8..11, outside the model's 9..12;
    # +2 h observed 12.5: inside the served 6..13, outside the model's 9..12.
    coverage = interval_coverage(
        [prediction(((2.0, 4.0), (0.5, 1.5)))], [feature(0, 8.5), feature(1, 12.5)]
    )
    assert coverage.served == {1: 1.0, 2: 1.0}
    assert coverage.model == {1: 0.0, 2: 0.0}
    assert coverage.recalibrated == 1
