"""The benchmark's IO helpers: a temporary broker, waiting for the service to drain its
input, a live forecast receiver, and actor memory sampling."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, is_dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from wxstream.errors import WxstreamError
from wxstream.kafka.admin import TopicSpec, ensure_topics, group_has_assignment, topic_partitions
from wxstream.kafka.clients import make_consumer
from wxstream.kafka.consumer import consume_records
from wxstream.kafka.offsets import GroupOffsets
from wxstream.kafka.process import free_port
from wxstream.settings import BrokerSettings, ClientProperty, KafkaSettings

if TYPE_CHECKING:
    from wxstream.streaming.service import ServiceSummary

logger = logging.getLogger(__name__)

ACTOR_PROCESS_PREFIX = "ray::InferenceActor"
"""Ray titles an actor's worker process ``ray::<ClassName>[.<method>]``."""


def wait_for_drain(
    kafka: KafkaSettings,
    group_id: str,
    topic: str,
    alive: Callable[[], bool],
    *,
    timeout_s: float,
    stall_timeout_s: float = 60.0,
) -> float:
    """Wait until ``group_id`` committed every record of ``topic``; returns seconds waited.

    Raises:
        WxstreamError: the service stopped first, committed nothing for
            ``stall_timeout_s`` while records waited, or ``timeout_s`` passed.
    """
    started = last_change = time.monotonic()
    previous: int | None = None
    with GroupOffsets(kafka, group_id, topic) as offsets:
        while True:
            left = offsets.lag_total()
            if left == 0:
                return time.monotonic() - started
            if not alive():
                raise WxstreamError(f"the service stopped with {left} record(s) unread")
            if left != previous:
                previous, last_change = left, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout_s:
                raise WxstreamError(
                    f"the service stalled: {left} record(s) of {topic} left uncommitted "
                    f"and nothing committed for {stall_timeout_s:.0f} s"
                )
            if time.monotonic() - started > timeout_s:
                raise WxstreamError(
                    f"the service did not drain {topic} within {timeout_s:.0f} s "
                    f"({left} record(s) left)"
                )
            time.sleep(0.2)


class Received:
    """Forecasts a live reader received: ``(station, issued_at ISO, wall ms)``."""

    def __init__(self) -> None:
        self._items: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()

    def add(self, item: tuple[str, str, float]) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[tuple[str, str, float]]:
        """A copy of what arrived so far."""
        with self._lock:
            return list(self._items)


def forecast_identity(value: bytes | None) -> tuple[str, str] | None:
    """``(station_id, issued_at ISO)`` of a forecast record; ``None`` if it is not one.

    Only parses: the full validation of
    :func:`~wxstream.messages.predictions.decode_prediction` costs the reader, on the
    service's machine, more CPU than the latency it measures can spare.
    """
    try:
        doc = json.loads(value or b"")
        return str(doc["station_id"]), datetime.fromisoformat(doc["issued_at"]).isoformat()
    except (ValueError, TypeError, KeyError):
        return None


@contextlib.contextmanager
def live_receiver(kafka: KafkaSettings) -> Iterator[Received]:
    """Read the predictions topic (``read_committed``) in a thread while the block runs,
    stamping each forecast with the wall-clock time it arrived."""
    received = Received()
    stop = threading.Event()
    partitions = topic_partitions(kafka, kafka.predictions_topic)
    consumer = make_consumer(kafka, f"bench-live-{uuid.uuid4().hex[:8]}", fetch_wait_max_ms=10)
    consumer.assign(
        [TopicPartition(kafka.predictions_topic, p, OFFSET_BEGINNING) for p in range(partitions)]
    )

    def loop() -> None:
        while not stop.is_set():
            # Hands over a record as soon as it arrives, so the stamp is its arrival.
            messages, _ = consume_records(consumer, 1000, 0.05, kafka.bootstrap_servers)
            now_ms = time.time() * 1000.0
            for message in messages:
                found = forecast_identity(message.value())
                if found is not None:
                    received.add((*found, now_ms))

    thread = threading.Thread(target=loop, name="wxstream-bench-receiver", daemon=True)
    thread.start()
    try:
        yield received
    finally:
        stop.set()
        thread.join(10.0)
        consumer.close()


