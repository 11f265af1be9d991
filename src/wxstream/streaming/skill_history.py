"""The live skill's history read back from Kafka (:class:`~wxstream.rollout.live.SkillHistory`):
committed verification records, committed forecasts (main and shadow topics) and the
observations of the input topic, of the stations of the assigned partitions.

Every topic is read from its beginning to its end, ``read_committed``: simple and exact
(the join forgets what is older than its horizon as it goes), at the price of a start-up
read that grows with the topics. It is not bounded by timestamp
(``offsets_for_times``), because no bound Kafka can seek to is exact here:

- the table is the sum of *every* committed verification record, so that topic is read
  whole whatever the bound (a compacted topic of per-version sums would be the way to
  shorten it);
- the join's horizon is in *data* time (``horizon_h`` hours behind each station's newest
  observation), while the record timestamps are produce times (nothing sets them from
  ``window_end``): after a stop, or in a replay, the forecasts still waiting for their
  observations may have been produced any wall-clock time ago, and a read of the last
  ``horizon + slack`` hours of produce time would drop them, so the rebuilt skill would
  no longer equal an offline computation over the topics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from confluent_kafka import Message

from wxstream.errors import KafkaError
from wxstream.kafka.topic_reader import read_topics
from wxstream.rollout.live import SkillHistory, history_of_values
from wxstream.settings import KafkaSettings


def read_skill_history(
    kafka: KafkaSettings,
    positions: Mapping[int, int],
    *,
    shadow: bool,
    timeout_s: float = 120.0,
) -> SkillHistory:
    """What the topics hold for the stations of the assigned partitions.

    Args:
        kafka: brokers and topic names.
        positions: the committed positions (partition -> next offset) of the input
            topic's partitions assigned to this instance: observations are read below
            them.
        shadow: read the shadow topic too (served with a challenger).
        timeout_s: longest time reading.

    Raises:
        KafkaError: the topics were not read to their ends in ``timeout_s``.
        TopicMissingError: a topic does not exist.
    """
    topics = [kafka.features_topic, kafka.verification_topic, kafka.predictions_topic]
    if shadow:
        topics.append(kafka.shadow_topic)
    read = read_topics(kafka, topics, timeout_s=timeout_s)
    if not read.complete:
        raise KafkaError(
            f"reading the live skill's history ({', '.join(topics)}) took longer than "
            f"{timeout_s:.0f} s",
            fix="check that the broker answers (wxstream kafka status), or start without "
            "--live-skill",
        )
    return history_of(read.records, kafka, positions)


def history_of(
    records: Sequence[Message], kafka: KafkaSettings, positions: Mapping[int, int]
) -> SkillHistory:
    """Sort records read back by topic into a :class:`SkillHistory` of the stations of
    the input records below ``positions`` (:func:`~wxstream.rollout.live.history_of_values`)."""
    by_topic: dict[str, list[bytes | None]] = {}
    for record in records:
        topic = str(record.topic())
        if topic == kafka.features_topic and (record.offset() or 0) >= positions.get(
            int(record.partition() or 0), 0
        ):
            continue
        by_topic.setdefault(topic, []).append(record.value())
    return history_of_values(
        by_topic.get(kafka.features_topic, []),
        [*by_topic.get(kafka.predictions_topic, []), *by_topic.get(kafka.shadow_topic, [])],
        by_topic.get(kafka.verification_topic, []),
    )
