"""The live skill's batch feeding and rebuild (synthetic values: the ordering and
bookkeeping rules only, no weather)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wxstream.rollout import Forecast, Observation
from wxstream.rollout.live import LiveSkill, SkillHistory, record_key

T0 = datetime(2013, 11, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def series(hours: int) -> tuple[list[Observation], list[Forecast]]:
    observations = [Observation("EWR", T0 + k * HOUR, float(k)) for k in range(hours)]
    forecasts = [
        Forecast("EWR", T0 + k * HOUR, 1, k - 1.0, float(k), k + 1.0, "m", "1")
        for k in range(hours)
    ]
    return observations, forecasts


def test_a_batch_longer_than_the_horizon_pairs_its_own_forecasts() -> None:
    observations, forecasts = series(48)
    live = LiveSkill(max_lead_h=1, slack_h=0)
    records = live.pair(observations, forecasts)
    assert len(records) == 47
    assert live.join.evicted == 0


def test_a_rebuild_counts_published_pairs_once_and_owes_the_unpublished() -> None:
    observations, forecasts = series(10)
    live = LiveSkill(max_lead_h=1)
    published = live.pair(observations[:5], forecasts[:5])
    assert len(published) == 4
    # Restart: the topics hold the published pairs, all forecasts, observations 0-6.
    restarted = LiveSkill(max_lead_h=1)
    restarted.rebuild(SkillHistory(published, forecasts[:5], observations[:7]))
    assert next(iter(restarted.table.figures().values())).count == 4
    owed = restarted.pair(observations[7:], forecasts[5:])
    keys = [record_key(r) for r in (*published, *owed)]
    assert len(keys) == len(set(keys)) == 9
    assert next(iter(restarted.table.figures().values())).count == 9
