"""The QC checks message by message, on short synthetic sequences (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from wxstream.anomalies import (
    Anomaly,
    QcRunner,
    QcThresholds,
    VariableLimits,
    check,
    initial_state,
)
from wxstream.messages import FeatureMessage

T0 = datetime(2013, 11, 1, tzinfo=UTC)


def _limits(**overrides: float) -> VariableLimits:
    values: dict[str, float] = {
        "low": -30.0,
        "high": 45.0,
        "step_suspect": 4.0,
        "step_bad": 8.0,
        "spike_suspect": 3.0,
        "spike_bad": 6.0,
        "flat_hours_suspect": 5,
        "flat_hours_bad": 10,
        "diff_std": 1.0,
    }
    values.update(overrides)
    return VariableLimits(**values)  # type: ignore[arg-type]


THRESHOLDS = QcThresholds(
    variables={
        "temperature": _limits(),
        "dewpoint": _limits(),
        "wind_speed": _limits(low=0.0, high=40.0, flat_hours_suspect=50, flat_hours_bad=100),
    },
    dewpoint_excess_suspect_c=0.5,
    dewpoint_excess_bad_c=1.0,
    max_gap_h=3,
)


def _msg(
    hour: int, temp: float, dew: float | None = None, wind: float | None = None
) -> FeatureMessage:
    start = T0 + timedelta(hours=hour)
    return FeatureMessage(
        "EWR",
        start,
        start + timedelta(hours=1),
        temp,
        1.0 + 0.1 * hour if dew is None else dew,
        2.0 + 0.1 * hour if wind is None else wind,
        temp,
        temp,
        1,
    )


def _run(messages: list[FeatureMessage]) -> list[list[Anomaly]]:
    runner = QcRunner.new(THRESHOLDS)
    return [runner.check(m) for m in messages]


def _checks(found: list[Anomaly]) -> set[str]:
    return {a.check for a in found}


def test_a_smooth_sequence_raises_nothing() -> None:
    temps = [5.0, 5.5, 6.1, 6.0, 7.2, 8.0, 7.1]
    assert all(not found for found in _run([_msg(h, t) for h, t in enumerate(temps)]))


def test_a_spike_is_reported_one_message_late_for_its_own_hour_and_once() -> None:
    found = _run([_msg(0, 5.0), _msg(1, 5.2), _msg(2, 12.0), _msg(3, 5.4), _msg(4, 5.5)])
    assert _checks(found[2]) == {"step"}  # the jump itself, as it arrives
    spikes = [a for a in found[3] if a.check == "spike"]
    assert [(a.hour, a.variable, a.severity) for a in spikes] == [
        (T0 + timedelta(hours=2), "temperature", "bad")
    ]
    assert "step" not in _checks(found[3])  # the way back is the spike's
    assert not found[4]


def test_a_step_is_suspect_or_bad_by_size() -> None:
    suspect = _run([_msg(0, 5.0), _msg(1, 10.0), _msg(2, 10.5)])[1]
    bad = _run([_msg(0, 5.0), _msg(1, 15.0), _msg(2, 15.5)])[1]
    assert [(a.check, a.severity) for a in suspect] == [("step", "suspect")]
    assert [(a.check, a.severity) for a in bad] == [("step", "bad")]
    assert bad[0].score == pytest.approx(10.0 / 4.0)


def test_a_flat_line_is_flagged_from_the_learnt_run_length() -> None:
    found = _run([_msg(h, 7.0, dew=1.0 + 0.3 * h) for h in range(7)])
    flat = [h for h, f in enumerate(found) if "flat_line" in _checks(f)]
    assert flat == [4, 5, 6]  # the fifth equal value is the first flagged


def test_range_and_consistency() -> None:
    found = _run([_msg(0, 5.0), _msg(1, 50.0, dew=4.0)])[1]
    assert ("range", "bad") in {(a.check, a.severity) for a in found}
    above = _run([_msg(0, 5.0, dew=5.8)])[0]
    assert [(a.check, a.severity) for a in above] == [("dewpoint_above_temperature", "suspect")]
    broken = FeatureMessage("EWR", T0, T0 + timedelta(hours=1), 9.0, 1.0, 2.0, 4.0, 8.0, 1)
    _, found = check(initial_state("EWR"), broken, THRESHOLDS)
    assert _checks(found) == {"min_avg_max"}


def test_duplicates_and_late_messages_are_reported_and_leave_the_state_alone() -> None:
    state = initial_state("EWR")
    for hour in range(3):
        state, _ = check(state, _msg(hour, 5.0 + hour), THRESHOLDS)
    same, found = check(state, _msg(2, 99.0), THRESHOLDS)
    assert same is state
    assert _checks(found) == {"duplicate"}
    same, found = check(state, _msg(0, 5.0), THRESHOLDS)
    assert same is state
    assert _checks(found) == {"out_of_order"}


def test_a_gap_is_flagged_and_no_step_is_taken_across_it() -> None:
    found = _run([_msg(0, 5.0), _msg(1, 5.0), _msg(6, 15.0), _msg(7, 15.5)])
    assert _checks(found[2]) == {"gap"}
    assert not found[3]  # no spike across the gap either
