"""A live swap on the real broker and a real local Ray: serve runs the champion of a
registry name; once it has committed the first half of 240 August hours, the name's
second version (another small LSTM) is promoted and announced on the control topic;
serve loads and checks it in the background and switches between two transactions.
Read committed: every window has exactly one forecast, the first half's from the old
network and labelled so, the second half's from the new one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from confluent_kafka import Message

from tests.support.registry_support import registry_with_second_version
from tests.support.serve_support import (
    august_rows,
    check_forecasts,
    expected_windows,
    produce,
    read_all,
    serve_settings,
)
from tests.support.waiting import wait_until
from wxstream.kafka.control_topic import publish_alias_state
from wxstream.messages import encode_frame, messages_from_frame
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.models.model_loader import load_model
from wxstream.models.registry import promote, resolve
from wxstream.models.registry.state import alias_state
from wxstream.settings import KafkaSettings
from wxstream.streaming import ServiceMetrics, run_service
from wxstream.streaming.background import Background

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def store(
    serve_model_dir: Path, nyc_features: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    return registry_with_second_version(
        serve_model_dir, nyc_features, tmp_path_factory.mktemp("swap"), seed=21
    )


def split_by_version(predictions: list[Message]) -> dict[str, list[Message]]:
    out: dict[str, list[Message]] = {}
    for record in predictions:
        msg = decode_prediction(record.value())
        assert isinstance(msg, PredictionMessage)
        out.setdefault(msg.model_version, []).append(record)
    return out


def test_a_promote_swaps_the_running_service_with_nothing_lost_or_repeated(
    ray_local: None,
    kafka_settings: KafkaSettings,
    store: tuple[Path, str, str],
    nyc_features: pd.DataFrame,
) -> None:
    name_dir, old, new = store
    forecasting, name = name_dir.parent, name_dir.name
    rows = august_rows(nyc_features)
    hours = sorted(rows["window_start"].unique())
    first_rows = rows.loc[rows["window_start"] < hours[len(hours) // 2]]
    records = encode_frame(rows)
    half = len(first_rows)
    produce(kafka_settings, records[:half])
    settings = serve_settings(kafka_settings, name_dir, idle_exit_s=None)
    metrics = ServiceMetrics()
    service = Background("serve", lambda stop: run_service(settings, stop, metrics=metrics))
    service.start()

    def committed() -> float:
        return metrics.value("wxstream_messages_in_total")

    try:
        wait_until(lambda: committed() >= half, 300, "the first half committed")
        promote(forecasting, name, new, alias="champion", why="swap test", who="test")
        publish_alias_state(kafka_settings, alias_state(forecasting, name, who="test"))
        swaps = {"outcome": "done"}
        wait_until(lambda: metrics.value("wxstream_model_swaps_total", swaps) == 1, 180, "swap")
        produce(kafka_settings, records[half:])
        wait_until(lambda: committed() >= len(records), 300, "every record committed")
    finally:
        summary = service.finish()
    assert summary.model_swaps == 1
    assert summary.messages_in == len(records)

    old_model = load_model(resolve(forecasting, f"{name}@{old}"), device="cpu")
    new_model = load_model(resolve(forecasting, f"{name}@{new}"), device="cpu")
    everything = expected_windows(messages_from_frame(rows), old_model.lookback)
    before = expected_windows(messages_from_frame(first_rows), old_model.lookback)
    after = {key: window for key, window in everything.items() if key not in before}
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(everything))
    assert len(predictions) == len(everything) == summary.forecasts_out
    by_version = split_by_version(predictions)
    assert set(by_version) == {old, new}
    # Each half once, by the network its label names.
    check_forecasts(by_version[old], before, old_model)
    check_forecasts(by_version[new], after, new_model)
    labels = {"name": name, "role": "champion", "version": new}
    assert metrics.value("wxstream_served_model_version", labels) == 1
