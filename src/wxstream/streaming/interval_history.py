"""The online interval calibration's history read back from Kafka
(:class:`KafkaIntervalHistory`): the features topic and ``weather-predictions``, each
from its beginning (what the topics retain) to its end, committed records only.

A rebuild reads both topics whole: it costs what the topics hold (seconds for the two
months of the demo replay), and only on an assignment or a rewind. The partitions of one
assignment share one read: it is kept while neither topic's end has moved, until the
first batch after the rebuild lets it go (:meth:`KafkaIntervalHistory.forget`).
"""

from __future__ import annotations

import time

from confluent_kafka import Message

from wxstream.kafka.offsets import end_offsets
from wxstream.kafka.topic_reader import read_topic
from wxstream.settings import KafkaSettings, ServeSettings
from wxstream.streaming.served_intervals import (
    IntervalHistory,
    NoHistory,
    PartitionHistory,
    partition_history,
)

READ_TIMEOUT_S = 120.0
Ends = tuple[tuple[tuple[int, int], ...], ...]


class KafkaIntervalHistory:
    """Reads a partition's history from the service's topics.

    Args:
        settings: brokers and topic names.
        max_ahead_h: the service's ``max_ahead_h`` (records are decoded as it decodes).
    """

    def __init__(self, settings: KafkaSettings, max_ahead_h: float) -> None:
        self.settings = settings
        self.max_ahead_ms = int(max_ahead_h * 3_600_000)
        self._read: tuple[Ends, list[Message], list[Message]] | None = None
        self.reads = 0
        """Times the topics were read (not counting reuses)."""

    def _records(self) -> tuple[list[Message], list[Message]]:
        settings = self.settings
        topics = (settings.features_topic, settings.predictions_topic)
        ends = tuple(tuple(sorted(end_offsets(settings, topic).items())) for topic in topics)
        if self._read is not None and self._read[0] == ends:
            return self._read[1], self._read[2]
        features, predictions = (
            read_topic(settings, topic, timeout_s=READ_TIMEOUT_S) for topic in topics
        )
        self._read = (ends, features, predictions)
        self.reads += 1
        return features, predictions

    def forget(self) -> None:
        self._read = None

    def read(self, partition: int, mark: int) -> PartitionHistory:
        features, predictions = self._records()
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
