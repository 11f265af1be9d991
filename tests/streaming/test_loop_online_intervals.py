"""Online interval calibration in the real loop, in memory: the served intervals learn
from the pairs of earlier forecasts, and a rewind after an aborted transaction, a
rebalance or a restart serves exactly the intervals of an uninterrupted run (the state is
rebuilt from the topics)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.streaming.conftest import RigFactory
from tests.streaming.test_loop import records_of
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.streaming.testing import (
    ABORT,
    ASSIGN,
    EOF,
    REVOKE,
    FakeClock,
    ListDelivery,
    MemoryLog,
)

pytestmark = pytest.mark.timeout(60)

Hourly = dict[int, list[tuple[bytes | None, bytes | None]]]


def calibrated(rig: RigFactory, items: Any, **kw: Any) -> dict[tuple[str, str], Any]:
    r = rig(items, online_calibration=True, **kw)
    assert r.run() == "idle"
    return r.forecasts()


def test_the_served_intervals_learn_from_earlier_pairs_and_say_their_scales(
    rig: RigFactory, hourly: Hourly
) -> None:
    plain = rig(records_of(hourly))
    assert plain.run() == "idle"
    before = {(m.station_id, m.issued_at): m for m in messages(plain.delivery)}
    r = rig(records_of(hourly), online_calibration=True)
    assert r.run() == "idle"
    served = messages(r.delivery)
    assert {(m.station_id, m.issued_at) for m in served} == before.keys()
    widened = 0
    for msg in served:
        raw = before[msg.station_id, msg.issued_at]
        assert raw.interval_scale is None
        assert msg.temperature_c == raw.temperature_c  # the median is the model's
        assert msg.interval_scale is not None
        lower, upper = msg.interval_scale
        # each bound moved away from the median by the scale written beside it
        for p50, p10, p90, raw10, raw90, s_lo, s_hi in zip(
            msg.temperature_c,
            msg.temperature_p10_c,
            msg.temperature_p90_c,
            raw.temperature_p10_c,
            raw.temperature_p90_c,
            lower,
            upper,
            strict=True,
        ):
            assert p10 == pytest.approx(p50 - s_lo * (p50 - raw10), abs=1e-4)
            assert p90 == pytest.approx(p50 + s_hi * (raw90 - p50), abs=1e-4)
        widened += any(s > 1.0 for s in lower + upper)
    # the test model's +-1 degC band holds too few August hours: the scales grow
    assert widened > len(served) // 2
    assert served[0].interval_scale == ((1.0,) * 4, (1.0,) * 4)  # nothing learnt yet


def messages(delivery: ListDelivery) -> list[PredictionMessage]:
    out = [decode_prediction(value) for _key, value in delivery.predictions]
    assert all(isinstance(m, PredictionMessage) for m in out)
    return out  # type: ignore[return-value]


def test_an_abort_serves_the_intervals_of_an_uninterrupted_run(
    rig: RigFactory, hourly: Hourly
) -> None:
    expected = calibrated(rig, records_of(hourly))
    items = records_of(hourly)
    items[0].insert(40, ABORT())
    r = rig(items, online_calibration=True)
    assert r.run() == "idle"
    assert r.delivery.aborted == 1
    assert r.service.totals.restored > 0
    intervals = r.service.finisher.intervals
    assert intervals is not None
    assert intervals.rebuilt_pairs > 0
    assert r.forecasts() == expected


def test_a_rebalance_and_a_restart_serve_the_intervals_of_an_uninterrupted_run(
    rig: RigFactory, hourly: Hourly
) -> None:
    expected = calibrated(rig, records_of(hourly))
    items = records_of(hourly)
    items[0][40:40] = [REVOKE(), ASSIGN()]
    assert calibrated(rig, items) == expected
    items = records_of(hourly)
    items[1][10:10] = [REVOKE((1,)), ASSIGN((1,))]
    assert calibrated(rig, items) == expected
    # A restart: the second run reads back what the first one committed.
    items = records_of(hourly)
    items[0].insert(40, EOF())
    items[1].insert(20, EOF())
    log, clock = MemoryLog(items), FakeClock()
    delivery = ListDelivery(log)
    first = rig(log, clock=clock, delivery=delivery, online_calibration=True)
    assert first.run() == "idle"
    before = len(delivery.predictions)
    second = rig(log, clock=clock, delivery=delivery, online_calibration=True)
    assert second.run() == "idle"
    assert len(delivery.predictions) > before
    assert second.forecasts() == expected
