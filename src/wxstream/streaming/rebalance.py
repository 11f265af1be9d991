"""Partition assignment, revocation, loss and rewind of the service loop.

:class:`RebalanceHandling` is the part of
:class:`~wxstream.streaming.loop.InferenceService` that reacts to the group:
where each assigned partition starts (restoring station windows from the input topic,
:mod:`~wxstream.streaming.partitions`), what is drained on a revocation, what is
dropped when partitions are lost or a delivery failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from wxstream.settings import KafkaSettings, ServeSettings
from wxstream.streaming.core.assembly import BatchAssembler, WorkBatch
from wxstream.streaming.core.batching import ReleaseQueue
from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.delivery_thread import Sender
from wxstream.streaming.partitions import RestorePolicy, RestoreProgress, StartPlan, plan_starts
from wxstream.streaming.ports import Forecaster

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 120.0


class RebalanceHandling:
    """Rebalance callbacks and rewinding, mixed into the service loop (which sets these
    attributes and provides :meth:`drain`)."""

    settings: ServeSettings
    kafka: KafkaSettings
    consumer: Consumer
    forecaster: Forecaster
    assembler: BatchAssembler
    in_flight: dict[int, WorkBatch]
    release: ReleaseQueue[tuple[WorkBatch, Outgoing]]
    ready: list[tuple[WorkBatch, Outgoing]]
    restore_policy: RestorePolicy
    restores: RestoreProgress
    _background: Sender | None
    _input_pending: int
    _idle_since: float
    _in_group: bool
    _paused: bool
    _closing: bool

    def drain(self, *, keep_polling: bool = False) -> None:
        """Finish and deliver what was read (the service loop's)."""
        raise NotImplementedError

    def rewind(self) -> None:
        """Forget everything not committed and restart from the committed offsets."""
        self._discard()
        assigned = self.consumer.assignment()
        if not assigned:
            return
        for plan in self._plan_starts(assigned):
            tp = plan.partition
            target = tp.offset if tp.offset >= 0 else OFFSET_BEGINNING
            self.consumer.seek(TopicPartition(tp.topic, tp.partition, target))
        logger.warning("rewound %d partitions to their committed offsets", len(assigned))

    def _discard(self) -> None:
        """Drop every call in flight, every undelivered batch and every window."""
        self.forecaster.cancel_all()
        self.in_flight.clear()
        self.ready.clear()
        self._input_pending = 0
        self.assembler.reset()
        self.release = ReleaseQueue(next_seq=self.assembler.next_seq)

    def _plan_starts(self, partitions: Sequence[TopicPartition]) -> list[StartPlan]:
        began = time.monotonic()
        plans = plan_starts(
            self.consumer,
            partitions,
            policy=self.restore_policy,
            kafka=self.kafka,
            group_id=self.settings.group_id,
            timeout_s=self.kafka.request_timeout_s,
        )
        self.restores.planned(plans, began)
        for plan in plans:
            if plan.restore_mark is not None:
                self.assembler.restore_from(plan.partition.partition, plan.restore_mark)
        return plans

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        planned = [plan.partition for plan in self._plan_starts(partitions)]
        consumer.assign(planned)
        self._paused = False  # a fresh assignment fetches
        self._in_group = True
        self._idle_since = time.monotonic()
        logger.info(
            "assigned partitions %s (start offsets %s)",
            [tp.partition for tp in planned],
            [tp.offset for tp in planned],
        )

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Finish and commit what was read from these partitions while we still own them.
        if not self._closing:
            self.drain()
        self._in_group = False
        self.assembler.drop_partitions(tp.partition for tp in partitions)
        logger.info("revoked partitions %s", [tp.partition for tp in partitions])

    def _on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Nothing read since the last commit may be committed now; the next
        # assignment restores the windows from the committed offsets.
        logger.warning(
            "lost partitions %s; discarding uncommitted work", [tp.partition for tp in partitions]
        )
        if self._background is not None:
            self._background.wait_idle(DRAIN_TIMEOUT_S)
        self._in_group = False
        self._discard()
