"""Deliveries on their own thread, so that a transaction's round trips to the broker
overlap the decoding, windowing and encoding of the next batches.

:class:`BackgroundDelivery` wraps a :class:`~.delivery.Delivery`. Jobs run one at a
time, in submission order (transactions of one producer are sequential anyway). When
a job fails (an aborted transaction, an undelivered record) every job queued after it
is dropped, because it was built on top of the failed one; the loop then sees
:attr:`BackgroundDelivery.failed`, waits for the thread to be idle, rewinds to the
committed offsets and calls :meth:`BackgroundDelivery.clear_failure`. An exception in
the thread (a fatal Kafka error) is re-raised in the loop's thread.

confluent-kafka releases the GIL while it waits for the broker, so the loop runs
while a transaction commits.

A job that runs longer than its stall limit (``delivery_stall_timeout_s``; librdkafka
can wait without end inside a transactional call) makes :meth:`~BackgroundDelivery.check_stalled`,
and every wait of the loop's thread on the delivery thread, raise
:class:`~wxstream.errors.DeliveryStalledError` (see :mod:`.delivery_watchdog`). The
thread is a daemon and :meth:`~BackgroundDelivery.close` leaves a stuck job behind
(no join, no flush of its producer), so the process can exit while the call hangs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.core.stall import Clock, StallWatch
from wxstream.streaming.ports import Delivery

logger = logging.getLogger(__name__)

_WAIT_SLICE_S = 0.5
"""Longest wait on the delivery thread between two looks at the stall limit."""


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery that was committed.

    Attributes:
        forecasts: forecast records delivered.
        timestamps_ms: Kafka timestamps of the inputs behind them.
        committed_at_s: ``time.time()`` when it was committed.
        tag: what the submitter passed along with the job.
        positions: the offsets the delivery covers (partition -> next offset).
        shadow_forecasts: shadow forecast records delivered.
    """

    forecasts: int
    timestamps_ms: list[int]
    committed_at_s: float
    tag: Any = None
    positions: dict[int, int] = field(default_factory=dict)
    shadow_forecasts: int = 0


@dataclass(frozen=True)
class _Job:
    batches: Sequence[Outgoing]
    positions: dict[int, int]
    group_metadata: Any
    tag: Any


def _report(job: _Job) -> DeliveryReport:
    return DeliveryReport(
        sum(len(b.predictions) for b in job.batches),
        [ts for b in job.batches for ts in b.timestamps_ms],
        time.time(),
        job.tag,
        job.positions,
        sum(len(b.shadow) for b in job.batches),
    )


class Sender(Protocol):
    """How the loop hands deliveries over: :class:`BackgroundDelivery` or
    :class:`InlineDelivery`."""

    @property
    def idle(self) -> bool:
        """No delivery queued or running."""
        ...

    @property
    def failed(self) -> bool:
        """A delivery failed; the loop must rewind, then :meth:`clear_failure`."""
        ...

    def submit(
        self,
        batches: Sequence[Outgoing],
        positions: dict[int, int],
        group_metadata: Any = None,
        tag: Any = None,
    ) -> None:
        """Deliver (now or soon)."""
        ...

    def reports(self) -> list[DeliveryReport]:
        """Deliveries committed since the last call."""
        ...

    def wait_idle(self, timeout_s: float = 120.0) -> bool:
        """Wait for queued deliveries."""
        ...

    def clear_failure(self) -> None:
        """Accept deliveries again."""
        ...

    def check_stalled(self) -> None:
        """Raise :class:`~wxstream.errors.DeliveryStalledError` when the running
        delivery has passed its stall limit."""
        ...

    def close(self) -> None:
        """Finish and release."""
        ...


class InlineDelivery:
    """Runs each delivery at once on the caller's thread (for a delivery that must
    stay on the consumer's thread: ``thread_safe = False``). The delivery watchdog does
    not cover it: the service's own deliveries are all thread-safe."""

    def __init__(self, delivery: Delivery) -> None:
        self.inner = delivery
        self.failed = False
        self.idle = True
        self._reports: list[DeliveryReport] = []

    def submit(
        self,
        batches: Sequence[Outgoing],
        positions: dict[int, int],
        group_metadata: Any = None,
        tag: Any = None,
    ) -> None:
        """Deliver now; a failure sets :attr:`failed`."""
        if self.failed:
            return
        job = _Job(batches, positions, group_metadata, tag)
        if self.inner.deliver(batches, positions, group_metadata):
            self._reports.append(_report(job))
        else:
            self.failed = True

    def reports(self) -> list[DeliveryReport]:
        """Deliveries committed since the last call."""
        reports, self._reports = self._reports, []
        return reports

    def wait_idle(self, timeout_s: float = 120.0) -> bool:
        """Always idle."""
        return True

    def clear_failure(self) -> None:
        """Accept deliveries again."""
        self.failed = False

    def check_stalled(self) -> None:
        """Never stalled as seen from here: a delivery on the caller's thread returns
        before the caller could look."""

    def close(self) -> None:
        """Close the inner delivery."""
        self.inner.close()


