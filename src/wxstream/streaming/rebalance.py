"""The group side of the service loop: partition assignment, revocation, loss and
rewind.

:class:`Rebalance` receives the source's rebalance callbacks. It plans the start of
each assigned partition from the group's committed offsets (:meth:`RecordSource.plan_starts
<wxstream.streaming.ports.RecordSource.plan_starts>`, with the restore policy of
:mod:`~wxstream.streaming.core.restore`), tells the assembler where emitting resumes
(the restore marks), and assigns or seeks the source. The loop
(:class:`~wxstream.streaming.loop.InferenceService`) hands it what touches its own
state: drain what was read (on a revocation), settle running deliveries and discard
everything not committed (on a loss, before a rewind).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.restore import RestorePolicy, RestoreProgress, StartPlan
from wxstream.streaming.ports import RecordSource

logger = logging.getLogger(__name__)


class Rebalance:
    """Rebalance callbacks, partition starts and rewinds.

    Args:
        source: the loop's record source.
        assembler: the loop's assembler (restore marks are set on it).
        policy: how far before the committed offsets restores read.
        clock: monotonic seconds.
        drain: finish and deliver everything read (the loop's ``drain``).
        settle: wait for running deliveries and take their reports.
        discard: drop every call in flight, undelivered batch and window.
    """

    def __init__(
        self,
        source: RecordSource,
        assembler: BatchAssembler,
        policy: RestorePolicy,
        clock: Callable[[], float],
        *,
        drain: Callable[[], None],
        settle: Callable[[], None],
        discard: Callable[[], None],
    ) -> None:
        self.source = source
        self.assembler = assembler
        self.policy = policy
        self.clock = clock
        self._drain = drain
        self._settle = settle
        self._discard = discard
        self.restores = RestoreProgress(clock)
        self.in_group = False
        """Between an assignment (even an empty one) and its revocation."""
        self.joined_at = clock()
        """Clock seconds of the last assignment or rewind: idleness counts from there."""
        self.closing = False
        """Set while the loop leaves the group: a revocation then drains nothing."""

    def on_assign(self, partitions: Sequence[int]) -> None:
        """Take ``partitions``, each from its planned start."""
        plans = self._plan(partitions)
        self.source.assign(plans)
        self.in_group = True
        self.joined_at = self.clock()
        logger.info(
            "assigned partitions %s (start offsets %s)",
            [plan.partition for plan in plans],
            [plan.offset for plan in plans],
        )

    def on_revoke(self, partitions: Sequence[int]) -> None:
        """Finish and commit what was read while the partitions are still ours."""
        if not self.closing:
            self._drain()
        self.in_group = False
        self.assembler.drop_partitions(partitions)
        logger.info("revoked partitions %s", list(partitions))

    def on_lost(self, partitions: Sequence[int]) -> None:
        """Nothing read since the last commit may be committed now; the next
        assignment restores the windows from the committed offsets."""
        logger.warning("lost partitions %s; discarding uncommitted work", list(partitions))
        self._settle()
        self.in_group = False
        self._discard()

    def rewind(self) -> None:
        """Forget everything not committed and read every assigned partition again
        from its planned start."""
        self._discard()
        assigned = self.source.assignment()
        if not assigned:
            return
        for plan in self._plan(assigned):
            self.source.seek(plan.partition, plan.offset)
        # Reading starts again: the time the re-fetch takes is not silence.
        self.joined_at = self.clock()
        logger.warning("rewound %d partitions to their committed offsets", len(assigned))

    def _plan(self, partitions: Sequence[int]) -> list[StartPlan]:
        began = self.clock()
        plans = self.source.plan_starts(partitions, self.policy)
        self.restores.planned(plans, began)
        for plan in plans:
            if plan.restore_mark is not None:
                self.assembler.restore_from(plan.partition, plan.restore_mark)
        return plans
