"""The loop's recovery rules, driven through the real :class:`InferenceService` in
memory: a rewind after an aborted delivery, a revocation and re-assignment (against an
uninterrupted run and a restart), counting each input once, and at-least-once delivery
on the watched delivery thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.streaming.conftest import RigFactory
from tests.streaming.test_loop import records_of
from wxstream.errors import DeliveryStalledError
from wxstream.settings import KafkaSettings
from wxstream.streaming import AtLeastOnceDelivery
from wxstream.streaming.testing import ABORT, ASSIGN, EOF, REVOKE, FakeClock, MemoryLog

# A broken rule can leave the loop waiting for ever: fail instead of hanging.
pytestmark = pytest.mark.timeout(60)

BAD = (b"EWR", b"\xff\xfe not json")


def uninterrupted(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> dict[tuple[str, str], Any]:
    r = rig(records_of(hourly))
    assert r.run() == "idle"
    return r.forecasts()


def test_an_aborted_delivery_drops_the_windows_and_reads_again_from_the_committed_offsets(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    expected = uninterrupted(rig, hourly)
    items = records_of(hourly)
    items[0].insert(40, ABORT())
    r = rig(items)
    assert r.run() == "idle"
    assert r.delivery.aborted == 1
    assert r.service.metrics.value("wxstream_transactions_aborted_total") == 1
    # The windows were rebuilt from records before the committed offsets ...
    assert r.service.totals.restored > 0
    # ... and every forecast left exactly once, the same as without the abort.
    assert r.forecasts() == expected
    assert r.log.committed == {0: len(hourly[0]), 1: len(hourly[1])}


def test_records_read_again_after_a_rewind_are_counted_once(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    items = records_of(hourly)
    items[0].insert(30, BAD)
    items[0].insert(50, ABORT())
    r = rig(items)
    assert r.run() == "idle"
    assert r.delivery.aborted == 1
    inputs = sum(len(v) for v in hourly.values()) + 1
    metrics = r.service.metrics
    assert r.service.totals.records == inputs
    assert metrics.value("wxstream_messages_in_total") == inputs
    assert metrics.value("wxstream_dead_lettered_total", {"reason": "undecodable"}) == 1
    assert metrics.value("wxstream_forecasts_out_total") == len(r.forecasts())
    assert metrics.value("wxstream_restored_records_total") == r.service.totals.restored > 0


def test_revoke_and_assign_rebuild_exactly_the_windows_a_restart_would(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    expected = uninterrupted(rig, hourly)
    # A rebalance in the middle of the stream: every partition taken away and handed back.
    items = records_of(hourly)
    items[0][40:40] = [REVOKE(), ASSIGN()]
    rebalanced = rig(items)
    assert rebalanced.run() == "idle"
    assert rebalanced.service.totals.restored > 0
    assert rebalanced.forecasts() == expected
    # A restart at the same place: the first run stops there, a second one goes on.
    items = records_of(hourly)
    items[0].insert(40, EOF())
    items[1].insert(20, EOF())
    log, clock = MemoryLog(items), FakeClock()
    first = rig(log, clock=clock)
    assert first.run() == "idle"
    second = rig(log, clock=clock)
    assert second.run() == "idle"
    assert second.service.totals.restored > 0
    restarted = first.forecasts() | second.forecasts()
    assert len(restarted) == len(first.forecasts()) + len(second.forecasts())
    assert restarted == expected


def test_one_partition_revoked_and_assigned_again_restores_its_windows(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    expected = uninterrupted(rig, hourly)
    items = records_of(hourly)
    items[1][10:10] = [REVOKE((1,)), ASSIGN((1,))]
    r = rig(items)
    assert r.run() == "idle"
    assert r.forecasts() == expected


def test_a_revoked_partition_leaves_no_window_behind(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    items = records_of(hourly)
    items[0].insert(30, REVOKE((1,)))
    r = rig(items)
    r.service.open()
    r.service.step()  # joins the group
    had_windows = False
    while 1 in r.source.positions:
        had_windows |= 1 in r.service.assembler.windows
        r.service.step()
        assert r.clock() < 2000.0, "never revoked"
    assert had_windows
    assert 1 not in r.service.assembler.windows
    assert 0 in r.service.assembler.windows
    r.service.close()


# -- at-least-once on the delivery thread ----------------------------------------------------


class HangingProducer:
    """A producer whose flush waits until released (a broker that does not answer);
    records the threads it was called on."""

    def __init__(self, hang: bool) -> None:
        self.hang = hang
        self.released = threading.Event()
        self.produce_threads: set[int] = set()
        self.sent: list[Any] = []
        self._callbacks: list[Any] = []

    def produce(self, topic: str, value: bytes, key: bytes, **kwargs: Any) -> None:
        self.produce_threads.add(threading.get_ident())
        self.sent.append((topic, key, value))
        self._callbacks.append(kwargs.get("on_delivery"))

    def poll(self, timeout: float) -> int:
        return 0

    def flush(self, timeout: float) -> int:
        if self.hang:
            self.released.wait()
        for callback in self._callbacks:
            if callback is not None:
                callback(None, None)
        self._callbacks.clear()
        return 0


def test_at_least_once_produces_on_the_delivery_thread_and_commits_on_the_loop_thread(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    producer = HangingProducer(hang=False)
    log = MemoryLog(records_of(hourly))
    delivery = AtLeastOnceDelivery(producer, KafkaSettings(), timeout_s=5.0)  # type: ignore[arg-type]
    r = rig(log, delivery=delivery, guarantee="at-least-once")
    assert r.run() == "idle"
    assert producer.produce_threads
    assert threading.get_ident() not in producer.produce_threads
    assert set(r.source.commit_threads) == {threading.get_ident()}
    assert log.committed == {0: len(hourly[0]), 1: len(hourly[1])}
    assert r.service.forecasts_out == sum(1 for topic, _k, _v in producer.sent if "pred" in topic)


@pytest.mark.timeout(60)
def test_the_delivery_watchdog_covers_an_at_least_once_flush(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    producer = HangingProducer(hang=True)
    delivery = AtLeastOnceDelivery(producer, KafkaSettings(), timeout_s=5.0)  # type: ignore[arg-type]
    r = rig(
        records_of(hourly),
        delivery=delivery,
        guarantee="at-least-once",
        delivery_stall_timeout_s=3.0,
    )
    try:
        with pytest.raises(DeliveryStalledError):
            r.run()
    finally:
        producer.released.set()
    assert not r.log.committed


def test_a_rewind_restarts_the_idle_clock(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    # Re-fetching after a rewind can take a while on a busy broker: that is not silence.
    r = rig(records_of(hourly, hours=2), idle_exit_s=5.0)
    rebalance = r.service.rebalance
    rebalance.on_assign([0, 1])
    r.clock.advance(60.0)
    assert rebalance.joined_at < r.clock()
    rebalance.rewind()
    assert rebalance.joined_at == r.clock()
