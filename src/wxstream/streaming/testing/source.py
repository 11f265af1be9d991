"""The in-memory record source: a topic of items per partition with markers
(:class:`MemoryLog`), the source reading it (:class:`TestingSource`), its records
(:class:`MemoryRecord`) and the clock its waits advance (:class:`FakeClock`); see
:mod:`wxstream.streaming.testing`."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from wxstream.streaming.core.restore import RestorePolicy, StartPlan, restore_from_ms, restore_start
from wxstream.streaming.ports import PartitionsCallback

BASE_TIMESTAMP_MS = 1_700_000_000_000
"""Record timestamp of offset 0 (each next offset one millisecond later)."""


class FakeClock:
    """Monotonic seconds that move only when told (:meth:`advance`)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass."""
        self.now += seconds


class MemoryRecord:
    """A consumed record (the ``InputRecord`` protocol of the assembler)."""

    __slots__ = ("_key", "_offset", "_partition", "_timestamp_ms", "_value")

    def __init__(
        self,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int | None = None,
    ) -> None:
        self._partition = partition
        self._offset = offset
        self._key = key
        self._value = value
        self._timestamp_ms = BASE_TIMESTAMP_MS + offset if timestamp_ms is None else timestamp_ms

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes | None:
        return self._key

    def value(self) -> bytes | None:
        return self._value

    def timestamp(self) -> tuple[int, int]:
        return (1, self._timestamp_ms)  # 1: CreateTime

    def __repr__(self) -> str:
        return f"MemoryRecord(p={self._partition}, o={self._offset})"


@dataclass(frozen=True)
class EOF:
    """End of input for this source in this partition."""


@dataclass(frozen=True)
class ABORT:
    """The next delivery aborts."""


@dataclass(frozen=True)
class REVOKE:
    """Take ``partitions`` away (``None``: every assigned one)."""

    partitions: tuple[int, ...] | None = None


@dataclass(frozen=True)
class ASSIGN:
    """Hand ``partitions`` over (``None``: every partition not assigned)."""

    partitions: tuple[int, ...] | None = None


Marker = EOF | ABORT | REVOKE | ASSIGN
Item = bytes | tuple[bytes | None, bytes | None] | Marker


class MemoryLog:
    """The input topic and the group's committed offsets (what a broker keeps across
    runs), built from the items of each partition."""

    def __init__(self, partitions: Mapping[int, Sequence[Item]]) -> None:
        self.records: dict[int, list[MemoryRecord]] = {}
        self.markers: dict[int, dict[int, list[Marker]]] = {}
        for p, items in partitions.items():
            records = self.records[p] = []
            marks = self.markers[p] = {}
            for item in items:
                if isinstance(item, EOF | ABORT | REVOKE | ASSIGN):
                    marks.setdefault(len(records), []).append(item)
                    continue
                key, value = (None, item) if isinstance(item, bytes) else item
                records.append(MemoryRecord(p, len(records), key, value))
        self.committed: dict[int, int] = {}
        self.aborts_pending = 0
        """Deliveries still to abort (:class:`ABORT` markers reached)."""

    def take_markers(self, partition: int, offset: int) -> list[Marker]:
        """The markers at ``offset`` of ``partition`` not fired yet (firing them)."""
        return self.markers[partition].pop(offset, [])

    def commit(self, positions: Mapping[int, int]) -> None:
        """Commit ``positions`` (partition -> next offset)."""
        self.committed.update(positions)

    def first_at_or_after(self, partition: int, timestamp_ms: int) -> int:
        """``offsets_for_times``: first offset with a timestamp at or after; -1 at the end."""
        for record in self.records[partition]:
            if record.timestamp()[1] >= timestamp_ms:
                return record.offset()
        return -1


class TestingSource:
    """A :class:`~wxstream.streaming.ports.RecordSource` reading a :class:`MemoryLog`.

    Args:
        log: the topic and committed offsets.
        clock: waits (a consume call that finds nothing) advance it by their timeout.
        assigned: partitions assigned at the start (``None``: all of them).
    """

    __test__ = False  # not a pytest class

    def __init__(
        self, log: MemoryLog, clock: FakeClock, *, assigned: Sequence[int] | None = None
    ) -> None:
        self.log = log
        self.clock = clock
        self._initial = sorted(log.records) if assigned is None else list(assigned)
        self.positions: dict[int, int] = {}
        self.ended: set[int] = set()
        self._callbacks: tuple[PartitionsCallback, PartitionsCallback, PartitionsCallback] | None
        self._callbacks = None
        self._events: list[Marker] = []
        self._paused = False
        self._cursor = 0
        self.last_record_at: float | None = None
        """Clock seconds when a consume call last returned records."""
        self.commit_threads: list[int] = []
        """``threading.get_ident()`` of every :meth:`commit` call."""
        self.closed = False

    @property
    def paused(self) -> bool:
        return self._paused

    def subscribe(
        self,
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
    ) -> None:
        self._callbacks = (on_assign, on_revoke, on_lost)
        self._events.append(ASSIGN(tuple(self._initial)))

    def consume(self, max_records: int, timeout_s: float) -> tuple[list[Any], bool]:
        self._fire_events()
        records: list[MemoryRecord] = []
        live = [] if self._paused else [p for p in sorted(self.positions) if p not in self.ended]
        while live and len(records) < max_records and not self._events:
            p = live[self._cursor % len(live)]
            self._cursor += 1
            pos = self.positions[p]
            fired = self.log.take_markers(p, pos)
            for marker in fired:
                if isinstance(marker, EOF):
                    self.ended.add(p)
                elif isinstance(marker, ABORT):
                    self.log.aborts_pending += 1
                else:
                    self._events.append(marker)
            if p in self.ended or pos >= len(self.log.records[p]):
                live.remove(p)
                continue
            if fired and self._events:
                break  # the rebalance happens in the next call, before any record
            records.append(self.log.records[p][pos])
            self.positions[p] = pos + 1
        if records:
            self.last_record_at = self.clock()
        else:
            self.clock.advance(timeout_s)
        return list(records), len(records) < max_records

    def poll_only(self, max_records: int) -> None:
        self.consume(max_records, 0.0)

    def set_paused(self, paused: bool) -> None:
        self._paused = paused

    def assignment(self) -> list[int]:
        return sorted(self.positions)

    def plan_starts(self, partitions: Sequence[int], policy: RestorePolicy) -> list[StartPlan]:
        plans: list[StartPlan] = []
        for p in partitions:
            committed = self.log.committed.get(p)
            if committed is None:
                plans.append(StartPlan(p, -1001, None))
                continue
            by_time = -1
            if policy.span_ms is not None and committed > 0:
                last = self.log.records[p][committed - 1].timestamp()[1]
                by_time = self.log.first_at_or_after(p, restore_from_ms(last, policy.span_ms))
            start = restore_start(committed, 0, by_time, policy.floor_messages)
            plans.append(StartPlan(p, start, committed))
        return plans

    def assign(self, plans: Sequence[StartPlan]) -> None:
        for plan in plans:
            self.positions[plan.partition] = max(0, plan.offset)  # reset policy: earliest

    def seek(self, partition: int, offset: int) -> None:
        self.positions[partition] = max(0, offset)

    def group_metadata(self) -> Any:
        return "memory-group"

    def commit(self, positions: dict[int, int]) -> None:
        self.commit_threads.append(threading.get_ident())
        self.log.commit(positions)

    def lag(self) -> dict[int, int]:
        return {p: len(self.log.records[p]) - pos for p, pos in self.positions.items()}

    def close(self) -> None:
        if self._callbacks is not None and self.positions:
            self._callbacks[1](sorted(self.positions))
        self.positions.clear()
        self.closed = True

    def _fire_events(self) -> None:
        if self._callbacks is None:
            return
        on_assign, on_revoke, _on_lost = self._callbacks
        while self._events:
            event = self._events.pop(0)
            if isinstance(event, REVOKE):
                gone = sorted(self.positions) if event.partitions is None else event.partitions
                on_revoke(list(gone))
                for p in gone:
                    self.positions.pop(p, None)
            elif isinstance(event, ASSIGN):
                new = event.partitions
                if new is None:
                    new = tuple(p for p in sorted(self.log.records) if p not in self.positions)
                self._paused = False  # a fresh assignment fetches
                on_assign(list(new))
