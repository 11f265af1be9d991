"""``wxstream demo`` end to end: the session broker (reused, left running), a small real
model, the service on the session's Ray, the November-December replay and the verified
view."""

from __future__ import annotations

import math
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wxstream.data import SPLITS, load_nycflights13
from wxstream.features import aggregate_hourly
from wxstream.kafka import LocalBroker
from wxstream.messages import publishable_mask
from wxstream.settings import DemoSettings, KafkaSettings, ModelSettings, RaySettings
from wxstream.tools import run_demo


@pytest.mark.kafka
@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_demo_replays_unseen_months_and_verifies_every_forecast(
    kafka_broker: Any, serve_model_dir: Path
) -> None:
    suffix = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(
        features_topic=f"demo-features-{suffix}",
        predictions_topic=f"demo-predictions-{suffix}",
        dlq_topic=f"demo-features-{suffix}.dlq",
        anomalies_topic=f"demo-anomalies-{suffix}",
    )
    lines: list[str] = []
    summary = run_demo(
        DemoSettings(
            broker=kafka_broker.settings,
            kafka=kafka,
            ray=RaySettings(num_actors=1),
            model=ModelSettings(
                storage_path=serve_model_dir.parents[2], model_name=serve_model_dir.name
            ),
            speed_h_per_s=5000.0,
            max_rows_per_s=None,
            drain_timeout_s=60.0,
        ),
        emit=lines.append,
    )
    assert not summary.interrupted
    assert summary.problems == []
    # The replay covers exactly the demo split's test months (never seen in training).
    rows = aggregate_hourly(load_nycflights13())
    start, end = SPLITS["nycflights13-demo"].test
    test_rows = rows.loc[(rows["window_start"] >= start) & (rows["window_start"] < end)]
    assert summary.messages == int(publishable_mask(test_rows).sum())
    assert summary.dead_letters == 0
    # Lookback 12: each station's first 11 windows (and those after a gap) forecast nothing.
    assert 0 < summary.forecasts <= summary.messages - 3 * 11
    assert summary.forecasts > summary.messages * 0.8
    # Every lead was verified against what was then observed, with a sane error.
    assert sorted(summary.mae_by_lead) == [1, 2, 3, 4, 5, 6]
    for mae in summary.mae_by_lead.values():
        assert 0.0 < mae < 6.0
    assert summary.mae_by_lead[1] < summary.mae_by_lead[6]
    assert all(not math.isnan(c) for c in summary.coverage_by_lead.values())
    forecast_rows = [line for line in lines if line.split(" ")[0] in {"EWR", "JFK", "LGA"}]
    assert len(forecast_rows) == summary.forecasts
    assert any("observed" in line for line in lines)
    # The session's broker answered, so the demo reused it and left it running.
    assert LocalBroker(kafka_broker.settings).status().running
    assert not np.isnan(pd.Series(list(summary.mae_by_lead.values())).mean())


def test_demo_with_security_settings_and_no_broker_says_how_to_start_a_secured_one(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    from wxstream.kafka import free_port

    command = [sys.executable, "-m", "wxstream", "demo", "--kafka-port"]
    command += [str(free_port("127.0.0.1")), "--model-storage-path", str(tmp_path)]
    command += ["--security-protocol", "SASL_SSL", "--sasl-mechanism", "SCRAM-SHA-512"]
    command += ["--sasl-username", "wxstream", "--sasl-password", "not-shown-anywhere"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "error: no Kafka broker answered" in output
    assert "fix: start the secured local broker first" in output
    assert "Traceback" not in output
    assert "not-shown-anywhere" not in output
