"""The control topic (``wxstream-control``, compacted, one partition): alias states
published by ``wxstream models promote|rollback|publish`` and read by every running
``serve`` (see docs/model-versions.md, "Hot swap").

:func:`publish_alias_state` writes one state and waits for the broker's ack;
:class:`ControlReader` reads the topic from its beginning (a compacted topic holds the
latest state of every name) and then follows it, without a consumer group: nothing is
committed, every reader sees every state.
"""

from __future__ import annotations

import logging
import uuid

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.errors import KafkaError
from wxstream.kafka.admin import topic_partitions
from wxstream.kafka.clients import (
    kafka_errors,
    make_consumer,
    make_producer,
    translate_kafka_error,
)
from wxstream.messages.alias_state import AliasState, decode_alias_state, encode_alias_state
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)


def publish_alias_state(
    settings: KafkaSettings, state: AliasState, timeout_s: float = 30.0
) -> None:
    """Write ``state`` to the control topic and wait until the broker has it.

    Raises:
        TopicMissingError: the control topic does not exist.
        KafkaError: it was not acknowledged within ``timeout_s``.
    """
    topic_partitions(settings, settings.control_topic)  # raises TopicMissingError
    producer = make_producer(settings, acks="all", enable_idempotence=True)
    failures: list[str] = []

    def delivered(error: ConfluentKafkaError | None, _message: object) -> None:
        if error is not None:
            failures.append(str(error))

    with kafka_errors(settings.bootstrap_servers, "publishing an alias state", producer):
        producer.produce(
            settings.control_topic,
            key=state.key,
            value=encode_alias_state(state),
            on_delivery=delivered,
        )
        left = producer.flush(timeout_s)
    if left or failures:
        raise KafkaError(
            f"the alias state of {state.name} was not written to {settings.control_topic}: "
            + ("; ".join(failures) or f"no acknowledgement within {timeout_s:.0f} s"),
            fix="check the broker (`wxstream status`), then republish it with "
            f"`wxstream models publish {state.name}`",
        )


class ControlReader:
    """Follows the control topic from its beginning; :meth:`poll` returns the states
    that arrived (bad records are logged and skipped: a control record is never
    fatal).

    Raises:
        TopicMissingError: the control topic does not exist.
    """

    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        partitions = topic_partitions(settings, settings.control_topic)
        self._consumer = make_consumer(
            settings,
            # Never joins: the partitions are assigned, nothing is committed.
            f"wxstream-control-{uuid.uuid4().hex[:12]}",
            enable_auto_commit=False,
            isolation_level="read_committed",
        )
        with kafka_errors(settings.bootstrap_servers, "reading the control topic"):
            self._consumer.assign(
                [
                    TopicPartition(settings.control_topic, p, OFFSET_BEGINNING)
                    for p in range(partitions)
                ]
            )

    def poll(self, timeout_s: float) -> list[AliasState]:
        """The states read within ``timeout_s`` (waits for the first)."""
        states: list[AliasState] = []
        with kafka_errors(self.settings.bootstrap_servers, "reading the control topic"):
            messages = self._consumer.consume(100, timeout=timeout_s)
        for message in messages:
            error = message.error()
            if error is not None:
                if error.code() == ConfluentKafkaError._PARTITION_EOF:
                    continue
                raise translate_kafka_error(error, self.settings.bootstrap_servers)
            decoded = decode_alias_state(message.value())
            if isinstance(decoded, AliasState):
                states.append(decoded)
            else:
                logger.warning(
                    "skipping a bad record of %s at offset %s: %s",
                    self.settings.control_topic,
                    message.offset(),
                    decoded.detail,
                )
        return states

    def close(self) -> None:
        """Release the consumer."""
        self._consumer.close()
