"""The consumer of the Kafka loop: :class:`KafkaRecordSource`, the loop's record
source on a confluent-kafka consumer, and its calls with errors translated (consume a
batch with error events sorted out, poll without taking records, pause and resume)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.kafka.clients import kafka_errors, translate_kafka_error
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.assembly import InputRecord
from wxstream.streaming.core.restore import RestorePolicy, StartPlan
from wxstream.streaming.partitions import partition_lag, plan_starts
from wxstream.streaming.ports import PartitionsCallback

logger = logging.getLogger(__name__)


def consume_records(
    consumer: Consumer, wanted: int, timeout_s: float, bootstrap_servers: str
) -> tuple[list[Message], int]:
    """Up to ``wanted`` records, and how many entries the call returned (records plus
    error events: fewer than ``wanted`` means the input ran dry for now).

    Raises:
        KafkaError: the consumer failed fatally.
    """
    try:
        # librdkafka's batch consume waits for all ``wanted`` records or the whole
        # timeout; waiting for the first record only, then taking whatever else is
        # already queued, hands a record to the loop as soon as it arrives.
        entries = consumer.consume(num_messages=1, timeout=timeout_s)
        if entries and wanted > 1:
            entries.extend(consumer.consume(num_messages=wanted - 1, timeout=0))
    except KafkaException as exc:
        raise translate_kafka_error(exc, bootstrap_servers, context="consuming") from exc
    records: list[Message] = []
    for entry in entries:
        error = entry.error()
        if error is None:
            records.append(entry)
        elif error.fatal():
            raise translate_kafka_error(error, bootstrap_servers, context="consuming")
        elif error.code() != ConfluentKafkaError._PARTITION_EOF:
            # Transient (a broker restarting, ...): librdkafka retries by itself.
            logger.warning("consumer error: %s", error.str())
    return records, len(entries)


def poll_only(consumer: Consumer, batch_size: int, bootstrap_servers: str) -> None:
    """Serve the consumer (group membership, callbacks) and drop what it returns: those
    records are past every committed offset and are read again by the next run."""
    consume_records(consumer, batch_size, 0.0, bootstrap_servers)


def set_paused(consumer: Consumer, paused: bool, bootstrap_servers: str) -> None:
    """Pause (or resume) fetching of every assigned partition."""
    with kafka_errors(bootstrap_servers, "pausing partitions"):
        assigned = consumer.assignment()
        if paused:
            consumer.pause(assigned)
        else:
            consumer.resume(assigned)


class KafkaRecordSource:
    """The service loop's record source (:class:`~wxstream.streaming.ports.RecordSource`)
    on a confluent-kafka consumer of one topic; owns the paused state.

    Args:
        consumer: a consumer in ``group_id`` (not yet subscribed).
        kafka: the Kafka settings (``features_topic`` is read).
        group_id: the consumer group.
    """

    def __init__(self, consumer: Consumer, kafka: KafkaSettings, group_id: str) -> None:
        self.consumer = consumer
        self.kafka = kafka
        self.topic = kafka.features_topic
        self.group_id = group_id
        self._servers = kafka.bootstrap_servers
        self._paused = False

    @property
    def paused(self) -> bool:
        """Whether fetching of the assigned partitions is paused."""
        return self._paused

    def subscribe(
        self,
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
    ) -> None:
        """Subscribe to the topic; the callbacks get partition numbers."""

        def assigned(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            self._paused = False  # a fresh assignment fetches
            on_assign([tp.partition for tp in partitions])

        def revoked(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            on_revoke([tp.partition for tp in partitions])

        def lost(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            on_lost([tp.partition for tp in partitions])

        with kafka_errors(self._servers, f"subscribing to {self.topic}"):
            self.consumer.subscribe(
                [self.topic], on_assign=assigned, on_revoke=revoked, on_lost=lost
            )

    def consume(self, max_records: int, timeout_s: float) -> tuple[list[InputRecord], bool]:
        """Up to ``max_records`` records and whether the input ran dry."""
        records, returned = consume_records(self.consumer, max_records, timeout_s, self._servers)
        return list(records), returned < max_records

    def poll_only(self, max_records: int) -> None:
        """Serve the group and drop what comes back."""
        poll_only(self.consumer, max_records, self._servers)

    def set_paused(self, paused: bool) -> None:
        """Pause (or resume) every assigned partition."""
        set_paused(self.consumer, paused, self._servers)
        self._paused = paused

    def assignment(self) -> list[int]:
        """The partitions assigned now."""
        with kafka_errors(self._servers, "reading the assignment"):
            return [tp.partition for tp in self.consumer.assignment()]

    def plan_starts(self, partitions: Sequence[int], policy: RestorePolicy) -> list[StartPlan]:
        """Where each partition starts (:func:`~wxstream.streaming.partitions.plan_starts`)."""
        return plan_starts(
            self.consumer,
            [TopicPartition(self.topic, p) for p in partitions],
            policy=policy,
            kafka=self.kafka,
            group_id=self.group_id,
            timeout_s=self.kafka.request_timeout_s,
        )

    def assign(self, plans: Sequence[StartPlan]) -> None:
        """Assign the planned partitions at their start offsets."""
        with kafka_errors(self._servers, "assigning partitions"):
            self.consumer.assign([TopicPartition(self.topic, p.partition, p.offset) for p in plans])

    def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` next (negative: from its beginning)."""
        target = offset if offset >= 0 else OFFSET_BEGINNING
        with kafka_errors(self._servers, "seeking"):
            self.consumer.seek(TopicPartition(self.topic, partition, target))

    def group_metadata(self) -> Any:
        """``consumer_group_metadata()`` (taken on the consumer's thread)."""
        return self.consumer.consumer_group_metadata()

    def commit(self, positions: dict[int, int]) -> None:
        """Commit ``positions`` synchronously.

        Raises:
            KafkaError: the commit failed.
        """
        offsets = [TopicPartition(self.topic, p, o) for p, o in sorted(positions.items())]
        try:
            self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise translate_kafka_error(exc, self._servers, context="committing offsets") from exc

    def lag(self) -> dict[int, int]:
        """Partition -> records behind (cached watermarks: no request)."""
        return partition_lag(self.consumer)

    def close(self) -> None:
        """Leave the group and release the consumer."""
        self.consumer.close()
