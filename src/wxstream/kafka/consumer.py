"""Consumer calls with errors translated: consume a batch with error events sorted out,
poll without taking records, pause and resume (the service's record source,
:class:`wxstream.streaming.record_source.KafkaRecordSource`, is built on them)."""

from __future__ import annotations

import logging

from confluent_kafka import Consumer, KafkaException, Message
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.kafka.clients import kafka_errors, translate_kafka_error

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
