"""The delivery watchdog: a delivery job that runs past ``delivery_stall_timeout_s``
ends the service (:class:`DeliveryStalledError`), a normal one never does.

The deliveries here fake the :class:`~wxstream.streaming.delivery.Delivery` protocol:
one blocks on a :class:`threading.Event` (what a call stuck in librdkafka looks like
from Python), one returns after a short, fixed time. The last test runs a process
whose delivery thread is stuck inside librdkafka itself (a real producer flushing to
an address where no broker listens) and times how long it takes to exit.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxstream.errors import ConfigError, DeliveryStalledError, TransactionError
from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.core.stall import StallWatch, stalled_for
from wxstream.streaming.delivery_thread import BackgroundDelivery, InlineDelivery

LIMIT_S = 10.0


class FakeClock:
    """Monotonic seconds that move only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class BlockingDelivery:
    """A delivery whose jobs wait on :attr:`release` (a call that never comes back
    until the test says so). Fakes the ``Delivery`` protocol."""

    thread_safe = True

    commits_offsets = True

    def __init__(self) -> None:
        self.transactions = 0
        self.aborted = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.closed = False

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        self.started.set()
        self.release.wait()
        self.transactions += 1
        return True

    def close(self) -> None:
        self.closed = True


class QuickDelivery:
    """A delivery whose jobs each take ``job_s`` seconds. Fakes the ``Delivery``
    protocol."""

    thread_safe = True

    commits_offsets = True

    def __init__(self, job_s: float) -> None:
        self.job_s = job_s
        self.transactions = 0
        self.aborted = 0
        self.closed = False

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        time.sleep(self.job_s)
        self.transactions += 1
        return True

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def blocking() -> Iterator[BlockingDelivery]:
    """A :class:`BlockingDelivery` whose stuck job is let go when the test ends."""
    delivery = BlockingDelivery()
    yield delivery
    delivery.release.set()


def one_batch() -> list[Outgoing]:
    return [Outgoing(predictions=[(b"EWR", b"{}")], dead_letters=[], timestamps_ms=[0])]


# -- the decision ------------------------------------------------------------------------


def test_stalled_only_past_the_limit() -> None:
    assert stalled_for(None, 500.0, LIMIT_S) is None
    assert stalled_for(100.0, 500.0, None) is None
    assert stalled_for(100.0, 105.0, LIMIT_S) is None
    assert stalled_for(100.0, 110.0, LIMIT_S) is None
    assert stalled_for(100.0, 110.5, LIMIT_S) == pytest.approx(10.5)


@given(
    started=st.floats(0.0, 1e6),
    running=st.floats(0.0, 1e4),
    limit=st.floats(0.001, 1e4),
)
def test_stalled_exactly_when_the_job_ran_longer_than_the_limit(
    started: float, running: float, limit: float
) -> None:
    now = started + running
    found = stalled_for(started, now, limit)
    assert (found is not None) == (now - started > limit)
    if found is not None:
        assert found == now - started


def test_a_limit_must_be_positive() -> None:
    with pytest.raises(ConfigError) as caught:
        StallWatch(0.0)
    assert "--delivery-stall-timeout-s" in (caught.value.fix or "")


def test_the_error_is_a_transaction_error_with_its_own_exit_code() -> None:
    watch = StallWatch(LIMIT_S, clock := FakeClock())
    watch.job_started()
    clock.advance(LIMIT_S + 1)
    with pytest.raises(TransactionError) as caught:
        watch.check()
    error = caught.value
    assert isinstance(error, DeliveryStalledError)
    assert error.exit_code == 75
    assert "11.0 s" in error.message
    assert error.fix is not None
    assert "supervisor" in error.fix


# -- the delivery thread -----------------------------------------------------------------


def test_a_stuck_job_trips_the_watchdog_after_the_limit_and_not_before(
    blocking: BlockingDelivery,
) -> None:
    clock = FakeClock()
    background = BackgroundDelivery(blocking, stall_timeout_s=LIMIT_S, clock=clock)
    background.submit(one_batch(), {0: 1})
    assert blocking.started.wait(5)
    background.check_stalled()
    clock.advance(LIMIT_S)
    background.check_stalled()  # at the limit: not yet
    clock.advance(0.1)
    with pytest.raises(DeliveryStalledError):
        background.check_stalled()
    with pytest.raises(DeliveryStalledError):
        background.check_stalled()  # and on every later look
    assert not background.idle


def test_close_leaves_a_stuck_job_behind_at_once(blocking: BlockingDelivery) -> None:
    clock = FakeClock()
    background = BackgroundDelivery(blocking, stall_timeout_s=LIMIT_S, clock=clock)
    background.submit(one_batch(), {0: 1})
    assert blocking.started.wait(5)
    clock.advance(LIMIT_S + 1)
    with pytest.raises(DeliveryStalledError):
        background.check_stalled()
    began = time.monotonic()
    background.close()  # already reported: no second error
    assert time.monotonic() - began < 2.0
    # The stuck call still holds the producer: it is not flushed or closed under it.
    assert not blocking.closed


