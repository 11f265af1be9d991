"""The service's record source on Kafka: :class:`KafkaRecordSource` wraps a
confluent-kafka consumer (subscription with rebalance callbacks, consuming, pausing,
start planning, committing) behind :class:`~wxstream.streaming.ports.RecordSource`.
It owns the paused state, as quix-streams' consumer wrapper owns back-pressure."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from wxstream.kafka.clients import kafka_errors, translate_kafka_error
from wxstream.kafka.consumer import consume_records, poll_only, set_paused
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.assembly import InputRecord
from wxstream.streaming.core.restore import RestorePolicy, StartPlan
from wxstream.streaming.partitions import partition_lag, plan_starts
from wxstream.streaming.ports import PartitionsCallback

logger = logging.getLogger(__name__)


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
