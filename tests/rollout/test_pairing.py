"""The live join: either arrival order, each forecast paired once, bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wxstream.rollout import Forecast, ForecastJoin, Observation

T0 = datetime(2013, 11, 3, 1, tzinfo=UTC)
H = timedelta(hours=1)


def forecast(lead: int, issued_at: datetime = T0, station: str = "EWR") -> Forecast:
    return Forecast(station, issued_at, lead, 4.0, 5.0, 6.0, "m", "1")


def observed(hour: datetime, value: float = 5.5, station: str = "EWR") -> Observation:
    return Observation(station, hour, value)


def test_a_forecast_waits_for_its_observation() -> None:
    join = ForecastJoin(max_lead_h=3, slack_h=1)
    assert join.add_forecasts([forecast(1), forecast(2)]) == []
    assert join.pending == 2
    [record] = join.add_observation(observed(T0 + H))
    assert (record.lead_h, record.observed_c) == (1, 5.5)
    assert join.add_observation(observed(T0 + 2 * H, 7.0))[0].observed_c == 7.0
    assert (join.pending, join.paired, join.evicted) == (0, 2, 0)


def test_an_observation_already_known_pairs_at_once() -> None:
    join = ForecastJoin(max_lead_h=3, slack_h=1)
    assert join.add_observation(observed(T0 + H)) == []
    [record] = join.add_forecast(forecast(1))
    assert record.valid_at == T0 + H


def test_a_repeated_observation_pairs_nothing_twice() -> None:
    join = ForecastJoin(max_lead_h=3, slack_h=1)
    join.add_forecast(forecast(1))
    assert len(join.add_observation(observed(T0 + H, 1.0))) == 1
    assert join.add_observation(observed(T0 + H, 2.0)) == []
    assert join.add_forecast(forecast(1, station="JFK")) == []  # other station: waits


def test_stations_do_not_mix() -> None:
    join = ForecastJoin(max_lead_h=3, slack_h=1)
    join.add_forecast(forecast(1, station="JFK"))
    assert join.add_observation(observed(T0 + H, station="EWR")) == []
    assert len(join.add_observation(observed(T0 + H, station="JFK"))) == 1


def test_pending_forecasts_are_evicted_behind_the_newest_observation() -> None:
    join = ForecastJoin(max_lead_h=2, slack_h=1)  # horizon 3 h
    join.add_forecast(forecast(2))  # valid at T0 + 2 h, whose observation never comes
    join.add_observation(observed(T0 + 3 * H))
    assert (join.pending, join.evicted) == (1, 0)  # issued T0 = newest - 3 h: kept
    join.add_observation(observed(T0 + 4 * H))
    assert (join.pending, join.evicted) == (0, 1)


def test_observations_are_forgotten_and_late_forecasts_counted() -> None:
    join = ForecastJoin(max_lead_h=2, slack_h=0)
    for k in range(100):
        join.add_observation(observed(T0 + k * H))
    assert join.held_observations == 3  # hours newest - 2 .. newest
    # issued long ago: its observation is forgotten, so it is counted, not kept
    assert join.add_forecast(forecast(1)) == []
    assert (join.pending, join.evicted) == (0, 1)
    # an observation older than the horizon is not kept either
    join.add_observation(observed(T0 + 10 * H, station="EWR"))
    assert join.held_observations == 3
    # a forecast still inside the horizon pairs with what is held
    assert len(join.add_forecast(forecast(1, issued_at=T0 + 98 * H))) == 1


def test_a_missing_temperature_is_no_observation() -> None:
    join = ForecastJoin(max_lead_h=3, slack_h=1)
    join.add_forecast(forecast(1))
    assert join.add_observation(observed(T0 + H, float("nan"))) == []
    assert join.pending == 1
    assert len(join.add_observation(observed(T0 + H, 5.0))) == 1
