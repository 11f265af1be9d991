"""``wxstream serve``: weather-features -> Ray inference actors -> weather-predictions.

The loop (:class:`InferenceService`) is a thin shell around pure parts:

1. ``consume`` up to ``batch_size`` records (``read_committed``, no auto-commit);
2. :class:`~.assembly.BatchAssembler`: decode (bad records become dead letters),
   per-station windows, gather full windows;
3. :func:`~.batching.should_flush` seals a batch; the :class:`~.actor_pool.ActorPool`
   forecasts it on the least loaded actor while the loop keeps consuming (at most
   ``max_in_flight_batches`` calls outstanding);
4. finished batches are re-ordered (:func:`~.batching.complete`) and released in input
   order; :mod:`~.delivery` produces forecasts and dead letters and commits the input
   offsets they cover, in one transaction (exactly-once) or after delivery
   (at-least-once), on a delivery thread watched for stalls.

The loop's decisions are pure rule objects in :mod:`~.core` (back-pressure, group
commit, stopping, restore policy); its IO goes through the ports of :mod:`~.ports`.

On partition assignment, and after an aborted transaction, the windows of the
partitions are rebuilt by reading back the records of the restore span (the model's
lookback plus ``restore_margin_h``, in record time; see :mod:`~.partitions`) before
the committed offset without emitting, so that forecasts continue as if the service
had never stopped.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from wxstream.anomalies.stage import QualityStage
from wxstream.anomalies.thresholds_file import QC_THRESHOLDS_FILE, read_qc_thresholds
from wxstream.errors import ConfigError
from wxstream.kafka.admin import require_topics
from wxstream.kafka.clients import make_consumer, make_producer
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_loader import load_model
from wxstream.settings import ServeSettings
from wxstream.streaming.actor import actor_options, spawn_actors
from wxstream.streaming.actor_pool import ActorPool
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.delivery import AtLeastOnceDelivery, TransactionalDelivery
from wxstream.streaming.interval_history import interval_history_for
from wxstream.streaming.live_swaps import live_swaps
from wxstream.streaming.loop import InferenceService
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.ports import Delivery
from wxstream.streaming.ray_runtime import ray_session
from wxstream.streaming.record_source import KafkaRecordSource
from wxstream.streaming.served_versions import VersionDirs, check_compatible, resolve_versions
from wxstream.streaming.skill_setup import live_skill_for

logger = logging.getLogger(__name__)

PRODUCER_LINGER_MS = 10
FETCH_QUEUE_KBYTES = 16_384
FETCH_MIN_BYTES = 32_768
FETCH_WAIT_MS = 10
"""librdkafka's pre-fetch queue (``queued.max.messages.kbytes``, default 64 MiB)."""

__all__ = [
    "InferenceService",
    "ServiceSummary",
    "run_service",
    "transactional_id_for",
    "validate_settings",
]


@dataclass(frozen=True)
class ServiceSummary:
    """What a run of the service did (returned when it stops)."""

    messages_in: int
    forecasts_out: int
    dead_lettered: dict[str, int]
    duplicates: int
    out_of_order: int
    windows_reset: int
    restored_records: int
    batches: int
    transactions: int
    aborted_transactions: int
    actor_retries: int
    elapsed_s: float
    stop_reason: str
    processing_s: float = 0.0
    actor_peak_rss_bytes: tuple[int, ...] = field(default=())
    shadow_forecasts_out: int = 0
    model_swaps: int = 0

    @property
    def forecasts_per_s(self) -> float:
        """Forecasts delivered per second of processing (first input record to the
        last delivery; start-up of Ray and the actors excluded)."""
        return self.forecasts_out / self.processing_s if self.processing_s > 0 else 0.0


def transactional_id_for(settings: ServeSettings, hostname: str | None = None) -> str:
    """``settings.transactional_id``, or ``<group>-<hostname>-<instance_index>``: stable
    across restarts of the same instance, so a restarted instance fences its zombie."""
    if settings.transactional_id:
        return settings.transactional_id
    host = hostname or socket.gethostname()
    return f"{settings.group_id}-{host}-{settings.instance_index}"


def validate_settings(settings: ServeSettings) -> None:
    """Reject settings the loop cannot run with.

    Raises:
        ConfigError: naming the flag to fix.
    """
    problems = {
        "--batch-size must be >= 1": settings.batch_size < 1,
        "--max-wait-ms must be >= 0": settings.max_wait_ms < 0,
        "--max-in-flight-batches must be >= 1": settings.max_in_flight_batches < 1,
        "--gap-tolerance-h must be >= 1": settings.gap_tolerance_h < 1,
        "--max-jump-h must be >= --gap-tolerance-h": settings.max_jump_h < settings.gap_tolerance_h,
        "--max-ahead-h must be >= 0": settings.max_ahead_h < 0,
        "--num-actors must be >= 1": settings.ray.num_actors < 1,
        "--gpu-fraction must be in (0, 1]": not 0 < settings.ray.gpu_fraction <= 1,
        "--guarantee must be exactly-once or at-least-once": settings.guarantee
        not in ("exactly-once", "at-least-once"),
        "--max-messages must be >= 1": settings.max_messages is not None
        and settings.max_messages < 1,
        "--challenger-fraction must be in [0, 1]": not 0 <= settings.challenger_fraction <= 1,
    }
    bad = [text for text, failed in problems.items() if failed]
    if bad:
        raise ConfigError("invalid serve settings: " + "; ".join(bad), fix=bad[0])


