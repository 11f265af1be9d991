"""The service's one forecast-observation join: every forecast it emits, paired with
the observation of its station and valid hour that it consumes later.

:class:`LivePairs` holds one :class:`~wxstream.rollout.pairing.LeadJoin` per input
partition (a station's records all live in one partition, so the pairing is the same as
one join over everything) and returns each pairing unscored
(:data:`~wxstream.rollout.pairing.Pair`: the forecast, the lead's index, the observed
value). Whatever learns from the pairs (the online interval calibration,
:mod:`~.online_intervals`) takes them from here, so the service pairs each forecast
once; whoever needs the errors scores them (:func:`~wxstream.rollout.pairing.score_pair`).

Hours are whole hours since the Unix epoch (feature windows end on whole hours).

Sharded by partition so that a partition's pairs depend on its own records only: its
state is dropped with the partition on a revocation and rebuilt from the topics on an
assignment, like the windows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from wxstream.rollout.lead_join import LeadJoin, Pair, PendingForecast, entries_of, epoch_hour
from wxstream.rollout.skill import Forecast

__all__ = ["PAIRING_SLACK_H", "LivePairs", "Observed", "epoch_hour"]

PAIRING_SLACK_H = 6
"""How much later than its valid hour an observation may still pair (station time)."""


@dataclass(frozen=True, slots=True)
class Observed:
    """The observation one input record carries, where it was read.

    Attributes:
        partition, offset: the record's place in the features topic.
        station_id: its station.
        hour: its ``window_end`` (a forecast issued at ``t`` for lead ``h`` pairs with
            the observation of hour ``t + h``).
        temperature_c: its mean temperature.
    """

    partition: int
    offset: int
    station_id: str
    hour: datetime
    temperature_c: float


class LivePairs:
    """Forecast-observation joins per partition (see the module docstring).

    Args:
        max_lead_h: the longest lead served.
    """

    def __init__(self, max_lead_h: int) -> None:
        self.max_lead_h = max_lead_h
        self._joins: dict[int, LeadJoin] = {}

    def join(self, partition: int) -> LeadJoin:
        """The join of ``partition`` (created empty on first use)."""
        found = self._joins.get(partition)
        if found is None:
            found = self._joins[partition] = LeadJoin(self.max_lead_h, PAIRING_SLACK_H)
        return found

    def observe(self, observed: Observed) -> list[Pair]:
        """Feed one observation; the pairs of the forecasts it completes."""
        return self.join(observed.partition).observe(
            observed.station_id, epoch_hour(observed.hour), observed.temperature_c
        )

    def emit(self, partition: int, forecast: PendingForecast) -> list[Pair]:
        """Feed every lead of one emitted forecast; pairs of those already observed."""
        return self.join(partition).add(forecast)

    def forecast(self, partition: int, leads: Sequence[Forecast]) -> list[Pair]:
        """:meth:`emit` for a forecast given lead by lead (as read back from the topic)."""
        join = self.join(partition)
        return [pair for entry in entries_of(leads) for pair in join.add(entry)]

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget the joins of ``partitions`` (revoked, or to be rebuilt)."""
        for partition in partitions:
            self._joins.pop(partition, None)

    def reset(self) -> None:
        """Forget every join."""
        self._joins.clear()
