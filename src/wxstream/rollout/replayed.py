"""The live join replayed over what the topics hold: forecasts and observations read
from the beginning, fed to a :class:`~wxstream.rollout.pairing.ForecastJoin` in time
order.

A reader of the topics gets every record at once, not in the order they arrived: the
whole of ``weather-features`` may come before the first forecast. Fed like that, the
join would forget each station's old observations before their forecasts showed up.
So events are replayed by their time: each hour's observations (``window_end``), then
the forecasts issued at that hour, which is how they arrive in a running pipeline (a
forecast is issued when the window ending at its issue time is complete). Ties keep
the read order, so of two observations of one station and hour the first read counts,
as in the live join and :func:`~wxstream.rollout.skill.offline_pairs`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from wxstream.messages import SkillRecord
from wxstream.rollout.lead_join import LeadJoin, Pair, PendingForecast, epoch_hour
from wxstream.rollout.pairing import ForecastJoin
from wxstream.rollout.skill import Forecast, Observation, SkillTable

_OBSERVATION, _FORECAST = 0, 1  # at one instant observations go first

_F = TypeVar("_F", Forecast, PendingForecast)


def _in_time_order(
    forecasts: Iterable[_F], observations: Iterable[Observation]
) -> Iterator[_F | Observation]:
    """Observations by ``hour`` and forecasts by ``issued_at``, merged in time order: at
    one instant the observations first, ties in read order (the module docstring)."""
    events: list[tuple[datetime, int, int, _F | Observation]] = []
    for seq, observation in enumerate(observations):
        events.append((observation.hour, _OBSERVATION, seq, observation))
    for seq, forecast in enumerate(forecasts):
        events.append((forecast.issued_at, _FORECAST, seq, forecast))
    events.sort(key=lambda e: (e[0], e[1], e[2]))
    return (item for _, _, _, item in events)


@dataclass
class ReplayedSkill:
    """What :func:`replay_join` paired.

    Attributes:
        records: one per paired forecast lead, in pairing order.
        table: the same records summed per version and lead.
        evicted: forecasts whose observation never came within the join's slack.
        pending: forecasts still waiting (their valid hour is not observed yet).
    """

    records: list[SkillRecord] = field(default_factory=list)
    table: SkillTable = field(default_factory=SkillTable)
    evicted: int = 0
    pending: int = 0


def replay_join(
    forecasts: Iterable[Forecast],
    observations: Iterable[Observation],
    *,
    max_lead_h: int,
    slack_h: int = 6,
    join: ForecastJoin | None = None,
) -> ReplayedSkill:
    """Pair every forecast with its observation, feeding both in time order (into
    ``join`` when given: it then holds what is still pending, to go on live)."""
    join = join or ForecastJoin(max_lead_h, slack_h)
    out = ReplayedSkill()
    for item in _in_time_order(forecasts, observations):
        if isinstance(item, Forecast):
            out.records.extend(join.add_forecast(item))
        else:
            out.records.extend(join.add_observation(item))
    out.table.add_all(out.records)
    out.evicted = join.evicted
    out.pending = join.pending
    return out


def replay_lead_join(
    forecasts: Iterable[PendingForecast], observations: Iterable[Observation], join: LeadJoin
) -> list[Pair]:
    """:func:`replay_join` into the service's :class:`~wxstream.rollout.lead_join.LeadJoin`
    (whole forecasts, in the same time order); the pairs unscored, in pairing order."""
    out: list[Pair] = []
    for item in _in_time_order(forecasts, observations):
        if isinstance(item, PendingForecast):
            out.extend(join.add(item))
        else:
            out.extend(join.observe(item.station_id, epoch_hour(item.hour), item.temperature_c))
    return out
