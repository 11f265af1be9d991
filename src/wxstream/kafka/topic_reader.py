"""Read topics from the beginning up to their end: what a topic holds.

:func:`read_topics` is the one reading loop: a throwaway consumer group that commits
nothing assigns every partition from the beginning and reads until each partition
reached its end (for ``read_committed``, the last stable offset: aborted transactions
are never seen), at least ``expected`` records arrived, or ``timeout_s`` passed.
:func:`read_topic` reads one topic and raises when it cannot reach the end;
:func:`read_snapshot` decodes what two topics hold for ``wxstream plot --from-topics``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, Message, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.errors import KafkaError
from wxstream.kafka.admin import topic_partitions
from wxstream.kafka.clients import kafka_errors, make_consumer, translate_kafka_error
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)

IsolationLevel = Literal["read_committed", "read_uncommitted"]


@dataclass
class TopicRead:
    """The records :func:`read_topics` received, in arrival order, and whether every
    partition was read to its end (and ``expected`` reached) before the timeout."""

    records: list[Message] = field(default_factory=list)
    complete: bool = True


def read_topics(
    settings: KafkaSettings,
    topics: Sequence[str],
    *,
    isolation_level: IsolationLevel = "read_committed",
    expected: int = 0,
    timeout_s: float = 60.0,
    settle_s: float = 0.0,
    limit: int | None = None,
) -> TopicRead:
    """Every record of ``topics`` from the beginning to the end of each partition.

    Args:
        settings: where Kafka is.
        topics: the topics to read (every partition of each).
        isolation_level: ``read_uncommitted`` also returns records of aborted and open
            transactions.
        expected: wait, up to ``timeout_s``, until at least this many records arrived
            (for a topic still being written, whose end right now is not the end yet).
        timeout_s: stop reading after this long (``complete`` is then ``False``).
        settle_s: once done, read this much longer: a late record (a duplicate, say)
            gets the chance to show up.
        limit: stop after this many records (``complete`` is then ``False`` unless
            every end was reached with them).

    Raises:
        TopicMissingError: a topic does not exist.
        KafkaUnavailableError: Kafka does not answer.
    """
    assignment = [
        TopicPartition(topic, p, OFFSET_BEGINNING)
        for topic in topics
        for p in range(topic_partitions(settings, topic))
    ]
    pending = {(tp.topic, tp.partition) for tp in assignment}
    read = TopicRead()
    consumer = make_consumer(
        settings,
        f"wxstream-reader-{uuid.uuid4().hex[:12]}",
        enable_partition_eof=True,
        isolation_level=isolation_level,
    )
    deadline = time.monotonic() + timeout_s
    settle_until: float | None = None
    try:
        with kafka_errors(settings.bootstrap_servers, f"reading {', '.join(topics)}"):
            consumer.assign(assignment)
            while time.monotonic() < (deadline if settle_until is None else settle_until):
                for message in consumer.consume(5000, timeout=0.2):
                    place = (str(message.topic()), int(message.partition() or 0))
                    error = message.error()
                    if error is None:
                        # A record after the end: the partition has grown, its end moved.
                        pending.add(place)
                        read.records.append(message)
                    elif error.code() == ConfluentKafkaError._PARTITION_EOF:
                        pending.discard(place)
                    else:
                        raise translate_kafka_error(error, settings.bootstrap_servers)
                if settle_until is None and not pending and len(read.records) >= expected:
                    settle_until = time.monotonic() + settle_s
                if limit is not None and len(read.records) >= limit:
                    if len(read.records) > limit:
                        del read.records[limit:]
                        settle_until = None  # records were left unread
                    break
    finally:
        consumer.close()
    read.complete = settle_until is not None
    return read


def read_topic(
    settings: KafkaSettings,
    topic: str,
    *,
    isolation_level: IsolationLevel = "read_committed",
    expected: int = 0,
    timeout_s: float = 60.0,
) -> list[Message]:
    """Every record of ``topic``, read as :func:`read_topics` does.

    Raises:
        KafkaError: the end (or ``expected`` records) was not reached in ``timeout_s``.
        TopicMissingError: the topic does not exist.
    """
    read = read_topics(
        settings, [topic], isolation_level=isolation_level, expected=expected, timeout_s=timeout_s
    )
    if not read.complete:
        raise KafkaError(
            f"reading {topic} to its end took longer than {timeout_s:.0f} s "
            f"({len(read.records)} record(s) read"
            + (f", {expected} expected)" if expected else ")"),
            fix="check that the broker answers (wxstream kafka status) and give it more time",
        )
    return read.records


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
    read = read_topics(settings, list(decoders), timeout_s=timeout_s)
    wanted = {key.encode() for key in keys}
    snapshot = Snapshot(
        values={topic: [] for topic in decoders},
        complete=read.complete,
        records=len(read.records),
    )
    for message in read.records:
        if wanted and message.key() not in wanted:
            continue
        value = message.value()
        topic = str(message.topic())
        kept = decoders[topic](value) if value is not None else None
        if kept is not None:
            snapshot.values[topic].append(kept)
    if not read.complete:
        logger.warning(
            "stopped reading after %.0f s before every partition was read to its end", timeout_s
        )
    return snapshot
