"""The benchmark's IO helpers: a temporary broker, reading topics back, waiting for the
service to drain its input, a live forecast receiver, and actor memory sampling."""

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
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
from confluent_kafka import OFFSET_BEGINNING, ConsumerGroupState, TopicPartition
from confluent_kafka import KafkaError as ConfluentKafkaError

from wxstream.errors import KafkaError, WxstreamError
from wxstream.kafka.admin import TopicSpec, ensure_topics, topic_partitions
from wxstream.kafka.clients import kafka_errors, make_admin, make_consumer
from wxstream.kafka.consumer import consume_records
from wxstream.settings import BrokerSettings, KafkaSettings, ServeSettings

if TYPE_CHECKING:
    from wxstream.streaming.service import ServiceSummary

logger = logging.getLogger(__name__)

ACTOR_PROCESS_PREFIX = "ray::InferenceActor"
"""Ray titles an actor's worker process ``ray::<ClassName>[.<method>]``."""


@dataclass(frozen=True, slots=True)
class TopicRecord:
    """One record read back from a topic."""

    key: bytes | None
    value: bytes | None
    timestamp_ms: int


def read_topic(kafka: KafkaSettings, topic: str, timeout_s: float = 120.0) -> list[TopicRecord]:
    """Every committed record of ``topic``, read from the beginning up to the end of each
    partition (``read_committed``: aborted transactions are left out)."""
    partitions = topic_partitions(kafka, topic)
    consumer = make_consumer(kafka, f"bench-read-{uuid.uuid4().hex[:8]}", enable_partition_eof=True)
    records: list[TopicRecord] = []
    at_end: set[int] = set()
    deadline = time.monotonic() + timeout_s
    try:
        with kafka_errors(kafka.bootstrap_servers, f"reading {topic}"):
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
            while len(at_end) < partitions:
                if time.monotonic() > deadline:
                    raise WxstreamError(f"reading {topic} back took longer than {timeout_s:.0f} s")
                for message in consumer.consume(10_000, 0.5):
                    error = message.error()
                    if error is not None:
                        if error.code() == ConfluentKafkaError._PARTITION_EOF:
                            partition = message.partition()
                            if partition is not None:
                                at_end.add(partition)
                            continue
                        raise WxstreamError(f"reading {topic}: {error.str()}")
                    records.append(
                        TopicRecord(message.key(), message.value(), message.timestamp()[1])
                    )
    finally:
        consumer.close()
    return records


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
    with LagProbe(kafka, group_id, topic) as probe:
        while True:
            left = probe.total()
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


class LagProbe:
    """Records of ``topic`` not yet committed by ``group_id``.

    Reads the group's committed offsets through a consumer that carries the group id but
    never joins it (so the group is not disturbed). The admin client's
    ``list_consumer_group_offsets`` is avoided on purpose: polled while the service's
    group was forming, librdkafka 2.16 crashed the process (SIGSEGV in
    ``rd_kafka_handle_OffsetFetch`` under ``rd_kafka_admin_worker``). The topic must not
    be transactional: its high watermark is taken as its end.
    """

    def __init__(self, kafka: KafkaSettings, group_id: str, topic: str) -> None:
        self.kafka = kafka
        self.topic = topic
        self.partitions = [TopicPartition(topic, p) for p in range(topic_partitions(kafka, topic))]
        self.consumer = make_consumer(kafka, group_id)

    def __enter__(self) -> LagProbe:
        return self

    def __exit__(self, *_: object) -> None:
        self.consumer.close()

    def total(self) -> int | None:
        """The lag summed over partitions; ``None`` while Kafka cannot tell yet."""
        timeout = self.kafka.request_timeout_s
        try:
            with kafka_errors(self.kafka.bootstrap_servers, f"reading the lag on {self.topic}"):
                committed = self.consumer.committed(self.partitions, timeout=timeout)
                left = 0
                for tp in committed:
                    if tp.error is not None:
                        return None
                    _, high = self.consumer.get_watermark_offsets(tp, timeout=timeout)
                    left += max(0, high - max(tp.offset, 0))
        except KafkaError as exc:
            logger.debug("lag on %s not available yet: %s", self.topic, exc)
            return None
        return left


