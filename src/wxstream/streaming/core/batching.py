"""Batching and ordering decisions of the Kafka loop, as pure functions.

* :func:`should_flush`: when the records gathered so far become one batch (by count,
  by age, or because the input ran dry).
* :func:`pick_actor`: which actor gets the next batch (least loaded, round-robin on
  ties).
* :class:`ReleaseQueue` / :func:`complete`: batches finish in any order on the actors,
  but their results leave in the order the batches were sealed: a batch is released
  only once every earlier batch is done. Because a batch is sealed from records in
  consumption order, forecasts of a partition leave in input order, and the offsets
  committed after a release never pass a record whose forecast is still in flight.
* :func:`merge_positions`: the offsets to commit after several released batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

T = TypeVar("T")


def should_flush(
    pending_forecasts: int,
    pending_records: int,
    oldest_age_ms: float,
    *,
    batch_size: int,
    max_wait_ms: float,
    input_idle: bool = False,
) -> bool:
    """Whether the gathered records should be sealed into a batch now.

    Args:
        pending_forecasts: full windows waiting for the model.
        pending_records: input records gathered since the last batch (forecasts,
            dead letters, records that only filled a window); they carry offsets.
        oldest_age_ms: how long the oldest gathered record has waited.
        batch_size: most forecasts per batch.
        max_wait_ms: longest a record waits for its batch to fill.
        input_idle: the last consume call returned nothing: waiting longer only adds
            latency.
    """
    if pending_records <= 0 and pending_forecasts <= 0:
        return False
    if pending_forecasts >= batch_size:
        return True
    return input_idle or oldest_age_ms >= max_wait_ms


def pick_actor(loads: Sequence[int], cursor: int) -> int:
    """Index of the actor for the next batch.

    The least loaded actor wins; among equally loaded actors the first at or after
    ``cursor`` (round-robin), so that idle actors take turns.

    Args:
        loads: batches in flight per actor (non-empty).
        cursor: where the round-robin scan starts; pass the last pick + 1.
    """
    if not loads:
        raise ValueError("pick_actor needs at least one actor")
    count = len(loads)
    best = min(loads)
    for step in range(count):
        index = (cursor + step) % count
        if loads[index] == best:
            return index
    raise AssertionError("unreachable: the minimum is in the sequence")


@dataclass(frozen=True)
class ReleaseQueue(Generic[T]):
    """Finished batches waiting for earlier ones.

    Attributes:
        next_seq: sequence number of the next batch to release.
        done: finished batches with a higher sequence number than ``next_seq``.
    """

    next_seq: int = 0
    done: Mapping[int, T] = field(default_factory=lambda: MappingProxyType({}))


def complete(queue: ReleaseQueue[T], seq: int, result: T) -> tuple[ReleaseQueue[T], list[T]]:
    """Record that batch ``seq`` finished; return the batches now releasable, in order.

    Raises:
        ValueError: ``seq`` was released already or completed twice.
    """
    if seq < queue.next_seq or seq in queue.done:
        raise ValueError(f"batch {seq} completed twice")
    done = dict(queue.done)
    done[seq] = result
    released: list[T] = []
    next_seq = queue.next_seq
    while next_seq in done:
        released.append(done.pop(next_seq))
        next_seq += 1
    return ReleaseQueue(next_seq, MappingProxyType(done)), released


def merge_positions(positions: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """Offsets to commit after several batches: the furthest position per partition.

    Each mapping is ``partition -> next offset to read`` of one batch, in release order.
    """
    merged: dict[int, int] = {}
    for mapping in positions:
        for partition, offset in mapping.items():
            if offset > merged.get(partition, -1):
                merged[partition] = offset
    return merged
