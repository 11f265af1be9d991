"""Fault injection into real rows: what each fault does, and the same seed, the same faults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from wxstream.anomalies import FAULTS, FaultSpec, inject, plan_trials
from wxstream.anomalies.offline import decode_flags

Split = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


@pytest.fixture(scope="module")
def ewr(nyc_split: Split) -> pd.DataFrame:
    test = nyc_split[2]
    return test.loc[test["station_id"] == "EWR"].sort_values("window_start").reset_index(drop=True)


def _at(rows: pd.DataFrame, row: int, column: str) -> float:
    return float(rows[column].to_numpy(dtype=np.float64)[row])


def _spec(kind: str, size: str) -> FaultSpec:
    return next(s for s in FAULTS if s.kind == kind and s.size == size)


def test_same_seed_same_trials_other_seed_other_trials() -> None:
    lengths = {"EWR": 1400, "JFK": 1400, "LGA": 1390}
    for spec in FAULTS:
        first = plan_trials(lengths, spec, 12, seed=7, context_rows=100, grace_rows=2)
        again = plan_trials(lengths, spec, 12, seed=7, context_rows=100, grace_rows=2)
        other = plan_trials(lengths, spec, 12, seed=8, context_rows=100, grace_rows=2)
        assert first == again
        assert first != other
        for trial in first:
            assert spec.min_hours <= trial.length <= spec.max_hours
            assert 100 <= trial.start <= lengths[trial.station] - trial.length - 2


def test_injection_is_reproducible_and_leaves_the_input_alone(ewr: pd.DataFrame) -> None:
    before = ewr.copy()
    spec = _spec("drift", "3C/14d")
    a = inject(ewr, spec, 100, 336, sign=1.0, diff_std=1.0)
    b = inject(ewr, spec, 100, 336, sign=1.0, diff_std=1.0)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(ewr, before)
    offset = (a["avg_temperature"] - ewr["avg_temperature"]).to_numpy()
    assert offset[:100] == pytest.approx(0.0)
    assert offset[435] == pytest.approx(3.0)
    assert offset[436:] == pytest.approx(0.0)


def test_each_fault_changes_what_it_should(ewr: pd.DataFrame) -> None:
    spike = inject(ewr, _spec("spike", "5sd"), 50, 1, sign=-1.0, diff_std=0.9)
    changed = np.flatnonzero(~np.isclose(spike["avg_temperature"], ewr["avg_temperature"]))
    assert changed.tolist() == [50]
    assert _at(spike, 50, "max_temperature") == pytest.approx(_at(ewr, 50, "max_temperature") - 4.5)

    stuck = inject(ewr, _spec("stuck", "6h"), 50, 6, sign=1.0, diff_std=1.0)
    assert set(stuck.loc[50:55, "avg_temperature"]) == {_at(ewr, 49, "avg_temperature")}

    swap = inject(ewr, _spec("swap", "6-24h"), 50, 6, sign=1.0, diff_std=1.0)
    assert _at(swap, 50, "avg_temperature") == pytest.approx(_at(ewr, 50, "avg_dewpoint"))
    assert _at(swap, 50, "avg_dewpoint") == pytest.approx(_at(ewr, 50, "avg_temperature"))

    degf = inject(ewr, _spec("degF", "6-24h"), 50, 6, sign=1.0, diff_std=1.0)
    expected = _at(ewr, 50, "avg_temperature") * 1.8 + 32
    assert _at(degf, 50, "avg_temperature") == pytest.approx(expected)

    kelvin = inject(ewr, _spec("kelvin", "6-24h"), 50, 6, sign=1.0, diff_std=1.0)
    assert decode_flags(kelvin).nonzero()[0].tolist() == list(range(50, 56))

    shifted = inject(ewr, _spec("time_shift", "-3h"), 50, 6, sign=1.0, diff_std=1.0)
    moved = shifted["window_start"] - ewr["window_start"]
    assert (moved.iloc[50:56] == pd.Timedelta(hours=-3)).all()
    assert (moved.drop(range(50, 56)) == pd.Timedelta(0)).all()
