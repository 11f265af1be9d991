"""Where to start reading assigned partitions, and how far behind they are.

On assignment (a start, a rebalance) and after a rewind, every partition is read from
``restore_rewind_messages`` records before its committed offset: the records below the
committed offset only rebuild station windows (the *restore mark* tells the assembler
where emitting resumes). Partitions without a committed offset start where
``auto.offset.reset`` says, with nothing to restore.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaException, TopicPartition

from wxstream.kafka.clients import kafka_errors

logger = logging.getLogger(__name__)


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


def restore_start(committed: int, low_watermark: int, rewind_messages: int) -> int:
    """First offset to read: ``rewind_messages`` before ``committed``, not before the
    start of the partition."""
    return max(low_watermark, committed - rewind_messages)


def plan_starts(
    consumer: Consumer,
    partitions: Sequence[TopicPartition],
    *,
    rewind_messages: int,
    timeout_s: float,
    bootstrap_servers: str,
) -> list[StartPlan]:
    """A :class:`StartPlan` for each of ``partitions`` from the group's committed offsets.

    Raises:
        KafkaError: the committed offsets or watermarks could not be read.
    """
    with kafka_errors(bootstrap_servers, "reading committed offsets"):
        committed = consumer.committed(list(partitions), timeout=timeout_s)
    plans: list[StartPlan] = []
    for tp in committed:
        if tp.offset < 0:
            plans.append(StartPlan(TopicPartition(tp.topic, tp.partition, tp.offset), None))
            continue
        with kafka_errors(bootstrap_servers, "reading watermarks"):
            low, _high = consumer.get_watermark_offsets(tp, timeout=timeout_s)
        start = restore_start(tp.offset, low, rewind_messages)
        plans.append(StartPlan(TopicPartition(tp.topic, tp.partition, start), tp.offset))
    return plans


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