def test_close_reports_a_job_that_gets_stuck_while_closing(blocking: BlockingDelivery) -> None:
    background = BackgroundDelivery(blocking, stall_timeout_s=0.3)
    background.submit(one_batch(), {0: 1})
    began = time.monotonic()
    with pytest.raises(DeliveryStalledError):
        background.close()
    assert 0.3 <= time.monotonic() - began < 3.0
    assert not blocking.closed


def test_a_loop_waiting_to_submit_gets_the_error(blocking: BlockingDelivery) -> None:
    background = BackgroundDelivery(blocking, max_pending=1, stall_timeout_s=0.3)
    background.submit(one_batch(), {0: 1})
    assert blocking.started.wait(5)
    background.submit(one_batch(), {0: 2})  # queued behind the stuck one
    began = time.monotonic()
    with pytest.raises(DeliveryStalledError):
        background.submit(one_batch(), {0: 3})  # would wait for room forever
    assert time.monotonic() - began < 3.0


def test_a_loop_waiting_for_idle_gets_the_error(blocking: BlockingDelivery) -> None:
    background = BackgroundDelivery(blocking, stall_timeout_s=0.3)
    background.submit(one_batch(), {0: 1})
    began = time.monotonic()
    with pytest.raises(DeliveryStalledError):
        background.wait_idle(60.0)
    assert time.monotonic() - began < 3.0


def test_normal_jobs_never_trip_it_however_long_they_run_together() -> None:
    # 12 jobs of 0.1 s run 1.2 s in all, four times the limit; each stays within it.
    delivery = QuickDelivery(job_s=0.1)
    background = BackgroundDelivery(delivery, stall_timeout_s=0.3)
    for offset in range(1, 13):
        background.submit(one_batch(), {0: offset})
        background.check_stalled()
        background.reports()
    assert background.wait_idle(30.0)
    background.check_stalled()
    background.close()
    assert delivery.transactions == 12
    assert delivery.closed


def test_a_finished_job_is_never_stalled_however_long_after() -> None:
    clock = FakeClock()
    delivery = QuickDelivery(job_s=0.0)
    background = BackgroundDelivery(delivery, stall_timeout_s=LIMIT_S, clock=clock)
    background.submit(one_batch(), {0: 1})
    assert background.wait_idle(10.0)
    clock.advance(LIMIT_S * 100)
    background.check_stalled()
    assert len(background.reports()) == 1
    background.close()


def test_without_a_limit_nothing_is_ever_stalled(blocking: BlockingDelivery) -> None:
    clock = FakeClock()
    background = BackgroundDelivery(blocking, clock=clock)
    background.submit(one_batch(), {0: 1})
    assert blocking.started.wait(5)
    clock.advance(1e9)
    background.check_stalled()
    blocking.release.set()
    background.close()
    assert blocking.closed


def test_inline_deliveries_are_never_stalled() -> None:
    inline = InlineDelivery(QuickDelivery(job_s=0.0))
    inline.submit(one_batch(), {0: 1})
    inline.check_stalled()
    assert len(inline.reports()) == 1


# -- a process whose delivery thread is stuck in librdkafka -------------------------------

STUCK_CHILD = textwrap.dedent(
    """
    import sys
    import time

    from confluent_kafka import Producer

    from wxstream.errors import WxstreamError
    from wxstream.streaming.delivery_thread import BackgroundDelivery


    class StuckInLibrdkafka:
        # Flushes a record to an address where no broker listens, for an hour: the
        # thread sits in librdkafka's C code, as in a wedged transactional call.
        thread_safe = True
        commits_offsets = True
        transactions = 0
        aborted = 0

        def __init__(self):
            self.producer = Producer(
                {"bootstrap.servers": "127.0.0.1:1", "message.timeout.ms": 3_600_000,
                 "log_level": 0}
            )

        def deliver(self, batches, positions, group_metadata=None):
            self.producer.produce("wx-stuck", b"x")
            print("stuck", file=sys.stderr, flush=True)
            self.producer.flush(3600)
            return True

        def close(self):
            self.producer.flush(3600)


    background = BackgroundDelivery(StuckInLibrdkafka(), stall_timeout_s=1.0)
    background.submit([], {0: 1})
    try:
        while True:  # the service loop's turns
            background.check_stalled()
            time.sleep(0.05)
    except WxstreamError as exc:
        print(f"raised at {time.time()!r}", file=sys.stderr, flush=True)
        try:
            background.close()  # what the loop's shutdown path does
        finally:
            sys.exit(exc.exit_code)  # what wxstream.cli.main does with the error
    """
)


def test_a_process_exits_although_its_delivery_thread_is_stuck_in_librdkafka() -> None:
    began = time.time()
    child = subprocess.run(
        [sys.executable, "-c", STUCK_CHILD], check=False, capture_output=True, text=True, timeout=60
    )
    ended = time.time()
    assert child.returncode == DeliveryStalledError.exit_code, child.stderr[-3000:]
    assert "stuck" in child.stderr
    assert "delivery stalled" in child.stderr
    raised_at = float(child.stderr.split("raised at ")[-1].split()[0])
    exit_s = ended - raised_at
    print(f"\nWATCHDOG exit after the error: {exit_s:.2f} s (whole run {ended - began:.1f} s)")
    assert exit_s < 5.0
