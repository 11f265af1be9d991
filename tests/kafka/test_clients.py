"""Kafka client factories against the real local broker: round trip, transactions,
error translation."""

from __future__ import annotations

import time
import uuid

import pytest
from confluent_kafka import Consumer
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.errors import (
    KafkaError,
    KafkaUnavailableError,
    TopicMissingError,
    TransactionError,
)
from wxstream.kafka import (
    IsolationLevel,
    TopicSpec,
    consumer_config,
    ensure_topics,
    list_topics,
    make_consumer,
    make_producer,
    producer_config,
    read_topic,
    translate_kafka_error,
)
from wxstream.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def _consume(consumer: Consumer, count: int, timeout_s: float = 30.0) -> list[tuple[str, str]]:
    """Poll until ``count`` messages arrived (or the deadline); (key, value) pairs."""
    received: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout_s
    while len(received) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is None or message.error() is not None:
            continue
        key, value = message.key(), message.value()
        assert key is not None
        assert value is not None
        received.append((key.decode(), value.decode()))
    return received


def test_produce_consume_round_trip(kafka_settings: KafkaSettings) -> None:
    topic = kafka_settings.features_topic
    sent = [(f"station-{i % 3}", f"value-{i}") for i in range(30)]
    producer = make_producer(kafka_settings)
    for key, value in sent:
        producer.produce(topic, key=key.encode(), value=value.encode())
    assert producer.flush(15.0) == 0

    consumer = make_consumer(kafka_settings, f"group-{uuid.uuid4().hex}")
    consumer.subscribe([topic])
    try:
        received = _consume(consumer, len(sent))
    finally:
        consumer.close()

    assert sorted(received) == sorted(sent)
    # One key lands on one partition, so each station's values keep their order.
    for station in ("station-0", "station-1", "station-2"):
        expected = [value for key, value in sent if key == station]
        assert [value for key, value in received if key == station] == expected


def test_aborted_transaction_is_invisible_to_read_committed(
    kafka_settings: KafkaSettings, topic_name: str
) -> None:
    ensure_topics(kafka_settings, [TopicSpec(topic_name, 1)])
    producer = make_producer(kafka_settings, transactional_id=f"txn-{topic_name}")
    producer.init_transactions(15.0)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic_name, key=b"k", value=f"committed-{i}".encode())
    producer.commit_transaction(15.0)
    producer.begin_transaction()
    for i in range(5):
        producer.produce(topic_name, key=b"k", value=f"aborted-{i}".encode())
    # Without a flush, abort would drop the records before they reach the log.
    assert producer.flush(15.0) == 0
    producer.abort_transaction(15.0)

    def values(isolation: IsolationLevel) -> list[str]:
        records = read_topic(kafka_settings, topic_name, isolation_level=isolation)
        return [(record.value() or b"").decode() for record in records]

    committed_view = values("read_committed")
    uncommitted_view = values("read_uncommitted")

    assert committed_view == [f"committed-{i}" for i in range(5)]
    # The aborted records are in the log; only the isolation level hides them.
    assert uncommitted_view == committed_view + [f"aborted-{i}" for i in range(5)]


def test_unreachable_broker_is_a_kafka_unavailable_error(unused_port: int) -> None:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{unused_port}", request_timeout_s=1.0)
    with pytest.raises(KafkaUnavailableError) as caught:
        list_topics(settings)
    assert settings.bootstrap_servers in caught.value.message
    assert caught.value.fix is not None
    assert "wxstream kafka start" in caught.value.fix


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (ConfluentKafkaError._TRANSPORT, KafkaUnavailableError),
        (ConfluentKafkaError._ALL_BROKERS_DOWN, KafkaUnavailableError),
        (ConfluentKafkaError.UNKNOWN_TOPIC_OR_PART, TopicMissingError),
        (ConfluentKafkaError._FENCED, TransactionError),
        (ConfluentKafkaError.INVALID_CONFIG, KafkaError),
    ],
)
def test_translate_kafka_error_picks_the_error_class(code: int, expected: type) -> None:
    translated = translate_kafka_error(ConfluentKafkaError(code), "127.0.0.1:1")
    assert type(translated) is expected


def test_txn_requires_abort_is_a_transaction_error() -> None:
    error = ConfluentKafkaError(ConfluentKafkaError._STATE, txn_requires_abort=True)
    assert isinstance(translate_kafka_error(error, "127.0.0.1:1"), TransactionError)


def test_config_overrides_use_dotted_names_and_keep_callbacks() -> None:
    settings = KafkaSettings(bootstrap_servers="127.0.0.1:1")

    def on_delivery(*_: object) -> None:
        return None

    producer = producer_config(settings, transactional_id="tx-1", on_delivery=on_delivery)
    consumer = consumer_config(settings, "g", auto_offset_reset="latest")

    assert producer["transactional.id"] == "tx-1"
    assert producer["on_delivery"] is on_delivery
    assert producer["enable.idempotence"] is True
    assert consumer["group.id"] == "g"
    assert consumer["auto.offset.reset"] == "latest"
    assert consumer["isolation.level"] == "read_committed"
    assert consumer["enable.auto.commit"] is False
