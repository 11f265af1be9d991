"""Where to start reading assigned partitions, and how far behind they are: the IO
of the restore policy (:mod:`wxstream.streaming.core.restore` holds the rules).

On assignment (a start, a rebalance) and after a rewind, every partition with a
committed offset ``C`` is read from an earlier offset (see
:mod:`~wxstream.streaming.core.restore`): the record timestamp of offset ``C - 1`` is
read, the restore span before it is looked up with ``offsets_for_times``, and
:func:`~wxstream.streaming.core.restore.restore_start` decides.

Partitions without a committed offset start where ``auto.offset.reset`` says, with
nothing to restore.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import (
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    KafkaException,
    TopicPartition,
)
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.kafka.clients import kafka_errors, make_consumer
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.restore import (
    RestorePolicy,
    StartPlan,
    restore_from_ms,
    restore_start,
)

logger = logging.getLogger(__name__)


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
            plans.append(StartPlan(tp.partition, tp.offset, None))
            continue
        start = restore_start(
            tp.offset, lows[tp.partition], by_time.get(tp.partition, -1), policy.floor_messages
        )
        plans.append(StartPlan(tp.partition, start, tp.offset))
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
