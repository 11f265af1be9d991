"""``wxstream demo`` end to end: the session broker (reused, left running), a small real
model, the service on the session's Ray, the November-December replay and the verified
view."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wxstream.data import SPLITS, load_nycflights13
from wxstream.features import aggregate_hourly
from wxstream.kafka import LocalBroker
from wxstream.messages import publishable_mask
from wxstream.messages.anomalies import Anomaly, AnomalyMessage, AnomalySource
from wxstream.ops.verification import VerifiedPair
from wxstream.settings import DemoSettings, KafkaSettings, ModelSettings, RaySettings
from wxstream.tools import run_demo
from wxstream.tools.demo_anomalies import anomaly_lines, anomaly_table, near_faults
from wxstream.tools.replay_faults import InjectedFault


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
    # The default faults went in, one station each; values pushed out of range (degF
    # above 60) are refused into the dead-letter topic, nothing else is.
    assert [(f.label.split()[0], f.station) for f in summary.injected] == [
        ("spike", "EWR"),
        ("stuck", "JFK"),
        ("degF", "LGA"),
    ]
    assert summary.dead_letters == sum(f.refused for f in summary.injected)
    assert sum(line.startswith("injecting ") for line in lines) == 3
    assert any(line.startswith("anomalies found by the quality stage") for line in lines)
    assert any(line.startswith("forecasts with flagged input:") for line in lines)
    assert summary.excluded_pairs > 0
    assert f"the MAE leaves out {summary.excluded_pairs} verified value(s)" in " ".join(lines)
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


# -- the anomaly report (pure) ---------------------------------------------------------

_FAULT = InjectedFault(
    "stuck 12h",
    "JFK",
    datetime(2013, 11, 20, 0, tzinfo=UTC),
    datetime(2013, 11, 20, 11, tzinfo=UTC),
    12,
    0,
)


def _pair(station: str, issued_at: datetime, lead_h: int) -> VerifiedPair:
    return VerifiedPair(station, issued_at, lead_h, 0.0, 1.0, 2.0, 1.0)


def test_pairs_whose_inputs_or_target_touch_a_fault_are_left_out() -> None:
    excluded = near_faults((_FAULT,), lookback_h=12)
    start, end = _FAULT.first_hour, _FAULT.last_hour
    hour = timedelta(hours=1)
    assert excluded(_pair("JFK", start, 1))  # the target is the first faulty hour
    assert not excluded(_pair("JFK", start - hour, 1))  # target and inputs before it
    assert excluded(_pair("JFK", start - 5 * hour, 6))  # a longer lead reaches it
    assert not excluded(_pair("JFK", start - 6 * hour, 6))
    assert excluded(_pair("JFK", end + 12 * hour, 1))  # the last faulty hour is an input
    assert not excluded(_pair("JFK", end + 13 * hour, 1))
    assert not excluded(_pair("EWR", start, 1))  # another station


def _finding(check: str, severity: str, offset: int) -> AnomalyMessage:
    # Synthetic findings: the report's shape only.
    anomaly = Anomaly("JFK", _FAULT.first_hour, "temperature", check, 1.5, severity)  # type: ignore[arg-type]
    return AnomalyMessage(anomaly, 3.0, AnomalySource("f", 0, offset), _FAULT.first_hour)


def test_anomaly_report_counts_per_check_and_severity_and_says_what_is_missing() -> None:
    findings = [_finding("flat_line", "suspect", 1), _finding("flat_line", "bad", 2)]
    findings += [_finding("spike", "bad", k) for k in range(3, 10)]
    assert anomaly_table(findings) == {
        "flat_line": {"suspect": 1, "bad": 1},
        "spike": {"suspect": 0, "bad": 7},
    }
    lines = anomaly_lines("t", findings, forecasts=100, flagged=None, excluded_pairs=40)
    assert lines[0] == "anomalies found by the quality stage (t): 9"
    assert lines[2].split() == ["flat_line", "1", "1"]
    assert sum("JFK" in line for line in lines) == 5  # the first few findings
    assert "forecasts with flagged input: not reported by this service" in lines
    assert any("leaves out 40 verified" in line for line in lines)
    quiet = anomaly_lines("t", [], forecasts=100, flagged=3, excluded_pairs=None)
    assert "forecasts with flagged input: 3 of 100" in quiet
    assert any("qc_thresholds.json" in line for line in quiet)
