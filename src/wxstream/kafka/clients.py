"""Kafka client configuration and error translation: the boundary to confluent-kafka.

Every producer, consumer and admin client of the project is configured here, and every
``confluent_kafka.KafkaException`` is translated here into the wxstream error tree
(:func:`translate_kafka_error`, :func:`kafka_errors`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.admin import AdminClient

from wxstream.errors import (
    KafkaError,
    KafkaUnavailableError,
    TopicMissingError,
    TransactionError,
)
from wxstream.settings import KafkaSettings

logger = logging.getLogger(__name__)

# librdkafka's own log lines (connection refused, ...) go through Python logging, so the
# CLI's log level governs them; they are delivered from poll()/flush() calls.
librdkafka_logger = logging.getLogger("wxstream.kafka.librdkafka")

START_BROKER_FIX = (
    "start the local broker with `wxstream kafka start`, or point --bootstrap-servers "
    "(KAFKA_BOOTSTRAP_SERVERS) at a running Kafka"
)
CREATE_TOPICS_FIX = "run `wxstream topics create`"

_UNAVAILABLE_CODES = frozenset(
    {
        ConfluentKafkaError._TRANSPORT,
        ConfluentKafkaError._ALL_BROKERS_DOWN,
        ConfluentKafkaError._TIMED_OUT,
        ConfluentKafkaError._RESOLVE,
        ConfluentKafkaError._MSG_TIMED_OUT,
        ConfluentKafkaError.REQUEST_TIMED_OUT,
        ConfluentKafkaError.NETWORK_EXCEPTION,
    }
)
_MISSING_TOPIC_CODES = frozenset(
    {
        ConfluentKafkaError.UNKNOWN_TOPIC_OR_PART,
        ConfluentKafkaError._UNKNOWN_TOPIC,
        ConfluentKafkaError._UNKNOWN_PARTITION,
    }
)
_TRANSACTION_CODES = frozenset(
    {
        ConfluentKafkaError._FENCED,
        ConfluentKafkaError.PRODUCER_FENCED,
        ConfluentKafkaError.INVALID_PRODUCER_EPOCH,
        ConfluentKafkaError.INVALID_TXN_STATE,
        ConfluentKafkaError.TRANSACTION_COORDINATOR_FENCED,
        ConfluentKafkaError.INVALID_PRODUCER_ID_MAPPING,
    }
)


def base_config(settings: KafkaSettings) -> dict[str, Any]:
    """Settings shared by every client: where Kafka is and how long to wait for it."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "socket.connection.setup.timeout.ms": max(1000, int(settings.request_timeout_s * 1000)),
        # librdkafka backs off up to 10 s between reconnects by default; a local broker
        # restarts in seconds, so reconnect sooner.
        "reconnect.backoff.max.ms": 1000,
        "logger": librdkafka_logger,
    }


def producer_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """Configuration of an idempotent producer; ``overrides`` use librdkafka names
    with ``_`` for ``.`` (``transactional_id="x"`` -> ``transactional.id``)."""
    config = base_config(settings)
    config.update(
        {
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )
    config.update(_dotted(overrides))
    return config


def consumer_config(settings: KafkaSettings, group_id: str, **overrides: Any) -> dict[str, Any]:
    """Configuration of a consumer in ``group_id`` that commits explicitly and reads
    only committed transactional data."""
    config = base_config(settings)
    config.update(
        {
            "group.id": group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": False,
        }
    )
    config.update(_dotted(overrides))
    return config


def admin_config(settings: KafkaSettings, **overrides: Any) -> dict[str, Any]:
    """Configuration of an admin client."""
    config = base_config(settings)
    config.update(_dotted(overrides))
    return config


def make_producer(settings: KafkaSettings, **overrides: Any) -> Producer:
    """A producer built from :func:`producer_config`."""
    with kafka_errors(settings.bootstrap_servers):
        return Producer(producer_config(settings, **overrides))


def make_consumer(settings: KafkaSettings, group_id: str, **overrides: Any) -> Consumer:
    """A consumer built from :func:`consumer_config`."""
    with kafka_errors(settings.bootstrap_servers):
        return Consumer(consumer_config(settings, group_id, **overrides))


def make_admin(settings: KafkaSettings, **overrides: Any) -> AdminClient:
    """An admin client built from :func:`admin_config`."""
    with kafka_errors(settings.bootstrap_servers):
        return AdminClient(admin_config(settings, **overrides))


def translate_kafka_error(
    exc: KafkaException | ConfluentKafkaError, bootstrap_servers: str, *, context: str = ""
) -> KafkaError:
    """The wxstream error for a confluent-kafka exception or error value.

    The caller raises it ``from exc``: unreachable brokers become
    :class:`KafkaUnavailableError`, unknown topics :class:`TopicMissingError`, fenced or
    aborted transactions :class:`TransactionError`, anything else :class:`KafkaError`.
    """
    error = exc.args[0] if isinstance(exc, KafkaException) and exc.args else exc
    prefix = f"{context}: " if context else ""
    if not isinstance(error, ConfluentKafkaError):
        return KafkaError(f"{prefix}Kafka failed: {exc}")
    code = error.code()
    reason = error.str()
    if code in _UNAVAILABLE_CODES:
        return KafkaUnavailableError(
            f"{prefix}Kafka at {bootstrap_servers} is not reachable ({error.name()}: {reason})",
            fix=START_BROKER_FIX,
        )
    if code in _MISSING_TOPIC_CODES:
        return TopicMissingError(
            f"{prefix}topic or partition does not exist on {bootstrap_servers} ({reason})",
            fix=CREATE_TOPICS_FIX,
        )
    if code in _TRANSACTION_CODES or error.txn_requires_abort() or error.fatal():
        return TransactionError(
            f"{prefix}Kafka transaction failed ({error.name()}: {reason})",
            fix="restart the process; another instance with the same transactional id "
            "may have fenced this one",
        )
    return KafkaError(f"{prefix}Kafka error {error.name()}: {reason}")


@contextmanager
def kafka_errors(bootstrap_servers: str, context: str = "") -> Iterator[None]:
    """Translate ``KafkaException`` raised inside the block (see
    :func:`translate_kafka_error`)."""
    try:
        yield
    except KafkaException as exc:
        raise translate_kafka_error(exc, bootstrap_servers, context=context) from exc


# confluent-kafka's own (Python-level) settings are spelled with underscores.
_PYTHON_KEYS = frozenset(
    {"error_cb", "throttle_cb", "stats_cb", "oauth_cb", "on_commit", "on_delivery", "logger"}
)


def _dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    return {
        key if key in _PYTHON_KEYS else key.replace("_", "."): value
        for key, value in overrides.items()
    }
