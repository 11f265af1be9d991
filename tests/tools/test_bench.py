"""``wxstream bench``: the statistics, and a tiny end-to-end run on the real broker and Ray
(a smoke run: it checks the result's shape and that every number was measured, not the
speed)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from wxstream.tools.bench import (
    TARGETS,
    check_targets,
    match_latencies_ms,
    percentiles_ms,
    sustained_rate,
)


def test_sustained_rate_counts_intervals_between_first_and_last() -> None:
    assert sustained_rate([1000, 1500, 2000]) == pytest.approx(2.0)
    assert sustained_rate([5]) == 0.0
    assert sustained_rate([]) == 0.0


def test_percentiles_and_missing_values() -> None:
    stats = percentiles_ms([float(v) for v in range(1, 101)])
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["max"] == 100.0
    assert math.isnan(percentiles_ms([])["p99"])


def test_latency_matches_forecast_to_the_window_ending_at_its_issue_time() -> None:
    sent = {
        ("EWR", "2013-11-01T05:00:00+00:00"): 1000.0,
        ("JFK", "2013-11-01T05:00:00+00:00"): 1010.0,
    }
    received = [
        ("EWR", "2013-11-01T05:00:00+00:00", 1040.0),
        ("JFK", "2013-11-01T05:00:00+00:00", 1015.0),
        ("LGA", "2013-11-01T05:00:00+00:00", 1200.0),  # input unknown: left out
    ]
    assert match_latencies_ms(sent, received) == [40.0, 5.0]


def test_json_result_has_no_nan_or_infinity() -> None:
    from wxstream.tools.bench import json_safe

    safe = json_safe({"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf, "e": "x"}})
    assert safe == {"a": None, "b": [None, 1.5], "c": {"d": None, "e": "x"}}
    json.dumps(safe, allow_nan=False)


def test_targets_compare_in_the_right_direction() -> None:
    checked = check_targets(
        {
            "forecasts_per_s": 25_000.0,
            "speedup_vs_baseline": 50.0,
            "latency_p99_ms": 80.0,
            "peak_rss_mb_per_actor": 600.0,
            "exactly_once_vs_at_least_once": math.nan,
        }
    )
    assert set(checked) == set(TARGETS)
    assert checked["forecasts_per_s"]["met"] is True
    assert checked["speedup_vs_baseline"]["met"] is False
    assert checked["latency_p99_ms"]["met"] is True
    assert checked["peak_rss_mb_per_actor"]["met"] is False
    assert checked["exactly_once_vs_at_least_once"]["met"] is None


@pytest.mark.kafka
@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_tiny_bench_reports_every_measurement(
    kafka_broker: Any, serve_model_dir: Path, tmp_path: Path
) -> None:
    from wxstream.cli import cli

    output = tmp_path / "bench.json"
    storage = serve_model_dir.parents[2]
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "--bootstrap-servers",
            kafka_broker.bootstrap_servers,
            "--model-storage-path",
            str(storage),
            "--model-name",
            serve_model_dir.name,
            "--messages",
            "1500",
            "--stations",
            "6",
            "--baseline-messages",
            "120",
            "--rate",
            "200",
            "--rate-duration-s",
            "2",
            "--num-actors",
            "1",
            "--json",
            "--output",
            str(output),
            "--no-progress",
            "--shadow",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(output.read_text())
    assert json.loads(result.stdout) == data
    assert data["config"]["messages"] == 1500
    assert data["config"]["stations"] == 6
    for guarantee in ("exactly-once", "at-least-once"):
        run = data["throughput"][guarantee]
        assert run["failed_runs"] == 0, [r["error"] for r in run["runs"]]
        # 6 stations, lookback 12: the first 11 windows of each station forecast nothing.
        assert 0 < run["forecasts"] <= 1500 - 6 * 11
        assert run["forecasts_per_s"] > 0
    assert data["baseline"]["forecasts"] > 0
    assert data["baseline"]["forecasts_per_s"] > 0
    assert data["latency"]["error"] is None, data["latency"]["error"]
    assert data["latency"]["forecasts"] > 0
    assert 0 < data["latency"]["latency_ms"]["p50"] <= data["latency"]["latency_ms"]["p99"]
    peaks = data["memory"]["peak_rss_mb_by_actor_pid"]
    assert peaks
    assert all(v > 0 for v in peaks.values())
    measured = data["measured"]
    for name in TARGETS:
        if name == "quality_stage_cost":
            continue  # a ratio of two noisy rates: below zero now and then
        assert measured[name] > 0, name
    unchecked = data["throughput_without_quality_checks"]["runs"]
    # Measured exactly when the model carries QC limits (qc_thresholds.json).
    has_limits = (serve_model_dir / "qc_thresholds.json").exists()
    assert bool(unchecked) == has_limits
    assert (measured["quality_stage_cost"] is not None) == has_limits
    assert all(not run["quality_checks"] for run in unchecked)
    (shadowed,) = data["throughput_with_shadow"]["runs"]
    assert shadowed["error"] is None, shadowed["error"]
    # Every forecast of the run has its shadow (the same windows, the other version).
    assert 0 < shadowed["shadow_forecasts"] == shadowed["forecasts"]
    assert set(data["targets"]) == set(TARGETS)


def test_a_running_cluster_is_benchmarked_with_its_client_security_settings() -> None:
    from wxstream.settings import Secret
    from wxstream.tools.bench.bench_io import BenchTopics, temporary_broker

    properties = (("security.protocol", "SASL_SSL"), ("sasl.password", Secret("pw")))
    with temporary_broker("127.0.0.1:19092", None, properties) as cluster:
        kafka = BenchTopics("f", "p", "d", "a").kafka(cluster)
    assert kafka.bootstrap_servers == "127.0.0.1:19092"
    assert kafka.client_properties == properties
    assert (kafka.features_topic, kafka.predictions_topic, kafka.dlq_topic) == ("f", "p", "d")
