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
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from wxstream.inference.delivery import Delivery, Outgoing

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery that was committed.

    Attributes:
        forecasts: forecast records delivered.
        timestamps_ms: Kafka timestamps of the inputs behind them.
        committed_at_s: ``time.time()`` when it was committed.
        tag: what the submitter passed along with the job.
    """

    forecasts: int
    timestamps_ms: list[int]
    committed_at_s: float
    tag: Any = None


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

    def close(self) -> None:
        """Finish and release."""
        ...


class InlineDelivery:
    """Runs each delivery at once on the caller's thread (for a delivery that must
    stay on the consumer's thread)."""

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

    def close(self) -> None:
        """Close the inner delivery."""
        self.inner.close()


class BackgroundDelivery:
    """Runs ``delivery`` on a daemon thread, at most ``max_pending`` jobs queued."""

    def __init__(self, delivery: Delivery, *, max_pending: int = 2) -> None:
        self.inner = delivery
        self._max_pending = max_pending
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
                self._cond.wait()
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
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            self._raise_error()
            return True

    def clear_failure(self) -> None:
        """Accept jobs again (after the loop rewound)."""
        with self._cond:
            self._failed = False

    def close(self) -> None:
        """Finish queued jobs, stop the thread, close the inner delivery."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
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
            ok = False
            error: BaseException | None = None
            try:
                ok = self.inner.deliver(job.batches, job.positions, job.group_metadata)
            except BaseException as exc:  # re-raised in the loop's thread
                error = exc
            with self._cond:
                self._busy = False
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
