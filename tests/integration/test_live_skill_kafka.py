"""Live skill on a real broker: the verification records the service writes in its
transactions equal an offline computation over the same forecasts and observations
(counts exact, MAE and pinball to 1e-6), also across a restart, each pair once."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from tests.support.serve_support import (
    ReversingForecaster,
    august_rows,
    fake_service,
    produce,
    serve_settings,
)
from wxstream.kafka import read_topics
from wxstream.messages import (
    FeatureMessage,
    PredictionMessage,
    SkillRecord,
    decode_feature,
    decode_prediction,
    encode_frame,
)
from wxstream.messages.verification import decode_verification
from wxstream.models.model_loader import load_model
from wxstream.rollout import SkillTable, forecasts_of, offline_skill
from wxstream.rollout.live import record_key
from wxstream.settings import KafkaSettings, ServeSettings
from wxstream.streaming import InferenceService
from wxstream.streaming.served_versions import VersionDirs
from wxstream.streaming.skill_setup import live_skill_for

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def skilled_service(settings: ServeSettings, model_dir: Path) -> InferenceService:
    """The real loop, consumer and transactional delivery, a fake forecaster, and live
    skill wired as ``serve --live-skill`` wires it."""
    model = load_model(model_dir, device="cpu")
    service = fake_service(settings, model, ReversingForecaster(model))
    service.skill = live_skill_for(
        settings,
        VersionDirs(model.name, model_dir, None),
        model.leads_h,
        metrics=service.metrics,
        source=service.source,
        assembler=service.assembler,
    )
    return service


def read_back(kafka: KafkaSettings) -> tuple[list[SkillRecord], pd.DataFrame, pd.DataFrame]:
    """Verification records, forecasts and observations as the topics hold them."""
    topics = [kafka.verification_topic, kafka.predictions_topic, kafka.features_topic]
    read = read_topics(kafka, topics, timeout_s=60)
    assert read.complete
    verified: list[SkillRecord] = []
    leads = []
    observed = []
    for record in read.records:
        topic, value = record.topic(), record.value()
        if topic == kafka.verification_topic:
            paired = decode_verification(value)
            assert isinstance(paired, SkillRecord)
            verified.append(paired)
        elif topic == kafka.predictions_topic:
            prediction = decode_prediction(value)
            assert isinstance(prediction, PredictionMessage)
            leads.extend(forecasts_of(prediction))
        else:
            feature = decode_feature(value)
            if isinstance(feature, FeatureMessage):
                observed.append((feature.station_id, feature.window_end, feature.avg_temperature))
    columns = ("station_id", "issued_at", "lead_h", "p10_c", "p50_c", "p90_c")
    forecasts = pd.DataFrame(
        [{c: getattr(f, c) for c in (*columns, "model_name", "model_version")} for f in leads]
    )
    forecasts["issued_at"] = pd.to_datetime(forecasts["issued_at"], utc=True)
    observations = pd.DataFrame(observed, columns=["station_id", "hour", "temperature_c"])
    observations["hour"] = pd.to_datetime(observations["hour"], utc=True)
    return verified, forecasts, observations


def test_live_skill_equals_offline_across_a_restart(
    kafka_settings: KafkaSettings, serve_model_dir: Path, nyc_features: pd.DataFrame
) -> None:
    records = encode_frame(august_rows(nyc_features))
    produce(kafka_settings, records)
    half = len(records) // 2
    settings = serve_settings(
        kafka_settings, serve_model_dir, live_skill=True, max_messages=half, batch_size=32
    )
    first = skilled_service(settings, serve_model_dir)
    assert first.run() == "max_messages"
    # Restarted: the same group and topics, a fresh process state.
    rest = replace(settings, max_messages=len(records) - half)
    second = skilled_service(rest, serve_model_dir)
    assert second.run() == "max_messages"
    assert second.skill is not None
    assert second.skill.rebuilds >= 1

    verified, forecasts, observations = read_back(kafka_settings)
    keys = Counter(record_key(r) for r in verified)
    assert max(keys.values()) == 1, "a pair was published twice"
    live = SkillTable()
    live.add_all(verified)
    figures, offline = live.figures(), offline_skill(forecasts, observations)
    assert list(figures) == list(offline)
    assert sum(c.count for c in offline.values()) > 1000
    for key, cell in offline.items():
        assert figures[key].count == cell.count
        assert figures[key].mae_c == pytest.approx(cell.mae_c, abs=1e-6, rel=0)
        assert figures[key].pinball_c == pytest.approx(cell.pinball_c, abs=1e-6, rel=0)
        assert figures[key].coverage == pytest.approx(cell.coverage, abs=1e-12, rel=0)
    # The restarted service's table, rebuilt from the first run's records and added
    # to since, holds the same figures (summed in another order: equal to rounding).
    rebuilt = second.skill.live.table.figures()
    assert list(rebuilt) == list(figures)
    for key, cell in figures.items():
        assert rebuilt[key].count == cell.count
        assert rebuilt[key].mae_c == pytest.approx(cell.mae_c, abs=1e-9, rel=0)
