"""Topic administration and offset queries against a running Kafka.

Creating the pipeline's topics (:func:`ensure_topics`), checking that they exist
(:func:`require_topics`), waiting for a broker to answer (:func:`wait_for_broker`), and
whether a consumer group has settled (:func:`group_has_assignment`). Offsets and lag
live in :mod:`wxstream.kafka.offsets`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from wxstream.errors import KafkaUnavailableError, TopicMissingError
from wxstream.kafka.clients import (
    CREATE_TOPICS_FIX,
    START_BROKER_FIX,
    kafka_errors,
    make_admin,
    translate_kafka_error,
)
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)

DLQ_PARTITIONS = 1
_PROBE_INTERVAL_S = 0.25


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: its name and partition count (replication factor 1)."""

    name: str
    partitions: int


@dataclass(frozen=True)
class TopicOutcome:
    """What :func:`ensure_topics` found or did for one topic."""

    name: str
    partitions: int
    created: bool  # False: it existed already


def pipeline_topics(settings: KafkaSettings) -> list[TopicSpec]:
    """The pipeline's topics: features and predictions with ``settings.partitions``
    each, and the dead-letter topic with one partition (order does not matter there)."""
    return [
        TopicSpec(settings.features_topic, settings.partitions),
        TopicSpec(settings.predictions_topic, settings.partitions),
        TopicSpec(settings.dlq_topic, DLQ_PARTITIONS),
    ]


def probe_broker(bootstrap_servers: str, timeout_s: float) -> bool:
    """True when a broker at ``bootstrap_servers`` answers a metadata request in time."""
    admin = AdminClient(
        {
            "bootstrap.servers": bootstrap_servers,
            "socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000)),
            # Connection refused is the expected answer while a broker starts up.
            "log_level": 0,
        }
    )
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException:
        return False
    return True


def wait_for_broker(bootstrap_servers: str, timeout_s: float) -> float:
    """Wait until a broker answers; returns the seconds waited.

    Raises:
        KafkaUnavailableError: no answer within ``timeout_s``.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        if probe_broker(bootstrap_servers, min(1.0, max(0.1, remaining))):
            return time.monotonic() - started
        if time.monotonic() >= deadline:
            raise KafkaUnavailableError(
                f"Kafka at {bootstrap_servers} did not answer within {timeout_s:.0f} s",
                fix=START_BROKER_FIX,
            )
        time.sleep(_PROBE_INTERVAL_S)


def list_topics(settings: KafkaSettings) -> dict[str, int]:
    """Topic name -> partition count of every topic, internal ones left out."""
    admin = make_admin(settings)
    with kafka_errors(settings.bootstrap_servers, "listing topics"):
        metadata = admin.list_topics(timeout=settings.request_timeout_s)
    return {
        name: len(topic.partitions)
        for name, topic in metadata.topics.items()
        if not name.startswith("__") and not _unknown_topic(topic.error)
    }


def _unknown_topic(error: ConfluentKafkaError | None) -> bool:
    # A topic created a moment ago may report LEADER_NOT_AVAILABLE; it exists all the same.
    return error is not None and error.code() in (
        ConfluentKafkaError.UNKNOWN_TOPIC_OR_PART,
        ConfluentKafkaError._UNKNOWN_TOPIC,
    )


def topic_exists(settings: KafkaSettings, topic: str) -> bool:
    """True when ``topic`` exists."""
    return topic in list_topics(settings)


def require_topics(settings: KafkaSettings, topics: Iterable[str]) -> dict[str, int]:
    """Partition counts of ``topics``; raises :class:`TopicMissingError` naming every
    missing one."""
    existing = list_topics(settings)
    wanted = list(topics)
    missing = [topic for topic in wanted if topic not in existing]
    if missing:
        raise TopicMissingError(
            f"topic(s) {', '.join(missing)} do not exist on {settings.bootstrap_servers}",
            fix=CREATE_TOPICS_FIX,
        )
    return {topic: existing[topic] for topic in wanted}


def topic_partitions(settings: KafkaSettings, topic: str) -> int:
    """The partition count of ``topic`` (raises :class:`TopicMissingError`)."""
    return require_topics(settings, [topic])[topic]


def ensure_topics(
    settings: KafkaSettings, topics: Sequence[TopicSpec] | None = None
) -> list[TopicOutcome]:
    """Create the topics that do not exist yet (default: :func:`pipeline_topics`).

    Existing topics are left as they are (a different partition count is logged, not
    changed), so running this twice is harmless.
    """
    specs = list(pipeline_topics(settings) if topics is None else topics)
    existing = list_topics(settings)
    to_create = [spec for spec in specs if spec.name not in existing]
    created: set[str] = set()
    if to_create:
        admin = make_admin(settings)
        futures = admin.create_topics(
            [NewTopic(spec.name, spec.partitions, 1) for spec in to_create],
            request_timeout=settings.request_timeout_s,
            operation_timeout=settings.request_timeout_s,
        )
        for name, future in futures.items():
            try:
                future.result()
                created.add(name)
            except KafkaException as exc:
                error = exc.args[0]
                # Another process created it between listing and creating.
                if not (
                    isinstance(error, ConfluentKafkaError)
                    and error.code() == ConfluentKafkaError.TOPIC_ALREADY_EXISTS
                ):
                    raise translate_kafka_error(
                        exc, settings.bootstrap_servers, context=f"creating topic {name}"
                    ) from exc
        existing = list_topics(settings)
    outcomes = []
    for spec in specs:
        partitions = existing.get(spec.name, spec.partitions)
        if spec.name not in created and partitions != spec.partitions:
            logger.warning(
                "topic %s exists with %d partitions (asked for %d); left unchanged",
                spec.name,
                partitions,
                spec.partitions,
            )
        outcomes.append(TopicOutcome(spec.name, partitions, spec.name in created))
    return outcomes


def group_has_assignment(settings: KafkaSettings, group_id: str) -> bool:
    """Whether ``group_id`` is stable with at least one member holding partitions."""
    admin = make_admin(settings)
    with kafka_errors(settings.bootstrap_servers, f"describing group {group_id}"):
        futures = admin.describe_consumer_groups(
            [group_id], request_timeout=settings.request_timeout_s
        )
        try:
            description = futures[group_id].result()
        except KafkaException:  # an unknown group is an error value here: not joined yet
            return False
    if description.state != ConsumerGroupState.STABLE:
        return False
    return any(
        member.assignment is not None and member.assignment.topic_partitions
        for member in description.members
    )
