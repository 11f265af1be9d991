"""The online interval calibrator: coverage under stationarity and drift, replay, no look-ahead.

Pure functions, so synthetic scores: a model whose p10..p90 assumes unit spread around
p50 while the truth has another spread (and a bias), fed one lead at a time.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from wxstream.errors import DataError
from wxstream.models.evaluation_online import simulate_online
from wxstream.models.online_calibration import (
    LiveCalibration,
    OnlineCalibrationSettings,
    Pair,
    apply,
    initial_state,
    scales,
    state_from_json,
    state_to_json,
    update,
)

Z90 = 1.2815515655446004  # standard normal 90 % quantile: p10..p90 of unit spread


def _stream(
    spread: np.ndarray, bias: np.ndarray, settings: OnlineCalibrationSettings, seed: int = 0
) -> np.ndarray:
    """Hits of lead-1 forecasts issued each hour, each calibrated with what came before."""
    rng = np.random.default_rng(seed)
    observed = bias + spread * rng.standard_normal(spread.size)
    state = initial_state(settings)
    hits = np.zeros(spread.size, dtype=bool)
    for t in range(spread.size):
        lower, upper = apply(state, "s", 1, p10=-Z90, p50=0.0, p90=Z90, issued_hour=t)
        hits[t] = lower <= observed[t] <= upper
        # the observation of hour t + 1 arrives: it pairs with the forecast issued at t
        state = update(state, [Pair("s", 1, t, lower, upper, float(observed[t]))])
    return hits


@pytest.mark.parametrize("spread", [0.5, 1.0, 2.0])
def test_coverage_converges_on_a_stationary_sequence(spread: float) -> None:
    n = 20000
    hits = _stream(np.full(n, spread), np.zeros(n), OnlineCalibrationSettings())
    assert hits[n // 4 :].mean() == pytest.approx(0.8, abs=0.015)


def test_coverage_holds_while_spread_and_bias_drift() -> None:
    n = 20000
    t = np.linspace(0.0, 1.0, n)
    spread = 1.0 + 2.0 * t + 0.5 * np.sin(12 * np.pi * t)
    bias = 1.5 * np.sin(4 * np.pi * t)
    hits = _stream(spread, bias, OnlineCalibrationSettings())
    assert hits.mean() == pytest.approx(0.8, abs=0.02)
    for part in np.array_split(hits, 5):  # holds along the way, not on average only
        assert part.mean() == pytest.approx(0.8, abs=0.04)


def test_offline_interval_drifting_away_is_what_it_corrects() -> None:
    n = 6000
    spread = np.linspace(1.0, 2.5, n)
    rng = np.random.default_rng(1)
    observed = spread * rng.standard_normal(n)
    offline = (np.abs(observed) <= Z90).mean()
    online = _stream(spread, np.zeros(n), OnlineCalibrationSettings(), seed=1).mean()
    assert offline < 0.7
    assert online == pytest.approx(0.8, abs=0.02)


def _history(n: int = 500) -> list[Pair]:
    rng = np.random.default_rng(2)
    out = []
    for t in range(n):
        for station in ("a", "b"):
            for lead in (1, 2, 3):
                y = float(rng.normal(0.0, 1.5))
                out.append(Pair(station, lead, t, -Z90, Z90, y))
    return sorted(out, key=lambda p: (p.observed_hour, p.station, p.lead))


def test_rebuild_by_replay_gives_the_identical_state() -> None:
    settings = OnlineCalibrationSettings(gamma=0.03, min_station_pairs=50)
    pairs = _history()
    once = update(initial_state(settings), pairs)
    chunked = initial_state(settings)
    for lo in range(0, len(pairs), 37):
        chunked = update(chunked, pairs[lo : lo + 37])
    assert chunked == once
    restored = state_from_json(json.loads(json.dumps(state_to_json(once))))
    assert restored == once
    assert restored.observed_through == 500 - 1 + 3


def test_a_station_uses_its_own_scale_once_it_has_enough_pairs() -> None:
    settings = OnlineCalibrationSettings(gamma=0.05, min_station_pairs=30)
    # station "wide" always misses above, station "calm" always hits: their scales part
    state = initial_state(settings)
    for t in range(29):
        state = update(
            state, [Pair("wide", 1, t, -1.0, 1.0, 5.0), Pair("calm", 1, t, -1.0, 1.0, 0.0)]
        )
    pooled = scales(state, "wide", 1)
    assert scales(state, "calm", 1) == pooled  # 29 pairs each: the lead's scale serves both
    state = update(state, [Pair("wide", 1, 29, -1.0, 1.0, 5.0), Pair("calm", 1, 29, -1.0, 1.0, 0)])
    wide_lo, wide_hi = scales(state, "wide", 1)
    _, calm_hi = scales(state, "calm", 1)
    assert wide_hi > calm_hi
    assert wide_lo < 1.0  # no miss below: the lower side narrows
    assert scales(state, "new", 1) != (wide_lo, wide_hi)


def test_the_interval_keeps_its_order_around_p50() -> None:
    state = update(initial_state(), [Pair("s", 2, t, -1.0, 1.0, 9.0) for t in range(200)])
    lower, upper = apply(state, "s", 2, p10=10.0, p50=11.0, p90=13.0, issued_hour=500)
    assert lower <= 11.0 <= upper
    assert upper - 11.0 > 2.0  # the upper side widened after the misses above


def test_a_state_that_has_seen_later_observations_refuses_to_calibrate() -> None:
    state = update(initial_state(), [Pair("s", 6, 100, -1.0, 1.0, 0.0)])
    assert state.observed_through == 106
    apply(state, "s", 1, p10=-1.0, p50=0.0, p90=1.0, issued_hour=106)
    with pytest.raises(DataError, match="after the forecast's issue hour"):
        apply(state, "s", 1, p10=-1.0, p50=0.0, p90=1.0, issued_hour=105)


def test_a_pair_must_be_observed_after_its_forecast() -> None:
    with pytest.raises(DataError, match="lead 0"):
        update(initial_state(), [Pair("s", 0, 10, -1.0, 1.0, 0.0)])


def test_missing_values_teach_nothing() -> None:
    state = update(initial_state(), [Pair("s", 1, 0, -1.0, 1.0, float("nan"))])
    assert state == initial_state()


def test_malformed_state_is_a_data_error() -> None:
    data = state_to_json(initial_state())
    with pytest.raises(DataError):
        state_from_json({**data, "method": "other"})
    with pytest.raises(DataError):
        state_from_json({**data, "by_lead": [[1, "x"]]})


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="gamma"):
        OnlineCalibrationSettings(gamma=0.0)
    with pytest.raises(ValueError, match="min_station_pairs"):
        dataclasses.replace(OnlineCalibrationSettings(), min_station_pairs=0)


# -- the evaluation's stream replay ---------------------------------------------------------


def _samples(n_hours: int, horizon: int, seed: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    station = np.repeat(np.arange(2), n_hours)
    issue = np.tile(np.arange(n_hours), 2)
    spread = np.linspace(1.0, 1.5, n_hours)[issue][:, None] * np.sqrt(np.arange(1, horizon + 1))
    observed = spread * rng.standard_normal((issue.size, horizon))
    half = Z90 * np.sqrt(np.arange(1, horizon + 1))[None, :].repeat(issue.size, axis=0)
    quantiles = np.stack([-half, np.zeros_like(half), half], axis=-1)
    return station, issue, quantiles, observed


def test_the_replay_uses_no_observation_after_each_issue_hour() -> None:
    station, issue, quantiles, observed = _samples(400, 4, seed=3)
    settings = OnlineCalibrationSettings()
    first = simulate_online(
        ("a", "b"), station, issue, quantiles=quantiles, observed=observed, settings=settings
    )
    cut = 250
    changed = observed.copy()
    later = issue[:, None] + np.arange(1, 5)[None, :] > cut
    changed[later] = 100.0  # every observation after hour ``cut`` differs
    second = simulate_online(
        ("a", "b"), station, issue, quantiles=quantiles, observed=changed, settings=settings
    )
    upto = issue <= cut
    np.testing.assert_array_equal(first.lower[upto], second.lower[upto])
    np.testing.assert_array_equal(first.upper[upto], second.upper[upto])
    assert not np.array_equal(first.upper[~upto], second.upper[~upto])


def test_the_replay_brings_every_lead_to_the_target() -> None:
    station, issue, quantiles, observed = _samples(3000, 4, seed=4)
    result = simulate_online(
        ("a", "b"),
        station,
        issue,
        quantiles=quantiles,
        observed=observed,
        settings=OnlineCalibrationSettings(),
    )
    hits = (observed >= result.lower) & (observed <= result.upper)
    offline = (observed >= quantiles[..., 0]) & (observed <= quantiles[..., 2])
    assert (offline.mean(axis=0) < 0.72).all()
    np.testing.assert_allclose(hits.mean(axis=0), 0.8, atol=0.02)
    assert result.state.observed_through == 3000 - 1  # pairs due after the last issue: unused


def test_the_in_place_calibration_holds_the_state_of_update() -> None:
    rng = np.random.default_rng(5)
    settings = OnlineCalibrationSettings(min_station_pairs=20)
    pairs = [
        Pair(
            str(rng.choice(["a", "b", "c"])),
            int(rng.integers(1, 4)),
            t,
            -1.0,
            1.0,
            float(rng.normal(0.0, 1.5)) if t % 17 else float("nan"),
        )
        for t in range(600)
    ]
    live = LiveCalibration(settings)
    state = initial_state(settings)
    for start in range(0, len(pairs), 7):
        chunk = pairs[start : start + 7]
        live.learn((p.station, p.lead, p.issued_hour, p.lower, p.upper, p.observed) for p in chunk)
        state = update(state, chunk)
        assert state_to_json(live.state()) == state_to_json(state)
        for station in ("a", "b", "c", "new"):
            assert live.scales(station, (1, 2, 3, 9)) == [
                scales(state, station, lead) for lead in (1, 2, 3, 9)
            ]
    with pytest.raises(DataError):
        live.learn([("a", 0, 700, -1.0, 1.0, 0.0)])
