"""The restore policy, pure: where an assigned partition starts reading so that its
station windows are rebuilt before forecasting resumes (the IO is in
:mod:`wxstream.streaming.partitions`).

Every partition with a committed offset ``C`` is read from an earlier offset: the
records below ``C`` only rebuild station windows (the *restore mark* tells the
assembler where emitting resumes). How far back is decided by time: the record
timestamp of the last processed record (offset ``C - 1``) minus the restore span
(:func:`restore_span_ms`), looked up with ``offsets_for_times``;
``restore_rewind_messages`` records before ``C`` is a floor on top. Starting earlier
than needed is always correct (a window rebuilt from more records is the same
window), so every uncertain case reads more, never less.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from wxstream.streaming.core.assembly import InputRecord

logger = logging.getLogger(__name__)

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class StartPlan:
    """Where to start one partition.

    Attributes:
        partition: the partition.
        offset: the offset to start reading at; negative where nothing is committed
            (the consumer's reset policy decides).
        restore_mark: the committed offset; records below it only rebuild windows
            (``None`` where nothing is committed).
    """

    partition: int
    offset: int
    restore_mark: int | None


@dataclass(frozen=True)
class RestorePolicy:
    """How far before the committed offset a restore starts reading.

    Attributes:
        span_ms: record-timestamp time read back before the last processed record
            (:func:`restore_span_ms`); ``None``: no time-based restore, only the floor.
        floor_messages: at least this many records before the committed offset.
    """

    span_ms: int | None
    floor_messages: int = 0

    @classmethod
    def for_model(
        cls, lookback: int, gap_tolerance_h: float, margin_h: float | None, floor_messages: int
    ) -> RestorePolicy:
        """The policy of a model: :func:`restore_span_ms` with ``margin_h`` (``None``: no
        time-based restore), at least ``floor_messages`` records."""
        span_ms = None if margin_h is None else restore_span_ms(lookback, gap_tolerance_h, margin_h)
        return cls(span_ms, floor_messages)


def restore_span_ms(lookback: int, gap_tolerance_h: float, margin_h: float) -> int:
    """Milliseconds of record time a restore reads back before the last processed record.

    A window continues only while its steps are at most ``gap_tolerance_h`` hours, so
    the ``lookback`` rows of a window lie within ``(lookback - 1) * gap_tolerance_h``
    hours, and its newest row is at most ``gap_tolerance_h`` hours older than the next
    record that continues it: ``lookback * gap_tolerance_h`` hours cover every row a
    window that can still grow holds. ``margin_h`` covers producer clock skew and
    records that arrive late.
    """
    return round((lookback * gap_tolerance_h + margin_h) * HOUR_MS)


def restore_from_ms(last_timestamp_ms: int, span_ms: int) -> int:
    """The record timestamp a restore reads from: ``span_ms`` before the last processed
    record, never below 0 (``offsets_for_times`` reads negative times as special
    offsets)."""
    return max(0, last_timestamp_ms - span_ms)


def restore_start(committed: int, low_watermark: int, time_offset: int, floor_messages: int) -> int:
    """First offset to read for a partition whose group committed ``committed``.

    Args:
        committed: the committed offset (the next record to emit for).
        low_watermark: the first offset the partition still holds.
        time_offset: the first offset whose timestamp is at or after the restore
            span's start (``offsets_for_times``); negative where no record is that new
            (the lookup found the end): then only the floor counts.
        floor_messages: read at least this many records before ``committed``.

    Returns:
        ``min(time_offset, committed - floor_messages)``, not before the start of the
        partition and not after ``committed`` (the start of the partition where the
        committed offset was deleted already).
    """
    if committed <= low_watermark:
        return low_watermark
    by_time = committed if time_offset < 0 else min(time_offset, committed)
    return max(low_watermark, min(by_time, committed - floor_messages))


@dataclass(frozen=True)
class Restore:
    """A partition whose windows are being rebuilt from offsets ``start`` to
    ``mark - 1``, planned at ``began`` (clock seconds)."""

    partition: int
    start: int
    mark: int
    began: float


class RestoreProgress:
    """Which planned restores are still reading, and what the finished ones took
    (logged: records read back and seconds from planning to the last of them).

    Args:
        clock: monotonic seconds (a fake one in tests).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.pending: dict[int, Restore] = {}
        self.finished: list[tuple[Restore, float]] = []
        """Each finished restore with its duration in seconds, oldest first."""

    def planned(self, plans: Sequence[StartPlan], began: float) -> None:
        """Track the restores of ``plans`` (planning began at ``began``)."""
        for plan in plans:
            mark = plan.restore_mark
            self.pending.pop(plan.partition, None)
            if mark is not None and 0 <= plan.offset < mark:
                self.pending[plan.partition] = Restore(plan.partition, plan.offset, mark, began)

    def seen(self, records: Sequence[InputRecord], now: float | None = None) -> None:
        """Note the records a consume call returned: a record at or past the last
        restored offset of its partition finishes that partition's restore."""
        pending = self.pending
        for record in records:
            partition, offset = record.partition(), record.offset()
            if partition is None or offset is None:
                continue
            restore = pending.get(partition)
            if restore is None or offset < restore.mark - 1:
                continue
            del pending[partition]
            took_s = (self._clock() if now is None else now) - restore.began
            self.finished.append((restore, took_s))
            logger.info(
                "partition %d: windows restored from offsets %d-%d (%d records) in %.2f s",
                partition,
                restore.start,
                restore.mark - 1,
                restore.mark - restore.start,
                took_s,
            )
            if not pending:
                return
