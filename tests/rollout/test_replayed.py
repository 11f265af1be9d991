"""The live join replayed over everything a topic reader returns at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tests.rollout.baseline_forecasts import baseline_forecasts, period_observations
from wxstream.rollout import Forecast, Observation, offline_skill
from wxstream.rollout.replayed import replay_join

T0 = datetime(2013, 11, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_forecasts_read_after_every_observation_are_still_paired() -> None:
    # Synthetic values: the ordering rule only, no weather.
    observations = [Observation("EWR", T0 + k * HOUR, float(k)) for k in range(100)]
    forecasts = [
        Forecast("EWR", T0 + k * HOUR, 1, 0.0, float(k), 2.0 * k, "m", "1") for k in range(99)
    ]
    out = replay_join(forecasts, observations, max_lead_h=1, slack_h=0)
    assert len(out.records) == 99
    assert out.evicted == 0
    assert all(r.observed_c == r.p50_c + 1.0 for r in out.records)


def test_the_first_observation_read_of_an_hour_counts() -> None:
    observations = [Observation("EWR", T0 + HOUR, 3.0), Observation("EWR", T0 + HOUR, 9.0)]
    forecast = Forecast("EWR", T0, 1, 0.0, 1.0, 2.0, "m", "1")
    out = replay_join([forecast], observations, max_lead_h=1)
    assert [r.observed_c for r in out.records] == [3.0]


def test_a_forecast_never_observed_is_pending() -> None:
    out = replay_join([Forecast("EWR", T0, 1, 0.0, 1.0, 2.0, "m", "1")], [], max_lead_h=1)
    assert (out.records, out.pending, out.evicted) == ([], 1, 0)


def forecast_objects(frame: pd.DataFrame) -> list[Forecast]:
    """The rows of a forecast frame (``FORECAST_COLUMNS``) as :class:`Forecast`."""
    columns = ["station_id", "lead_h", "p10_c", "p50_c", "p90_c", "model_name", "model_version"]
    issued = frame["issued_at"].dt.to_pydatetime().tolist()
    rows = zip(issued, *(frame[c].tolist() for c in columns), strict=True)
    return [
        Forecast(str(station), at, int(lead), float(p10), float(p50), float(p90), str(n), str(v))
        for at, station, lead, p10, p50, p90, n, v in rows
    ]


@pytest.mark.parametrize("forecasts_first", [True, False])
def test_replayed_skill_equals_the_offline_computation_on_real_data(
    nyc_features: object, forecasts_first: bool
) -> None:
    assert isinstance(nyc_features, pd.DataFrame)
    leads = (1, 3, 6, 24)
    frame = pd.concat(
        [
            baseline_forecasts(nyc_features, "diurnal-persistence", leads, version="a"),
            baseline_forecasts(nyc_features, "persistence", leads, version="b"),
        ],
        ignore_index=True,
    )
    observed = period_observations(nyc_features)
    forecasts = forecast_objects(frame)
    observations = [
        Observation(str(station), hour, float(value))
        for station, hour, value in zip(
            observed["station_id"].tolist(),
            observed["hour"].dt.to_pydatetime().tolist(),
            observed["temperature_c"].tolist(),
            strict=True,
        )
    ]
    # A topic reader may return either topic first: the replay orders by time.
    ordered = (forecasts, observations) if forecasts_first else (forecasts[::-1], observations)
    out = replay_join(*ordered, max_lead_h=max(leads))
    live, offline = out.table.figures(), offline_skill(frame, observed)
    assert list(live) == list(offline)
    assert len(live) == 8
    for key, cell in offline.items():
        assert live[key].count == cell.count > 1000
        assert live[key].mae_c == pytest.approx(cell.mae_c, abs=1e-9, rel=0)
        assert live[key].pinball_c == pytest.approx(cell.pinball_c, abs=1e-9, rel=0)
        assert live[key].coverage == pytest.approx(cell.coverage, abs=1e-12, rel=0)
