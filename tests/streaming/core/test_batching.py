"""Batch flush decisions, actor choice and ordered release of finished batches."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.streaming.core.batching import (
    ReleaseQueue,
    complete,
    merge_positions,
    pick_actor,
    should_flush,
)


def test_nothing_gathered_never_flushes() -> None:
    assert not should_flush(0, 0, 1e9, batch_size=8, max_wait_ms=10, input_idle=True)


def test_full_batch_flushes_at_once() -> None:
    assert should_flush(8, 8, 0.0, batch_size=8, max_wait_ms=10_000)


def test_partial_batch_waits_until_max_wait() -> None:
    assert not should_flush(3, 5, 9.9, batch_size=8, max_wait_ms=10)
    assert should_flush(3, 5, 10.0, batch_size=8, max_wait_ms=10)


def test_records_without_forecasts_flush_on_time_to_commit_their_offsets() -> None:
    assert should_flush(0, 4, 50.0, batch_size=8, max_wait_ms=10)


def test_idle_input_flushes_a_partial_batch() -> None:
    assert should_flush(1, 1, 0.0, batch_size=8, max_wait_ms=10_000, input_idle=True)


def test_pick_actor_prefers_least_loaded() -> None:
    assert pick_actor([2, 0, 1], cursor=0) == 1


def test_pick_actor_round_robins_among_equals() -> None:
    picks = []
    cursor = 0
    for _ in range(6):
        index = pick_actor([0, 0, 0], cursor)
        picks.append(index)
        cursor = index + 1
    assert picks == [0, 1, 2, 0, 1, 2]


def test_pick_actor_needs_actors() -> None:
    with pytest.raises(ValueError, match="at least one"):
        pick_actor([], 0)


def test_release_waits_for_earlier_batches() -> None:
    queue: ReleaseQueue[str] = ReleaseQueue()
    queue, out = complete(queue, 1, "b1")
    assert out == []
    queue, out = complete(queue, 2, "b2")
    assert out == []
    queue, out = complete(queue, 0, "b0")
    assert out == ["b0", "b1", "b2"]
    assert queue.next_seq == 3
    assert dict(queue.done) == {}


def test_completing_twice_is_an_error() -> None:
    queue, _ = complete(ReleaseQueue[str](), 0, "a")
    with pytest.raises(ValueError, match="twice"):
        complete(queue, 0, "a")
    queue, _ = complete(queue, 2, "c")
    with pytest.raises(ValueError, match="twice"):
        complete(queue, 2, "c")


def test_merge_positions_keeps_the_furthest_offset() -> None:
    assert merge_positions([{0: 5, 1: 3}, {0: 9}, {1: 2, 2: 1}]) == {0: 9, 1: 3, 2: 1}


@settings(max_examples=200, deadline=None)
@given(order=st.permutations(list(range(12))))
def test_any_completion_order_releases_everything_in_sequence(order: list[int]) -> None:
    queue: ReleaseQueue[int] = ReleaseQueue()
    released: list[int] = []
    for seq in order:
        queue, out = complete(queue, seq, seq)
        released.extend(out)
        # Released is always a prefix 0..k-1: nothing overtakes an unfinished batch.
        assert released == list(range(len(released)))
        assert all(s not in released for s in queue.done)
    assert released == list(range(12))


@settings(max_examples=200, deadline=None)
@given(
    loads=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=8),
    cursor=st.integers(0, 20),
)
def test_pick_actor_always_returns_a_least_loaded_actor(loads: list[int], cursor: int) -> None:
    index = pick_actor(loads, cursor)
    assert loads[index] == min(loads)
