"""Kafka: the embedded local broker, topic administration, offsets, client
configuration and reading topics back.

- :mod:`wxstream.kafka.jars`: fetching the Apache Kafka jars with Maven, finding java.
- :mod:`wxstream.kafka.broker`: :class:`LocalBroker`, the single-node KRaft broker
  behind ``wxstream kafka start|stop|status``.
- :mod:`wxstream.kafka.admin`: creating and checking topics, consumer group membership.
- :mod:`wxstream.kafka.offsets`: end offsets, a group's committed offsets and its lag.
- :mod:`wxstream.kafka.clients`: producer/consumer/admin configuration and the
  translation of confluent-kafka errors into the wxstream error tree.
- :mod:`wxstream.kafka.consumer`: consume / poll / pause calls with errors translated.
- :mod:`wxstream.kafka.topic_reader`: reading a topic from the beginning to its end.
"""

from __future__ import annotations

from wxstream.kafka.acls import grant, service_acls
from wxstream.kafka.admin import (
    DLQ_PARTITIONS,
    TopicOutcome,
    TopicReplication,
    TopicSpec,
    ensure_topics,
    group_has_assignment,
    list_topics,
    pipeline_topics,
    probe_broker,
    require_topics,
    topic_exists,
    topic_partitions,
    topic_replication,
    wait_for_broker,
)
from wxstream.kafka.broker import BrokerInfo, BrokerStatus, LocalBroker
from wxstream.kafka.broker_security import SERVICE_USER
from wxstream.kafka.clients import (
    CREATE_TOPICS_FIX,
    START_BROKER_FIX,
    admin_config,
    consumer_config,
    kafka_errors,
    make_admin,
    make_consumer,
    make_producer,
    producer_config,
    translate_kafka_error,
)
from wxstream.kafka.cluster import LocalCluster, is_cluster_dir
from wxstream.kafka.consumer import consume_records, poll_only, set_paused
from wxstream.kafka.jars import FetchResult, fetch_jars, jars_ready, libs_dir, require_jars
from wxstream.kafka.offsets import GroupOffsets, committed_offsets, consumer_lag, end_offsets
from wxstream.kafka.process import free_port
from wxstream.kafka.topic_reader import (
    IsolationLevel,
    Snapshot,
    TopicRead,
    read_snapshot,
    read_topic,
    read_topics,
)

__all__ = [
    "CREATE_TOPICS_FIX",
    "DLQ_PARTITIONS",
    "SERVICE_USER",
    "START_BROKER_FIX",
    "BrokerInfo",
    "BrokerStatus",
    "FetchResult",
    "GroupOffsets",
    "IsolationLevel",
    "LocalBroker",
    "LocalCluster",
    "Snapshot",
    "TopicOutcome",
    "TopicRead",
    "TopicReplication",
    "TopicSpec",
    "admin_config",
    "committed_offsets",
    "consume_records",
    "consumer_config",
    "consumer_lag",
    "end_offsets",
    "ensure_topics",
    "fetch_jars",
    "free_port",
    "grant",
    "group_has_assignment",
    "is_cluster_dir",
    "jars_ready",
    "kafka_errors",
    "libs_dir",
    "list_topics",
    "make_admin",
    "make_consumer",
    "make_producer",
    "pipeline_topics",
    "poll_only",
    "probe_broker",
    "producer_config",
    "read_snapshot",
    "read_topic",
    "read_topics",
    "require_jars",
    "require_topics",
    "service_acls",
    "set_paused",
    "topic_exists",
    "topic_partitions",
    "topic_replication",
    "translate_kafka_error",
    "wait_for_broker",
]
