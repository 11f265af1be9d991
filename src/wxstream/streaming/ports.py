"""The interfaces the service loop is written against: where records come from
(:class:`RecordSource`), who forecasts (:class:`Forecaster`) and who puts the results
on Kafka (:class:`Delivery`).

The real implementations wrap Kafka and Ray (:mod:`wxstream.kafka.consumer`,
:mod:`wxstream.streaming.actor_pool`, :mod:`wxstream.streaming.delivery`);
:mod:`wxstream.streaming.testing` has in-memory ones, so the loop's rules run in
milliseconds without a broker or a Ray.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from wxstream.streaming.core.outgoing import Outgoing

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Completed:
    """A finished call: the batch id, its forecasts and how long it took."""

    batch_id: int
    forecasts: F32
    latency_s: float


class Forecaster(Protocol):
    """What the Kafka loop needs from the actors.

    Attributes:
        retries: calls re-submitted after their actor failed, so far.
        actor_failures: actor deaths seen by calls, so far.
    """

    retries: int
    actor_failures: int

    @property
    def in_flight(self) -> int:
        """Calls submitted and not yet returned by :meth:`poll`."""
        ...

    def submit(self, batch_id: int, x: F32) -> None:
        """Start forecasting ``x`` ``(B, lookback, F)`` as batch ``batch_id``."""
        ...

    def poll(self, timeout_s: float) -> list[Completed]:
        """Finished calls; waits up to ``timeout_s`` for the first one."""
        ...

    def cancel_all(self) -> None:
        """Forget every call in flight (their results are no longer wanted)."""
        ...


class Delivery(Protocol):
    """Produces released batches and commits the offsets they cover.

    Attributes:
        transactions: deliveries committed.
        aborted: deliveries given up (the caller rewound).
        thread_safe: ``deliver`` may run on another thread than the consumer's (it
            touches the producer only, given ``group_metadata``).
    """

    transactions: int
    aborted: int
    thread_safe: bool

    def deliver(
        self, batches: Sequence[Outgoing], positions: dict[int, int], group_metadata: Any = None
    ) -> bool:
        """Produce ``batches`` and commit ``positions`` (partition -> next offset).

        ``group_metadata`` is the consumer's ``consumer_group_metadata()``, taken on the
        consumer's thread: asking for it from another thread while the consumer is in a
        rebalance callback blocks both.

        Returns:
            ``True`` once delivered and committed; ``False`` when nothing was (an
            aborted transaction): the caller rewinds to the committed offsets.
        """
        ...

    def close(self) -> None:
        """Flush and release the producer."""
        ...
