"""The demo's interval part: the p10-p90 coverage of this run's forecasts per lead, as
served (recalibrated online) and as the model made them (the interval before the online
scales, recovered from each prediction's ``interval_scale``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace

from wxstream.messages import FeatureMessage, decode_feature
from wxstream.messages.features import InvalidRecord
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.ops.verification import VerifiedPair, Verifier
from wxstream.settings import KafkaSettings


def model_interval(message: PredictionMessage) -> PredictionMessage:
    """``message`` with the interval the model made (before the online scales)."""
    if message.interval_scale is None:
        return message
    lower, upper = message.interval_scale
    p50 = message.temperature_c
    return replace(
        message,
        temperature_p10_c=tuple(
            m - (m - lo) / s for m, lo, s in zip(p50, message.temperature_p10_c, lower, strict=True)
        ),
        temperature_p90_c=tuple(
            m + (hi - m) / s for m, hi, s in zip(p50, message.temperature_p90_c, upper, strict=True)
        ),
        interval_scale=None,
    )


@dataclass(frozen=True)
class IntervalCoverage:
    """Per lead the share of observations inside p10-p90, and the pairs counted.

    Attributes:
        served: the interval served (online-calibrated where the service did).
        model: the model's own interval (the same where nothing was recalibrated).
        recalibrated: forecasts that carried online scales.
    """

    served: dict[int, float]
    model: dict[int, float]
    recalibrated: int


def interval_coverage(
    predictions: Iterable[PredictionMessage],
    features: Iterable[FeatureMessage],
    excluded: Callable[[VerifiedPair], bool] | None = None,
) -> IntervalCoverage:
    """Coverage of both intervals against the observations (pairs ``excluded`` left out)."""
    served, model = Verifier(excluded=excluded), Verifier(excluded=excluded)
    recalibrated = 0
    for message in predictions:
        recalibrated += message.interval_scale is not None
        served.add_forecast(message)
        model.add_forecast(model_interval(message))
    for feature in features:
        served.add_feature(feature)
        model.add_feature(feature)

    def by_lead(verifier: Verifier) -> dict[int, float]:
        return {lead: score.coverage for lead, score in sorted(verifier.scores.items())}

    return IntervalCoverage(by_lead(served), by_lead(model), recalibrated)


def run_interval_coverage(
    kafka: KafkaSettings,
    starts: Mapping[str, Mapping[int, int]],
    timeout_s: float,
    excluded: Callable[[VerifiedPair], bool] | None = None,
) -> IntervalCoverage:
    """:func:`interval_coverage` of this run's records: those at or after ``starts``
    (topic -> partition -> offset) of the predictions and features topics."""
    from wxstream.kafka.topic_reader import read_topics

    topics = [kafka.predictions_topic, kafka.features_topic]
    read = read_topics(kafka, topics, timeout_s=timeout_s)
    predictions: list[PredictionMessage] = []
    features: list[FeatureMessage] = []
    for record in read.records:
        topic = str(record.topic())
        if (record.offset() or 0) < starts.get(topic, {}).get(record.partition() or 0, 0):
            continue
        if topic == kafka.predictions_topic:
            message = decode_prediction(record.value())
            if not isinstance(message, InvalidRecord):
                predictions.append(message)
        else:
            feature = decode_feature(record.value())
            if not isinstance(feature, InvalidRecord):
                features.append(feature)
    return interval_coverage(predictions, features, excluded)
