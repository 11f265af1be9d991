"""The loop's pure rules: back-pressure (when to take records, when to pause), group
commit (when a delivery leaves) and stopping (quota, idle)."""

from __future__ import annotations

from wxstream.streaming.core.backpressure import BackPressure
from wxstream.streaming.core.commit import CommitRule
from wxstream.streaming.core.stopping import IDLE, MAX_MESSAGES, StopRule


def test_a_full_queue_stops_taking_records_and_pauses_only_after_pause_after_ms() -> None:
    rule = BackPressure(max_in_flight_batches=2, pause_after_ms=500)
    assert rule.update(1, 10.0, paused=False).take
    full = rule.update(2, 10.0, paused=False)
    assert (full.take, full.paused) == (False, False)
    assert not rule.update(3, 10.499, paused=False).paused
    assert rule.update(2, 10.5, paused=False).paused
    # Room again: take records and resume.
    room = rule.update(1, 11.0, paused=True)
    assert (room.take, room.paused) == (True, False)


def test_a_break_in_the_full_queue_restarts_the_pause_timer() -> None:
    rule = BackPressure(max_in_flight_batches=1, pause_after_ms=500)
    rule.update(1, 0.0, paused=False)
    rule.update(0, 0.4, paused=False)
    assert not rule.update(1, 0.6, paused=False).paused
    assert rule.update(1, 1.1, paused=False).paused


def test_paused_stays_paused_while_full() -> None:
    rule = BackPressure(max_in_flight_batches=1, pause_after_ms=0)
    assert rule.update(1, 0.0, paused=True).paused
    assert not rule.has_room(1)
    assert rule.has_room(0)


def test_a_delivery_leaves_after_the_interval_once_the_previous_one_is_done() -> None:
    rule = CommitRule(commit_interval_ms=200, burst_batches=32, now_s=0.0)
    assert not rule.due(0.1, waiting=3, previous_done=True)
    assert rule.due(0.2, waiting=3, previous_done=True)
    rule.left(0.2)
    assert not rule.due(0.3, waiting=3, previous_done=True)
    # Never while the previous one runs, however long ago it left ...
    assert not rule.due(5.0, waiting=3, previous_done=False)
    # ... unless forced (a drain) or too many batches wait.
    assert rule.due(0.3, waiting=3, previous_done=False, force=True)
    assert rule.due(0.3, waiting=32, previous_done=False)
    assert not rule.due(5.0, waiting=0, previous_done=True, force=True)


def test_the_loop_stops_on_its_quota() -> None:
    rule = StopRule(max_messages=10, idle_exit_s=None)
    assert rule.wanted(8, 0) == 8
    assert rule.wanted(8, 7) == 3
    assert rule.wanted(8, 10) == 0
    assert rule.reason(taken=9, now_s=0, idle_since=0, in_group=True, busy=False) is None
    assert rule.reason(taken=10, now_s=0, idle_since=0, in_group=True, busy=True) == MAX_MESSAGES
    assert StopRule(None, None).wanted(8, 10**9) == 8


def test_the_loop_stops_after_idle_exit_s_of_silence_in_a_group_with_nothing_to_do() -> None:
    rule = StopRule(max_messages=None, idle_exit_s=5.0)
    quiet = {"taken": 3, "idle_since": 100.0, "in_group": True, "busy": False}
    assert rule.reason(now_s=104.9, **quiet) is None  # type: ignore[arg-type]
    assert rule.reason(now_s=105.0, **quiet) == IDLE  # type: ignore[arg-type]
    assert rule.reason(now_s=200.0, **{**quiet, "busy": True}) is None  # type: ignore[arg-type]
    # Waiting to join a group is not idle.
    assert rule.reason(now_s=200.0, **{**quiet, "in_group": False}) is None  # type: ignore[arg-type]
    assert (
        StopRule(None, None).reason(taken=0, now_s=1e9, idle_since=0, in_group=True, busy=False)
        is None
    )
