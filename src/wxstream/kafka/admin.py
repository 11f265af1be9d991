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
from functools import partial
from typing import Any

from confluent_kafka import ConsumerGroupState, KafkaException
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource
from confluent_kafka.admin._resource import ResourceType
from confluent_kafka.cimpl import NewTopic

from wxstream.errors import KafkaUnavailableError, TopicMissingError
from wxstream.kafka.client_properties import reveal
from wxstream.kafka.clients import (
    CREATE_TOPICS_FIX,
    START_BROKER_FIX,
    access_error,
    access_refusal,
    forget_access_refusal,
    kafka_errors,
    make_admin,
    record_access_refusal,
    translate_kafka_error,
)
from wxstream.settings import ClientProperty, KafkaSettings

logger = logging.getLogger(__name__)

DLQ_PARTITIONS = 1
_PROBE_INTERVAL_S = 0.25


# Ask the cluster for its default replication factor (KIP-464).
BROKER_DEFAULT_REPLICATION = -1


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: its name, partition count, replication factor (-1: the
    cluster's ``default.replication.factor``) and ``min.insync.replicas`` (``None``: the
    cluster's default)."""

    name: str
    partitions: int
    replication_factor: int = BROKER_DEFAULT_REPLICATION
    min_insync_replicas: int | None = None
    config: tuple[tuple[str, str], ...] = ()
    """Further topic configs (``cleanup.policy=compact`` for the control topic)."""

    def new_topic(self) -> NewTopic:
        """The admin-API request creating this topic."""
        config = dict(self.config)
        if self.min_insync_replicas is not None:
            config["min.insync.replicas"] = str(self.min_insync_replicas)
        return NewTopic(self.name, self.partitions, self.replication_factor, config=config)


@dataclass(frozen=True)
class TopicReplication:
    """How a topic is replicated: replicas and in-sync replicas of its least replicated
    partition, and its ``min.insync.replicas`` (``None``: not readable)."""

    replicas: int
    in_sync: int
    min_insync_replicas: int | None


@dataclass(frozen=True)
class TopicOutcome:
    """What :func:`ensure_topics` found or did for one topic."""

    name: str
    partitions: int
    created: bool  # False: it existed already


def pipeline_topics(settings: KafkaSettings) -> list[TopicSpec]:
    """The pipeline's topics: features, predictions, anomalies, shadow predictions and
    verification with ``settings.partitions`` each (all keyed by station), and the
    dead-letter topic with one partition (order does not matter there), all with
    ``settings.replication_factor`` and ``settings.min_insync_replicas``."""
    factor, min_isr = settings.replication_factor, settings.min_insync_replicas
    return [
        TopicSpec(settings.features_topic, settings.partitions, factor, min_isr),
        TopicSpec(settings.predictions_topic, settings.partitions, factor, min_isr),
        TopicSpec(settings.dlq_topic, DLQ_PARTITIONS, factor, min_isr),
        TopicSpec(settings.anomalies_topic, settings.partitions, factor, min_isr),
        TopicSpec(settings.shadow_topic, settings.partitions, factor, min_isr),
        TopicSpec(settings.verification_topic, settings.partitions, factor, min_isr),
        # One partition: every alias move in one order; compacted: a starting service
        # reads the latest state of each model name.
        TopicSpec(settings.control_topic, 1, factor, min_isr, (("cleanup.policy", "compact"),)),
    ]


def probe_broker(
    bootstrap_servers: str, timeout_s: float, client_properties: tuple[ClientProperty, ...] = ()
) -> bool:
    """True when a broker at ``bootstrap_servers`` answers a metadata request in time
    (over TLS / SASL as ``client_properties`` say)."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000)),
        # Connection refused is the expected answer while a broker starts up.
        "log_level": 0,
        # A TLS or SASL refusal is remembered (see access_refusal).
        "error_cb": partial(record_access_refusal, bootstrap_servers),
        **reveal(client_properties),
    }
    admin = AdminClient(config)
    try:
        admin.list_topics(timeout=timeout_s)
    except KafkaException:
        admin.poll(0)  # serves the error callback
        return False
    return True


def wait_for_broker(
    bootstrap_servers: str, timeout_s: float, client_properties: tuple[ClientProperty, ...] = ()
) -> float:
    """Wait until a broker answers; returns the seconds waited.

    Raises:
        KafkaUnavailableError: no answer within ``timeout_s``.
        KafkaAccessError: the broker refused the TLS handshake or the SASL login.
    """
    started = time.monotonic()
    deadline = started + timeout_s
    forget_access_refusal(bootstrap_servers)
    while True:
        remaining = deadline - time.monotonic()
        if probe_broker(bootstrap_servers, min(1.0, max(0.1, remaining)), client_properties):
            return time.monotonic() - started
        refusal = access_refusal(bootstrap_servers)
        refused = access_error(refusal) if refusal is not None else None
        if refused is not None:
            # A refusal does not go away by waiting.
            raise refused
        if time.monotonic() >= deadline:
            raise KafkaUnavailableError(
                f"Kafka at {bootstrap_servers} did not answer within {timeout_s:.0f} s",
                fix=START_BROKER_FIX,
            )
        time.sleep(_PROBE_INTERVAL_S)


def list_topics(settings: KafkaSettings) -> dict[str, int]:
    """Topic name -> partition count of every topic, internal ones left out."""
    admin = make_admin(settings)
    with kafka_errors(settings.bootstrap_servers, "listing topics", admin):
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


def _listed(settings: KafkaSettings, names: set[str]) -> dict[str, int]:
    """The topics of the cluster once ``names`` show in its metadata: a creation is
    acknowledged by the controller before every broker's metadata has it, and a caller
    that reads the topic next must find it (gives up after ``request_timeout_s``)."""
    deadline = time.monotonic() + settings.request_timeout_s
    existing = list_topics(settings)
    while not names <= existing.keys() and time.monotonic() < deadline:
        time.sleep(0.05)
        existing = list_topics(settings)
    return existing


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
            [spec.new_topic() for spec in to_create],
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
        existing = _listed(settings, created)
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


def topic_replication(
    settings: KafkaSettings, topics: Iterable[str]
) -> dict[str, TopicReplication]:
    """Replication of each existing topic among ``topics`` (missing ones left out)."""
    admin = make_admin(settings)
    wanted = list(topics)
    with kafka_errors(settings.bootstrap_servers, "describing topic replication", admin):
        metadata = admin.list_topics(timeout=settings.request_timeout_s)
    found = {
        name: metadata.topics[name]
        for name in wanted
        if name in metadata.topics and metadata.topics[name].partitions
    }
    min_isr = _min_insync_replicas(admin, settings, list(found))
    return {
        name: TopicReplication(
            replicas=min(len(p.replicas) for p in topic.partitions.values()),
            in_sync=min(len(p.isrs) for p in topic.partitions.values()),
            min_insync_replicas=min_isr.get(name),
        )
        for name, topic in found.items()
    }


def _min_insync_replicas(
    admin: AdminClient, settings: KafkaSettings, topics: list[str]
) -> dict[str, int]:
    if not topics:
        return {}
    futures = admin.describe_configs(
        [ConfigResource(ResourceType.TOPIC, name) for name in topics],
        request_timeout=settings.request_timeout_s,
    )
    values: dict[str, int] = {}
    for resource, future in futures.items():
        try:
            entry = future.result().get("min.insync.replicas")
        except KafkaException as exc:
            # Without DESCRIBE_CONFIGS on the topic the value stays unknown: not an error.
            logger.debug("min.insync.replicas of %s not readable: %s", resource.name, exc)
            continue
        if entry is not None and entry.value is not None:
            values[resource.name] = int(entry.value)
    return values
