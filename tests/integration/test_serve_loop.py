"""The Kafka loop with the actors faked at their interface (the offline model, batches
handed back out of order) on the real broker: release order, aborted transactions."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from confluent_kafka import Producer

from tests.support.serve_support import (
    ReversingForecaster,
    august_rows,
    check_forecasts,
    expected_windows,
    fake_service,
    produce,
    read_all,
    serve_settings,
)
from tests.support.waiting import wait_until
from wxstream.kafka import committed_offsets, end_offsets
from wxstream.kafka.clients import make_consumer, make_producer
from wxstream.messages import encode_frame, messages_from_frame
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.models.model_loader import load_model
from wxstream.settings import KafkaSettings
from wxstream.streaming import (
    InferenceService,
    KafkaRecordSource,
    ServiceMetrics,
    TransactionalDelivery,
)
from wxstream.streaming.core.outgoing import Outgoing

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def feature_rows(nyc_features: pd.DataFrame) -> pd.DataFrame:
    return august_rows(nyc_features)


def test_forecasts_leave_in_input_order_when_batches_finish_out_of_order(
    kafka_settings: KafkaSettings, serve_model_dir: Path, feature_rows: pd.DataFrame
) -> None:
    model = load_model(serve_model_dir, device="cpu")
    records = encode_frame(feature_rows)
    produce(kafka_settings, records)
    settings = serve_settings(
        kafka_settings,
        serve_model_dir,
        batch_size=16,
        max_wait_ms=5,
        max_in_flight_batches=8,
        max_messages=len(records),
    )
    forecaster = ReversingForecaster(model)
    service = fake_service(settings, model, forecaster)

    assert service.run() == "max_messages"

    assert forecaster.reordered > 0
    expected = expected_windows(messages_from_frame(feature_rows), model.lookback)
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    check_forecasts(predictions, expected, model)
    last_issued: dict[str, str] = {}
    for record in predictions:
        msg = decode_prediction(record.value())
        assert isinstance(msg, PredictionMessage)
        issued = msg.issued_at.isoformat()
        assert issued > last_issued.get(msg.station_id, ""), "a forecast overtook an older one"
        last_issued[msg.station_id] = issued
    assert service.metrics.value("wxstream_forecasts_out_total") == len(expected)
    assert service.metrics.value("wxstream_messages_in_total") == len(records)


class AbortingOnce:
    """A transactional delivery whose ``fail_at``-th transaction is aborted for real:
    its forecasts reach the topic inside an aborted transaction (invisible to
    ``read_committed`` readers) and the loop must rewind and redo them."""

    def __init__(self, inner: TransactionalDelivery, producer: Producer, topic: str) -> None:
        self.inner = inner
        self.producer = producer
        self.topic = topic
        self.calls = 0
        self.fail_at = 2
        self.transactions = 0
        self.aborted = 0

    thread_safe = True

    commits_offsets = True

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        self.calls += 1
        if self.calls == self.fail_at:
            self.producer.begin_transaction()
            for batch in batches:
                for key, value in batch.predictions:
                    self.producer.produce(self.topic, value, key)
            self.producer.abort_transaction(30)
            self.aborted += 1
            return False
        ok = self.inner.deliver(batches, positions, group_metadata)
        self.transactions = self.inner.transactions
        return ok

    def close(self) -> None:
        self.inner.close()


def test_an_aborted_transaction_is_redone_from_the_committed_offsets(
    kafka_settings: KafkaSettings, serve_model_dir: Path, feature_rows: pd.DataFrame
) -> None:
    model = load_model(serve_model_dir, device="cpu")
    records = encode_frame(feature_rows)
    produce(kafka_settings, records)
    settings = serve_settings(
        kafka_settings,
        serve_model_dir,
        batch_size=32,
        max_wait_ms=5,
        commit_interval_ms=0,
        # Not max_messages: deliveries coalesce while one runs, so the aborted one may
        # be the last, and the redo must still happen after every record was read.
        idle_exit_s=3.0,
    )
    consumer = make_consumer(kafka_settings, settings.group_id)
    producer = make_producer(kafka_settings, transactional_id=settings.transactional_id)
    delivery = AbortingOnce(
        TransactionalDelivery(producer, consumer, kafka_settings, timeout_s=30),
        producer,
        kafka_settings.predictions_topic,
    )
    service = InferenceService(
        settings,
        model=model,
        forecaster=ReversingForecaster(model),
        source=KafkaRecordSource(consumer, kafka_settings, settings.group_id),
        delivery=delivery,
        metrics=ServiceMetrics(),
    )

    assert service.run() == "idle"

    assert delivery.aborted == 1
    assert service.metrics.value("wxstream_transactions_aborted_total") == 1
    assert service.totals.restored > 0
    expected = expected_windows(messages_from_frame(feature_rows), model.lookback)
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    check_forecasts(predictions, expected, model)
    ends = end_offsets(kafka_settings, kafka_settings.features_topic)
    committed = committed_offsets(kafka_settings, settings.group_id, kafka_settings.features_topic)
    assert committed == {p: (end if end > 0 else None) for p, end in ends.items()}


def test_a_second_instance_joining_mid_stream_leaves_each_forecast_once(
    kafka_settings: KafkaSettings, serve_model_dir: Path, feature_rows: pd.DataFrame
) -> None:
    model = load_model(serve_model_dir, device="cpu")
    records = encode_frame(feature_rows)
    produce(kafka_settings, records)
    first = serve_settings(
        kafka_settings, serve_model_dir, batch_size=16, max_wait_ms=5, idle_exit_s=4.0
    )
    second = replace(first, transactional_id=f"{first.transactional_id}-b", instance_index=1)
    services = [
        fake_service(first, model, ReversingForecaster(model, delay_s=0.15)),
        fake_service(second, model, ReversingForecaster(model, delay_s=0.15)),
    ]
    errors: list[BaseException] = []

    def run(service: InferenceService) -> None:
        try:
            service.run()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in services]
    threads[0].start()
    wait_until(
        lambda: services[0].forecasts_out > 0, 60, "the first instance's forecasts", interval_s=0.05
    )
    # The second instance joins while the first is busy: a rebalance mid-stream.
    threads[1].start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)

    # The first instance gave its partitions up mid-stream (committing what it had
    # read); whoever got them next rebuilt the windows from the committed offsets.
    assert sum(s.totals.restored for s in services) > 0
    assert sum(s.totals.records for s in services) == len(records)
    expected = expected_windows(messages_from_frame(feature_rows), model.lookback)
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    check_forecasts(predictions, expected, model)
    ends = end_offsets(kafka_settings, kafka_settings.features_topic)
    committed = committed_offsets(kafka_settings, first.group_id, kafka_settings.features_topic)
    assert committed == {p: (end if end > 0 else None) for p, end in ends.items()}
