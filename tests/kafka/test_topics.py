"""Topic administration against the real local broker: creation, checks, offsets, lag."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner
from confluent_kafka import TopicPartition

from wxstream.commands.topics_cmd import topics
from wxstream.errors import ConfigError, KafkaError, TopicMissingError
from wxstream.kafka import (
    GroupOffsets,
    TopicSpec,
    committed_offsets,
    consumer_lag,
    end_offsets,
    ensure_topics,
    make_consumer,
    make_producer,
    require_topics,
    topic_exists,
    topic_replication,
)
from wxstream.settings import KafkaSettings

pytestmark = pytest.mark.kafka


def test_pipeline_topics_exist_with_their_partition_counts(kafka_settings: KafkaSettings) -> None:
    found = require_topics(
        kafka_settings,
        [
            kafka_settings.features_topic,
            kafka_settings.predictions_topic,
            kafka_settings.dlq_topic,
            kafka_settings.anomalies_topic,
            kafka_settings.shadow_topic,
            kafka_settings.verification_topic,
        ],
    )
    assert found == {
        kafka_settings.features_topic: 4,
        kafka_settings.predictions_topic: 4,
        kafka_settings.dlq_topic: 1,
        kafka_settings.anomalies_topic: 4,
        kafka_settings.shadow_topic: 4,
        kafka_settings.verification_topic: 4,
    }


def test_ensure_topics_twice_is_harmless(kafka_settings: KafkaSettings) -> None:
    again = ensure_topics(kafka_settings)
    assert [outcome.created for outcome in again] == [False] * 7
    # The last is the control topic: one partition, every alias move in one order.
    assert [outcome.partitions for outcome in again] == [4, 4, 1, 4, 4, 4, 1]


def test_missing_topic_names_the_topic_and_the_fix(
    kafka_settings: KafkaSettings, topic_name: str
) -> None:
    assert not topic_exists(kafka_settings, topic_name)
    with pytest.raises(TopicMissingError) as caught:
        require_topics(kafka_settings, [kafka_settings.features_topic, topic_name])
    assert topic_name in caught.value.message
    assert kafka_settings.features_topic not in caught.value.message
    assert caught.value.fix == "run `wxstream topics create`"


def test_topics_create_command_twice(kafka_settings: KafkaSettings) -> None:
    suffix = uuid.uuid4().hex[:8]
    args = [
        "create",
        "--bootstrap-servers",
        kafka_settings.bootstrap_servers,
        "--partitions",
        "3",
        "--features-topic",
        f"f-{suffix}",
        "--predictions-topic",
        f"p-{suffix}",
        "--dlq-topic",
        f"f-{suffix}.dlq",
        "--anomalies-topic",
        f"a-{suffix}",
        "--replication-factor",
        "1",
        "--min-insync-replicas",
        "1",
    ]
    runner = CliRunner()
    first = runner.invoke(topics, args)
    second = runner.invoke(topics, args)

    assert first.exit_code == 0, first.output
    assert (
        f"created f-{suffix} (3 partitions, replication factor 1, min.insync.replicas 1)"
        in first.output
    )
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert f"exists  p-{suffix} (3 partitions," in second.output
    names = [f"f-{suffix}", f"p-{suffix}", f"f-{suffix}.dlq", f"a-{suffix}"]
    assert require_topics(kafka_settings, names) == {
        f"f-{suffix}": 3,
        f"p-{suffix}": 3,
        f"f-{suffix}.dlq": 1,
        f"a-{suffix}": 3,
    }


def test_end_offsets_committed_offsets_and_lag(kafka_settings: KafkaSettings) -> None:
    topic = kafka_settings.features_topic
    producer = make_producer(kafka_settings)
    for i in range(10):
        producer.produce(topic, value=f"m{i}".encode(), partition=0)
    for i in range(3):
        producer.produce(topic, value=f"n{i}".encode(), partition=2)
    assert producer.flush(15.0) == 0
    group = f"group-{uuid.uuid4().hex}"
    consumer = make_consumer(kafka_settings, group)
    consumer.commit(offsets=[TopicPartition(topic, 0, 6)], asynchronous=False)
    consumer.close()

    assert end_offsets(kafka_settings, topic) == {0: 10, 1: 0, 2: 3, 3: 0}
    assert committed_offsets(kafka_settings, group, topic) == {0: 6, 1: None, 2: None, 3: None}
    assert consumer_lag(kafka_settings, group, topic) == {0: 4, 1: 0, 2: 3, 3: 0}


def test_topics_get_the_cluster_default_replication_and_report_it(
    kafka_settings: KafkaSettings,
) -> None:
    ensure_topics(kafka_settings)
    found = topic_replication(
        kafka_settings, [kafka_settings.features_topic, kafka_settings.dlq_topic, "absent-x"]
    )
    assert set(found) == {kafka_settings.features_topic, kafka_settings.dlq_topic}
    features = found[kafka_settings.features_topic]
    assert (features.replicas, features.in_sync, features.min_insync_replicas) == (1, 1, 1)


def test_more_replicas_than_brokers_is_a_clear_error(kafka_settings: KafkaSettings) -> None:
    spec = TopicSpec(f"rf-{uuid.uuid4().hex[:8]}", 1, replication_factor=3)
    with pytest.raises(KafkaError) as caught:
        ensure_topics(kafka_settings, [spec])
    assert spec.name in caught.value.message
    assert "replication factor" in caught.value.message.lower()


def test_min_insync_replicas_above_the_replication_factor_is_refused() -> None:
    result = CliRunner().invoke(
        topics, ["create", "--replication-factor", "2", "--min-insync-replicas", "3"]
    )
    assert isinstance(result.exception, ConfigError)
    assert "--min-insync-replicas 3" in result.exception.message


def test_group_offsets_follow_the_group_as_it_commits(kafka_settings: KafkaSettings) -> None:
    topic = kafka_settings.features_topic
    producer = make_producer(kafka_settings)
    for i in range(5):
        producer.produce(topic, value=f"m{i}".encode(), partition=1)
    assert producer.flush(15.0) == 0
    group = f"group-{uuid.uuid4().hex}"

    with GroupOffsets(kafka_settings, group, topic) as offsets:
        assert offsets.lag_total() == 5
        member = make_consumer(kafka_settings, group)
        member.commit(offsets=[TopicPartition(topic, 1, 3)], asynchronous=False)
        member.close()
        assert offsets.committed() == {0: None, 1: 3, 2: None, 3: None}
        assert offsets.lag() == {0: 0, 1: 2, 2: 0, 3: 0}
        assert offsets.lag_total() == 2


def test_end_offsets_of_topics_created_a_moment_ago(kafka_settings: KafkaSettings) -> None:
    # Right after creation the broker may answer NOT_LEADER_FOR_PARTITION for a while.
    for committed_only in (True, False, True):
        topic = f"fresh-{uuid.uuid4().hex[:8]}"
        ensure_topics(kafka_settings, [TopicSpec(topic, 4)])
        assert end_offsets(kafka_settings, topic, committed_only=committed_only) == {
            0: 0,
            1: 0,
            2: 0,
            3: 0,
        }
