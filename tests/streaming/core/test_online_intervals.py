"""The pure online interval calibration of the service: recalibration, the walk over a
batch in record order, and a rebuild from the history giving the live state back.
Synthetic values (pure functions only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from wxstream.messages.predictions import ForecastInput
from wxstream.models.online_calibration import state_to_json
from wxstream.streaming.core.live_pairs import LivePairs, Observed
from wxstream.streaming.core.online_intervals import (
    OnlineIntervals,
    epoch_hour,
    forecast_leads,
    rebuild_partition,
    recalibrate,
    recalibrate_batch,
)
from wxstream.streaming.core.windows import StationWindow
from wxstream.streaming.core.work_batch import ForecastRequest, WorkBatch

T0 = datetime(2020, 1, 1, tzinfo=UTC)
LEADS = (1, 2, 3)
MODEL = ("m", "v1")


def test_epoch_hours_count_whole_hours() -> None:
    assert epoch_hour(datetime(1970, 1, 1, 5, 59, tzinfo=UTC)) == 5
    assert epoch_hour(T0 + timedelta(hours=3)) - epoch_hour(T0) == 3


def test_recalibrate_moves_each_bound_by_its_own_scale_and_keeps_the_median() -> None:
    q = np.array([[9.0, 10.0, 12.0], [8.0, 10.0, 11.0]], np.float32)
    out = recalibrate(q, np.array([[2.0, 0.5], [1.0, 3.0]]))
    assert out.tolist() == [[8.0, 10.0, 11.0], [8.0, 10.0, 13.0]]


def stream(hours: int, stations: tuple[str, ...]) -> list[tuple[Observed, np.ndarray]]:
    """Records in time order, each with the forecast its window made (synthetic)."""
    rng = np.random.default_rng(3)
    out = []
    offset = 0
    for h in range(hours):
        for station in stations:
            temp = float(np.sin(h / 5.0) * 4 + rng.normal(0, 2))
            median = np.full(len(LEADS), temp, np.float32)
            q = np.stack([median - 0.5, median, median + 0.5], axis=1).astype(np.float32)
            out.append((Observed(0, offset, station, T0 + timedelta(hours=h), temp), q))
            offset += 1
    return out


def batch_of(items: list[tuple[Observed, np.ndarray]], seq: int) -> tuple[WorkBatch, np.ndarray]:
    window = StationWindow.__new__(StationWindow)
    requests = tuple(
        ForecastRequest(
            ForecastInput(o.station_id, o.hour, o.hour, o.hour), window, 0, o.offset, 0, None, None
        )
        for o, _ in items
    )
    batch = WorkBatch(seq, requests, (), {}, 0.0, observations=tuple(o for o, _ in items))
    return batch, np.stack([q for _, q in items])


def run_live(
    items: list[tuple[Observed, np.ndarray]], size: int
) -> tuple[list[list[list[float]]], OnlineIntervals]:
    pairs, intervals = LivePairs(max(LEADS)), OnlineIntervals(LEADS)
    served = []
    for seq, start in enumerate(range(0, len(items), size)):
        batch, forecasts = batch_of(items[start : start + size], seq)
        out = recalibrate_batch(batch, forecasts, pairs, intervals, MODEL)
        served.extend(out.forecasts.tolist())
    return served, intervals


def test_the_batch_walk_learns_in_record_order_whatever_the_batch_sizes() -> None:
    items = stream(60, ("A", "B"))
    one, state_one = run_live(items, 1)
    seven, state_seven = run_live(items, 7)
    assert one == seven
    assert state_to_json(state_one.state(0)) == state_to_json(state_seven.state(0))
    # a +-0.5 band around a noisy median covers little: the interval widened
    lo, hi = state_one.scales(0, "A").T
    assert (lo > 1.5).all()
    assert (hi > 1.5).all()


def test_a_rebuild_from_the_history_gives_the_live_state_back() -> None:
    items = stream(60, ("A", "B"))
    served, live = run_live(items, 5)
    cut = 70  # records below the committed offset
    emitted = {
        (o.station_id, o.hour): forecast_leads(
            o.station_id, o.hour, LEADS, np.array(q, np.float32), MODEL
        )
        for (o, _), q in zip(items[:cut], served[:cut], strict=True)
    }
    pairs, rebuilt = LivePairs(max(LEADS)), OnlineIntervals(LEADS)
    rebuild_partition(0, [o for o, _ in items[:cut]], emitted, pairs, rebuilt)
    rest = []
    for seq, start in enumerate(range(cut, len(items), 5)):
        batch, forecasts = batch_of(items[start : start + 5], seq)
        rest.extend(recalibrate_batch(batch, forecasts, pairs, rebuilt, MODEL).forecasts.tolist())
    assert rest == served[cut:]
    assert state_to_json(rebuilt.state(0)) == state_to_json(live.state(0))


def test_a_non_finite_forecast_is_left_alone_and_teaches_nothing() -> None:
    items = stream(3, ("A",))
    batch, forecasts = batch_of(items, 0)
    forecasts[1, 0, 0] = np.nan
    out = recalibrate_batch(batch, forecasts, LivePairs(3), OnlineIntervals(LEADS), MODEL)
    assert np.isnan(out.forecasts[1, 0, 0])
    assert out.scales[1].tolist() == [[1.0, 1.0]] * 3
    assert out.records  # the others paired with later observations
    assert all(f.issued_at != items[1][0].hour for f, _j, _observed in out.records)


def test_dropping_a_partition_forgets_its_state() -> None:
    _served, intervals = run_live(stream(20, ("A",)), 4)
    assert intervals.state(0).by_lead
    intervals.drop([0])
    assert not intervals.state(0).by_lead
    assert intervals.scales(0, "A").tolist() == [[1.0, 1.0]] * 3
