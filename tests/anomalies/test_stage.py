"""The quality stage in front of the windows, on short synthetic sequences (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.anomalies.test_qc import T0, THRESHOLDS, _limits, _msg
from wxstream.anomalies.stage import DEFAULT_POLICY, POLICIES, QualityStage
from wxstream.anomalies.thresholds import ResidualLimits
from wxstream.messages.features import validate_message


def test_without_thresholds_every_message_passes_unflagged() -> None:
    stage = QualityStage(None)
    msg = _msg(0, 99.0)
    screened = stage.screen(msg)
    assert screened.message is msg
    assert screened.anomalies == ()
    assert not screened.flagged
    assert not stage.enabled


def test_a_spike_flags_its_hour_and_the_windows_that_hold_it() -> None:
    stage = QualityStage(THRESHOLDS)
    temps = [5.0, 5.5, 6.0, 16.0, 6.5, 7.0]
    results = [stage.screen(_msg(h, t)) for h, t in enumerate(temps)]
    spike = [a for r in results for a in r.anomalies if a.check == "spike"]
    assert [a.hour for a in spike] == [T0 + timedelta(hours=3)]
    late = results[4]
    assert 16.0 in late.values
    assert stage.window_flagged("EWR", T0, T0 + timedelta(hours=5))
    assert not stage.window_flagged("EWR", T0 + timedelta(hours=4), T0 + timedelta(hours=5))
    assert not stage.window_flagged("JFK", T0, T0 + timedelta(hours=5))


def test_the_residual_scores_an_observation_against_its_remembered_forecast() -> None:
    limits = ResidualLimits(lead_h=1, z_suspect=4.0, z_bad=8.0)
    stage = QualityStage(replace(THRESHOLDS, residual=limits))
    stage.screen(_msg(0, 5.0))
    # p10..p90 of 2.563 degC: one standard deviation of 1 degC.
    stage.remember_forecast("EWR", T0 + timedelta(hours=1), 3.7185, 5.0, 6.2815)
    clean = stage.screen(_msg(1, 5.5))
    assert all(a.check != "forecast_residual" for a in clean.anomalies)
    stage.remember_forecast("EWR", T0 + timedelta(hours=2), 3.7185, 5.0, 6.2815)
    far = stage.screen(_msg(2, 10.0, dew=1.0))
    residual = [a for a in far.anomalies if a.check == "forecast_residual"]
    assert len(residual) == 1
    assert residual[0].score > 1.0
    assert far.flagged


def test_forget_and_reset_drop_the_state() -> None:
    stage = QualityStage(THRESHOLDS)
    for h, t in enumerate([5.0, 5.5, 6.0, 16.0, 6.5]):
        stage.screen(_msg(h, t))
    stage.forget(["EWR"])
    assert not stage.window_flagged("EWR", T0, T0 + timedelta(hours=5))
    stage.screen(_msg(0, 5.0))
    stage.reset()
    assert not stage.window_flagged("EWR", T0, T0 + timedelta(hours=5))


def test_skip_keeps_a_flagged_hour_out_of_the_window() -> None:
    stage = QualityStage(THRESHOLDS, "skip")
    results = [stage.screen(_msg(h, t)) for h, t in enumerate([5.0, 5.5, 6.0, 16.0, 6.5])]
    assert [r.message is None for r in results] == [False, False, False, True, False]
    # The spike at hour 3 was found with hour 4 (the step back is the spike's): hour 4
    # enters the window; the late finding changes nothing.
    assert results[4].flagged is False
    assert any(a.check == "spike" for a in results[4].anomalies)


def test_a_gap_alone_does_not_make_skip_act() -> None:
    stage = QualityStage(THRESHOLDS, "skip")
    stage.screen(_msg(0, 5.0))
    after_gap = stage.screen(_msg(10, 5.5))
    assert [a.check for a in after_gap.anomalies] == ["gap"]
    assert after_gap.message is not None


def test_impute_stands_in_the_forecast_for_a_flagged_temperature() -> None:
    stage = QualityStage(THRESHOLDS, "impute")
    for h, t in enumerate([5.0, 5.5, 6.0]):
        stage.screen(_msg(h, t))
    stage.remember_forecast("EWR", T0 + timedelta(hours=3), 5.5, 6.4, 7.3)
    screened = stage.screen(_msg(3, 16.0))
    assert screened.flagged
    msg = screened.message
    assert msg is not None
    assert msg.avg_temperature == 6.4
    assert msg.min_temperature <= msg.avg_temperature <= msg.max_temperature
    # min and max moved with the average (the helper's messages have min = max = avg).
    assert msg.max_temperature - msg.min_temperature == pytest.approx(0.0)
    assert validate_message(msg) is None
    # The dew point and wind speed were not flagged: they pass as they came.
    assert (msg.avg_dewpoint, msg.avg_wind_speed) == (1.3, 2.3)


def test_impute_without_a_forecast_uses_the_last_clean_values() -> None:
    stage = QualityStage(THRESHOLDS, "impute")
    stage.screen(_msg(0, 5.0, dew=2.0))
    stage.screen(_msg(1, 5.2, dew=2.1))
    # Dew point 3 degC above the temperature: the dew point is flagged, not the temperature.
    screened = stage.screen(_msg(2, 5.3, dew=8.3))
    msg = screened.message
    assert msg is not None
    assert screened.flagged
    assert msg.avg_dewpoint == 2.1
    assert msg.avg_temperature == 5.3
    # The next clean hour passes as it came.
    later = stage.screen(_msg(3, 5.4, dew=2.4))
    assert later.message is not None
    assert later.message.avg_dewpoint == 2.4


def test_impute_keeps_the_message_rules_for_a_forecast_far_from_min_and_max() -> None:
    stage = QualityStage(THRESHOLDS, "impute")
    for h, t in enumerate([5.0, 5.5, 6.0]):
        stage.screen(_msg(h, t))
    stage.remember_forecast("EWR", T0 + timedelta(hours=3), -5.0, -4.0, -3.0)
    msg = stage.screen(replace(_msg(3, 30.0), min_temperature=29.9, max_temperature=30.0)).message
    assert msg is not None
    assert msg.avg_temperature == -4.0
    assert validate_message(msg) is None


def test_the_default_policy_is_one_of_the_policies() -> None:
    assert DEFAULT_POLICY in POLICIES


def test_a_value_stuck_while_its_forecast_moves_is_a_flat_line() -> None:
    from wxstream.anomalies.thresholds import FlatForecastLimits

    limits = FlatForecastLimits(min_run_h=4, z_suspect=3.0, z_bad=6.0)
    # Wide QC flat-line limits: only the forecast can tell this run from weather.
    patient = {**THRESHOLDS.variables, "temperature": _limits(flat_hours_suspect=50)}
    stage = QualityStage(replace(THRESHOLDS, variables=patient, flat_forecast=limits))
    stage.screen(_msg(0, 5.0))
    stage.screen(_msg(1, 6.0))
    # Issued from the window ending at hour 1: +1 degC an hour, sigma 0.5 degC.
    rising = tuple((6.0 + k - 0.64, 6.0 + k, 6.0 + k + 0.64) for k in range(1, 25))
    stage.remember_run_forecast("EWR", T0 + timedelta(hours=1), rising)
    found = [stage.screen(_msg(h, 6.0)).anomalies for h in range(2, 7)]
    flat = [a for hour in found for a in hour if a.check == "flat_line"]
    assert flat, "a stuck value against a rising forecast was not flagged"
    assert all(a.variable == "temperature" for a in flat)
    assert len({a.hour for a in flat}) == len(flat)
