"""The forecast flat-line detector, one message at a time (synthetic values: pure arithmetic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from wxstream.anomalies import (
    P10_P90_WIDTH_SD,
    FlatForecastLimits,
    FlatForecastState,
    flat_forecast_anomaly,
    forecast_issued,
    learn_flat_forecast_limits,
    observe,
    run_scores,
)

LIMITS = FlatForecastLimits(min_run_h=3, z_suspect=3.0, z_bad=6.0)
START = datetime(2014, 6, 1, 6, tzinfo=UTC)
HOUR = timedelta(hours=1)
HALF = P10_P90_WIDTH_SD / 2  # p50 -/+ HALF: sigma = 1 degC


def _rising(start_c: float, per_hour_c: float) -> tuple[tuple[float, float, float], ...]:
    """A forecast whose median rises ``per_hour_c`` each lead with sigma 1 degC."""
    return tuple(
        (m - HALF, m, m + HALF) for m in (start_c + per_hour_c * lead for lead in range(1, 25))
    )


def _feed(values: list[float], forecast: tuple[tuple[float, float, float], ...]) -> list[float]:
    state, scores = FlatForecastState(), []
    for i, value in enumerate(values):
        state, score = observe(state, START + i * HOUR, value, LIMITS)
        scores.append(score)
        state = forecast_issued(state, START + i * HOUR, forecast)
    return scores


def test_a_value_frozen_while_the_forecast_rises_is_scored_by_its_departure() -> None:
    scores = _feed([10.0] * 5, _rising(10.0, 1.0))
    # Repeated hours 1..4 depart by 1..4 sigma; scored from the third repeat on.
    assert scores[:3] == [0.0, 0.0, 0.0]
    assert scores[3] == pytest.approx(-(1 + 2 + 3) / np.sqrt(3))
    assert scores[4] == pytest.approx(-(1 + 2 + 3 + 4) / 2)
    found = flat_forecast_anomaly("X", START + 4 * HOUR, scores[4], LIMITS)
    assert found is not None
    assert (found.check, found.severity) == ("flat_line", "suspect")


def test_a_flat_spell_the_forecast_expected_is_not_flagged() -> None:
    scores = _feed([10.0] * 8, _rising(10.0, 0.0))
    assert max(abs(s) for s in scores) == pytest.approx(0.0)


def test_a_new_value_or_a_gap_starts_a_new_run() -> None:
    state = FlatForecastState()
    state, _ = observe(state, START, 10.0, LIMITS)
    state = forecast_issued(state, START, _rising(10.0, 1.0))
    state, _ = observe(state, START + HOUR, 10.0, LIMITS)
    assert state.scored == 1
    after_gap, score = observe(state, START + 3 * HOUR, 10.0, LIMITS)
    assert (after_gap.start, after_gap.forecast, score) == (START + 3 * HOUR, None, 0.0)
    changed, _ = observe(state, START + 2 * HOUR, 11.0, LIMITS)
    assert (changed.value, changed.scored) == (11.0, 0)
    # A late or repeated hour leaves the run as it is.
    assert observe(state, START, 10.0, LIMITS) == (state, 0.0)


def test_only_the_forecast_issued_at_the_runs_first_hour_is_kept() -> None:
    state, _ = observe(FlatForecastState(), START, 10.0, LIMITS)
    assert forecast_issued(state, START - HOUR, _rising(10.0, 1.0)).forecast is None
    kept = forecast_issued(state, START, _rising(10.0, 1.0))
    assert forecast_issued(kept, START, _rising(10.0, 5.0)).forecast == kept.forecast


def test_run_scores_replays_a_stream_and_limits_come_from_its_quantile() -> None:
    hours = np.arange(6, dtype=np.int64) + 400_000
    values = np.array([10.0, 10.0, 10.0, 10.0, 11.0, 12.0])
    issued = np.full((6, 24, 3), np.nan)
    issued[0] = np.array(_rising(10.0, 1.0))
    scores = run_scores(hours, values, issued, LIMITS)
    assert scores[3] == pytest.approx(-6 / np.sqrt(3))
    assert scores[4] == scores[5] == 0.0
    limits = learn_flat_forecast_limits(scores, min_run_h=3, quantile=1.0, bad_ratio=2.0)
    assert limits.z_suspect == pytest.approx(6 / np.sqrt(3))
    assert limits.z_bad == pytest.approx(12 / np.sqrt(3))
