"""The service's join (:class:`LeadJoin`, whole hours, one entry per forecast) pairs and
evicts exactly what :class:`ForecastJoin` does, and its pairs score to the same records."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from wxstream.messages import SkillRecord
from wxstream.rollout import Forecast, ForecastJoin, Observation
from wxstream.rollout.lead_join import (
    LeadJoin,
    PendingForecast,
    entries_of,
    score_pair,
    score_pairs,
)
from wxstream.rollout.replayed import replay_join, replay_lead_join

LEADS = (1, 2, 3, 6, 12)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)

Event = tuple[str, str, datetime, float]  # (kind, station, time, temperature)


def real_events(features: pd.DataFrame, days: int, seed: int) -> list[Event]:
    """Real hourly observations of three stations, each followed by the forecast issued
    at its hour; some observations come late (a few hours out of order), some never, so
    that pairing both ways round and eviction all happen."""
    start = pd.Timestamp("2013-03-01", tz="UTC")
    rows = features.loc[
        (features["window_end"] > start)
        & (features["window_end"] <= start + pd.Timedelta(days=days))
    ].sort_values(["window_end", "station_id"])
    rng = random.Random(seed)
    events: list[tuple[float, int, Event]] = []
    for seq, (station, end, temperature) in enumerate(
        zip(rows["station_id"], rows["window_end"], rows["avg_temperature"], strict=True)
    ):
        hour = pd.Timestamp(end).to_pydatetime()
        value = float(temperature)
        events.append((hour.timestamp(), 2 * seq + 1, ("forecast", str(station), hour, value)))
        roll = rng.random()
        if roll < 0.05:
            continue  # never observed
        delay_s = 3600.0 * rng.randint(1, 20) if roll < 0.2 else 0.0
        events.append(
            (hour.timestamp() + delay_s, 2 * seq, ("observation", str(station), hour, value))
        )
    events.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in events]


def forecast_values(temperature: float) -> tuple[list[float], list[float], list[float]]:
    """Persistence of the observation with a band widening with the lead."""
    p50 = [temperature + 0.1 * lead for lead in LEADS]
    return (
        [v - 0.5 * lead for v, lead in zip(p50, LEADS, strict=True)],
        p50,
        [v + 0.4 * lead for v, lead in zip(p50, LEADS, strict=True)],
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_the_lead_join_pairs_what_the_forecast_join_pairs(nyc_features: object, seed: int) -> None:
    assert isinstance(nyc_features, pd.DataFrame)
    reference = ForecastJoin(max(LEADS), slack_h=3)
    fast = LeadJoin(max(LEADS), slack_h=3)
    got: list[SkillRecord] = []
    want: list[SkillRecord] = []
    for kind, station, moment, temperature in real_events(nyc_features, 30, seed):
        hour = (moment - EPOCH) // HOUR
        if kind == "observation":
            want.extend(reference.add_observation(Observation(station, moment, temperature)))
            got.extend(score_pair(p) for p in fast.observe(station, hour, temperature))
        elif math.isfinite(temperature):
            p10, p50, p90 = forecast_values(temperature)
            want.extend(
                reference.add_forecasts(
                    [
                        Forecast(station, moment, lead, a, b, c, "m", "1")
                        for lead, a, b, c in zip(LEADS, p10, p50, p90, strict=True)
                    ]
                )
            )
            entry = PendingForecast(station, moment, hour, LEADS, (p10, p50, p90), model=("m", "1"))
            got.extend(score_pair(p) for p in fast.add(entry))
        assert (fast.paired, fast.evicted, fast.pending) == (
            reference.paired,
            reference.evicted,
            reference.pending,
        )
        assert fast.held_observations == reference.held_observations
    assert got == want
    # every path was taken
    assert reference.evicted > 0
    assert reference.paired > 1000


def test_the_replay_into_the_lead_join_pairs_what_replay_join_pairs(nyc_features: object) -> None:
    assert isinstance(nyc_features, pd.DataFrame)
    observations: list[Observation] = []
    forecasts: list[Forecast] = []
    for kind, station, moment, temperature in real_events(nyc_features, 20, 3):
        if kind == "observation":
            observations.append(Observation(station, moment, temperature))
        elif math.isfinite(temperature):
            forecasts.extend(
                Forecast(station, moment, lead, a, b, c, "m", "1")
                for lead, a, b, c in zip(LEADS, *forecast_values(temperature), strict=True)
            )
    want = replay_join(forecasts, observations, max_lead_h=max(LEADS), slack_h=3)
    join = LeadJoin(max(LEADS), slack_h=3)
    got = score_pairs(replay_lead_join(entries_of(forecasts), observations, join))
    assert got == want.records
    assert (join.evicted, join.pending) == (want.evicted, want.pending)
