"""Read topics from the beginning up to their current end: what a topic holds right now.

Used to picture what the pipeline published (``wxstream plot --from-topics``). Reads
``read_committed`` (aborted transactions are never seen) with a throwaway consumer
group that commits nothing, and stops at the end of every partition or at a timeout.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.kafka.admin import topic_partitions
from wxstream.kafka.clients import kafka_errors, make_consumer, translate_kafka_error
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)


@dataclass
class Snapshot:
    """What :func:`read_snapshot` kept, per topic, and whether it reached every end."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    complete: bool = True
    records: int = 0


def read_snapshot(
    settings: KafkaSettings,
    decoders: dict[str, Callable[[bytes], Any]],
    *,
    keys: Sequence[str] = (),
    timeout_s: float = 30.0,
) -> Snapshot:
    """Decode every record of the ``decoders``' topics, from the beginning to the end.

    Args:
        settings: where Kafka is.
        decoders: topic -> function of a record value returning what to keep (``None``:
            drop it).
        keys: keep only records with one of these keys (empty: every record).
        timeout_s: stop reading after this long (``complete`` is then ``False``).

    Raises:
        TopicMissingError: a topic does not exist.
        KafkaUnavailableError: Kafka does not answer.
    """
    wanted = {key.encode() for key in keys}
    assignment = [
        TopicPartition(topic, p, OFFSET_BEGINNING)
        for topic in decoders
        for p in range(topic_partitions(settings, topic))
    ]
    pending = {(tp.topic, tp.partition) for tp in assignment}
    snapshot = Snapshot(values={topic: [] for topic in decoders})
    consumer = make_consumer(
        settings, f"wxstream-snapshot-{time.monotonic_ns()}", enable_partition_eof=True
    )
    deadline = time.monotonic() + timeout_s
    try:
        with kafka_errors(settings.bootstrap_servers, "reading topics"):
            consumer.assign(assignment)
            while pending and time.monotonic() < deadline:
                for message in consumer.consume(5000, timeout=0.5):
                    error = message.error()
                    topic = str(message.topic())
                    if error is not None:
                        if error.code() == ConfluentKafkaError._PARTITION_EOF:
                            pending.discard((topic, int(message.partition() or 0)))
                            continue
                        raise translate_kafka_error(error, settings.bootstrap_servers)
                    snapshot.records += 1
                    if wanted and message.key() not in wanted:
                        continue
                    value = message.value()
                    kept = decoders[topic](value) if value is not None else None
                    if kept is not None:
                        snapshot.values[topic].append(kept)
    finally:
        consumer.close()
    snapshot.complete = not pending
    if pending:
        logger.warning(
            "stopped reading after %.0f s with %d partition(s) not read to the end",
            timeout_s,
            len(pending),
        )
    return snapshot
