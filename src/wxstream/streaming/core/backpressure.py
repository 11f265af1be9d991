"""The back-pressure rule of the service loop: when it takes records, and when it
pauses its partitions (pure; the clock is passed in).

With ``max_in_flight_batches`` batches outstanding (calls in flight, finished batches
held back by an earlier one, sealed batches waiting for a free slot) the loop takes no
records. A short stall only stops taking them: pausing would throw away librdkafka's
pre-fetched records, and a resumed partition fetches again only about a second later.
Only after ``pause_after_ms`` of a full queue without a break are the partitions
paused; they are still polled, so that the consumer stays in its group
(``max.poll.interval``) however long the actors take. They resume once room returns.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pressure:
    """What the loop does this turn.

    Attributes:
        take: consume new records (there is room for another batch).
        paused: whether the partitions should be paused now.
    """

    take: bool
    paused: bool


class BackPressure:
    """Decides :class:`Pressure` from the batches outstanding and the time.

    Args:
        max_in_flight_batches: batches outstanding at most.
        pause_after_ms: how long the queue stays full before the partitions pause.
    """

    def __init__(self, max_in_flight_batches: int, pause_after_ms: float) -> None:
        self.max_in_flight_batches = max_in_flight_batches
        self.pause_after_ms = pause_after_ms
        self.full_since: float | None = None
        """Clock seconds since when the queue has been full without a break."""

    def has_room(self, outstanding: int) -> bool:
        """Whether another batch may be submitted with ``outstanding`` ones out."""
        return outstanding < self.max_in_flight_batches

    def update(self, outstanding: int, now_s: float, *, paused: bool) -> Pressure:
        """This turn's decision, given the batches outstanding and whether the
        partitions are paused now."""
        if self.has_room(outstanding):
            self.full_since = None
            return Pressure(take=True, paused=False)
        if self.full_since is None:
            self.full_since = now_s
        overdue = (now_s - self.full_since) * 1000.0 >= self.pause_after_ms
        return Pressure(take=False, paused=paused or overdue)
