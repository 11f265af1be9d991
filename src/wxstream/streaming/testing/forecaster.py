"""The in-memory forecaster (:class:`MemoryForecaster`) and the model stand-in the
loop reads (:class:`TestingModel`); see :mod:`wxstream.streaming.testing`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from wxstream.features.adapter import default_adapter
from wxstream.streaming.ports import Completed, RowAdapter
from wxstream.streaming.testing.source import FakeClock

F32 = npt.NDArray[np.float32]


def persistence_forecast(horizon: int) -> Callable[[F32], F32]:
    """Forecasts ``(B, horizon, 3)``: every lead the last input's first feature, the
    quantiles one unit apart (a stand-in for the model's arithmetic)."""

    def forecast(x: F32) -> F32:
        last = x[:, -1, 0].astype(np.float32)
        median = np.repeat(last[:, None], horizon, axis=1)
        return np.stack([median - 1.0, median, median + 1.0], axis=2).astype(np.float32)

    return forecast


class MemoryForecaster:
    """A :class:`~wxstream.streaming.ports.Forecaster` computing with ``forecast`` (a
    function, or a real model's ``predict``).

    Args:
        forecast: ``(B, lookback, F)`` -> ``(B, horizon, 3)``.
        challenger: a second version's forecast; each call then returns both (as the
            actors do when two versions are served).
        at_once: calls finish when submitted; else only once :meth:`finish` says so.
        clock: a :meth:`poll` that finds nothing advances it by its timeout.
    """

    def __init__(
        self,
        forecast: Callable[[F32], F32],
        *,
        challenger: Callable[[F32], F32] | None = None,
        at_once: bool = True,
        clock: FakeClock | None = None,
    ) -> None:
        self.forecast = forecast
        self.challenger = challenger
        self.at_once = at_once
        self.clock = clock
        self.retries = 0
        self.actor_failures = 0
        self.submitted: list[int] = []
        self.peak_in_flight = 0
        self._pending: list[tuple[int, F32, F32 | None]] = []
        self._done: list[Completed] = []

    @property
    def in_flight(self) -> int:
        return len(self._pending) + len(self._done)

    def submit(self, batch_id: int, x: F32) -> None:
        self.submitted.append(batch_id)
        second = None if self.challenger is None else self.challenger(x)
        self._pending.append((batch_id, self.forecast(x), second))
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        if self.at_once:
            self.finish()

    def finish(self, count: int | None = None) -> None:
        """Finish the oldest ``count`` calls (``None``: all)."""
        n = len(self._pending) if count is None else count
        finished, self._pending = self._pending[:n], self._pending[n:]
        self._done.extend(
            Completed(batch_id, out, 0.0, second) for batch_id, out, second in finished
        )

    def poll(self, timeout_s: float) -> list[Completed]:
        done, self._done = self._done, []
        if not done and self.clock is not None:
            self.clock.advance(timeout_s)
        return done

    def cancel_all(self) -> None:
        self._pending.clear()
        self._done.clear()


@dataclass(frozen=True)
class TestingModel:
    """What the loop needs of a model (``ServedModel``), without a network: the real
    feature adapter, a given lookback and horizon."""

    __test__ = False  # not a pytest class

    lookback: int = 3
    horizon: int = 4
    name: str = "testing"
    version: str = "0"
    adapter: RowAdapter = field(default_factory=default_adapter)

    @property
    def leads_h(self) -> tuple[int, ...]:
        return tuple(range(1, self.horizon + 1))

    @property
    def short_term_leads(self) -> tuple[int, ...]:
        return self.leads_h

    @property
    def long_term_leads(self) -> tuple[int, ...]:
        return self.leads_h
