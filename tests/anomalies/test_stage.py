"""The quality stage in front of the windows, on short synthetic sequences (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tests.anomalies.test_qc import T0, THRESHOLDS, _msg
from wxstream.anomalies.stage import QualityStage
from wxstream.anomalies.thresholds import ResidualLimits


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