class BackgroundDelivery:
    """Runs ``delivery`` on a daemon thread, at most ``max_pending`` jobs queued.

    Args:
        delivery: what runs the jobs.
        max_pending: jobs queued at most; :meth:`submit` waits beyond.
        stall_timeout_s: a job running longer is stuck (``None``: no limit).
        clock: monotonic seconds of the stall watch (a fake one in tests).
    """

    def __init__(
        self,
        delivery: Delivery,
        *,
        max_pending: int = 2,
        stall_timeout_s: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.inner = delivery
        self._max_pending = max_pending
        self._watch = StallWatch(stall_timeout_s, clock)
        self._jobs: deque[_Job] = deque()
        self._reports: list[DeliveryReport] = []
        self._busy = False
        self._failed = False
        self._error: BaseException | None = None
        self._closing = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._work, name="wxstream-delivery", daemon=True)
        self._thread.start()

    @property
    def idle(self) -> bool:
        """No job queued or running."""
        with self._cond:
            return not self._jobs and not self._busy

    @property
    def failed(self) -> bool:
        """A job failed; later jobs were dropped; the loop must rewind."""
        with self._cond:
            return self._failed

    def submit(
        self,
        batches: Sequence[Outgoing],
        positions: dict[int, int],
        group_metadata: Any = None,
        tag: Any = None,
    ) -> None:
        """Queue a delivery; waits while ``max_pending`` jobs are queued. ``tag`` comes
        back in its :class:`DeliveryReport`.

        Dropped silently after a failure, until :meth:`clear_failure`.
        """
        with self._cond:
            self._raise_error()
            while len(self._jobs) >= self._max_pending and not (self._failed or self._error):
                self._watch.check()
                self._cond.wait(_WAIT_SLICE_S)
            self._raise_error()
            if self._failed:
                return
            self._jobs.append(_Job(batches, positions, group_metadata, tag))
            self._cond.notify_all()

    def reports(self) -> list[DeliveryReport]:
        """Deliveries committed since the last call (never blocks)."""
        with self._cond:
            self._raise_error()
            reports, self._reports = self._reports, []
            return reports

    def wait_idle(self, timeout_s: float = 120.0) -> bool:
        """Wait until no job is queued or running; ``False`` on timeout."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._jobs or self._busy:
                self._watch.check()
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, _WAIT_SLICE_S))
            self._raise_error()
            return True

    def clear_failure(self) -> None:
        """Accept jobs again (after the loop rewound)."""
        with self._cond:
            self._failed = False

    def check_stalled(self) -> None:
        """Raise when the running job has passed the stall limit (the loop calls this
        every turn).

        Raises:
            DeliveryStalledError: the job has run longer than ``stall_timeout_s``.
        """
        with self._cond:
            self._watch.check()

    def close(self) -> None:
        """Finish queued jobs, stop the thread, close the inner delivery.

        A stuck job is left behind on its daemon thread: no join, and the inner delivery
        (whose producer the stuck call still holds) is not closed.

        Raises:
            DeliveryStalledError: a job got stuck while closing (not raised again when
                :meth:`check_stalled` or a wait raised it already).
        """
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        while self._thread.is_alive():
            with self._cond:
                running_s = self._watch.stalled_for()
                if running_s is not None:
                    logger.error(
                        "delivery thread stuck for %.1f s: leaving it and its producer behind",
                        running_s,
                    )
                    if not self._watch.fired:
                        self._watch.check()
                    return
            self._thread.join(_WAIT_SLICE_S)
        self.inner.close()

    def _raise_error(self) -> None:
        error = self._error
        if error is not None:
            self._error = None
            raise error

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._closing:
                    self._cond.wait()
                if not self._jobs:
                    return
                job = self._jobs.popleft()
                self._busy = True
                self._watch.job_started()
            ok = False
            error: BaseException | None = None
            try:
                ok = self.inner.deliver(job.batches, job.positions, job.group_metadata)
            except BaseException as exc:  # re-raised in the loop's thread
                error = exc
            with self._cond:
                self._busy = False
                self._watch.job_finished()
                if error is not None or not ok:
                    dropped = len(self._jobs)
                    self._jobs.clear()
                    self._error = error or self._error
                    self._failed = True
                    if dropped:
                        logger.warning("dropped %d deliveries queued after a failed one", dropped)
                else:
                    self._reports.append(_report(job))
                self._cond.notify_all()


def sender_for(delivery: Delivery, stall_timeout_s: float | None, clock: Clock) -> Sender:
    """A :class:`BackgroundDelivery` (watched by ``stall_timeout_s``) for a thread-safe
    delivery, else an :class:`InlineDelivery`."""
    if delivery.thread_safe:
        return BackgroundDelivery(delivery, stall_timeout_s=stall_timeout_s, clock=clock)
    return InlineDelivery(delivery)