class RssSampler:
    """Samples the resident set size of this process's inference actors.

    An actor is found by its process title and counted only when it descends from this
    process (the local Ray it started), so actors of other Ray instances on the machine
    are left out. Sampling runs only inside :meth:`active` blocks; peaks persist.
    """

    def __init__(self, interval_s: float = 0.25) -> None:
        self.interval_s = interval_s
        self.peaks_bytes: dict[int, int] = {}
        self.root_pid = os.getpid()

    def sample(self) -> None:
        """One pass over the processes."""
        for process in psutil.process_iter(["pid", "name", "cmdline"]):
            try:
                cmdline = process.info.get("cmdline") or []
                title = cmdline[0] if cmdline else (process.info.get("name") or "")
                if not title.startswith(ACTOR_PROCESS_PREFIX):
                    continue
                if all(parent.pid != self.root_pid for parent in process.parents()):
                    continue
                rss = process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied, IndexError):
                continue
            pid = int(process.info["pid"])
            self.peaks_bytes[pid] = max(self.peaks_bytes.get(pid, 0), rss)

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        """Sample in a background thread while the block runs."""
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(self.interval_s):
                self.sample()

        thread = threading.Thread(target=loop, name="wxstream-bench-rss", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(5.0)

    def peaks_mb(self) -> dict[int, float]:
        """Actor pid -> peak RSS in MiB."""
        return {pid: rss / 2**20 for pid, rss in sorted(self.peaks_bytes.items())}


@contextlib.contextmanager
def temporary_broker(
    bootstrap_servers: str | None,
    work_dir: Path | None,
    client_properties: tuple[ClientProperty, ...] = (),
) -> Iterator[KafkaSettings]:
    """The cluster to benchmark on: ``bootstrap_servers`` with ``client_properties`` (its
    security settings), or a broker started in a temporary folder and stopped after."""
    if bootstrap_servers is not None:
        yield KafkaSettings(
            bootstrap_servers=bootstrap_servers, client_properties=client_properties
        )
        return
    from wxstream.kafka.broker import LocalBroker

    with tempfile.TemporaryDirectory(prefix="wxstream-bench-", dir=work_dir) as tmp:
        port = free_port("127.0.0.1")
        settings = BrokerSettings(port=port, data_dir=Path(tmp) / "kafka", heap_mb=1024)
        broker = LocalBroker(settings)
        info = broker.start()
        logger.info("started a temporary broker at %s", info.bootstrap_servers)
        try:
            yield KafkaSettings(bootstrap_servers=info.bootstrap_servers)
        finally:
            broker.stop()


def wait_for_group(
    kafka: KafkaSettings, group_id: str, alive: Callable[[], bool], timeout_s: float = 180.0
) -> None:
    """Wait until the service's consumer group has a member with partitions assigned."""
    deadline = time.monotonic() + timeout_s
    while not group_has_assignment(kafka, group_id):
        if not alive():
            raise WxstreamError("the service stopped before it joined its consumer group")
        if time.monotonic() > deadline:
            raise WxstreamError(
                f"the service did not join consumer group {group_id} within {timeout_s:.0f} s"
            )
        time.sleep(0.25)


@dataclass
class BenchTopics:
    """The features, predictions, dead-letter, anomalies and shadow topics of one
    benchmark run (``shadow`` empty: none)."""

    features: str
    predictions: str
    dlq: str
    anomalies: str
    shadow: str = ""

    def names(self) -> list[str]:
        """Features, predictions, dead-letter, anomalies (and shadow) topics, in that order."""
        names = [self.features, self.predictions, self.dlq, self.anomalies]
        return [*names, self.shadow] if self.shadow else names

    def kafka(self, cluster: KafkaSettings) -> KafkaSettings:
        """``cluster``'s client settings naming these topics."""
        return replace(
            cluster,
            features_topic=self.features,
            predictions_topic=self.predictions,
            dlq_topic=self.dlq,
            anomalies_topic=self.anomalies,
            shadow_topic=self.shadow or cluster.shadow_topic,
        )


def bench_topics(label: str, run_id: str) -> BenchTopics:
    """Topic names unique to a run and a step."""
    base = f"bench-{run_id}-{label}"
    return BenchTopics(
        f"{base}-features",
        f"{base}-predictions",
        f"{base}-dlq",
        f"{base}-anomalies",
        f"{base}-shadow",
    )


def create_topics(cluster: KafkaSettings, partitions: int, *names: str) -> None:
    """Create ``names`` with ``partitions`` partitions each (existing ones are kept)."""
    ensure_topics(cluster, [TopicSpec(name, partitions) for name in names])


def summary_dict(summary: ServiceSummary | None) -> dict[str, Any]:
    """The scalar fields of a service summary, for the JSON report."""
    if summary is None:
        return {}

    if is_dataclass(summary) and not isinstance(summary, type):
        return {
            key: value
            for key, value in asdict(summary).items()
            if isinstance(value, int | float | str | bool) or value is None
        }
    return {}
