"""Kafka client configuration and error translation: the boundary to confluent-kafka.

Every producer, consumer and admin client of the project is configured here, and every
``confluent_kafka.KafkaException`` is translated here into the wxstream error tree
(:func:`translate_kafka_error`, :func:`kafka_errors`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka.admin import AdminClient

from wxstream.errors import (
    KafkaAccessError,
    KafkaError,
    KafkaUnavailableError,
    TopicMissingError,
    TransactionError,
)
from wxstream.kafka.client_properties import reveal
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
    """Settings shared by every client: where Kafka is, how long to wait for it, and
    how to talk to it (TLS, SASL: ``settings.client_properties``)."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "socket.connection.setup.timeout.ms": max(1000, int(settings.request_timeout_s * 1000)),
        # librdkafka backs off up to 10 s between reconnects by default; a local broker
        # restarts in seconds, so reconnect sooner.
        "reconnect.backoff.max.ms": 1000,
        "logger": librdkafka_logger,
        "error_cb": partial(_on_client_error, settings.bootstrap_servers),
        **reveal(settings.client_properties),
    }


def _on_client_error(bootstrap_servers: str, error: ConfluentKafkaError) -> None:
    # librdkafka reports connection problems here and retries on its own; only TLS and
    # SASL refusals are kept (see record_access_refusal), the rest is logged as before.
    record_access_refusal(bootstrap_servers, error)
    librdkafka_logger.debug("client error: %s", error.str())


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
    access = access_error(error, prefix)
    if access is not None:
        return access
    refusal = access_refusal(bootstrap_servers) if code in _UNAVAILABLE_CODES else None
    if refusal is not None:
        return access_error(refusal, prefix) or KafkaError(f"{prefix}{refusal.str()}")
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
def kafka_errors(
    bootstrap_servers: str, context: str = "", client: AdminClient | Producer | None = None
) -> Iterator[None]:
    """Translate ``KafkaException`` raised inside the block (see
    :func:`translate_kafka_error`).

    ``client``: the admin client or producer used in the block; its pending error
    callbacks are served first, so that a TLS or SASL refusal behind a timeout is
    reported as such.
    """
    try:
        yield
    except KafkaException as exc:
        if client is not None:
            # Serving the callbacks re-raises a fatal error: the one being handled.
            with suppress(KafkaException):
                client.poll(0)
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


# Connection-level refusals (bad password, untrusted certificate) reach librdkafka's
# error callback, while the request that needed the connection only times out; the
# latest one per bootstrap address is kept so that the timeout can be reported as what
# it really is.
_ACCESS_REFUSALS: dict[str, tuple[float, ConfluentKafkaError]] = {}
_REFUSAL_MEMORY_S = 120.0
_CONNECTION_ACCESS_CODES = frozenset(
    {
        ConfluentKafkaError._AUTHENTICATION,
        ConfluentKafkaError.SASL_AUTHENTICATION_FAILED,
        ConfluentKafkaError._SSL,
        ConfluentKafkaError.UNSUPPORTED_SASL_MECHANISM,
        ConfluentKafkaError.ILLEGAL_SASL_STATE,
    }
)
# Authorization failure code -> (what was refused, the ACL that grants it).
_ACL_FIXES = {
    ConfluentKafkaError.TOPIC_AUTHORIZATION_FAILED: (
        "access to a topic",
        "grant the principal READ on the features topic and WRITE (and DESCRIBE) on the "
        "predictions and dead-letter topics: kafka-acls --add --allow-principal User:NAME "
        "--operation WRITE --topic weather-predictions (see docs/security.md)",
    ),
    ConfluentKafkaError.GROUP_AUTHORIZATION_FAILED: (
        "access to the consumer group",
        "grant the principal READ on the consumer group: kafka-acls --add "
        "--allow-principal User:NAME --operation READ --group ray-ml-inference",
    ),
    ConfluentKafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED: (
        "use of the transactional id",
        "grant the principal WRITE and DESCRIBE on the transactional id: kafka-acls --add "
        "--allow-principal User:NAME --operation WRITE --operation DESCRIBE "
        "--transactional-id ray-ml-inference --resource-pattern-type prefixed",
    ),
    ConfluentKafkaError.CLUSTER_AUTHORIZATION_FAILED: (
        "a cluster operation",
        "grant the principal IDEMPOTENT_WRITE on the cluster (producers) or use an admin "
        "principal (topic creation): kafka-acls --add --allow-principal User:NAME "
        "--operation IDEMPOTENT_WRITE --cluster",
    ),
}


def record_access_refusal(bootstrap_servers: str, error: ConfluentKafkaError) -> None:
    """Remember a TLS or SASL refusal seen by a client's error callback."""
    if error.code() in _CONNECTION_ACCESS_CODES:
        _ACCESS_REFUSALS[bootstrap_servers] = (time.monotonic(), error)


def forget_access_refusal(bootstrap_servers: str) -> None:
    """Forget what was refused at ``bootstrap_servers`` (before trying other settings)."""
    _ACCESS_REFUSALS.pop(bootstrap_servers, None)


def access_refusal(bootstrap_servers: str) -> ConfluentKafkaError | None:
    """The TLS or SASL refusal seen for ``bootstrap_servers`` in the last two minutes."""
    seen = _ACCESS_REFUSALS.get(bootstrap_servers)
    if seen is None or time.monotonic() - seen[0] > _REFUSAL_MEMORY_S:
        return None
    return seen[1]


def access_error(error: ConfluentKafkaError, prefix: str = "") -> KafkaAccessError | None:
    """The :class:`KafkaAccessError` for a TLS, SASL or ACL refusal; ``None`` otherwise."""
    code = error.code()
    reason = error.str()
    if code in _ACL_FIXES:
        refused, fix = _ACL_FIXES[code]
        return KafkaAccessError(
            f"{prefix}Kafka refused {refused} ({error.name()}: {reason})", fix=fix
        )
    if code not in _CONNECTION_ACCESS_CODES:
        return None
    lowered = reason.lower()
    # "sasl_ssl://host" names the listener in every reason: look for the handshake.
    if code == ConfluentKafkaError._SSL or "ssl handshake" in lowered or "certificate" in lowered:
        fix = (
            "set ssl.ca.location (--ssl-ca-location, KAFKA_SSL_CA_LOCATION) to the CA "
            "certificate that signed the broker's certificate, and check that the broker "
            "address matches its certificate"
        )
        return KafkaAccessError(f"{prefix}TLS handshake with Kafka failed ({reason})", fix=fix)
    if code == ConfluentKafkaError.UNSUPPORTED_SASL_MECHANISM or "unsupported" in lowered:
        fix = (
            "set sasl.mechanism (--sasl-mechanism, KAFKA_SASL_MECHANISM) to one the broker "
            "enables (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER)"
        )
    else:
        fix = (
            "check sasl.username and sasl.password (KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD "
            "or --kafka-config) and the mechanism (KAFKA_SASL_MECHANISM)"
        )
    return KafkaAccessError(f"{prefix}Kafka authentication failed ({reason})", fix=fix)
