"""The stop rule of the service loop: on quota and on idle (pure; the clock is
passed in).

* quota: ``max_messages`` input records taken (committed plus read and not yet
  committed; restored records are not input);
* idle: ``idle_exit_s`` of silence while in a group with nothing in flight, ready or
  being delivered. Waiting to join a group (a dead member's session still running)
  is not idle.
"""

from __future__ import annotations

MAX_MESSAGES = "max_messages"
IDLE = "idle"


class StopRule:
    """Why the loop stops, if it does.

    Args:
        max_messages: stop after this many input records (``None``: never).
        idle_exit_s: stop after this long without input (``None``: never).
    """

    def __init__(self, max_messages: int | None, idle_exit_s: float | None) -> None:
        self.max_messages = max_messages
        self.idle_exit_s = idle_exit_s

    def wanted(self, batch_size: int, taken: int) -> int:
        """How many records the next consume call may take, ``taken`` taken so far."""
        if self.max_messages is None:
            return batch_size
        return max(0, min(batch_size, self.max_messages - taken))

    def reason(
        self, *, taken: int, now_s: float, idle_since: float, in_group: bool, busy: bool
    ) -> str | None:
        """:data:`MAX_MESSAGES`, :data:`IDLE` or ``None`` (keep going).

        Args:
            taken: input records taken so far.
            now_s: the clock now.
            idle_since: when the last record arrived (or the group was joined).
            in_group: between an assignment (even an empty one) and its revocation.
            busy: batches in flight, ready or being delivered.
        """
        if self.max_messages is not None and taken >= self.max_messages:
            return MAX_MESSAGES
        limit = self.idle_exit_s
        if limit is None or busy or not in_group:
            return None
        return IDLE if now_s - idle_since >= limit else None
