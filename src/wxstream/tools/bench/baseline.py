"""The one-message-at-a-time consumer the benchmark compares the service against.

It is the loop the original design describes, kept faithful on purpose: poll one
record, decode it, update the station's window, and when the window is full call
``ray.get(actor.predict.remote(x))`` for that single window, produce the forecast,
wait for its delivery, and commit the record's offset synchronously before polling
the next one (at-least-once). Same model, same actor class, same codecs as the
service, so the difference measured is the batching and pipelining alone.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wxstream.errors import KafkaError
from wxstream.kafka.clients import kafka_errors, make_consumer, make_producer
from wxstream.messages import FeatureMessage, decode_feature
from wxstream.messages.predictions import ForecastInput, PredictionEncoder
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.windows import StationWindow, WindowEntry, feed

logger = logging.getLogger(__name__)

_POLL_S = 1.0


@dataclass(frozen=True)
class BaselineResult:
    """What the baseline processed and how fast.

    Attributes:
        messages: input records consumed and committed.
        forecasts: forecasts produced (records that completed a full window).
        first_forecast_s: monotonic time of the first forecast's delivery.
        last_forecast_s: monotonic time of the last forecast's delivery.
        elapsed_s: from the first record polled to the last commit.
    """

    messages: int
    forecasts: int
    first_forecast_s: float
    last_forecast_s: float
    elapsed_s: float

    @property
    def forecasts_per_s(self) -> float:
        """Sustained rate between the first and the last forecast."""
        span = self.last_forecast_s - self.first_forecast_s
        return (self.forecasts - 1) / span if self.forecasts > 1 and span > 0 else 0.0


def run_baseline(
    kafka: KafkaSettings,
    model_dir: Path,
    actor: Any,
    *,
    group_id: str,
    max_messages: int,
    idle_timeout_s: float = 10.0,
) -> BaselineResult:
    """Consume up to ``max_messages`` features one at a time and forecast each full window.

    Args:
        kafka: reads ``features_topic``, writes ``predictions_topic``.
        model_dir: the model the actor holds (its adapter and encoder run here).
        actor: a Ray ``InferenceActor`` handle.
        group_id: the baseline's consumer group (starts at the earliest offset).
        max_messages: stop after this many records.
        idle_timeout_s: stop when no record arrives for this long.
    """
    import ray

    from wxstream.models.model_loader import load_model

    model = load_model(model_dir, "cpu")
    encoder = PredictionEncoder(model)
    windows: dict[str, StationWindow] = {}
    consumer = make_consumer(kafka, group_id)
    producer = make_producer(kafka, linger_ms=0)
    messages = forecasts = 0
    first = last = 0.0
    began: float | None = None
    idle_since = time.monotonic()
    try:
        with kafka_errors(kafka.bootstrap_servers, "running the baseline consumer"):
            consumer.subscribe([kafka.features_topic])
            while messages < max_messages:
                record = consumer.poll(_POLL_S)
                if record is None:
                    if time.monotonic() - idle_since > idle_timeout_s:
                        break
                    continue
                idle_since = time.monotonic()
                if record.error() is not None:
                    logger.warning("baseline: %s", record.error())
                    continue
                if began is None:
                    began = time.monotonic()
                decoded = decode_feature(record.value())
                if isinstance(decoded, FeatureMessage):
                    row = model.adapter.to_inputs([decoded])[0]
                    entry = WindowEntry(decoded.window_start, row)
                    event = feed(windows, decoded.station_id, entry, model.lookback)
                    if event.window is not None:
                        x = event.window.to_array()[None]
                        quantiles = ray.get(actor.predict.remote(x))
                        source = ForecastInput(
                            decoded.station_id,
                            decoded.window_end,
                            event.window.starts[0],
                            event.window.starts[-1],
                        )
                        (value,) = encoder.encode([source], quantiles, datetime.now(UTC))
                        producer.produce(kafka.predictions_topic, value, record.key())
                        if producer.flush(30.0):
                            raise KafkaError("the baseline could not deliver a forecast in 30 s")
                        forecasts += 1
                        last = time.monotonic()
                        if forecasts == 1:
                            first = last
                consumer.commit(message=record, asynchronous=False)
                messages += 1
    finally:
        consumer.close()
    elapsed = time.monotonic() - began if began is not None else 0.0
    return BaselineResult(messages, forecasts, first, last, elapsed)
