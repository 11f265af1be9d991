"""The in-memory history of the online interval calibration (:class:`MemoryIntervalHistory`):
the :class:`MemoryLog`'s records and the :class:`ListDelivery`'s committed forecasts,
what :class:`~wxstream.streaming.interval_history.KafkaIntervalHistory` reads from
Kafka."""

from __future__ import annotations

import time
from dataclasses import dataclass

from wxstream.messages.features import DEFAULT_MAX_AHEAD_H
from wxstream.streaming.served_intervals import PartitionHistory, partition_history
from wxstream.streaming.testing.delivery import ListDelivery
from wxstream.streaming.testing.source import MemoryLog


@dataclass
class MemoryIntervalHistory:
    """Reads a partition's history from ``log`` and ``delivery``."""

    log: MemoryLog
    delivery: ListDelivery
    reads: int = 0
    """Partitions rebuilt so far."""

    def forget(self) -> None:
        pass

    def read(self, partition: int, mark: int) -> PartitionHistory:
        self.reads += 1
        return partition_history(
            partition,
            mark,
            self.log.records.get(partition, []),
            (value for _key, value in self.delivery.predictions),
            now_ms=int(time.time() * 1000),
            max_ahead_ms=int(DEFAULT_MAX_AHEAD_H * 3_600_000),
        )
