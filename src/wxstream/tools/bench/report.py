"""The benchmark's statistics and report: percentiles, sustained rates, targets, the
machine description and the human-readable table. Pure, except :func:`machine_info`."""

from __future__ import annotations

import math
import platform
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import psutil

TARGETS: Mapping[str, tuple[str, float]] = {
    "forecasts_per_s": (">=", 20_000.0),
    "speedup_vs_baseline": (">=", 100.0),
    "latency_p99_ms": ("<=", 100.0),
    "peak_rss_mb_per_actor": ("<=", 500.0),
    "exactly_once_vs_at_least_once": (">=", 0.70),
    "quality_stage_cost": ("<=", 0.15),
    "shadow_throughput_ratio": (">=", 0.60),
}
"""Metric -> (comparison, target) on a 2-core machine with the broker on it."""


def percentiles_ms(values_ms: Sequence[float]) -> dict[str, float]:
    """p50, p95, p99 (linear interpolation), mean and max of latencies in ms."""
    if not values_ms:
        return {
            "p50": math.nan,
            "p95": math.nan,
            "p99": math.nan,
            "mean": math.nan,
            "max": math.nan,
        }
    arr = np.asarray(values_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(arr, [50, 95, 99])
    return {
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
        "mean": float(arr.mean()),
        "max": float(arr.max()),
    }


def sustained_rate(timestamps_ms: Sequence[int]) -> float:
    """Records per second between the first and the last timestamp (0 for fewer than 2)."""
    if len(timestamps_ms) < 2:
        return 0.0
    span_ms = max(timestamps_ms) - min(timestamps_ms)
    return (len(timestamps_ms) - 1) * 1000.0 / span_ms if span_ms > 0 else math.inf


def check_targets(measured: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Each target with its measured value and whether it is met (NaN: not measured)."""
    out: dict[str, dict[str, Any]] = {}
    for name, (op, target) in TARGETS.items():
        value = measured.get(name, math.nan)
        met = (
            (value >= target if op == ">=" else value <= target) if not math.isnan(value) else None
        )
        out[name] = {"target": f"{op} {target:g}", "measured": value, "met": met}
    return out


def match_latencies_ms(
    feature_times_ms: Mapping[tuple[str, str], float],
    forecast_times_ms: Sequence[tuple[str, str, float]],
) -> list[float]:
    """Latency of each forecast whose input is known.

    Args:
        feature_times_ms: ``(station, window_end ISO)`` -> the feature record's time.
        forecast_times_ms: ``(station, issued_at ISO, time it was received)``; a
            forecast issued at ``T`` answers the feature window that ends at ``T``.
    """
    out = []
    for station, issued_at, received in forecast_times_ms:
        sent = feature_times_ms.get((station, issued_at))
        if sent is not None:
            out.append(received - sent)
    return out


def machine_info() -> dict[str, Any]:
    """The machine the numbers come from."""
    import ray

    from wxstream.settings import DEFAULT_KAFKA_VERSION

    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": psutil.cpu_count(logical=True),
        "cpu_model": cpu_model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ray": ray.__version__,
        "kafka": DEFAULT_KAFKA_VERSION,
    }


def median(values: Sequence[float]) -> float:
    """The median, NaN for no values."""
    return float(statistics.median(values)) if values else math.nan


def format_table(result: Mapping[str, Any]) -> list[str]:
    """The human-readable summary of a :func:`run_bench` result."""
    lines = []
    machine = result["machine"]
    lines.append(
        f"machine: {machine['cpus']} CPUs ({machine['cpu_model']}), "
        f"{machine['memory_gb']} GB, Ray {machine['ray']}, Kafka {machine['kafka']}"
    )
    config = result["config"]
    lines.append(
        f"input: {config['messages']} messages, {config['stations']} stations, "
        f"{config['partitions']} partitions, {config['num_actors']} actors, model {config['model']}"
    )
    for guarantee, data in result["throughput"].items():
        runs = ", ".join(
            f"{r['forecasts_per_s']:,.0f}" + (" FAILED" if r.get("error") else "")
            for r in data["runs"]
        )
        lines.append(
            f"{guarantee:<14} {data['forecasts_per_s']:>10,.0f} forecasts/s (median of [{runs}])"
        )
    unchecked = result.get("throughput_without_quality_checks") or {}
    if unchecked.get("runs"):
        runs = ", ".join(f"{r['forecasts_per_s']:,.0f}" for r in unchecked["runs"])
        lines.append(
            f"{'no QC stage':<14} {unchecked['forecasts_per_s']:>10,.0f} forecasts/s "
            f"(median of [{runs}])"
        )
    shadowed = result.get("throughput_with_shadow") or {}
    if shadowed.get("runs"):
        runs = ", ".join(f"{r['forecasts_per_s']:,.0f}" for r in shadowed["runs"])
        lines.append(
            f"{'with a shadow':<14} {shadowed['forecasts_per_s']:>10,.0f} forecasts/s "
            f"(median of [{runs}])"
        )
    for data in result["throughput"].values():
        for run in data["runs"]:
            if run.get("error"):
                lines.append(f"  {run['guarantee']} run failed: {run['error']}")
    baseline = result["baseline"]
    lines.append(
        f"{'baseline':<14} {baseline['forecasts_per_s']:>10,.1f} forecasts/s "
        f"({baseline['forecasts']} forecasts, one message at a time)"
    )
    lat = result["latency"]
    ms = lat["latency_ms"]
    lines.append(
        f"latency at {lat['offered_rate_per_s']:,.0f} msg/s offered ({lat['guarantee']}): "
        f"p50 {ms['p50']:.1f} ms, p95 {ms['p95']:.1f} ms, p99 {ms['p99']:.1f} ms"
    )
    if lat.get("error"):
        lines.append(f"  latency run failed: {lat['error']}")
    lines.append("")
    lines.append(f"{'target':<32}{'wanted':>12}{'measured':>14}  met")
    for name, row in result["targets"].items():
        met = {True: "yes", False: "NO", None: "-"}[row["met"]]
        lines.append(f"{name:<32}{row['target']:>12}{row['measured']:>14,.2f}  {met}")
    return lines


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by ``None`` (JSON has neither)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value
