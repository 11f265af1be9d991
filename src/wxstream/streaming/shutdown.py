"""Stopping a long-running service on SIGTERM / SIGINT.

The first signal asks for a graceful stop: it sets a :class:`threading.Event` that the
Kafka loop checks between turns; the loop stops polling, finishes the batches in
flight, delivers and commits them, and closes its clients. A second signal exits the
process at once (``os._exit``): nothing else runs, so nothing that was not produced is
committed; an open transaction is aborted by the broker (or fenced by the next instance
with the same transactional id), and at-least-once offsets are committed only after
their forecasts were delivered, so the next run repeats at most what was in flight.

Ray installs its own SIGTERM handler when it connects (it exits the process), so the
handlers are installed again once Ray is up (:meth:`GracefulShutdown.install`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import Any

logger = logging.getLogger(__name__)

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)

ExitFn = Callable[[int], Any]
Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def _exit_at_once(code: int) -> None:
    # os._exit skips atexit hooks and finally blocks on purpose: the operator asked twice.
    os._exit(code)


class GracefulShutdown:
    """A signal handler: the first signal sets :attr:`stop`, a second one exits at once.

    Args:
        stop: the event the service loop watches (a fresh one by default).
        announce: called with one line for the operator on each signal.
        exit_now: how to leave at once on the second signal (receives ``128 + signum``).
    """

    def __init__(
        self,
        stop: threading.Event | None = None,
        *,
        announce: Callable[[str], None] | None = None,
        exit_now: ExitFn = _exit_at_once,
    ) -> None:
        self.stop = stop if stop is not None else threading.Event()
        self.received: list[int] = []
        self._announce = announce
        self._exit_now = exit_now
        self._previous: dict[int, Handler] = {}

    def handle(self, signum: int, _frame: FrameType | None = None) -> None:
        """The signal handler (also callable directly)."""
        self.received.append(signum)
        name = signal.Signals(signum).name
        if not self.stop.is_set():
            self.stop.set()
            self._say(
                f"{name}: finishing the batches in flight, then stopping ({name} again: exit now)"
            )
            return
        self._say(
            f"{name} again: exiting now; what was not committed is processed again on restart"
        )
        self._exit_now(128 + signum)

    def _say(self, line: str) -> None:
        logger.warning("%s", line)
        if self._announce is not None:
            self._announce(line)

    def install(self, signals: Sequence[signal.Signals] = STOP_SIGNALS) -> None:
        """Install :meth:`handle` for ``signals`` (main thread only; a no-op elsewhere).

        Safe to call again, e.g. after a library replaced a handler: the handlers found
        on the first call are the ones :meth:`restore` puts back.
        """
        if threading.current_thread() is not threading.main_thread():
            logger.debug("not the main thread: signal handlers left as they are")
            return
        for sig in signals:
            previous = signal.signal(sig, self.handle)
            self._previous.setdefault(int(sig), previous)

    def restore(self) -> None:
        """Put back the handlers found by the first :meth:`install`."""
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()


@contextmanager
def graceful_shutdown(
    *,
    announce: Callable[[str], None] | None = None,
    exit_now: ExitFn = _exit_at_once,
    signals: Sequence[signal.Signals] = STOP_SIGNALS,
) -> Iterator[GracefulShutdown]:
    """A :class:`GracefulShutdown` installed for the ``with`` block, then removed."""
    shutdown = GracefulShutdown(announce=announce, exit_now=exit_now)
    shutdown.install(signals)
    try:
        yield shutdown
    finally:
        shutdown.restore()
