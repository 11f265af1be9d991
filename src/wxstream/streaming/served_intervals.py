"""Online interval calibration as the service runs it (:class:`ServedIntervals`): the
pure walk of :mod:`~.core.online_intervals` over each released batch, and the rebuild of
a partition's state from the topics whenever its windows are restored.

The assembler tells it (as a partition follower) when a partition is restored from its
committed offset (an assignment, a rewind after an aborted transaction), dropped (a
revocation) or everything is reset; the rebuild then reads the partition's history
through an :class:`IntervalHistory` (:class:`~.interval_history.KafkaIntervalHistory`
reads the two topics; tests read memory).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from wxstream.messages import InvalidRecord, decode_record
from wxstream.messages.predictions import CHAMPION_ARM, decode_prediction
from wxstream.models.online_calibration import OnlineCalibrationSettings
from wxstream.rollout.skill import Forecast, forecasts_of
from wxstream.streaming.core.assembly import InputRecord
from wxstream.streaming.core.live_pairs import LivePairs, Observed
from wxstream.streaming.core.online_intervals import (
    OnlineIntervals,
    Recalibrated,
    rebuild_partition,
    recalibrate_batch,
)
from wxstream.streaming.core.work_batch import WorkBatch

logger = logging.getLogger(__name__)


@dataclass
class PartitionHistory:
    """What a partition's calibrator is rebuilt from.

    Attributes:
        observed: the partition's observations below the committed offset, in offset
            order.
        emitted: the forecasts emitted for them, as served, by ``(station, issued_at)``.
    """

    observed: list[Observed] = field(default_factory=list)
    emitted: Mapping[tuple[str, datetime], Sequence[Forecast]] = field(default_factory=dict)


class IntervalHistory(Protocol):
    """Reads a partition's history back from where the service wrote it."""

    def read(self, partition: int, mark: int) -> PartitionHistory:
        """``partition``'s observations below offset ``mark`` and the forecasts of them."""
        ...

    def forget(self) -> None:
        """Drop whatever was kept to rebuild the next partition of the same assignment."""
        ...


class NoHistory:
    """No history: a restored partition's calibration starts afresh."""

    def read(self, partition: int, mark: int) -> PartitionHistory:
        return PartitionHistory()

    def forget(self) -> None:
        pass


class ServedIntervals:
    """Recalibrates released batches and keeps the per-partition state rebuildable.

    Args:
        leads_h: the model's leads.
        model: ``(name, version)`` of the forecasts served.
        history: where a restored partition's history is read.
        settings: how the calibrator learns.
    """

    def __init__(
        self,
        leads_h: Sequence[int],
        model: tuple[str, str],
        history: IntervalHistory,
        settings: OnlineCalibrationSettings | None = None,
    ) -> None:
        self.live_pairs = LivePairs(max(leads_h))
        """The service's forecast-observation join (see :mod:`~.core.live_pairs`)."""
        self.intervals = OnlineIntervals(leads_h, settings)
        self.model = model
        self.history = history
        self.rebuilt_pairs = 0
        """Pairs learnt in rebuilds so far."""
        self._rebuilt = False

    def recalibrate(self, batch: WorkBatch, forecasts: npt.NDArray[np.float32]) -> Recalibrated:
        """The batch's forecasts with their intervals recalibrated (in release order)."""
        if self._rebuilt:  # the rebuilds of this assignment are done
            self._rebuilt = False
            self.history.forget()
        return recalibrate_batch(batch, forecasts, self.live_pairs, self.intervals, self.model)

    # -- partition follower (called by the assembler) ------------------------------------

    def restored(self, partition: int, mark: int) -> None:
        """Rebuild ``partition``'s state from its records below ``mark``."""
        history = self.history.read(partition, mark)
        rebuild_partition(
            partition, history.observed, history.emitted, self.live_pairs, self.intervals
        )
        paired = self.live_pairs.join(partition).paired  # the rebuild starts a new join
        self._rebuilt = True
        self.rebuilt_pairs += paired
        logger.info(
            "online calibration of partition %d rebuilt from %d observations and %d "
            "forecasts (%d pairs)",
            partition,
            len(history.observed),
            len(history.emitted),
            paired,
        )

    def dropped(self, partitions: Iterable[int]) -> None:
        """Forget the state of partitions no longer assigned."""
        chosen = list(partitions)
        self.live_pairs.drop(chosen)
        self.intervals.drop(chosen)

    def reset(self) -> None:
        """Forget every state (a rewind; restored partitions are rebuilt next)."""
        self.live_pairs.reset()
        self.intervals.reset()


def partition_history(
    partition: int,
    mark: int,
    records: Iterable[InputRecord],
    predictions: Iterable[bytes | None],
    *,
    now_ms: int,
    max_ahead_ms: int,
) -> PartitionHistory:
    """A partition's history from the records of the features topic (any partitions,
    in offset order within each) and the values of ``weather-predictions``.

    Records are decoded as the assembler decodes them (with today's clock: a record once
    rejected as ``window_in_future`` is one no longer); undecodable ones observe
    nothing. Only champion forecasts of the partition's stations count, the first of
    each ``(station, issued_at)`` (an at-least-once repeat is the same forecast).
    """
    observed: list[Observed] = []
    for record in records:
        offset = record.offset() or 0
        if (record.partition() or 0) != partition or offset >= mark:
            continue
        decoded = decode_record(
            record.value(), record.key(), record.timestamp()[1], now_ms, max_ahead_ms
        )
        if isinstance(decoded, InvalidRecord):
            continue
        observed.append(
            Observed(
                partition,
                offset,
                decoded.station_id,
                decoded.window_end,
                float(decoded.avg_temperature),
            )
        )
    observed.sort(key=lambda item: item.offset)
    stations = {item.station_id for item in observed}
    emitted: dict[tuple[str, datetime], list[Forecast]] = {}
    for value in predictions:
        message = decode_prediction(value)
        if isinstance(message, InvalidRecord) or message.arm != CHAMPION_ARM:
            continue
        if message.station_id in stations:
            emitted.setdefault((message.station_id, message.issued_at), forecasts_of(message))
    return PartitionHistory(observed, emitted)
