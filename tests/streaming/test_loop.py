"""The loop's rules, driven through the real :class:`InferenceService` with the
in-memory source, delivery and forecaster and a fake clock: back-pressure, group
commit, the in-flight cap, and stopping on quota and on idle."""

from __future__ import annotations

import itertools
import time

import pytest

from tests.streaming.conftest import RigFactory
from wxstream.streaming.testing import EOF, Item

# A broken rule can leave the loop waiting for ever: fail instead of hanging.
pytestmark = pytest.mark.timeout(60)


def records_of(
    hourly: dict[int, list[tuple[bytes | None, bytes | None]]], hours: int | None = None
) -> dict[int, list[Item]]:
    if hours is None:
        return {p: list(items) for p, items in hourly.items()}
    per_hour = {0: 2, 1: 1}
    return {p: list(items[: hours * per_hour[p]]) for p, items in hourly.items()}


def wait_for(condition: object, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.001)


def test_a_full_queue_pauses_only_after_pause_after_ms_and_resumes_with_room(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r = rig(
        records_of(hourly),
        at_once=False,
        max_in_flight_batches=2,
        batch_size=4,
        pause_after_ms=500,
    )
    service, source, clock = r.service, r.source, r.clock
    service.open()
    for _ in range(200):
        service.step()
        if r.forecaster.in_flight >= 2:
            break
    assert r.forecaster.in_flight == 2
    full_at = clock()
    taken = dict(source.positions)
    while not source.paused:
        service.step()
        # A full queue takes no records, paused or not.
        assert source.positions == taken
        assert clock() - full_at < 5.0, "never paused"
    waited_ms = (clock() - full_at) * 1000.0
    assert 500 <= waited_ms < 600
    r.forecaster.finish()
    service.step()  # collects: room again
    service.step()
    assert not source.paused
    assert source.positions != taken
    service.close()


def test_a_batch_sealed_while_the_queue_is_full_waits_for_a_free_slot(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r = rig(
        records_of(hourly),
        at_once=False,
        max_in_flight_batches=1,
        batch_size=4,
        max_wait_ms=20,
        pause_after_ms=100,
    )
    service, source = r.service, r.source
    service.open()
    for _ in range(500):
        service.step()
        if source.paused:
            break
    assert source.paused
    # Paused: records gathered before age past max_wait_ms and are sealed; the batch
    # waits instead of going out as a second call.
    for _ in range(5):
        service.step()
    assert len(service.sealed) == 1
    assert r.forecaster.peak_in_flight == 1
    for _ in range(3000):
        r.forecaster.finish()
        service.step()
        assert r.forecaster.peak_in_flight == 1
        if r.source.lag() == {0: 0, 1: 0} and not service._forecasting():
            break
    service.drain()
    service.close()
    assert service.totals.records == sum(len(v) for v in hourly.values())


def test_group_commit_leaves_at_most_every_commit_interval(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r = rig(records_of(hourly), batch_size=3, max_wait_ms=0, commit_interval_ms=200)
    service = r.service
    service.open()
    left_at: list[float] = []
    for _ in range(400):
        r.clock.advance(0.05)
        calls = r.delivery.calls
        service.step()
        if r.delivery.calls > calls:
            left_at.append(r.clock())
    service.close()
    assert len(left_at) >= 5
    gaps = [b - a for a, b in itertools.pairwise(left_at)]
    assert min(gaps) >= 0.2 - 1e-9
    # Several batches leave together.
    assert len(r.delivery.delivered) > len(left_at)


def test_batches_gather_while_a_delivery_runs_and_deliveries_never_overlap(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r = rig(records_of(hourly), batch_size=3, max_wait_ms=0, thread_safe=True)
    service, delivery = r.service, r.delivery
    delivery.hold()
    service.open()
    try:
        assert service.sender is not None
        while service.sender.idle:
            r.clock.advance(1.0)
            service.step()
        wait_for(lambda: delivery.calls == 1)
        # Fewer than the burst (4 * max_in_flight_batches) finished batches.
        for _ in range(10):
            r.clock.advance(1.0)
            service.step()
        # The first delivery still runs: the next one has not left, batches gather.
        assert delivery.calls == 1
        waiting = len(service.ready)
        assert waiting > 1
        delivered = len(delivery.delivered)
        delivery.release()
        wait_for(lambda: delivery.transactions == 1)
        wait_for(lambda: service.sender.idle)
        service.step()
        wait_for(lambda: delivery.transactions == 2)
        assert len(delivery.delivered) - delivered >= waiting
        assert delivery.peak_running == 1
    finally:
        delivery.release()
        service.close()


def test_the_loop_stops_on_its_quota(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r = rig(records_of(hourly), max_messages=50, batch_size=8)
    assert r.run() == "max_messages"
    assert r.service.totals.records == 50
    assert sum(r.log.committed.values()) == 50


def test_the_loop_stops_after_idle_exit_s_of_silence_only(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    items = records_of(hourly, hours=10)
    items[0].append(EOF())
    r = rig(items, idle_exit_s=5.0)
    began = r.clock()
    assert r.run() == "idle"
    assert r.source.last_record_at is not None
    silent_s = r.clock() - r.source.last_record_at
    assert 5.0 <= silent_s < 5.5
    assert r.clock() - began >= 5.0
    assert r.service.totals.records == sum(len(v) for v in items.values()) - 1
