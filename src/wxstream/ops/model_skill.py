"""Live skill of a model's versions read from a pipeline's topics.

:func:`read_model_skill` reads ``weather-predictions``, ``weather-predictions.shadow``
and ``weather-features`` from the beginning to their ends (committed records only),
keeps the forecasts of one model name and pairs each forecast lead with the
observation that arrived later (:func:`wxstream.rollout.replayed.replay_join`): the
skill table per version and lead, and the records for ``weather-verification``.
:func:`publish_skill` writes those records to the verification topic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from wxstream.errors import KafkaError
from wxstream.kafka.admin import TopicSpec, ensure_topics
from wxstream.kafka.clients import make_producer
from wxstream.kafka.topic_reader import read_topics
from wxstream.messages import (
    FeatureMessage,
    PredictionMessage,
    SkillRecord,
    decode_feature,
    decode_prediction,
    encode_verification,
)
from wxstream.rollout.replayed import ReplayedSkill, replay_join
from wxstream.rollout.skill import Forecast, Observation, forecasts_of, observation_of
from wxstream.settings import ModelSkillSettings


@dataclass
class ModelSkillRead:
    """What :func:`read_model_skill` found.

    Attributes:
        skill: the paired records, the table, evicted and pending counts.
        forecasts: forecast messages of the model read (both topics).
        observations: feature records read.
        skipped: records that did not decode (the service never writes them; counted,
            not fatal).
        complete: every partition was read to its end before the timeout.
    """

    skill: ReplayedSkill
    forecasts: int
    observations: int
    skipped: int
    complete: bool


def read_model_skill(settings: ModelSkillSettings) -> ModelSkillRead:
    """Read the three topics and pair the forecasts of ``settings.model_name``.

    Raises:
        TopicMissingError: a topic does not exist.
        KafkaUnavailableError: Kafka does not answer.
    """
    kafka = settings.kafka
    forecast_topics = {kafka.predictions_topic, kafka.shadow_topic}
    read = read_topics(
        kafka,
        [kafka.predictions_topic, kafka.shadow_topic, kafka.features_topic],
        timeout_s=settings.timeout_s,
    )
    forecasts: list[Forecast] = []
    observations: list[Observation] = []
    messages = skipped = 0
    max_lead_h = 1
    for record in read.records:
        topic = str(record.topic())
        value = record.value()
        if topic in forecast_topics:
            message = decode_prediction(value)
            if not isinstance(message, PredictionMessage):
                skipped += 1
            elif message.model_name == settings.model_name:
                messages += 1
                forecasts.extend(forecasts_of(message))
                max_lead_h = max(max_lead_h, *message.leads_h)
        else:
            feature = decode_feature(value)
            if isinstance(feature, FeatureMessage):
                observations.append(observation_of(feature))
            else:
                skipped += 1  # the service sends these to the dead-letter topic
    skill = replay_join(forecasts, observations, max_lead_h=max_lead_h, slack_h=settings.slack_h)
    return ModelSkillRead(skill, messages, len(observations), skipped, read.complete)


def publish_skill(settings: ModelSkillSettings, records: Sequence[SkillRecord]) -> int:
    """Write ``records`` to the verification topic (key = station id); returns how many.

    Raises:
        KafkaError: records were still undelivered after the request timeout.
    """
    kafka = settings.kafka
    topic = settings.verification_topic
    # Keyed by station like the other pipeline topics, so it gets their partitions.
    spec = TopicSpec(topic, kafka.partitions, kafka.replication_factor, kafka.min_insync_replicas)
    ensure_topics(kafka, [spec])
    producer = make_producer(kafka)
    for record in records:
        producer.produce(topic, encode_verification(record), record.station_id.encode())
        producer.poll(0)
    left = producer.flush(max(settings.timeout_s, kafka.request_timeout_s))
    if left:
        raise KafkaError(
            f"{left} verification record(s) to {topic} were not delivered",
            fix="check that the broker answers (wxstream kafka status) and run again",
        )
    return len(records)
