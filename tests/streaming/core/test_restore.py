"""The restore policy, pure: where a restore starts (examples and Hypothesis), its span,
and which restores are still reading."""

from __future__ import annotations

import bisect

from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.streaming.core.restore import (
    HOUR_MS,
    RestoreProgress,
    StartPlan,
    restore_from_ms,
    restore_span_ms,
    restore_start,
)
from wxstream.streaming.testing import MemoryRecord


def record(partition: int, offset: int) -> MemoryRecord:
    return MemoryRecord(partition, offset, None, None)


def test_span_covers_the_lookback_times_the_gap_tolerance_plus_the_margin() -> None:
    assert restore_span_ms(12, 1, 24) == 36 * HOUR_MS
    assert restore_span_ms(48, 3, 0) == 144 * HOUR_MS
    assert restore_span_ms(12, 1, 0.5) == round(12.5 * HOUR_MS)


def test_span_start_is_never_negative() -> None:
    assert restore_from_ms(5 * HOUR_MS, 2 * HOUR_MS) == 3 * HOUR_MS
    assert restore_from_ms(HOUR_MS, 2 * HOUR_MS) == 0


def test_restore_start_examples() -> None:
    # The time lookup reaches further back than the floor: it wins.
    assert restore_start(1000, 0, 400, 10) == 400
    # The floor reaches further back than the time lookup.
    assert restore_start(1000, 0, 995, 10) == 990
    # Nothing that new (the lookup found the end): the floor alone.
    assert restore_start(1000, 0, -1, 10) == 990
    assert restore_start(1000, 0, -1, 0) == 1000
    # Never before the start of the partition.
    assert restore_start(1000, 600, 400, 10) == 600
    # The committed offset is gone already: from the start of what is left.
    assert restore_start(500, 600, 400, 10) == 600


offsets = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=300, deadline=None)
@given(
    low=offsets,
    ahead=st.integers(min_value=1, max_value=10_000),
    time_offset=st.integers(min_value=-1, max_value=20_000),
    floor=st.integers(min_value=0, max_value=20_000),
)
def test_restore_start_lies_between_the_partition_start_and_the_committed_offset(
    low: int, ahead: int, time_offset: int, floor: int
) -> None:
    committed = low + ahead
    start = restore_start(committed, low, time_offset, floor)
    assert low <= start <= committed
    # At least ``floor`` records back where the partition holds them.
    assert start <= max(low, committed - floor)
    # At least back to the time lookup's offset where it found one.
    if time_offset >= 0:
        assert start <= max(low, time_offset)


@settings(max_examples=300, deadline=None)
@given(
    low=offsets,
    ahead=st.integers(min_value=1, max_value=10_000),
    a=st.integers(min_value=-1, max_value=20_000),
    b=st.integers(min_value=-1, max_value=20_000),
    floor_a=st.integers(min_value=0, max_value=20_000),
    floor_b=st.integers(min_value=0, max_value=20_000),
)
def test_restore_start_moves_back_with_an_earlier_time_offset_and_a_larger_floor(
    *, low: int, ahead: int, a: int, b: int, floor_a: int, floor_b: int
) -> None:
    committed = low + ahead
    t_early, t_late = sorted((a, b))
    if t_early < 0 <= t_late:
        t_early, t_late = t_late, t_early  # -1 (nothing found) is the latest of all
    small, large = sorted((floor_a, floor_b))
    assert restore_start(committed, low, t_early, small) <= restore_start(
        committed, low, t_late, small
    )
    assert restore_start(committed, low, t_late, large) <= restore_start(
        committed, low, t_late, small
    )


@settings(max_examples=300, deadline=None)
@given(
    steps=st.lists(st.integers(min_value=0, max_value=3 * HOUR_MS), min_size=1, max_size=300),
    low=st.integers(min_value=0, max_value=1000),
    cut=st.floats(min_value=0.0, max_value=1.0),
    span_a=st.integers(min_value=0, max_value=400 * HOUR_MS),
    span_b=st.integers(min_value=0, max_value=400 * HOUR_MS),
    floor=st.integers(min_value=0, max_value=50),
)
def test_a_time_restore_covers_its_span_and_grows_with_it(
    *, steps: list[int], low: int, cut: float, span_a: int, span_b: int, floor: int
) -> None:
    """A partition of records with non-decreasing timestamps (offsets from ``low``)
    and a broker that answers ``offsets_for_times`` as Kafka does."""
    stamps: list[int] = []
    clock = 1_700_000_000_000
    for step in steps:
        clock += step
        stamps.append(clock)
    committed = low + 1 + round(cut * (len(stamps) - 1))

    def start_for(span: int) -> int:
        since = restore_from_ms(stamps[committed - 1 - low], span)
        i = bisect.bisect_left(stamps, since)
        return restore_start(committed, low, low + i if i < len(stamps) else -1, floor)

    short, long = sorted((span_a, span_b))
    start = start_for(short)
    # Every record of the span before the committed offset is read back.
    last = stamps[committed - 1 - low]
    needed = [low + i for i, ts in enumerate(stamps[: committed - low]) if ts >= last - short]
    assert start <= min(needed)
    assert start <= max(low, committed - floor)
    # A longer span never starts later.
    assert start_for(long) <= start


def test_restore_progress_finishes_a_partition_at_its_last_restored_record() -> None:
    progress = RestoreProgress()
    plans = [
        StartPlan(0, 100, 150),
        StartPlan(1, 40, 40),  # nothing to read back
        StartPlan(2, -1001, None),  # nothing committed
    ]
    progress.planned(plans, began=10.0)
    assert set(progress.pending) == {0}
    progress.seen([record(0, 120), record(3, 500)], now=11.0)
    assert progress.pending
    assert not progress.finished
    progress.seen([record(0, 149)], now=12.5)
    assert not progress.pending
    (restore, took_s), *_ = progress.finished
    assert (restore.start, restore.mark, took_s) == (100, 150, 2.5)
