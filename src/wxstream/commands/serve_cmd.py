"""``wxstream serve``: forecast every full station window of ``weather-features`` on Ray
inference actors and publish the forecasts to ``weather-predictions``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click

from wxstream import settings
from wxstream.commands.model_publish_cmd import follow_options
from wxstream.commands.options import (
    anomalies_topic_option,
    bootstrap_servers_option,
    dlq_topic_option,
    features_topic_option,
    group_id_option,
    kafka_client_options,
    model_name_option,
    model_storage_option,
    predictions_topic_option,
    ray_address_option,
    shadow_topic_option,
    verification_topic_option,
)

F = TypeVar("F", bound=Callable[..., Any])


def _opt(name: str, envvar: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option that names its environment variable in ``--help``."""
    option: Callable[[F], F] = click.option(name, envvar=envvar, show_envvar=True, **kwargs)
    return option


@click.command()
@bootstrap_servers_option
@kafka_client_options
@ray_address_option
@model_storage_option
@model_name_option
@_opt(
    "--num-actors",
    "WXSTREAM_NUM_ACTORS",
    type=click.IntRange(1),
    default=4,
    show_default=True,
    help="Inference actors (each loads the model once).",
)
@_opt(
    "--gpu-fraction",
    "WXSTREAM_GPU_FRACTION",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.25,
    show_default=True,
    help="Share of one GPU per actor where Ray sees a GPU (0.25: four actors per GPU).",
)
@_opt("--no-gpu", "WXSTREAM_NO_GPU", is_flag=True, help="Run the actors on CPU even with a GPU.")
@_opt(
    "--no-dashboard",
    "WXSTREAM_NO_DASHBOARD",
    is_flag=True,
    help="Do not start the Ray dashboard (127.0.0.1:8265) with a local Ray.",
)
@_opt(
    "--actor-cpus",
    "WXSTREAM_ACTOR_CPUS",
    type=click.FloatRange(0.0, min_open=True),
    default=0.25,
    show_default=True,
    help="CPUs Ray reserves per actor (small, so that 4 actors fit a 2-CPU local Ray).",
)
@_opt(
    "--spread-actors",
    "WXSTREAM_SPREAD_ACTORS",
    is_flag=True,
    help="Spread the actors over the Ray cluster's nodes (Ray's SPREAD strategy), so that "
    "losing one node leaves actors on the others; default: Ray fills the driver's node "
    "first.",
)
@_opt(
    "--ray-num-cpus",
    "WXSTREAM_RAY_NUM_CPUS",
    type=click.IntRange(1),
    default=None,
    help="CPUs of a local Ray (unset: Ray decides); ignored with --ray-address.",
)
@features_topic_option
@predictions_topic_option
@dlq_topic_option
@anomalies_topic_option
@shadow_topic_option
@group_id_option
@_opt(
    "--batch-size",
    "WXSTREAM_BATCH_SIZE",
    type=click.IntRange(1),
    default=512,
    show_default=True,
    help="Most forecasts per actor call.",
)
@_opt(
    "--max-wait-ms",
    "WXSTREAM_MAX_WAIT_MS",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Longest a record waits for its batch to fill.",
)
@_opt(
    "--max-in-flight-batches",
    "WXSTREAM_MAX_IN_FLIGHT_BATCHES",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="Actor calls outstanding at once.",
)
@_opt(
    "--gap-tolerance-h",
    "WXSTREAM_GAP_TOLERANCE_H",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Longest step between a station's windows that keeps its window (1: hourly only).",
)
@_opt(
    "--max-ahead-h",
    "WXSTREAM_MAX_AHEAD_H",
    type=click.FloatRange(0.0),
    default=2.0,
    show_default=True,
    help="Dead-letter a record (window_in_future) whose window starts more than this many "
    "hours ahead of its Kafka timestamp or of the wall clock.",
)
@_opt(
    "--max-jump-h",
    "WXSTREAM_MAX_JUMP_H",
    type=click.FloatRange(1.0),
    default=6.0,
    show_default=True,
    help="Dead-letter a record (window_jump) whose window starts more than this many hours "
    "ahead of its station's newest, unless the station's next record confirms the jump.",
)
@_opt(
    "--commit-interval-ms",
    "WXSTREAM_COMMIT_INTERVAL_MS",
    type=click.IntRange(0),
    default=50,
    show_default=True,
    help="Deliver finished batches (one transaction each) as soon as the previous delivery "
    "is done, but at most this often.",
)
@_opt(
    "--pause-after-ms",
    "WXSTREAM_PAUSE_AFTER_MS",
    type=click.IntRange(0),
    default=5000,
    show_default=True,
    help="With --max-in-flight-batches calls outstanding for this long, pause the "
    "partitions (and keep polling); before that the loop only stops taking records.",
)
@_opt(
    "--session-timeout-s",
    "WXSTREAM_SESSION_TIMEOUT_S",
    type=click.FloatRange(1.0),
    default=None,
    help="Kafka consumer session timeout: how soon a dead instance's partitions move "
    "(default: Kafka's, 45 s).",
)
@_opt(
    "--guarantee",
    "WXSTREAM_GUARANTEE",
    type=click.Choice(["exactly-once", "at-least-once"]),
    default="exactly-once",
    show_default=True,
    help="exactly-once: Kafka transactions; at-least-once: commit after delivery.",
)
@_opt(
    "--transactional-id",
    "WXSTREAM_TRANSACTIONAL_ID",
    default=None,
    help="Transactional id of this instance (default: <group>-<hostname>-<instance-index>).",
)
@_opt(
    "--instance-index",
    "WXSTREAM_INSTANCE_INDEX",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Tells apart several instances on one host (part of the transactional id).",
)
@_opt(
    "--metrics-port",
    "WXSTREAM_METRICS_PORT",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Serve Prometheus metrics on this port (0: off).",
)
@_opt(
    "--metrics-host",
    "WXSTREAM_METRICS_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address the metrics endpoint binds (0.0.0.0: every interface, e.g. in a container).",
)
@_opt(
    "--max-messages",
    "WXSTREAM_MAX_MESSAGES",
    type=click.IntRange(1),
    default=None,
    help="Stop after this many input records (default: run until stopped).",
)
@_opt(
    "--idle-exit-s",
    "WXSTREAM_IDLE_EXIT_S",
    type=click.FloatRange(0.0, min_open=True),
    default=None,
    help="Stop once no input arrived for this many seconds (default: never).",
)
@_opt(
    "--restore-rewind-messages",
    "WXSTREAM_RESTORE_REWIND_MESSAGES",
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Read back at least this many records per partition on start to rebuild station "
    "windows (0: as far back as --restore-margin-h says).",
)
@_opt(
    "--restore-margin-h",
    "WXSTREAM_RESTORE_MARGIN_H",
    type=click.FloatRange(0.0),
    default=24.0,
    show_default=True,
    help="On start, rebuild station windows from the records of the model's lookback "
    "(times --gap-tolerance-h) plus this many hours before the last processed record "
    "(record timestamps, the producer's clock).",
)
@_opt(
    "--delivery-stall-timeout-s",
    "WXSTREAM_DELIVERY_STALL_TIMEOUT_S",
    type=click.FloatRange(0.0, min_open=True),
    default=120.0,
    show_default=True,
    help="Exit (code 75) when one delivery (a Kafka transaction) runs this long, for a "
    "supervisor to restart the service (keep it above the 60 s transaction timeout).",
)
@_opt(
    "--quality-checks/--no-quality-checks",
    "WXSTREAM_QUALITY_CHECKS",
    default=True,
    show_default=True,
    help="Check every feature record against the model's learnt limits "
    "(qc_thresholds.json) before its window; findings go to the anomalies topic in the "
    "same transaction as the forecasts.",
)
@_opt(
    "--qc-policy",
    "WXSTREAM_QC_POLICY",
    type=click.Choice(settings.QC_POLICIES),
    default=settings.DEFAULT_QC_POLICY,
    show_default=True,
    help="What a flagged value does to its window: use it (the forecast says "
    "input_flagged), skip the hour, or impute it (the model's earlier forecast).",
)
@_opt(
    "--challenger-fraction",
    "WXSTREAM_CHALLENGER_FRACTION",
    type=click.FloatRange(0.0, 1.0),
    default=0.0,
    show_default=True,
    help="Share of stations whose forecasts come from the model name's challenger "
    "(sticky by station: a hash of station and experiment). With a challenger, every "
    "window is forecast by both versions; 0 serves the challenger as a pure shadow.",
)
@_opt(
    "--experiment",
    "WXSTREAM_EXPERIMENT",
    default=None,
    help="Name of the A/B split (default: the model name); a new name reshuffles which "
    "stations get the challenger.",
)
@_opt(
    "--shadow/--no-shadow",
    "WXSTREAM_SHADOW",
    default=True,
    show_default=True,
    help="With a challenger, write the other version's forecast of every window to the "
    "shadow topic in the same transaction (paired forecasts for promotion); "
    "--no-shadow: a plain A/B split.",
)
@verification_topic_option
@_opt(
    "--live-skill/--no-live-skill",
    "WXSTREAM_LIVE_SKILL",
    default=False,
    show_default=True,
    help="Pair every forecast with the observation that arrives later; skill per version "
    "and lead goes to the verification topic (same transaction), the metrics and "
    "wxstream status. Rebuilt from the topics at start.",
)
@_opt(
    "--auto-promote/--no-auto-promote",
    "WXSTREAM_AUTO_PROMOTE",
    default=False,
    show_default=True,
    help="Decide the promotion on the live pairs (the rules of wxstream models decide) "
    "once the challenger has 2000 pairs per lead, record every decision in the history "
    "and move the aliases when the challenger wins. Implies --live-skill.",
)
@follow_options
@_opt(
    "--online-calibration/--no-online-calibration",
    "WXSTREAM_ONLINE_CALIBRATION",
    default=False,
    show_default=True,
    help="Recalibrate every forecast's p10..p90 online (adaptive conformal, per lead and "
    "station) from earlier forecasts and the observations consumed since; the scales go "
    "into each prediction (interval_scale). It holds 80 % where the offline interval "
    "drifts (docs/evaluation.md), but costs 70-110 us of the consumer thread per "
    "forecast of 24 leads, 44-59 % of the loop's forecasts/s (more than the 15 % a "
    "default may cost: docs/performance.md), so it is off by default. Off while a "
    "challenger is served.",
)
def serve(
    *,
    bootstrap_servers: str,
    client_properties: tuple[settings.ClientProperty, ...],
    ray_address: str | None,
    model_storage_path: Path,
    model_name: str | None,
    num_actors: int,
    gpu_fraction: float,
    no_gpu: bool,
    no_dashboard: bool,
    actor_cpus: float,
    spread_actors: bool,
    ray_num_cpus: int | None,
    features_topic: str,
    predictions_topic: str,
    dlq_topic: str,
    anomalies_topic: str,
    shadow_topic: str,
    group_id: str,
    batch_size: int,
    max_wait_ms: int,
    max_in_flight_batches: int,
    gap_tolerance_h: int,
    max_ahead_h: float,
    max_jump_h: float,
    commit_interval_ms: int,
    pause_after_ms: int,
    session_timeout_s: float | None,
    guarantee: str,
    transactional_id: str | None,
    instance_index: int,
    metrics_port: int,
    metrics_host: str,
    max_messages: int | None,
    idle_exit_s: float | None,
    restore_rewind_messages: int,
    restore_margin_h: float,
    delivery_stall_timeout_s: float,
    quality_checks: bool,
    qc_policy: settings.QcPolicy,
    challenger_fraction: float,
    experiment: str | None,
    shadow: bool,
    verification_topic: str,
    live_skill: bool,
    auto_promote: bool,
    alias_moves: str | None,
    online_calibration: bool,
) -> None:
    """Forecast weather-features on Ray inference actors into weather-predictions.

    Consumes as group ray-ml-inference, keeps the last lookback hours per station,
    forecasts every full window, and commits input offsets only with the forecasts
    (one Kafka transaction per delivery by default). Bad records go to the dead-letter
    topic. Stop with Ctrl+C: what was read is forecast and committed first.
    """
    from wxstream.streaming import graceful_shutdown, run_service

    serve_settings = settings.ServeSettings(
        kafka=settings.KafkaSettings(
            bootstrap_servers=bootstrap_servers,
            client_properties=client_properties,
            features_topic=features_topic,
            predictions_topic=predictions_topic,
            dlq_topic=dlq_topic,
            anomalies_topic=anomalies_topic,
            shadow_topic=shadow_topic,
            verification_topic=verification_topic,
            control_topic=alias_moves or settings.CONTROL_TOPIC,
        ),
        ray=settings.RaySettings(
            address=ray_address,
            num_actors=num_actors,
            gpu_fraction=gpu_fraction,
            use_gpu=not no_gpu,
            dashboard=not no_dashboard,
            num_cpus=ray_num_cpus,
            spread_actors=spread_actors,
        ),
        model=settings.ModelSettings(storage_path=model_storage_path, model_name=model_name),
        group_id=group_id,
        batch_size=batch_size,
        max_wait_ms=max_wait_ms,
        max_in_flight_batches=max_in_flight_batches,
        gap_tolerance_h=gap_tolerance_h,
        max_ahead_h=max_ahead_h,
        max_jump_h=max_jump_h,
        commit_interval_ms=commit_interval_ms,
        pause_after_ms=pause_after_ms,
        session_timeout_s=session_timeout_s,
        metrics_port=metrics_port or None,
        metrics_host=metrics_host,
        guarantee="at-least-once" if guarantee == "at-least-once" else "exactly-once",
        transactional_id=transactional_id,
        instance_index=instance_index,
        max_messages=max_messages,
        idle_exit_s=idle_exit_s,
        restore_rewind_messages=restore_rewind_messages,
        restore_margin_h=restore_margin_h,
        delivery_stall_timeout_s=delivery_stall_timeout_s,
        quality_checks=quality_checks,
        qc_policy=qc_policy,
        challenger_fraction=challenger_fraction,
        experiment=experiment,
        shadow=shadow,
        live_skill=live_skill or auto_promote,
        auto_promote=auto_promote,
        follow_alias_moves=alias_moves is not None,
        online_calibration=online_calibration,
        actor_num_cpus=actor_cpus,
    )
    announce = partial(click.echo, err=True)
    with graceful_shutdown(announce=announce) as shutdown:
        # Connecting to Ray replaces the SIGTERM handler: install ours again once it is up.
        summary = run_service(serve_settings, shutdown.stop, on_ready=shutdown.install)
    dead = sum(summary.dead_lettered.values())
    click.echo(
        f"{summary.messages_in} inputs, {summary.forecasts_out} forecasts, {dead} dead-lettered "
        f"in {summary.elapsed_s:.1f} s ({summary.forecasts_per_s:.0f} forecasts/s); "
        f"stopped: {summary.stop_reason}"
    )
    if summary.actor_peak_rss_bytes:
        rss = ", ".join(f"{b / 2**20:.0f}" for b in summary.actor_peak_rss_bytes)
        click.echo(f"actor peak RSS (MiB): {rss}")
