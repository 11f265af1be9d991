"""Where to start reading assigned partitions, and how far behind they are.

On assignment (a start, a rebalance) and after a rewind, every partition with a
committed offset ``C`` is read from an earlier offset: the records below ``C`` only
rebuild station windows (the *restore mark* tells the assembler where emitting
resumes). How far back is decided by time: the record timestamp of the last processed
record (offset ``C - 1``) minus the restore span (:func:`restore_span_ms`: the time a
full window of the model can cover, plus a safety margin), looked up with
``offsets_for_times``; ``restore_rewind_messages`` records before ``C`` is a floor on
top. Starting earlier than needed is always correct (a window rebuilt from more records
is the same window), so every uncertain case reads more, never less.

Partitions without a committed offset start where ``auto.offset.reset`` says, with
nothing to restore.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    TopicPartition,
)
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.kafka.clients import kafka_errors, make_consumer
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.assembly import InputRecord

logger = logging.getLogger(__name__)

HOUR_MS = 3_600_000


@dataclass(frozen=True)
class StartPlan:
    """Where to start one partition.

    Attributes:
        partition: the partition, with the offset to start reading at (an invalid
            offset where nothing is committed: the reset policy decides).
        restore_mark: the committed offset; records below it only rebuild windows
            (``None`` where nothing is committed).
    """

    partition: TopicPartition
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


def read_timestamps(
    kafka: KafkaSettings, group_id: str, wanted: Sequence[TopicPartition], timeout_s: float
) -> dict[int, int]:
    """Partition -> record timestamp (ms) of the record at each of ``wanted``'s offsets.

    A short-lived consumer that only assigns (it never joins ``group_id`` nor commits)
    reads one record per partition, for at most ``timeout_s`` in all. A partition whose
    record is missing (deleted, a transaction marker), has no timestamp, or did not
    arrive in time is left out.
    """
    if not wanted:
        return {}
    targets = {tp.partition: tp.offset for tp in wanted}
    found: dict[int, int] = {}
    consumer = make_consumer(
        kafka,
        group_id,
        auto_offset_reset="error",
        enable_partition_eof=True,
        queued_min_messages=1,
    )
    try:
        consumer.assign([TopicPartition(tp.topic, tp.partition, tp.offset) for tp in wanted])
        deadline = time.monotonic() + timeout_s
        while targets and (left := deadline - time.monotonic()) > 0:
            for msg in consumer.consume(num_messages=len(targets), timeout=min(left, 0.5)):
                partition = msg.partition()
                if partition is None or partition not in targets:
                    continue
                error = msg.error()
                if error is not None:
                    if error.code() != ConfluentKafkaError._PARTITION_EOF:
                        logger.warning("reading partition %d: %s", partition, error.str())
                    targets.pop(partition)
                    continue
                offset, (kind, stamp) = msg.offset(), msg.timestamp()
                if offset is None or offset < targets[partition]:
                    continue
                if offset == targets.pop(partition) and kind != TIMESTAMP_NOT_AVAILABLE:
                    found[partition] = stamp
    except KafkaException as exc:
        logger.warning("record timestamps not read: %s", exc)
    finally:
        consumer.close()
    return found


def plan_starts(
    consumer: Consumer,
    partitions: Sequence[TopicPartition],
    *,
    policy: RestorePolicy,
    kafka: KafkaSettings,
    group_id: str,
    timeout_s: float,
) -> list[StartPlan]:
    """A :class:`StartPlan` for each of ``partitions`` from the group's committed offsets.

    Where the last processed record's timestamp cannot be read the partition is
    restored from its start (correct, only slower).

    Raises:
        KafkaError: the committed offsets, watermarks or time offsets could not be read.
    """
    servers = kafka.bootstrap_servers
    with kafka_errors(servers, "reading committed offsets"):
        committed = consumer.committed(list(partitions), timeout=timeout_s)
    lows: dict[int, int] = {}
    for tp in committed:
        if tp.offset >= 0:
            with kafka_errors(servers, "reading watermarks"):
                lows[tp.partition], _high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
    restoring = [tp for tp in committed if tp.partition in lows and tp.offset > lows[tp.partition]]
    by_time = _time_offsets(
        consumer,
        restoring,
        lows=lows,
        policy=policy,
        kafka=kafka,
        group_id=group_id,
        timeout_s=timeout_s,
    )
    plans: list[StartPlan] = []
    for tp in committed:
        if tp.offset < 0:
            plans.append(StartPlan(TopicPartition(tp.topic, tp.partition, tp.offset), None))
            continue
        start = restore_start(
            tp.offset, lows[tp.partition], by_time.get(tp.partition, -1), policy.floor_messages
        )
        plans.append(StartPlan(TopicPartition(tp.topic, tp.partition, start), tp.offset))
    return plans


def _time_offsets(
    consumer: Consumer,
    restoring: Sequence[TopicPartition],
    *,
    lows: dict[int, int],
    policy: RestorePolicy,
    kafka: KafkaSettings,
    group_id: str,
    timeout_s: float,
) -> dict[int, int]:
    """Partition -> first offset of the restore span (:func:`restore_start`'s
    ``time_offset``) for each partition of ``restoring`` (committed offsets)."""
    if policy.span_ms is None or not restoring:
        return {}
    last = [TopicPartition(tp.topic, tp.partition, tp.offset - 1) for tp in restoring]
    stamps = read_timestamps(kafka, group_id, last, timeout_s)
    offsets: dict[int, int] = {}
    queries: list[TopicPartition] = []
    for tp in restoring:
        stamp = stamps.get(tp.partition)
        if stamp is None:
            logger.warning(
                "partition %d: timestamp of offset %d not read; restoring from offset %d",
                tp.partition,
                tp.offset - 1,
                lows[tp.partition],
            )
            offsets[tp.partition] = lows[tp.partition]
        else:
            since = restore_from_ms(stamp, policy.span_ms)
            queries.append(TopicPartition(tp.topic, tp.partition, since))
    if queries:
        with kafka_errors(kafka.bootstrap_servers, "looking up offsets by time"):
            answers = consumer.offsets_for_times(queries, timeout=timeout_s)
        for tp in answers:
            if tp.error is not None:
                logger.warning("partition %d: no offset by time (%s)", tp.partition, tp.error)
                offsets[tp.partition] = lows[tp.partition]
            else:
                offsets[tp.partition] = tp.offset
    return offsets


@dataclass(frozen=True)
class Restore:
    """A partition whose windows are being rebuilt from offsets ``start`` to
    ``mark - 1``, planned at ``began`` (``time.monotonic()``)."""

    partition: int
    start: int
    mark: int
    began: float


class RestoreProgress:
    """Which planned restores are still reading, and what the finished ones took
    (logged: records read back and seconds from planning to the last of them)."""

    def __init__(self) -> None:
        self.pending: dict[int, Restore] = {}
        self.finished: list[tuple[Restore, float]] = []
        """Each finished restore with its duration in seconds, oldest first."""

    def planned(self, plans: Sequence[StartPlan], began: float) -> None:
        """Track the restores of ``plans`` (planning began at ``began``)."""
        for plan in plans:
            tp, mark = plan.partition, plan.restore_mark
            self.pending.pop(tp.partition, None)
            if mark is not None and 0 <= tp.offset < mark:
                self.pending[tp.partition] = Restore(tp.partition, tp.offset, mark, began)

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
            took_s = (time.monotonic() if now is None else now) - restore.began
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


def partition_lag(consumer: Consumer) -> dict[int, int]:
    """Partition -> records between the consumer's position and the high watermark
    (from the consumer's cached watermarks: no request to the broker)."""
    lag: dict[int, int] = {}
    try:
        for tp in consumer.position(consumer.assignment()):
            _low, high = consumer.get_watermark_offsets(tp, cached=True)
            if tp.offset >= 0 and high >= 0:
                lag[tp.partition] = max(0, high - tp.offset)
    except KafkaException as exc:
        logger.debug("consumer lag not available: %s", exc)
    return lag
