"""The live skill's history in memory: what a :class:`ListDelivery` delivered and a
:class:`MemoryLog` holds, read back as the Kafka topics would be."""

from __future__ import annotations

from collections.abc import Mapping

from wxstream.rollout.live import SkillHistory, history_of_values
from wxstream.streaming.live_skill import HistoryFn
from wxstream.streaming.testing.delivery import ListDelivery
from wxstream.streaming.testing.source import MemoryLog


def memory_history(log: MemoryLog, delivery: ListDelivery) -> HistoryFn:
    """The history of the assigned partitions: the input log's records below the
    committed positions and every committed output of ``delivery``."""

    def history(positions: Mapping[int, int]) -> SkillHistory:
        features = [r.value() for p, end in positions.items() for r in log.records[p][:end]]
        forecasts = [v for _k, v in (*delivery.predictions, *delivery.shadow)]
        verification = [v for batch in delivery.delivered for _k, v in batch.verification]
        return history_of_values(features, forecasts, verification)

    return history
