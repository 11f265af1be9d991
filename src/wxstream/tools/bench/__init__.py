"""``wxstream bench``: throughput, latency, memory, the one-at-a-time baseline and the
cost of exactly-once, measured end to end through a real broker.

- :mod:`wxstream.tools.bench.benchmark`: :func:`run_bench`, which orders the runs.
- :mod:`wxstream.tools.bench.runs`: the runs (throughput, latency, baseline).
- :mod:`wxstream.tools.bench.bench_io`: topics, draining, the live receiver, memory.
- :mod:`wxstream.tools.bench.load`: the paced producer in a process of its own.
- :mod:`wxstream.tools.bench.baseline`: the one-message-at-a-time consumer.
- :mod:`wxstream.tools.bench.report`: percentiles, rates, targets and the table.
"""

from __future__ import annotations

from wxstream.tools.bench.baseline import BaselineResult, run_baseline
from wxstream.tools.bench.bench_io import (
    ACTOR_PROCESS_PREFIX,
    BenchTopics,
    Received,
    RssSampler,
    bench_topics,
    create_topics,
    forecast_identity,
    live_receiver,
    summary_dict,
    temporary_broker,
    wait_for_drain,
    wait_for_group,
)
from wxstream.tools.bench.benchmark import run_bench
from wxstream.tools.bench.load import LoadProcess, Offered
from wxstream.tools.bench.report import (
    TARGETS,
    check_targets,
    format_table,
    json_safe,
    machine_info,
    match_latencies_ms,
    median,
    percentiles_ms,
    sustained_rate,
)
from wxstream.tools.bench.runs import baseline_run, latency_run, throughput_run

__all__ = [
    "ACTOR_PROCESS_PREFIX",
    "TARGETS",
    "BaselineResult",
    "BenchTopics",
    "LoadProcess",
    "Offered",
    "Received",
    "RssSampler",
    "baseline_run",
    "bench_topics",
    "check_targets",
    "create_topics",
    "forecast_identity",
    "format_table",
    "json_safe",
    "latency_run",
    "live_receiver",
    "machine_info",
    "match_latencies_ms",
    "median",
    "percentiles_ms",
    "run_baseline",
    "run_bench",
    "summary_dict",
    "sustained_rate",
    "temporary_broker",
    "throughput_run",
    "wait_for_drain",
    "wait_for_group",
]