def run_service(
    settings: ServeSettings,
    stop: threading.Event | None = None,
    metrics: ServiceMetrics | None = None,
    on_ready: Callable[[], object] | None = None,
) -> ServiceSummary:
    """Run the inference service until ``stop`` is set, ``max_messages`` inputs were
    processed, or the input was idle for ``idle_exit_s``.

    Connects to Ray (or starts a local one), starts ``num_actors`` inference actors,
    and runs :class:`InferenceService` with the guarantee of ``settings``.

    Args:
        settings: what to run.
        stop: set it (from another thread or a signal handler) to stop gracefully:
            everything read so far is forecast, delivered and committed first.
        metrics: where to count (default: a fresh private registry).
        on_ready: called once Ray is connected and the actors are up, before the first
            poll; e.g. to install signal handlers again (connecting to Ray replaces the
            driver's SIGTERM handler).

    Raises:
        ConfigError: invalid settings.
        ModelNotFoundError: no model directory.
        RayUnavailableError: Ray or the actors could not start.
        KafkaError: Kafka unreachable, topics missing, or a fatal transaction error.
    """
    validate_settings(settings)
    began = time.monotonic()
    versions, model, challenger = served_models(settings)
    settings = replace(settings, experiment=settings.experiment or versions.name)
    model_dir = versions.champion_dir
    quality = quality_stage(settings, model_dir)
    kafka = settings.kafka
    topics = [kafka.features_topic, kafka.predictions_topic, kafka.dlq_topic]
    if quality is not None:
        topics.append(kafka.anomalies_topic)
    if challenger is not None and settings.shadow:
        topics.append(kafka.shadow_topic)
    if settings.live_skill or settings.auto_promote:
        topics.append(kafka.verification_topic)
    require_topics(kafka, topics)
    metrics = metrics or ServiceMetrics()
    metrics.serve(settings.metrics_port, host=settings.metrics_host)
    try:
        with ray_session(settings.ray) as runtime:
            placement = actor_options(
                cluster_gpus=runtime.gpus,
                use_gpu=settings.ray.use_gpu,
                gpu_fraction=settings.ray.gpu_fraction,
                num_cpus=settings.actor_num_cpus,
                max_restarts=settings.actor_max_restarts,
                spread=settings.ray.spread_actors,
            )
            if placement.device == "cpu" and settings.ray.use_gpu:
                logger.info("No GPU devices found, using CPU")
            actors = spawn_actors(
                settings.ray.num_actors,
                model_dir,
                placement,
                challenger_dir=versions.challenger_dir,
            )
            pool = ActorPool(
                actors,
                max_call_retries=settings.max_call_retries,
                paired=challenger is not None,
            )
            swaps = live_swaps(settings, versions, model, challenger, pool=pool, metrics=metrics)
            try:
                service = _build_service(
                    settings,
                    model,
                    pool,
                    metrics,
                    quality,
                    champion_version=versions.champion_version,
                    challenger=challenger,
                )
                leads = (*model.leads_h, *(challenger.model.leads_h if challenger else ()))
                service.skill = live_skill_for(
                    settings,
                    versions,
                    leads,
                    metrics=metrics,
                    source=service.source,
                    assembler=service.assembler,
                )
                service.swaps = swaps.swapper if swaps is not None else None
                if on_ready is not None:
                    on_ready()
                reason = service.run(stop)
                stopped_at = time.monotonic()
                infos = pool.infos()
            finally:
                if swaps is not None:
                    swaps.close()
                pool.kill_all()
    finally:
        metrics.close()
    for info in infos:
        logger.info(
            "actor pid %d: %d calls, %d forecasts, peak RSS %.0f MiB",
            info.pid,
            info.calls,
            info.forecasts,
            info.peak_rss_bytes / 2**20,
        )
    summary = ServiceSummary(
        messages_in=service.totals.records,
        forecasts_out=service.forecasts_out,
        dead_lettered=dict(service.totals.dead_letters),
        duplicates=service.totals.duplicates,
        out_of_order=service.totals.out_of_order,
        windows_reset=service.totals.resets,
        restored_records=service.totals.restored,
        batches=service.batches,
        transactions=service.delivery.transactions,
        aborted_transactions=service.delivery.aborted,
        actor_retries=pool.retries,
        elapsed_s=time.monotonic() - began,
        stop_reason=reason,
        processing_s=stopped_at - (service.first_input_at or stopped_at),
        actor_peak_rss_bytes=tuple(info.peak_rss_bytes for info in infos),
        shadow_forecasts_out=service.shadow_forecasts_out,
        model_swaps=service.swaps.swaps if service.swaps is not None else 0,
    )
    logger.info(
        "stopped (%s): %d inputs, %d forecasts, %d dead-lettered in %.1f s",
        reason,
        summary.messages_in,
        summary.forecasts_out,
        sum(summary.dead_lettered.values()),
        summary.elapsed_s,
    )
    return summary


