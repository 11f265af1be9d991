"""``serve --auto-promote`` on real-data pairs: the rules of ``models decide`` run on
the live skill's records, every decision lands in the registry history, and a decision
is made at most once per N new pairs per lead."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from tests.rollout.baseline_forecasts import baseline_forecasts, period_observations
from tests.rollout.test_replayed import forecast_objects
from tests.support.registry_support import add_versions
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import promote, read_aliases, read_history
from wxstream.rollout import DEFAULT_MIN_PAIRS, Observation, PromotionDecision
from wxstream.rollout.live import LiveSkill, SkillHistory
from wxstream.streaming.auto_promote import WHO, AutoPromoter, move_aliases

LEADS = (1, 3, 6, 24)


@pytest.fixture
def store(tmp_path: Path, serve_model_dir: Path) -> tuple[Path, str, str]:
    """Name ``wx``: version a champion, b challenger."""
    root = tmp_path / "trained" / "forecasting"
    a, b = add_versions(root, "wx", read_model_dir(serve_model_dir), 2)
    promote(root, "wx", b, why="try it", who="ana", alias="challenger")
    return root, a, b


def live_pairs(
    nyc_features: pd.DataFrame, champion: str, challenger: str, *, swapped: bool = False
) -> LiveSkill:
    """Diurnal persistence (champion) and persistence (challenger) forecasts of the test
    period, or the other way round, paired by the live skill as a service started on
    these topics would."""
    first, second = "diurnal-persistence", "persistence"
    if swapped:
        first, second = second, first
    frame = pd.concat(
        [
            baseline_forecasts(nyc_features, first, LEADS, version=champion),
            baseline_forecasts(nyc_features, second, LEADS, version=challenger),
        ],
        ignore_index=True,
    )
    frame["model_name"] = "wx"
    observed = period_observations(nyc_features)
    observations = [
        Observation(str(s), h, float(t))
        for s, h, t in zip(
            observed["station_id"].tolist(),
            observed["hour"].dt.to_pydatetime().tolist(),
            observed["temperature_c"].tolist(),
            strict=True,
        )
    ]
    live = LiveSkill(max(LEADS), keep_records=True)
    live.rebuild(SkillHistory(forecasts=forecast_objects(frame), observations=observations))
    return live


@pytest.mark.parametrize("swapped", [False, True])
def test_a_decision_is_recorded_once_per_n_new_pairs(
    store: tuple[Path, str, str], nyc_features: pd.DataFrame, swapped: bool
) -> None:
    root, a, b = store
    live = live_pairs(nyc_features, a, b, swapped=swapped)
    decided: list[PromotionDecision] = []

    def move(decision: PromotionDecision) -> None:
        decided.append(decision)
        move_aliases(root, "wx", a, b, None, decision)

    promoter = AutoPromoter(live, model_name="wx", champion=a, challenger=b, move=move)
    records = live.pair([], [])  # what the rebuild paired goes out with the next batch
    counts = [c.count for k, c in live.table.figures().items() if k.model_version == b]
    assert min(counts) >= DEFAULT_MIN_PAIRS
    decision = promoter(records)
    assert decision is not None
    # Persistence beats diurnal persistence on these three stations: promoted only as
    # the challenger.
    assert decision.promote is not swapped
    assert decided == [decision]
    line = read_history(root, "wx")[-1 if not decision.promote else -3]
    assert line.action == "decision"
    assert line.who == WHO
    assert line.figures["figures"]["challenger"]["model_version"] == b
    aliases = read_aliases(root / "wx")
    assert aliases["champion"] == (b if decision.promote else a)
    # No new pairs: no second decision.
    assert promoter(records) is None
    assert len(decided) == 1


def test_no_decision_before_n_pairs_per_lead(
    store: tuple[Path, str, str], nyc_features: pd.DataFrame
) -> None:
    root, a, b = store
    live = live_pairs(nyc_features, a, b)
    records = live.pair([], [])
    most = max(c.count for c in live.table.figures().values())
    promoter = AutoPromoter(
        live,
        model_name="wx",
        champion=a,
        challenger=b,
        move=partial(move_aliases, root, "wx", a, b, None),
    )
    promoter.rules = type(promoter.rules)(min_pairs_per_lead=most + 1)
    assert promoter(records) is None
    assert all(line.action != "decision" for line in read_history(root, "wx"))
