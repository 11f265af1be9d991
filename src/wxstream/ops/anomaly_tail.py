"""``wxstream tail --anomalies``: the quality stage's findings as they arrive.

Reads the anomalies topic like :class:`~wxstream.ops.tail.Tail` reads forecasts
(``read_committed``, assigned partitions, no group commits), one line per finding or
one JSON object per line; optionally only one station's.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, TopicPartition

from wxstream.kafka.admin import require_topics
from wxstream.kafka.clients import kafka_errors, make_consumer
from wxstream.kafka.consumer import consume_records
from wxstream.messages.anomalies import AnomalyMessage, decode_anomaly
from wxstream.ops.anomalies import ANOMALY_HEADER, anomaly_line_json, format_anomaly
from wxstream.settings import TailSettings

_BATCH = 1000
_POLL_S = 0.2


@dataclass
class AnomalyTailProgress:
    """Counters of a running :class:`AnomalyTail`."""

    findings: int = 0
    shown: int = 0
    invalid: int = 0


class AnomalyTail:
    """Follows ``settings.kafka.anomalies_topic``.

    Args:
        settings: brokers, topic, where to start and when to stop (``max_messages``
            counts the findings shown).
        emit: receives each line of output.
        station: show only this station's findings (``None``: all).
        as_json: one compact JSON object per finding instead of table lines.
    """

    def __init__(
        self,
        settings: TailSettings,
        emit: Callable[[str], None],
        *,
        station: str | None = None,
        as_json: bool = False,
    ) -> None:
        self.settings = settings
        self.emit = emit
        self.station = station
        self.as_json = as_json
        self.progress = AnomalyTailProgress()

    def _handle(self, value: bytes | None) -> None:
        decoded = decode_anomaly(value)
        if not isinstance(decoded, AnomalyMessage):
            self.progress.invalid += 1
            return
        self.progress.findings += 1
        if self.station is not None and decoded.anomaly.station_id != self.station:
            return
        self.progress.shown += 1
        self.emit(anomaly_line_json(decoded) if self.as_json else format_anomaly(decoded))

    def _done(self) -> bool:
        limit = self.settings.max_messages
        return limit is not None and self.progress.shown >= limit

    def run(self, stop: threading.Event | None = None) -> AnomalyTailProgress:
        """Read until ``stop`` is set or a limit of the settings is reached."""
        settings = self.settings
        kafka = settings.kafka
        topic = kafka.anomalies_topic
        partitions = require_topics(kafka, [topic])[topic]
        start = OFFSET_BEGINNING if settings.from_beginning else OFFSET_END
        consumer = make_consumer(
            kafka, f"wxstream-tail-{uuid.uuid4().hex[:12]}", isolation_level="read_committed"
        )
        started = last_message = time.monotonic()
        if not self.as_json:
            self.emit(ANOMALY_HEADER)
        try:
            with kafka_errors(kafka.bootstrap_servers, "tailing anomalies"):
                consumer.assign([TopicPartition(topic, p, start) for p in range(partitions)])
                while not self._done() and (stop is None or not stop.is_set()):
                    messages, _ = consume_records(
                        consumer, _BATCH, _POLL_S, kafka.bootstrap_servers
                    )
                    now = time.monotonic()
                    for message in messages:
                        self._handle(message.value())
                        if self._done():
                            break
                    if messages:
                        last_message = now
                    if settings.timeout_s is not None and now - started >= settings.timeout_s:
                        break
                    if (
                        settings.idle_timeout_s is not None
                        and now - last_message >= settings.idle_timeout_s
                    ):
                        break
        finally:
            consumer.close()
        return self.progress
