"""Rules of the per-station window: order, duplicates, gaps, emission."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.streaming.core.windows import (
    StationWindow,
    WindowEntry,
    WindowOutcome,
    stack_windows,
    update,
)
from wxstream.streaming.core.windows import feed as feed_station

T0 = datetime(2013, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def entry(hour: int, value: float | None = None) -> WindowEntry:
    """A synthetic entry at ``T0 + hour`` whose row encodes the hour."""
    v = float(hour) if value is None else value
    return WindowEntry(T0 + hour * HOUR, np.array([v, v * 2, -v], dtype=np.float32))


def feed(
    hours: list[int], lookback: int, gap_tolerance_h: float = 1
) -> tuple[StationWindow | None, list[WindowOutcome], list[StationWindow]]:
    state: StationWindow | None = None
    outcomes = []
    emitted = []
    for hour in hours:
        state, event = update(state, entry(hour), lookback, gap_tolerance_h)
        outcomes.append(event.outcome)
        if event.window is not None:
            emitted.append(event.window)
    return state, outcomes, emitted


def test_first_entry_starts_a_window() -> None:
    state, event = update(None, entry(0), lookback=3)
    assert event.outcome is WindowOutcome.ACCEPTED
    assert not event.emitted
    assert state.starts == (T0,)


def test_full_window_emits_the_last_lookback_rows_in_order() -> None:
    state, _, emitted = feed([0, 1, 2, 3, 4], lookback=3)
    assert [w.starts[-1] for w in emitted] == [T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR]
    last = emitted[-1]
    assert last.starts == (T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR)
    np.testing.assert_array_equal(last.to_array()[:, 0], [2.0, 3.0, 4.0])
    assert state is not None
    assert len(state) == 3


def test_lookback_one_emits_every_entry() -> None:
    _, _, emitted = feed([0, 1, 2], lookback=1)
    assert len(emitted) == 3
    assert all(len(w) == 1 for w in emitted)


def test_duplicate_of_newest_is_ignored_and_keeps_state() -> None:
    state, _ = update(None, entry(0), lookback=3)
    state, _ = update(state, entry(1), lookback=3)
    again, event = update(state, entry(1, value=99.0), lookback=3)
    assert event.outcome is WindowOutcome.DUPLICATE
    assert again is state
    assert not event.emitted


def test_duplicate_of_an_older_start_in_the_window_is_a_duplicate() -> None:
    state, _, _ = feed([0, 1, 2], lookback=4)
    assert state is not None
    again, event = update(state, entry(1, value=99.0), lookback=4)
    assert event.outcome is WindowOutcome.DUPLICATE
    assert again is state


def test_older_window_is_out_of_order_and_dropped() -> None:
    state, _, _ = feed([5, 6, 7], lookback=2)
    assert state is not None
    again, event = update(state, entry(3), lookback=2)
    assert event.outcome is WindowOutcome.OUT_OF_ORDER
    assert event.gap_h == -4.0
    assert again is state


def test_gap_beyond_tolerance_resets_the_window() -> None:
    state, _, _ = feed([0, 1, 2], lookback=3)
    state2, event = update(state, entry(5), lookback=3)
    assert event.outcome is WindowOutcome.ACCEPTED
    assert event.reset
    assert event.gap_h == 3.0
    assert state2.starts == (T0 + 5 * HOUR,)
    assert not event.emitted


def test_gap_within_tolerance_keeps_the_window() -> None:
    _, _, emitted = feed([0, 1, 3], lookback=3, gap_tolerance_h=2)
    assert len(emitted) == 1
    assert emitted[0].starts == (T0, T0 + HOUR, T0 + 3 * HOUR)


def test_reset_then_refill_emits_again_after_lookback() -> None:
    _, outcomes, emitted = feed([0, 1, 2, 10, 11, 12], lookback=3)
    assert outcomes == [WindowOutcome.ACCEPTED] * 6
    assert [w.starts[0] for w in emitted] == [T0, T0 + 10 * HOUR]


def test_stack_windows_shapes_a_batch() -> None:
    _, _, emitted = feed([0, 1, 2, 3], lookback=3)
    batch = stack_windows(emitted)
    assert batch.shape == (2, 3, 3)
    assert batch.dtype == np.float32
    np.testing.assert_array_equal(batch[1, :, 0], [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(batch[0], emitted[0].to_array())


def test_stack_windows_of_nothing_is_empty() -> None:
    assert stack_windows([]).shape[0] == 0


# --- invariants --------------------------------------------------------------------

hours_strategy = st.lists(st.integers(min_value=0, max_value=60), min_size=0, max_size=80)


@settings(max_examples=200, deadline=None)
@given(hours=hours_strategy, lookback=st.integers(min_value=1, max_value=8))
def test_window_never_exceeds_lookback_and_is_strictly_hourly(
    hours: list[int], lookback: int
) -> None:
    state: StationWindow | None = None
    for hour in hours:
        state, event = update(state, entry(hour), lookback, gap_tolerance_h=1)
        assert 1 <= len(state) <= lookback
        assert len(state.rows) == len(state.starts)
        steps = [b - a for a, b in zip(state.starts, state.starts[1:], strict=False)]
        assert all(step == HOUR for step in steps)
        if event.window is not None:
            assert len(event.window) == lookback
            assert event.window.starts[-1] == T0 + hour * HOUR


@settings(max_examples=100, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=1000),
    n=st.integers(min_value=0, max_value=60),
    lookback=st.integers(min_value=1, max_value=12),
)
def test_sorted_gapless_series_yields_n_minus_lookback_plus_one(
    start: int, n: int, lookback: int
) -> None:
    _, _, emitted = feed(list(range(start, start + n)), lookback)
    assert len(emitted) == max(0, n - lookback + 1)
    for k, window in enumerate(emitted):
        np.testing.assert_array_equal(
            window.to_array()[:, 0], np.arange(start + k, start + k + lookback, dtype=np.float32)
        )


@settings(max_examples=200, deadline=None)
@given(hours=hours_strategy, lookback=st.integers(min_value=1, max_value=6), data=st.data())
def test_duplicates_never_change_state(
    hours: list[int], lookback: int, data: st.DataObject
) -> None:
    state, _, _ = feed(hours, lookback)
    if state is None:
        return
    seen = data.draw(st.sampled_from(state.starts))
    again, event = update(state, WindowEntry(seen, np.full(3, 7.0, dtype=np.float32)), lookback)
    assert event.outcome is WindowOutcome.DUPLICATE
    assert again is state


@settings(max_examples=200, deadline=None)
@given(hours=hours_strategy, lookback=st.integers(min_value=1, max_value=6))
def test_emitted_windows_follow_the_order_of_accepted_starts(
    hours: list[int], lookback: int
) -> None:
    state: StationWindow | None = None
    newest: datetime | None = None
    for hour in hours:
        state, event = update(state, entry(hour), lookback)
        when = T0 + hour * HOUR
        if event.outcome is WindowOutcome.ACCEPTED:
            assert newest is None or when > newest
            newest = when
        else:
            assert newest is not None
            assert when <= newest
        assert state.last_start == newest


@pytest.mark.parametrize("lookback", [1, 2, 5])
def test_out_of_order_never_emits(lookback: int) -> None:
    state, _, _ = feed(list(range(10)), lookback)
    _, event = update(state, entry(3), lookback)
    assert not event.emitted


@settings(max_examples=200, deadline=None)
@given(
    hours=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=120),
    lookback=st.integers(min_value=1, max_value=6),
)
def test_emitted_windows_keep_their_rows_while_the_station_moves_on(
    hours: list[int], lookback: int
) -> None:
    state: StationWindow | None = None
    emitted: list[tuple[StationWindow, np.ndarray]] = []
    for hour in sorted(set(hours)):
        state, event = update(state, entry(hour), lookback, gap_tolerance_h=3)
        if event.window is not None:
            emitted.append((event.window, event.window.to_array()))
    for window, snapshot in emitted:
        np.testing.assert_array_equal(window.rows, snapshot)
        np.testing.assert_array_equal(window.rows[:, 0], [(s - T0) / HOUR for s in window.starts])


@settings(max_examples=200, deadline=None)
@given(
    hours=st.lists(st.integers(min_value=0, max_value=30), min_size=1, max_size=40),
    lookback=st.integers(min_value=1, max_value=5),
    branch=st.integers(min_value=1, max_value=3),
)
def test_update_is_pure_when_one_state_is_extended_twice(
    hours: list[int], lookback: int, branch: int
) -> None:
    state, _, _ = feed(sorted(set(hours)), lookback)
    assert state is not None
    before = state.to_array()
    last = int((state.last_start - T0) / HOUR)
    left, _ = update(state, entry(last + 1, value=1000.0), lookback, gap_tolerance_h=3)
    right, _ = update(state, entry(last + branch, value=2000.0), lookback, gap_tolerance_h=3)
    np.testing.assert_array_equal(state.rows, before)
    assert left.rows[-1, 0] == 1000.0
    assert right.rows[-1, 0] == 2000.0
    np.testing.assert_array_equal(left.rows[:-1], right.rows[:-1])


def test_feed_keeps_one_window_per_station_in_the_map() -> None:
    windows: dict[str, StationWindow] = {}
    events = [
        feed_station(windows, station, entry(hour), lookback=2)
        for hour in range(3)
        for station in ("EWR", "JFK")
    ]
    assert [event.emitted for event in events] == [False, False, True, True, True, True]
    assert windows["EWR"].starts == (T0 + HOUR, T0 + 2 * HOUR)
    assert windows["JFK"] is events[-1].window


# -- jumps: one record far ahead never captures the window ---------------------------------


def feed_jumps(
    hours: list[int], lookback: int, max_jump_h: float = 6
) -> tuple[StationWindow | None, list[WindowOutcome], list[datetime]]:
    """Like :func:`feed` with a jump limit; the emitted windows as their newest starts."""
    state: StationWindow | None = None
    outcomes = []
    emitted = []
    for hour in hours:
        state, event = update(state, entry(hour), lookback, 1, max_jump_h)
        outcomes.append(event.outcome)
        if event.window is not None:
            emitted.append(event.window.last_start)
    return state, outcomes, emitted


def test_a_window_far_ahead_is_rejected_and_the_station_carries_on() -> None:
    clean = feed_jumps(list(range(12)), lookback=3)
    hours = [*range(6), 24 * 365 * 86, *range(6, 12)]  # one record from 2099 in the middle
    state, outcomes, emitted = feed_jumps(hours, lookback=3)
    assert outcomes[6] is WindowOutcome.JUMPED
    assert outcomes.count(WindowOutcome.ACCEPTED) == 12
    assert emitted == clean[2]
    assert state is not None
    assert state.last_start == T0 + 11 * HOUR
    assert state.pending is None  # an accepted entry clears the rejected jump


def test_a_jump_within_the_limit_resets_as_a_gap_does() -> None:
    _, outcomes, _ = feed_jumps([0, 1, 7], lookback=3, max_jump_h=6)
    assert outcomes[-1] is WindowOutcome.ACCEPTED
    state, event = update(None, entry(0), 3, 1, 6)
    state, event = update(state, entry(7), 3, 1, 6)
    assert event.outcome is WindowOutcome.JUMPED
    assert event.gap_h == 7.0


def test_a_real_jump_is_confirmed_by_the_next_record() -> None:
    # A station back after two days: its first record is rejected, the next one restarts
    # the window, and forecasts resume a lookback later.
    hours = [0, 1, 2, 50, 51, 52, 53]
    state, outcomes, emitted = feed_jumps(hours, lookback=3)
    assert (
        outcomes
        == [WindowOutcome.ACCEPTED] * 3 + [WindowOutcome.JUMPED] + [WindowOutcome.ACCEPTED] * 3
    )
    assert emitted == [T0 + 2 * HOUR, T0 + 53 * HOUR]
    assert state is not None
    assert state.starts == (T0 + 51 * HOUR, T0 + 52 * HOUR, T0 + 53 * HOUR)


def test_a_first_record_from_the_past_is_left_behind_by_two_real_records() -> None:
    # The station's first record was the outlier (months old): the real feed jumps away
    # from it, the jump is confirmed, and the outlier is out of the window.
    hours = [-24 * 300, 0, 1, 2, 3]
    state, outcomes, emitted = feed_jumps(hours, lookback=3)
    assert outcomes[1] is WindowOutcome.JUMPED
    assert emitted == [T0 + 3 * HOUR]
    assert state is not None
    assert state.first_start == T0 + HOUR


def test_two_far_jumps_in_a_row_that_disagree_capture_nothing() -> None:
    hours = [0, 1, 2, 500, 900, 3, 4]
    state, outcomes, _ = feed_jumps(hours, lookback=3)
    assert outcomes[3:5] == [WindowOutcome.JUMPED, WindowOutcome.JUMPED]
    assert outcomes[5:] == [WindowOutcome.ACCEPTED, WindowOutcome.ACCEPTED]
    assert state is not None
    assert state.last_start == T0 + 4 * HOUR


def test_a_jump_leaves_the_window_itself_untouched() -> None:
    state, _ = update(None, entry(0), 3, 1, 6)
    before = (state.starts, state.to_array())
    jumped, event = update(state, entry(100), 3, 1, 6)
    assert event.outcome is WindowOutcome.JUMPED
    assert not event.emitted
    assert (jumped.starts, jumped.to_array().tolist()) == (before[0], before[1].tolist())
    assert jumped.pending == T0 + 100 * HOUR
    assert state.pending is None  # the old state is not changed


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 48), min_size=1, max_size=60),
    st.integers(0, 59),
    st.integers(7, 10**6),
)
def test_one_outlier_never_changes_a_forecast_of_an_ordered_series(
    gaps: list[int], at: int, ahead_h: int
) -> None:
    hours = [0]
    for gap in gaps:
        hours.append(hours[-1] + 1 + gap % 3)  # gaps of 1..3 h, within the jump limit
    clean = feed_jumps(hours, lookback=3)[2]
    position = 1 + at % len(hours)  # after the first record (a first outlier: see above)
    mixed = [*hours[:position], hours[position - 1] + ahead_h, *hours[position:]]
    assert feed_jumps(mixed, lookback=3)[2] == clean