def group_has_assignment(kafka: KafkaSettings, group_id: str) -> bool:
    """Whether ``group_id`` is stable with at least one member holding partitions."""
    admin = make_admin(kafka)
    with kafka_errors(kafka.bootstrap_servers, f"describing group {group_id}"):
        futures = admin.describe_consumer_groups(
            [group_id], request_timeout=kafka.request_timeout_s
        )
        try:
            description = futures[group_id].result()
        except Exception:  # an unknown group is an error value here: not joined yet
            return False
    if description.state != ConsumerGroupState.STABLE:
        return False
    return any(
        member.assignment is not None and member.assignment.topic_partitions
        for member in description.members
    )


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
def temporary_broker(bootstrap_servers: str | None, work_dir: Path | None) -> Iterator[str]:
    """Yield ``bootstrap_servers``, or start a broker in a temporary folder and stop it after."""
    if bootstrap_servers is not None:
        yield bootstrap_servers
        return
    from wxstream.kafka.broker import LocalBroker

    with tempfile.TemporaryDirectory(prefix="wxstream-bench-", dir=work_dir) as tmp:
        with socket_port() as port:
            settings = BrokerSettings(port=port, data_dir=Path(tmp) / "kafka", heap_mb=1024)
        broker = LocalBroker(settings)
        info = broker.start()
        logger.info("started a temporary broker at %s", info.bootstrap_servers)
        try:
            yield info.bootstrap_servers
        finally:
            broker.stop()


@contextlib.contextmanager
def socket_port() -> Iterator[int]:
    """A free TCP port on 127.0.0.1 (released when the block ends, for the broker to take)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    yield port


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
    """The features, predictions and dead-letter topics of one benchmark run."""

    features: str
    predictions: str
    dlq: str

    def kafka(self, bootstrap: str) -> KafkaSettings:
        """Client settings naming these topics."""
        return KafkaSettings(
            bootstrap_servers=bootstrap,
            features_topic=self.features,
            predictions_topic=self.predictions,
            dlq_topic=self.dlq,
        )


def bench_topics(label: str, run_id: str) -> BenchTopics:
    """Topic names unique to a run and a step."""
    base = f"bench-{run_id}-{label}"
    return BenchTopics(f"{base}-features", f"{base}-predictions", f"{base}-dlq")


def create_topics(bootstrap: str, partitions: int, *names: str) -> None:
    """Create ``names`` with ``partitions`` partitions each (existing ones are kept)."""
    ensure_topics(
        KafkaSettings(bootstrap_servers=bootstrap),
        [TopicSpec(name, partitions) for name in names],
    )


class ServiceThread:
    """``run_service`` in a background thread, stoppable, its exception kept."""

    def __init__(self, settings: ServeSettings) -> None:
        from wxstream.streaming.service import run_service

        self.stop = threading.Event()
        self.summary: ServiceSummary | None = None
        self.error: BaseException | None = None

        def target() -> None:
            try:
                self.summary = run_service(settings, stop=self.stop)
            except BaseException as exc:  # re-raised in the caller's thread by join()
                self.error = exc

        self.thread = threading.Thread(target=target, name="wxstream-bench-service", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        """Whether the service still runs."""
        return self.thread.is_alive()

    def join(self, timeout_s: float = 120.0) -> ServiceSummary | None:
        """Stop the service, wait for it, and return its summary (or raise its error)."""
        self.stop.set()
        self.thread.join(timeout_s)
        if self.error is not None:
            raise self.error
        return self.summary


@contextlib.contextmanager
def service_thread(settings: ServeSettings) -> Iterator[ServiceThread]:
    """:class:`ServiceThread` for the block; stopped at its end whatever happens."""
    service = ServiceThread(settings)
    try:
        yield service
    finally:
        if service.alive():
            service.stop.set()
            service.thread.join(120.0)


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
