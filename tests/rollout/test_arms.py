"""Sticky A/B by station: stable, proportional, monotone in the fraction."""

from __future__ import annotations

import itertools

import pytest

from wxstream.rollout import CHALLENGER, CHAMPION, arm_of, station_point

# Computed once by BLAKE2b-64 of "experiment\0station": a different hash breaks them.
GOLDEN = {
    ("EWR", "exp-1"): 0.02966198653427156,
    ("JFK", "exp-1"): 0.12749097309595203,
    ("LGA", "exp-1"): 0.20028146985441916,
    ("EWR", "exp-2"): 0.3597508262593969,
}
IDS = [f"station-{k:05d}" for k in range(10_000)]


@pytest.mark.parametrize(("key", "point"), GOLDEN.items())
def test_points_are_the_golden_values(key: tuple[str, str], point: float) -> None:
    assert station_point(*key) == point


def test_arms_follow_the_points() -> None:
    assert arm_of("EWR", "exp-1", 0.05) == CHALLENGER
    assert arm_of("JFK", "exp-1", 0.05) == CHAMPION
    assert arm_of("JFK", "exp-1", 0.13) == CHALLENGER
    assert arm_of("EWR", "exp-2", 0.35) == CHAMPION


def test_the_experiment_name_reshuffles_and_the_separator_matters() -> None:
    assert station_point("EWR", "exp-1") != station_point("EWR", "exp-2")
    assert station_point("c", "ab") != station_point("bc", "a")


@pytest.mark.parametrize("fraction", [0.1, 0.25, 0.5, 0.9])
def test_the_fraction_is_respected(fraction: float) -> None:
    share = sum(arm_of(s, "exp-1", fraction) == CHALLENGER for s in IDS) / len(IDS)
    # binomial standard deviation <= 0.005 at 10,000 stations: 4 of them
    assert share == pytest.approx(fraction, abs=0.02)


def test_fractions_zero_and_one_send_none_and_all() -> None:
    assert all(arm_of(s, "exp-1", 0.0) == CHAMPION for s in IDS)
    assert all(arm_of(s, "exp-1", 1.0) == CHALLENGER for s in IDS)


def test_raising_the_fraction_only_moves_champions_to_the_challenger() -> None:
    fractions = [0.0, 0.05, 0.1, 0.3, 0.31, 0.5, 0.8, 1.0]
    for low, high in itertools.pairwise(fractions):
        for station in IDS[:2000]:
            if arm_of(station, "exp-9", low) == CHALLENGER:
                assert arm_of(station, "exp-9", high) == CHALLENGER


@pytest.mark.parametrize("fraction", [-0.01, 1.01, float("nan")])
def test_fractions_outside_zero_one_are_refused(fraction: float) -> None:
    with pytest.raises(ValueError, match="challenger_fraction"):
        arm_of("EWR", "exp-1", fraction)
