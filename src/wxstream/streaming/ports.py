"""The interfaces the service loop is written against: where records come from
(:class:`RecordSource`), who forecasts (:class:`Forecaster`) and who puts the results
on Kafka (:class:`Delivery`).

The real implementations wrap Kafka and Ray (:mod:`wxstream.streaming.record_source`,
:mod:`wxstream.streaming.actor_pool`, :mod:`wxstream.streaming.delivery`);
:mod:`wxstream.streaming.testing` has in-memory ones, so the loop's rules run in
milliseconds without a broker or a Ray.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from wxstream.messages import FeatureMessage
from wxstream.messages.predictions import ForecastModelInfo
from wxstream.streaming.core.assembly import InputRecord
from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.core.restore import RestorePolicy, StartPlan

F32 = npt.NDArray[np.float32]


PartitionsCallback = Callable[[Sequence[int]], None]
"""A rebalance callback: the partitions (of the input topic) assigned, revoked or lost."""


class RecordSource(Protocol):
    """What the loop needs from the consumer of the input topic.

    Calls come from the loop's thread only (rebalance callbacks run inside
    :meth:`consume` and :meth:`poll_only`).
    """

    @property
    def paused(self) -> bool:
        """Whether fetching of the assigned partitions is paused."""
        ...

    def subscribe(
        self,
        on_assign: PartitionsCallback,
        on_revoke: PartitionsCallback,
        on_lost: PartitionsCallback,
    ) -> None:
        """Join the group; ``on_assign`` must call :meth:`assign` with the plans."""
        ...

    def consume(self, max_records: int, timeout_s: float) -> tuple[list[InputRecord], bool]:
        """Up to ``max_records`` records, waiting up to ``timeout_s`` for the first, and
        whether the input ran dry (fewer entries came back than were asked for)."""
        ...

    def poll_only(self, max_records: int) -> None:
        """Serve the group (membership, callbacks) and drop what comes back: those
        records are past every committed offset and are read again later."""
        ...

    def set_paused(self, paused: bool) -> None:
        """Pause (or resume) fetching of every assigned partition."""
        ...

    def assignment(self) -> list[int]:
        """The partitions assigned now."""
        ...

    def plan_starts(self, partitions: Sequence[int], policy: RestorePolicy) -> list[StartPlan]:
        """Where each partition starts, from the group's committed offsets."""
        ...

    def assign(self, plans: Sequence[StartPlan]) -> None:
        """Take the partitions of ``plans``, reading each from its planned offset."""
        ...

    def seek(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` next (negative: from its beginning)."""
        ...

    def group_metadata(self) -> Any:
        """The consumer's group metadata (for a transaction's offsets)."""
        ...

    def commit(self, positions: dict[int, int]) -> None:
        """Commit ``positions`` (partition -> next offset) synchronously."""
        ...

    def lag(self) -> dict[int, int]:
        """Partition -> records between the position and the end of the partition."""
        ...

    def close(self) -> None:
        """Leave the group (revoking the assignment) and release the consumer."""
        ...


class RowAdapter(Protocol):
    """The feature adapter as the loop uses it."""

    def to_inputs(self, messages: Sequence[FeatureMessage]) -> npt.NDArray[Any]:
        """``(len(messages), F)`` raw model inputs."""
        ...


class ServedModel(ForecastModelInfo, Protocol):
    """What the loop needs to know about the model (a ``ForecastingModel`` fits): what
    the forecast encoder needs, plus the window length and the feature adapter."""

    @property
    def lookback(self) -> int: ...

    @property
    def adapter(self) -> RowAdapter:
        """The feature adapter."""
        ...


@dataclass(frozen=True)
class Completed:
    """A finished call: the batch id, its forecasts and how long it took.

    ``challenger`` holds the challenger's forecasts of the same windows when two
    versions are served (one call computes both, so the pair comes from one batch).
    """

    batch_id: int
    forecasts: F32
    latency_s: float
    challenger: F32 | None = None


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
        commits_offsets: ``deliver`` commits ``positions`` itself (in the
            transaction); where ``False`` the caller commits them on the consumer's
            thread (:meth:`RecordSource.commit`) once ``deliver`` returned ``True``.
    """

    transactions: int
    aborted: int
    thread_safe: bool
    commits_offsets: bool

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
