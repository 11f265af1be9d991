"""Putting released batches on Kafka and committing their input offsets.

Two guarantees, one interface (:class:`Delivery`):

* :class:`TransactionalDelivery` (``exactly-once``): forecasts, dead letters, the
  quality stage's findings, the shadow forecasts of a second version and the consumer
  offsets go in one Kafka transaction
  (``send_offsets_to_transaction`` with the consumer's group metadata); a
  ``read_committed`` reader sees every forecast exactly once. An abortable failure
  aborts the transaction and reports ``False``: the caller rewinds to the committed
  offsets and rebuilds its state. A fatal one (fenced by a newer instance with the
  same ``transactional.id``) raises :class:`~wxstream.errors.TransactionError`.
* :class:`AtLeastOnceDelivery` (``at-least-once``): produce and wait for every delivery
  report, on the delivery thread (where the delivery watchdog covers it); the loop
  then commits the offsets synchronously on the consumer's thread
  (``commits_offsets = False``), which keeps the consumer single-threaded. A crash
  between the two repeats forecasts; nothing is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.kafka.clients import translate_kafka_error
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.outgoing import Outgoing

logger = logging.getLogger(__name__)

_COMMIT_ATTEMPTS = 5


def _produce_all(
    producer: Producer,
    settings: KafkaSettings,
    batches: Sequence[Outgoing],
    on_delivery: Any = None,
) -> None:
    produce = producer.produce

    def send(topic: str, value: bytes | None, key: bytes | None, headers: Any = None) -> None:
        try:
            produce(topic, value, key, headers=headers, on_delivery=on_delivery)
        except BufferError:
            # The local queue is full: serve delivery reports, then try once more.
            producer.poll(1.0)
            produce(topic, value, key, headers=headers, on_delivery=on_delivery)

    for batch in batches:
        for key, value in batch.predictions:
            send(settings.predictions_topic, value, key)
        for record in batch.dead_letters:
            send(settings.dlq_topic, record.value, record.key, record.headers)
        for key, value in batch.anomalies:
            send(settings.anomalies_topic, value, key)
        for key, value in batch.shadow:
            send(settings.shadow_topic, value, key)
        for key, value in batch.verification:
            send(settings.verification_topic, value, key)
        producer.poll(0)


def _offsets(topic: str, positions: dict[int, int]) -> list[TopicPartition]:
    return [TopicPartition(topic, p, offset) for p, offset in sorted(positions.items())]


def _error_of(exc: KafkaException) -> ConfluentKafkaError | None:
    error = exc.args[0] if exc.args else None
    return error if isinstance(error, ConfluentKafkaError) else None


class TransactionalDelivery:
    """Exactly-once: one transaction per delivery (forecasts + dead letters + findings +
    offsets)."""

    thread_safe = True
    commits_offsets = True

    def __init__(
        self, producer: Producer, consumer: Consumer, settings: KafkaSettings, timeout_s: float
    ) -> None:
        self._producer = producer
        self._consumer = consumer
        self._settings = settings
        self._timeout_s = timeout_s
        self.transactions = 0
        self.aborted = 0
        try:
            producer.init_transactions(timeout_s)
        except KafkaException as exc:
            raise translate_kafka_error(
                exc, settings.bootstrap_servers, context="initialising transactions"
            ) from exc

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        """One transaction: produce everything, add the offsets, commit."""
        producer = self._producer
        try:
            producer.begin_transaction()
            _produce_all(producer, self._settings, batches)
            if positions:
                if group_metadata is None:
                    group_metadata = self._consumer.consumer_group_metadata()
                producer.send_offsets_to_transaction(
                    _offsets(self._settings.features_topic, positions),
                    group_metadata,
                    self._timeout_s,
                )
            self._commit()
        except KafkaException as exc:
            return self._fail(exc)
        self.transactions += 1
        return True

    def _commit(self) -> None:
        for attempt in range(1, _COMMIT_ATTEMPTS + 1):
            try:
                self._producer.commit_transaction(self._timeout_s)
                return
            except KafkaException as exc:
                error = _error_of(exc)
                if error is None or not error.retriable() or attempt == _COMMIT_ATTEMPTS:
                    raise
                logger.warning("transaction commit failed (%s), retrying", error.str())

    def _fail(self, exc: KafkaException) -> bool:
        error = _error_of(exc)
        if error is not None and error.txn_requires_abort():
            logger.warning("aborting transaction: %s", error.str())
            try:
                self._producer.abort_transaction(self._timeout_s)
            except KafkaException as abort_exc:
                raise translate_kafka_error(
                    abort_exc, self._settings.bootstrap_servers, context="aborting a transaction"
                ) from abort_exc
            self.aborted += 1
            return False
        raise translate_kafka_error(
            exc, self._settings.bootstrap_servers, context="committing a transaction"
        ) from exc

    def close(self) -> None:
        """Nothing is left open between deliveries; flush what librdkafka holds."""
        self._producer.flush(self._timeout_s)


class AtLeastOnceDelivery:
    """At-least-once: produce and wait for every delivery report; the caller commits
    the offsets synchronously on the consumer's thread once this succeeded."""

    thread_safe = True
    commits_offsets = False

    def __init__(self, producer: Producer, settings: KafkaSettings, timeout_s: float) -> None:
        self._producer = producer
        self._settings = settings
        self._timeout_s = timeout_s
        self._failures: list[ConfluentKafkaError] = []
        self.transactions = 0
        self.aborted = 0

    def _on_delivery(self, error: ConfluentKafkaError | None, _msg: Any) -> None:
        if error is not None:
            self._failures.append(error)

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        """Produce, flush, check delivery reports (``positions`` are committed by the
        caller; ``group_metadata`` is not needed)."""
        self._failures.clear()
        try:
            _produce_all(self._producer, self._settings, batches, self._on_delivery)
            left = self._producer.flush(self._timeout_s)
        except KafkaException as exc:
            raise translate_kafka_error(
                exc, self._settings.bootstrap_servers, context="producing forecasts"
            ) from exc
        if left or self._failures:
            detail = self._failures[0].str() if self._failures else f"{left} records unsent"
            logger.warning("delivery failed (%s); rewinding to the committed offsets", detail)
            self.aborted += 1
            return False
        self.transactions += 1
        return True

    def close(self) -> None:
        """Flush what librdkafka still holds."""
        self._producer.flush(self._timeout_s)
