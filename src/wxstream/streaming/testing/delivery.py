"""The in-memory delivery (:class:`ListDelivery`); see :mod:`wxstream.streaming.testing`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.testing.source import MemoryLog


@dataclass
class ListDelivery:
    """A :class:`~wxstream.streaming.ports.Delivery` into lists.

    Args:
        log: committed offsets go here (where ``commits_offsets``); its pending
            :class:`ABORT` markers abort deliveries.
        thread_safe: run on the loop's delivery thread (else on the loop's thread).
        commits_offsets: commit ``positions`` itself (as a transaction does); else the
            loop commits them through the source (as at-least-once does).
    """

    log: MemoryLog
    thread_safe: bool = False
    commits_offsets: bool = True
    transactions: int = 0
    aborted: int = 0
    delivered: list[Outgoing] = field(default_factory=list)
    """Every delivered batch, in delivery order."""
    positions: list[dict[int, int]] = field(default_factory=list)
    """The positions of every successful delivery."""
    calls: int = 0
    peak_running: int = 0
    """Most deliveries seen running at once."""
    _running: int = 0
    _fail_next: int = 0
    _gate: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._gate.set()

    def abort_next(self, count: int = 1) -> None:
        """Abort the next ``count`` deliveries."""
        self._fail_next += count

    def hold(self) -> None:
        """Make deliveries wait until :meth:`release`."""
        self._gate.clear()

    def release(self) -> None:
        """Let held deliveries go on."""
        self._gate.set()

    @property
    def predictions(self) -> list[tuple[bytes | None, bytes]]:
        """Every delivered forecast record, in delivery order."""
        return [p for batch in self.delivered for p in batch.predictions]

    @property
    def anomalies(self) -> list[tuple[bytes, bytes]]:
        """Every delivered quality-stage finding, in delivery order."""
        return [a for batch in self.delivered for a in batch.anomalies]

    @property
    def shadow(self) -> list[tuple[bytes, bytes]]:
        """Every delivered shadow forecast, in delivery order."""
        return [s for batch in self.delivered for s in batch.shadow]

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        with self._lock:
            self.calls += 1
            self._running += 1
            self.peak_running = max(self.peak_running, self._running)
        try:
            self._gate.wait()
            if self._fail_next or self.log.aborts_pending:
                if self._fail_next:
                    self._fail_next -= 1
                else:
                    self.log.aborts_pending -= 1
                self.aborted += 1
                return False
            self.delivered.extend(batches)
            self.positions.append(dict(positions))
            if self.commits_offsets:
                self.log.commit(positions)
            self.transactions += 1
            return True
        finally:
            with self._lock:
                self._running -= 1

    def close(self) -> None:
        self._gate.set()
