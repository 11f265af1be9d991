"""The delivery watchdog: when a delivery job has run for too long.

librdkafka can wait without end inside ``send_offsets_to_transaction`` or
``commit_transaction`` when the group coordinator goes away in the middle of the call,
whatever timeout it was given (confluentinc/librdkafka#5456, #5511). The delivery
thread then never comes back, and nothing is committed any more. The loop's thread
asks :class:`StallWatch` (through
:meth:`~wxstream.streaming.delivery_thread.BackgroundDelivery.check_stalled`) whether
the running job has passed its limit; once it has, the service raises
:class:`~wxstream.errors.DeliveryStalledError` and exits, for a supervisor to start it
again. Exactly-once holds across that restart: the broker aborts the open transaction
when its ``transaction.timeout.ms`` expires, or the restarted instance (same
transactional id) fences the stuck producer and aborts it at once.

The decision itself (:func:`stalled_for`) is a pure function of the job's start, the
time now and the limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from wxstream.errors import ConfigError, DeliveryStalledError

logger = logging.getLogger(__name__)

Clock = Callable[[], float]

STALL_FIX = (
    "nothing to repair: the process exits so that its supervisor (systemd "
    "Restart=on-failure, a Kubernetes restartPolicy, compose restart: on-failure) starts it "
    "again; exactly-once holds, because the open transaction is aborted by the broker's "
    "transaction timeout or fenced by the restarted instance. If it repeats, check the "
    "brokers, or raise --delivery-stall-timeout-s (WXSTREAM_DELIVERY_STALL_TIMEOUT_S)"
)


def stalled_for(started_at: float | None, now: float, limit_s: float | None) -> float | None:
    """How long the running job has run, when that is more than ``limit_s``.

    Args:
        started_at: when the running job started (``None``: no job running).
        now: the time now, on the same clock.
        limit_s: the stall limit (``None``: never stalled).

    Returns:
        seconds the job has run, or ``None`` while it is within its limit (or none runs).
    """
    if started_at is None or limit_s is None:
        return None
    running_s = now - started_at
    return running_s if running_s > limit_s else None


class StallWatch:
    """Start time of the job running on the delivery thread, and its stall limit.

    Not locked: the owner (``BackgroundDelivery``) calls it under its own lock.

    Args:
        limit_s: seconds a job may run (``None``: no limit, never stalled).
        clock: monotonic seconds (a fake one in tests).
    """

    def __init__(self, limit_s: float | None, clock: Clock = time.monotonic) -> None:
        if limit_s is not None and limit_s <= 0:
            raise ConfigError(
                f"invalid delivery stall limit {limit_s} s",
                fix="give --delivery-stall-timeout-s a value > 0 (default 120)",
            )
        self.limit_s = limit_s
        self._clock = clock
        self.started_at: float | None = None
        self.fired = False
        """Whether :meth:`check` raised once already."""

    def job_started(self) -> None:
        """The delivery thread took a job."""
        self.started_at = self._clock()

    def job_finished(self) -> None:
        """The job came back (delivered, aborted or raised)."""
        self.started_at = None

    def stalled_for(self) -> float | None:
        """Seconds the running job has run, once past the limit; ``None`` before (see
        :func:`stalled_for`)."""
        return stalled_for(self.started_at, self._clock(), self.limit_s)

    def check(self) -> None:
        """Raise once the running job has passed its limit.

        Raises:
            DeliveryStalledError: the job has run longer than the limit.
        """
        running_s = self.stalled_for()
        if running_s is None:
            return
        message = (
            f"delivery stalled: a delivery (Kafka transaction) has been running for "
            f"{running_s:.1f} s, longer than --delivery-stall-timeout-s {self.limit_s:g}; "
            "librdkafka is stuck in a transactional call; exiting"
        )
        if not self.fired:
            # The moment it fired, in the log; the CLI prints the message again on exit.
            logger.error("%s", message)
        self.fired = True
        raise DeliveryStalledError(message, fix=STALL_FIX)
