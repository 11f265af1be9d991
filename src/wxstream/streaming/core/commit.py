"""The group-commit rule of the service loop: when finished batches leave as one
delivery (one transaction, or one flush plus a synchronous offset commit); pure, the
clock is passed in.

While a delivery runs, finished batches gather for the next one, so a busy broker
gets fewer, larger transactions and an idle one sees each batch at once; the
interval only caps the transaction rate. A delivery leaves when the previous one is
done and at least ``commit_interval_ms`` passed since the last one left; at once when
forced (a drain) or when many batches wait (``burst_batches``: memory stays bounded).
Deliveries never overlap: the sender runs them one after another.
"""

from __future__ import annotations


class CommitRule:
    """When the next delivery may leave.

    Args:
        commit_interval_ms: least time between two deliveries leaving.
        burst_batches: this many finished batches waiting leave at once.
        now_s: the clock now (the interval counts from here).
    """

    def __init__(self, commit_interval_ms: float, burst_batches: int, now_s: float) -> None:
        self.commit_interval_ms = commit_interval_ms
        self.burst_batches = burst_batches
        self.last_at = now_s
        """Clock seconds when the last delivery left."""

    def due(self, now_s: float, *, waiting: int, previous_done: bool, force: bool = False) -> bool:
        """Whether the ``waiting`` finished batches leave now.

        Args:
            now_s: the clock now.
            waiting: finished batches ready to deliver.
            previous_done: no delivery is queued or running.
            force: deliver whatever waits (a drain).
        """
        if waiting <= 0:
            return False
        if force or waiting >= self.burst_batches:
            return True
        return previous_done and (now_s - self.last_at) * 1000.0 >= self.commit_interval_ms

    def left(self, now_s: float) -> None:
        """A delivery left at ``now_s``."""
        self.last_at = now_s
