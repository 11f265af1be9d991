"""The service (or any stoppable job) on a thread of this process.

Used by what drives the service in-process: the demo, the benchmark, the tests. The
job gets a :class:`threading.Event` to watch and stops when it is set; what it returns
or raises is kept and handed to the thread that calls :meth:`Background.finish`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from wxstream.errors import WxstreamError
from wxstream.streaming.service import ServiceSummary, run_service

if TYPE_CHECKING:
    from wxstream.settings import ServeSettings

T = TypeVar("T")


class Background(Generic[T]):
    """``target(stop)`` in a daemon thread, started by :meth:`start`; its result or
    exception kept for :meth:`finish`."""

    def __init__(self, name: str, target: Callable[[threading.Event], T]) -> None:
        self.stop = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None
        self._target = target
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        try:
            self.result = self._target(self.stop)
        except BaseException as exc:  # handed to the caller's thread by finish()
            self.error = exc

    def start(self) -> Background[T]:
        """Start the thread; returns ``self``."""
        self.thread.start()
        return self

    def alive(self) -> bool:
        """Whether the job still runs."""
        return self.thread.is_alive()

    def halt(self, timeout_s: float = 120.0) -> None:
        """Set the stop event and wait up to ``timeout_s`` for the thread to end."""
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(timeout_s)

    def finish(self, timeout_s: float = 120.0) -> T:
        """Stop the job, wait for it, and return its result (or raise its exception).

        Raises:
            WxstreamError: it did not stop within ``timeout_s``.
        """
        self.halt(timeout_s)
        if self.thread.is_alive():
            raise WxstreamError(
                f"{self.thread.name} did not stop within {timeout_s:.0f} s",
                fix="look for a stalled broker or Ray in the log above",
            )
        if self.error is not None:
            raise self.error
        # The job returned (no error, thread ended), so this is its result.
        return cast(T, self.result)


class ServiceThread(Background[ServiceSummary]):
    """:func:`~wxstream.streaming.service.run_service` with ``settings`` on a thread."""

    def __init__(self, settings: ServeSettings, name: str = "wxstream-service") -> None:
        self.settings = settings
        super().__init__(name, lambda stop: run_service(settings, stop=stop))

    def start(self) -> ServiceThread:
        """Start the service; returns ``self``."""
        super().start()
        return self


@contextmanager
def service_thread(settings: ServeSettings) -> Iterator[ServiceThread]:
    """A started :class:`ServiceThread` for the block, stopped at its end whatever happens
    (the block calls :meth:`~Background.finish` for the summary)."""
    service = ServiceThread(settings).start()
    try:
        yield service
    finally:
        service.halt()