def served_models(
    settings: ServeSettings,
) -> tuple[VersionDirs, ForecastingModel, ServedVersion | None]:
    """The versions to serve, the champion's model and the challenger (``None``: the
    champion alone, today's path).

    Raises:
        ConfigError: a challenger fraction without a challenger to serve, or a
            challenger that cannot share the champion's windows.
    """
    versions = resolve_versions(settings.model)
    # Metadata and adapter only: the numpy runtime keeps torch out of this process.
    model = load_model(versions.champion_dir, device="cpu", runtime="numpy")
    if versions.challenger_dir is None:
        if settings.challenger_fraction > 0:
            raise ConfigError(
                f"--challenger-fraction {settings.challenger_fraction:g} but model "
                f"{versions.name!r} has no challenger to serve",
                fix=f"set one with `wxstream models promote {versions.name} VERSION --alias "
                "challenger --why TEXT` (and name the model without @VERSION), or drop "
                "--challenger-fraction",
            )
        return versions, model, None
    second = load_model(versions.challenger_dir, device="cpu", runtime="numpy")
    check_compatible(model, second)
    logger.info(
        "serving %s: champion %s, challenger %s to %.0f %% of stations%s",
        versions.name,
        versions.champion_version,
        versions.challenger_version,
        100 * settings.challenger_fraction,
        ", the other version as a shadow" if settings.shadow else "",
    )
    return versions, model, ServedVersion(second, versions.challenger_version or second.version)


def quality_stage(settings: ServeSettings, model_dir: Path) -> QualityStage | None:
    """The quality stage the settings ask for, with the model directory's limits
    (``None``: off, by the settings or because the model has no limits)."""
    if not settings.quality_checks:
        return None
    thresholds = read_qc_thresholds(model_dir)
    if thresholds is None:
        logger.warning(
            "%s has no %s: the quality stage is off (wxstream train writes one; "
            "wxstream anomalies evaluate --write-thresholds adds one to a model)",
            model_dir,
            QC_THRESHOLDS_FILE,
        )
        return None
    return QualityStage(thresholds, settings.qc_policy)


def _build_service(
    settings: ServeSettings,
    model: ForecastingModel,
    pool: ActorPool,
    metrics: ServiceMetrics,
    quality: QualityStage | None = None,
    *,
    champion_version: str | None = None,
    challenger: ServedVersion | None = None,
) -> InferenceService:
    kafka = settings.kafka
    timeout_s = kafka.request_timeout_s * 3
    # A capped pre-fetch queue keeps memory flat however large the backlog grows.
    overrides: dict[str, object] = {
        "queued_max_messages_kbytes": FETCH_QUEUE_KBYTES,
        # One fetch per FETCH_WAIT_MS at a trickle instead of one per arriving record:
        # the broker answers far fewer requests for a few milliseconds of latency.
        "fetch_min_bytes": FETCH_MIN_BYTES,
        "fetch_wait_max_ms": FETCH_WAIT_MS,
    }
    if settings.session_timeout_s is not None:
        overrides["session_timeout_ms"] = int(settings.session_timeout_s * 1000)
    consumer = make_consumer(kafka, settings.group_id, **overrides)
    delivery: Delivery
    try:
        if settings.guarantee == "exactly-once":
            producer = make_producer(
                kafka,
                transactional_id=transactional_id_for(settings),
                transaction_timeout_ms=int(settings.transaction_timeout_s * 1000),
                linger_ms=PRODUCER_LINGER_MS,
            )
            delivery = TransactionalDelivery(producer, consumer, kafka, timeout_s)
        else:
            producer = make_producer(kafka, linger_ms=PRODUCER_LINGER_MS)
            delivery = AtLeastOnceDelivery(producer, kafka, timeout_s)
    except BaseException:
        consumer.close()
        raise
    return InferenceService(
        settings,
        model=model,
        forecaster=pool,
        source=KafkaRecordSource(consumer, kafka, settings.group_id),
        delivery=delivery,
        metrics=metrics,
        quality=quality,
        champion_version=champion_version,
        challenger=challenger,
        interval_history=interval_history_for(settings),
    )
