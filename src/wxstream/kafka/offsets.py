"""Offsets of a topic and of a consumer group on it: end offsets, committed offsets, lag.

:class:`GroupOffsets` asks again and again through one consumer and one admin client
(a wait for a group to drain polls it); :func:`end_offsets`, :func:`committed_offsets`
and :func:`consumer_lag` ask once.

Committed offsets are read with a consumer that carries the group id but never
subscribes, so it never joins the group or disturbs its members. The admin client's
``list_consumer_group_offsets`` is not used on purpose: polled while the group
coordinator was still loading (right after a broker start, or while the group formed),
librdkafka 2.x crashed the process (SIGSEGV in its OffsetFetch handler).
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import IsolationLevel, KafkaException, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec

from wxstream.errors import KafkaError
from wxstream.kafka.admin import topic_partitions
from wxstream.kafka.clients import kafka_errors, make_admin, make_consumer, translate_kafka_error
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)

_RETRY_INTERVAL_S = 0.2
_LEADERSHIP_SETTLING = frozenset(
    {ConfluentKafkaError.NOT_LEADER_FOR_PARTITION, ConfluentKafkaError.LEADER_NOT_AVAILABLE}
)


class GroupOffsets:
    """Committed offsets and lag of ``group_id`` on ``topic``; close it (or use it as a
    context manager) when done.

    Raises:
        TopicMissingError: ``topic`` does not exist.
    """

    def __init__(self, settings: KafkaSettings, group_id: str, topic: str) -> None:
        self.settings = settings
        self.group_id = group_id
        self.topic = topic
        self.partitions = topic_partitions(settings, topic)
        self._admin = make_admin(settings)
        self._consumer = make_consumer(settings, group_id)

    def __enter__(self) -> GroupOffsets:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the consumer (it never joined the group, so nothing is rebalanced)."""
        self._consumer.close()

    def committed(self) -> dict[int, int | None]:
        """Partition -> offset the group committed (``None``: nothing yet).

        Raises:
            KafkaError: Kafka did not answer, or answered with an error.
        """
        servers = self.settings.bootstrap_servers
        with kafka_errors(servers, f"reading offsets of group {self.group_id}"):
            answer = self._consumer.committed(
                [TopicPartition(self.topic, p) for p in range(self.partitions)],
                timeout=self.settings.request_timeout_s,
            )
        offsets: dict[int, int | None] = {}
        for tp in answer:
            if tp.error is not None:
                raise translate_kafka_error(
                    tp.error, servers, context=f"offsets of group {self.group_id}"
                )
            offsets[tp.partition] = tp.offset if tp.offset >= 0 else None
        return offsets

    def ends(self, *, committed_only: bool = True) -> dict[int, int]:
        """Partition -> end offset of the topic (see :func:`end_offsets`)."""
        return _end_offsets(self._admin, self.settings, self.topic, self.partitions, committed_only)

    def lag(self) -> dict[int, int]:
        """Partition -> records the group has not committed yet (from the start of the
        partition where it committed nothing)."""
        ends = self.ends()
        committed = self.committed()
        return {p: max(0, end - (committed.get(p) or 0)) for p, end in ends.items()}

    def lag_total(self) -> int | None:
        """The lag summed over partitions; ``None`` while Kafka cannot tell (a group
        coordinator still loading, a broker restarting): for callers that poll."""
        try:
            return sum(self.lag().values())
        except KafkaError as exc:
            logger.debug("lag of %s on %s not available yet: %s", self.group_id, self.topic, exc)
            return None


def end_offsets(
    settings: KafkaSettings, topic: str, *, committed_only: bool = True
) -> dict[int, int]:
    """Partition -> end offset of ``topic``.

    With ``committed_only`` this is the last stable offset (what a ``read_committed``
    consumer can reach: open transactions excluded), otherwise the high watermark.
    """
    partitions = topic_partitions(settings, topic)
    return _end_offsets(make_admin(settings), settings, topic, partitions, committed_only)


def committed_offsets(settings: KafkaSettings, group_id: str, topic: str) -> dict[int, int | None]:
    """Partition -> offset committed by ``group_id`` on ``topic`` (``None``: nothing yet)."""
    with GroupOffsets(settings, group_id, topic) as offsets:
        return offsets.committed()


def consumer_lag(settings: KafkaSettings, group_id: str, topic: str) -> dict[int, int]:
    """Partition -> records not yet committed by ``group_id`` (from the start of the
    partition where the group committed nothing)."""
    with GroupOffsets(settings, group_id, topic) as offsets:
        return offsets.lag()


def _end_offsets(
    admin: AdminClient, settings: KafkaSettings, topic: str, partitions: int, committed_only: bool
) -> dict[int, int]:
    isolation = IsolationLevel.READ_COMMITTED if committed_only else IsolationLevel.READ_UNCOMMITTED
    # OffsetSpec.latest() is not annotated upstream.
    latest: OffsetSpec = OffsetSpec.latest()  # type: ignore[no-untyped-call]
    deadline = time.monotonic() + settings.request_timeout_s
    while True:
        try:
            futures = admin.list_offsets(
                {TopicPartition(topic, p): latest for p in range(partitions)},
                isolation_level=isolation,
                request_timeout=settings.request_timeout_s,
            )
            return {tp.partition: int(future.result().offset) for tp, future in futures.items()}
        except KafkaException as exc:
            # For a moment after a topic is created the broker answers ListOffsets with
            # NOT_LEADER_FOR_PARTITION, and librdkafka does not mark that retriable here
            # (seen with librdkafka 2.x and Kafka 4.1): ask again until the request timeout.
            error = exc.args[0] if exc.args else None
            settling = isinstance(error, ConfluentKafkaError) and (
                error.retriable() or error.code() in _LEADERSHIP_SETTLING
            )
            if not settling or time.monotonic() > deadline:
                raise translate_kafka_error(
                    exc, settings.bootstrap_servers, context=f"reading end offsets of {topic}"
                ) from exc
            logger.debug("end offsets of %s not available yet: %s", topic, exc)
            time.sleep(_RETRY_INTERVAL_S)
