"""The service's one forecast-observation join: every forecast it emits, paired with
the observation of its station and valid hour that it consumes later.

:class:`LivePairs` holds one :class:`~wxstream.rollout.pairing.ForecastJoin` per input
partition (a station's records all live in one partition, so the pairing is the same as
one join over everything) and returns the :class:`~wxstream.messages.SkillRecord` of
each pairing. Whatever learns from the pairs (the online interval calibration,
:mod:`~.online_intervals`; live skill) takes them from here, so the service pairs each
forecast once.

Sharded by partition so that a partition's pairs depend on its own records only: its
state is dropped with the partition on a revocation and rebuilt from the topics on an
assignment, like the windows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from wxstream.messages import SkillRecord
from wxstream.rollout.pairing import ForecastJoin
from wxstream.rollout.skill import Forecast, Observation

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
        self._joins: dict[int, ForecastJoin] = {}

    def join(self, partition: int) -> ForecastJoin:
        """The join of ``partition`` (created empty on first use)."""
        found = self._joins.get(partition)
        if found is None:
            found = self._joins[partition] = ForecastJoin(self.max_lead_h, PAIRING_SLACK_H)
        return found

    def observe(self, observed: Observed) -> list[SkillRecord]:
        """Feed one observation; the records of the forecasts it pairs."""
        return self.join(observed.partition).add_observation(
            Observation(observed.station_id, observed.hour, observed.temperature_c)
        )

    def forecast(self, partition: int, leads: Iterable[Forecast]) -> list[SkillRecord]:
        """Feed every lead of one emitted forecast; records of those already observed."""
        return self.join(partition).add_forecasts(list(leads))

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget the joins of ``partitions`` (revoked, or to be rebuilt)."""
        for partition in partitions:
            self._joins.pop(partition, None)

    def reset(self) -> None:
        """Forget every join."""
        self._joins.clear()
