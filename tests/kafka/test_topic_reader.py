"""Reading topics back to their end against the real local broker."""

from __future__ import annotations

import threading
import time

import pytest

from wxstream.errors import KafkaError
from wxstream.kafka import make_producer, read_topic, read_topics
from wxstream.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def _produce(settings: KafkaSettings, topic: str, values: list[bytes], partition: int) -> None:
    producer = make_producer(settings)
    for value in values:
        producer.produce(topic, value=value, key=b"k", partition=partition)
    assert producer.flush(15.0) == 0


def test_every_record_is_read_and_empty_partitions_end_at_once(
    kafka_settings: KafkaSettings,
) -> None:
    topic = kafka_settings.features_topic  # 4 partitions; 1 and 3 stay empty
    _produce(kafka_settings, topic, [f"a{i}".encode() for i in range(7)], 0)
    _produce(kafka_settings, topic, [f"b{i}".encode() for i in range(5)], 2)

    began = time.monotonic()
    records = read_topic(kafka_settings, topic, timeout_s=60.0)

    assert time.monotonic() - began < 30.0
    assert [r.value() for r in records if r.partition() == 0] == [
        f"a{i}".encode() for i in range(7)
    ]
    assert [r.value() for r in records if r.partition() == 2] == [
        f"b{i}".encode() for i in range(5)
    ]
    assert len(records) == 12


def test_expected_waits_for_records_written_after_the_read_began(
    kafka_settings: KafkaSettings,
) -> None:
    topic = kafka_settings.features_topic
    _produce(kafka_settings, topic, [b"early"], 1)
    read_started = threading.Event()

    def later() -> None:
        read_started.wait(30.0)
        time.sleep(1.0)  # after the reader reached the end of what exists now
        _produce(kafka_settings, topic, [b"late-1", b"late-2"], 3)

    writer = threading.Thread(target=later)
    writer.start()
    read_started.set()
    read = read_topics(kafka_settings, [topic], expected=3, timeout_s=60.0)
    writer.join(30.0)

    assert read.complete
    assert sorted(r.value() or b"" for r in read.records) == [b"early", b"late-1", b"late-2"]


def test_limit_stops_early_and_says_the_read_is_incomplete(kafka_settings: KafkaSettings) -> None:
    topic = kafka_settings.features_topic
    _produce(kafka_settings, topic, [f"v{i}".encode() for i in range(20)], 0)

    read = read_topics(kafka_settings, [topic], limit=5, timeout_s=60.0)

    assert len(read.records) == 5
    assert not read.complete


def test_an_end_not_reached_in_time_is_a_kafka_error(kafka_settings: KafkaSettings) -> None:
    topic = kafka_settings.features_topic
    _produce(kafka_settings, topic, [b"only"], 0)

    with pytest.raises(KafkaError) as caught:
        read_topic(kafka_settings, topic, expected=2, timeout_s=2.0)

    assert "1 record(s) read, 2 expected" in caught.value.message
    assert caught.value.fix is not None
