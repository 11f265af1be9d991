"""The latency run's load generator, in a process of its own.

The paced producer and the ``read_committed`` reader that stamps each forecast's
arrival run in a child process, not beside the service: in production the service
has its interpreter to itself, and a reader decoding 2,000 forecasts a second in the
service's process would hold the GIL the service's loop needs, measuring the harness
rather than the service.

The parent starts :class:`LoadProcess`, waits for :meth:`LoadProcess.produced` (the
paced records are delivered), waits for the service to drain, then calls
:meth:`LoadProcess.finish`, which stops the reader and returns what it received.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import WxstreamError
from wxstream.settings import KafkaSettings

_START_TIMEOUT_S = 60.0
_READER_READY_S = 10.0


@dataclass(frozen=True)
class Offered:
    """What the load process produced.

    Attributes:
        produced: records handed to the producer and delivered.
        elapsed_s: seconds from the first record to the last delivery.
        started_ms: wall-clock ms when paced producing began.
    """

    produced: int
    elapsed_s: float
    started_ms: float


def _child(
    conn: Connection,
    kafka: KafkaSettings,
    pairs: Sequence[tuple[bytes, bytes]],
    due_s: npt.NDArray[np.float64] | None,
    linger_ms: int,
) -> None:
    # Imported here: the child is spawned and imports only what it uses.
    import time

    from wxstream.tools.bench.bench_io import live_receiver
    from wxstream.tools.replay import publish

    try:
        with live_receiver(kafka) as received:
            # The reader must be fetching before the clock starts: its connection and
            # first fetch would otherwise count as the service's latency. The warm-up
            # left forecasts on the topic; the first one to arrive says it is.
            deadline = time.monotonic() + _READER_READY_S
            while not received.snapshot() and time.monotonic() < deadline:
                time.sleep(0.05)
            conn.send(("ready", None))
            started_ms = time.time() * 1000.0
            produced, _, elapsed, _ = publish(
                kafka, pairs, due_s, linger_ms=linger_ms, progress=False
            )
            conn.send(("produced", Offered(produced, elapsed, started_ms)))
            conn.recv()  # the parent's word that the service has drained
        conn.send(("received", received.snapshot()))
    except BaseException as exc:  # reported to the parent, which raises it
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()


class LoadProcess:
    """Produce ``pairs`` at the times ``due_s`` and read the forecasts, in a child process.

    Args:
        kafka: where the features go and the predictions come from.
        pairs: ``(key, value)`` feature records, in order.
        due_s: when each is due, in seconds from the start (``None``: at once).
        linger_ms: the producer's ``linger.ms``.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        pairs: Sequence[tuple[bytes, bytes]],
        due_s: npt.NDArray[np.float64] | None,
        *,
        linger_ms: int,
    ) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_child,
            args=(child_conn, kafka, list(pairs), due_s, linger_ms),
            name="wxstream-bench-load",
            daemon=True,
        )
        self._process.start()
        child_conn.close()
        self._expect("ready", _START_TIMEOUT_S)

    def _expect(self, what: str, timeout_s: float | None) -> Any:
        if not self._conn.poll(timeout_s):
            raise WxstreamError(f"the load process sent no {what!r} within {timeout_s} s")
        kind, payload = self._conn.recv()
        if kind == "error":
            raise WxstreamError(f"the load process failed: {payload}")
        if kind != what:
            raise WxstreamError(f"the load process sent {kind!r}, expected {what!r}")
        return payload

    def produced(self, timeout_s: float) -> Offered:
        """Wait until every paced record is delivered."""
        result: Offered = self._expect("produced", timeout_s)
        return result

    def finish(self, timeout_s: float = 30.0) -> list[tuple[str, str, float]]:
        """Stop the reader; the forecasts it received ``(station, issued_at, wall ms)``."""
        self._conn.send("stop")
        received: list[tuple[str, str, float]] = self._expect("received", timeout_s)
        self.close()
        return received

    def close(self) -> None:
        """End the child process (at once if it is still running)."""
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.kill()
            self._process.join(5.0)
        self._conn.close()
