"""The online interval calibration's history read back from Kafka
(:class:`KafkaIntervalHistory`): the features topic and ``weather-predictions``, each
from its beginning (what the topics retain) to its end, committed records only.

A rebuild reads both topics whole, once per restored partition: it costs what the topics
hold (seconds for the two months of the demo replay), and only on an assignment or a
rewind.
"""

from __future__ import annotations

import time

from wxstream.kafka.topic_reader import read_topic
from wxstream.settings import KafkaSettings, ServeSettings
from wxstream.streaming.served_intervals import (
    IntervalHistory,
    NoHistory,
    PartitionHistory,
    partition_history,
)

READ_TIMEOUT_S = 120.0


class KafkaIntervalHistory:
    """Reads a partition's history from the service's topics.

    Args:
        settings: brokers and topic names.
        max_ahead_h: the service's ``max_ahead_h`` (records are decoded as it decodes).
    """

    def __init__(self, settings: KafkaSettings, max_ahead_h: float) -> None:
        self.settings = settings
        self.max_ahead_ms = int(max_ahead_h * 3_600_000)

    def read(self, partition: int, mark: int) -> PartitionHistory:
        settings = self.settings
        features = read_topic(settings, settings.features_topic, timeout_s=READ_TIMEOUT_S)
        predictions = read_topic(settings, settings.predictions_topic, timeout_s=READ_TIMEOUT_S)
        return partition_history(
            partition,
            mark,
            features,
            (record.value() for record in predictions),
            now_ms=int(time.time() * 1000),
            max_ahead_ms=self.max_ahead_ms,
        )


def interval_history_for(settings: ServeSettings) -> IntervalHistory:
    """The history the service rebuilds from: the topics, or none where the settings
    restore no windows either (a fresh group that starts at the end of a reused topic
    starts its calibration afresh too)."""
    if settings.restore_margin_h is None and settings.restore_rewind_messages == 0:
        return NoHistory()
    return KafkaIntervalHistory(settings.kafka, settings.max_ahead_h)
