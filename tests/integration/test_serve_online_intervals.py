"""Online interval calibration on the real broker: a service stopped half-way and
started again (its calibration rebuilt from the two topics) serves intervals whose
realised coverage matches ``wxstream evaluate``'s online replay of the same forecasts
and observations (and the same run uninterrupted gives the same figures).

Why near and not equal: the replay learns from every pair observed up to a forecast's
issue hour before calibrating it; the service learns in record order, so a station's
forecast at hour t does not yet know the hour-t observations of the stations whose
records come after it in that hour. The steps of the calibrator add up (until a scale
hits its bound), so that is the whole difference: on these 240 August hours at most
0.15 points per lead, and the same end state."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.serve_support import (
    ReversingForecaster,
    august_rows,
    fake_service,
    produce,
    read_all,
    serve_settings,
)
from wxstream.kafka.admin import ensure_topics
from wxstream.messages import encode_frame, messages_from_frame
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.models.evaluation import coverage_by_lead
from wxstream.models.evaluation_online import simulate_online
from wxstream.models.model_loader import load_model
from wxstream.models.online_calibration import OnlineCalibrationSettings
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.online_intervals import epoch_hour
from wxstream.streaming.interval_history import KafkaIntervalHistory
from wxstream.tools.demo_intervals import interval_coverage, model_interval

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_a_restarted_service_covers_like_the_evaluate_replay(
    kafka_settings: KafkaSettings, serve_model_dir: Path, nyc_features: pd.DataFrame
) -> None:
    # One partition: the service pools every station per lead, as the replay does.
    suffix = uuid.uuid4().hex[:8]
    kafka = replace(
        kafka_settings,
        features_topic=f"features-one-{suffix}",
        predictions_topic=f"predictions-one-{suffix}",
        partitions=1,
    )
    ensure_topics(kafka)
    rows = august_rows(nyc_features)
    produce(kafka, encode_frame(rows))
    model = load_model(serve_model_dir, device="cpu")
    history = KafkaIntervalHistory(kafka, max_ahead_h=2.0)
    settings = serve_settings(
        kafka, serve_model_dir, online_calibration=True, idle_exit_s=3.0, commit_interval_ms=0
    )
    first = fake_service(
        replace(settings, max_messages=len(rows) // 2), model, ReversingForecaster(model), history
    )
    assert first.run() == "max_messages"
    second = fake_service(settings, model, ReversingForecaster(model), history)
    assert second.run() == "idle"
    assert second.totals.restored > 0
    intervals = second.finisher.intervals
    assert intervals is not None
    assert intervals.rebuilt_pairs > 0
    assert history.reads == 1  # one read for the restart (the first run had no history)

    values = read_all(kafka, kafka.predictions_topic, 1)
    served = [decode_prediction(r.value()) for r in values]
    assert all(isinstance(m, PredictionMessage) for m in served)
    messages: list[PredictionMessage] = served  # type: ignore[assignment]
    assert len({(m.station_id, m.issued_at) for m in messages}) == len(messages)
    features = messages_from_frame(rows)
    realised = interval_coverage(messages, features)

    # The replay of evaluate over the same forecasts (their model interval) and data.
    observed_at = {(f.station_id, epoch_hour(f.window_end)): f.avg_temperature for f in features}
    stations = sorted({m.station_id for m in messages})
    leads = messages[0].leads_h
    raw = [model_interval(m) for m in messages]
    quantiles = np.array(
        [[m.temperature_p10_c, m.temperature_c, m.temperature_p90_c] for m in raw]
    ).transpose(0, 2, 1)
    issue = np.array([epoch_hour(m.issued_at) for m in messages])
    observed = np.array(
        [
            [observed_at.get((m.station_id, h + lead), np.nan) for lead in leads]
            for m, h in zip(messages, issue, strict=True)
        ]
    )
    station = np.array([stations.index(m.station_id) for m in messages])
    replay = simulate_online(
        stations,
        station,
        issue,
        quantiles=quantiles,
        observed=observed,
        settings=OnlineCalibrationSettings(),
    )
    bounds = (replay.lower, replay.upper, observed)
    # scored where the observation exists (the last hours' leads run past the data)
    expected = [
        float(coverage_by_lead(*(a[seen, j, None] for a in bounds))[0])
        for j, seen in enumerate(np.isfinite(observed).T)
    ]
    served_coverage = [realised.served[lead] for lead in leads]
    print("coverage per lead: service", np.round(served_coverage, 4).tolist())
    print("coverage per lead: replay ", np.round(expected, 4).tolist())
    print("coverage per lead: model  ", [round(realised.model[lead], 4) for lead in leads])
    assert served_coverage == pytest.approx(expected, abs=0.005)
    # and it did something: the model's own interval covers differently
    model_coverage = np.array([realised.model[lead] for lead in leads])
    assert np.abs(model_coverage - np.array(expected)).max() > 0.02
