"""``wxstream evaluate``: score the model against baselines on a source's test period."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import click

from wxstream.commands.options import (
    LEADS,
    data_dir_option,
    model_inputs_option,
    model_name_option,
    model_storage_option,
)
from wxstream.commands.source_options import joined_name, load_given_sources, source_options
from wxstream.errors import ConfigError, WxstreamError
from wxstream.models.online_calibration import DEFAULT_GAMMA

logger = logging.getLogger(__name__)

DEFAULT_REPORTS_DIR = Path("./reports")


def _inputs_tag(inputs: tuple[str, ...]) -> str:
    """A short stable tag of an input list, so ablation runs keep their own models."""
    import hashlib

    return hashlib.blake2b(",".join(inputs).encode(), digest_size=4).hexdigest()


@click.command()
@source_options("WXSTREAM_EVAL_SOURCE")
@click.option(
    "--leave-out",
    "leave_out",
    envvar="WXSTREAM_EVAL_LEAVE_OUT",
    show_envvar=True,
    multiple=True,
    help="Station or source (repeatable) kept out of training: the model, LightGBM and "
    "the interval calibration learn from every other station, and only the left-out "
    "ones are scored, on their test period (needs --train).",
)
@data_dir_option
@model_storage_option
@model_name_option
@click.option(
    "--train",
    "train_first",
    is_flag=True,
    help="Train the model on the sources' training splits first (then --model-name is ignored).",
)
@click.option(
    "--preset",
    envvar="WXSTREAM_PRESET",
    show_envvar=True,
    default="default",
    show_default=True,
    help="Model preset used with --train.",
)
@click.option(
    "--seed",
    envvar="WXSTREAM_SEED",
    show_envvar=True,
    type=int,
    default=0,
    show_default=True,
    help="Seed of the model training and of LightGBM.",
)
@click.option(
    "--epochs",
    envvar="WXSTREAM_EPOCHS",
    show_envvar=True,
    type=click.IntRange(1),
    default=None,
    help="Override the preset's maximum epochs (with --train).",
)
@model_inputs_option("WXSTREAM_EVAL_INPUTS")
@click.option(
    "--hidden-size",
    envvar="WXSTREAM_EVAL_HIDDEN_SIZE",
    show_envvar=True,
    type=click.IntRange(1),
    default=None,
    help="Override the preset's LSTM units (with --train).",
)
@click.option(
    "--max-train-samples",
    envvar="WXSTREAM_MAX_TRAIN_SAMPLES",
    show_envvar=True,
    type=click.IntRange(1),
    default=None,
    help="Train the model on a random subset of this many windows (quick runs).",
)
@click.option(
    "--lightgbm/--no-lightgbm",
    "with_lightgbm",
    envvar="WXSTREAM_EVAL_LIGHTGBM",
    show_envvar=True,
    default=True,
    show_default=True,
    help=(
        "Fit and score the LightGBM baseline (most of an evaluation's time on a CPU); "
        "leave it out for runs that compare the model with itself, such as an ablation."
    ),
)
@click.option(
    "--lightgbm-max-rounds",
    envvar="WXSTREAM_LIGHTGBM_MAX_ROUNDS",
    show_envvar=True,
    type=click.IntRange(1),
    default=2000,
    show_default=True,
    help="Boosting rounds cap of the LightGBM baseline (early stopping usually ends sooner).",
)
@click.option(
    "--calibrate/--no-calibrate",
    envvar="WXSTREAM_EVAL_CALIBRATE",
    show_envvar=True,
    default=True,
    show_default=True,
    help=(
        "For a model without stored interval calibration (trained before it existed), "
        "scale its p10-p90 interval per lead to 80 % coverage on validation; a model "
        "that carries calibration is scored exactly as it serves."
    ),
)
@click.option(
    "--online-calibration/--no-online-calibration",
    envvar="WXSTREAM_EVAL_ONLINE_CALIBRATION",
    show_envvar=True,
    default=True,
    show_default=True,
    help=(
        "Also replay the test period as a stream and score the p10-p90 interval "
        "recalibrated online (each forecast with only the observations before it) "
        "beside the offline-calibrated one."
    ),
)
@click.option(
    "--online-gamma",
    envvar="WXSTREAM_EVAL_ONLINE_GAMMA",
    show_envvar=True,
    type=click.FloatRange(0.0, min_open=True),
    default=DEFAULT_GAMMA,
    show_default=True,
    help="Step of the online calibration's log-scale per observed forecast.",
)
@click.option(
    "--leads",
    type=LEADS,
    envvar="WXSTREAM_EVAL_LEADS",
    show_envvar=True,
    default="1,6,24",
    show_default=True,
    help="Leads (hours) in the printed table; the JSON always has every lead.",
)
@click.option(
    "--output",
    envvar="WXSTREAM_EVAL_OUTPUT",
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON report path; default ./reports/evaluation-<sources>[-without-<name>].json.",
)
@click.option(
    "--plot",
    "plot_path",
    envvar="WXSTREAM_EVAL_PLOT",
    show_envvar=True,
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write a PNG of MAE per lead (1..24 h) of the model and every baseline.",
)
@click.option(
    "--device",
    envvar="WXSTREAM_EVAL_DEVICE",
    show_envvar=True,
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="Where --train trains (cpu repeats bit for bit, cuda is far faster); scoring "
    "runs on the CPU.",
)
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show training progress bars.",
)
def evaluate(  # noqa: PLR0917 - click passes every option
    sources: tuple[str, ...],
    csv_paths: tuple[Path, ...],
    mapping_paths: tuple[Path, ...],
    leave_out: tuple[str, ...],
    data_dir: Path | None,
    model_storage_path: Path,
    model_name: str | None,
    train_first: bool,
    preset: str,
    seed: int,
    epochs: int | None,
    inputs: tuple[str, ...] | None,
    hidden_size: int | None,
    max_train_samples: int | None,
    with_lightgbm: bool,
    lightgbm_max_rounds: int,
    calibrate: bool,
    online_calibration: bool,
    online_gamma: float,
    leads: tuple[int, ...],
    output: Path | None,
    plot_path: Path | None,
    device: str,
    progress: bool,
) -> None:
    """Score the model and the baselines (persistence, diurnal persistence, climatology,
    LightGBM with the model's inputs) per lead on the test period of every source (each
    by its own split); print a table, write JSON."""
    from wxstream.data.combined import combine, select_stations
    from wxstream.models.evaluation import format_table
    from wxstream.models.evaluation_run import (
        EvaluationSettings,
        prepare_rows,
        run_evaluation,
    )
    from wxstream.models.lightgbm_baseline import LightGBMSettings
    from wxstream.models.online_calibration import OnlineCalibrationSettings
    from wxstream.models.runtime import resolve_device
    from wxstream.settings import ModelSettings

    began = time.perf_counter()
    settings = EvaluationSettings(
        lightgbm=(
            LightGBMSettings(seed=seed, max_rounds=lightgbm_max_rounds) if with_lightgbm else None
        ),
        calibrate=calibrate,
        online_calibration=(
            OnlineCalibrationSettings(gamma=online_gamma) if online_calibration else None
        ),
    )
    model_settings = ModelSettings(storage_path=model_storage_path, model_name=model_name)
    if leave_out and not train_first:
        raise ConfigError(
            "--leave-out scores stations the model must not have seen",
            fix="add --train (the model then trains without the left-out stations)",
        )
    given = load_given_sources(sources, csv_paths, mapping_paths, data_dir)
    source = joined_name(given)
    observations, splits = combine(given)
    kept, scored = (splits, None) if not leave_out else select_stations(splits, leave_out, given)
    rows = prepare_rows(observations, settings)
    report: dict[str, Any] = run_evaluation(
        rows,
        source,
        kept,
        settings,
        model_settings,
        scored=scored,
        trained_name=(
            f"eval-{source}-{preset}-seed{seed}"
            + (f"-inputs-{_inputs_tag(inputs)}" if inputs else "")
            + "".join(f"-without-{n}" for n in leave_out)
        ).replace("/", "_"),
        train_preset=preset if train_first else None,
        seed=seed,
        epochs=epochs,
        inputs=inputs,
        hidden_size=hidden_size,
        max_train_samples=max_train_samples,
        progress=progress,
        train_device=resolve_device(device),
    )
    if leave_out:
        report["leave_out"] = {"names": list(leave_out), "stations": sorted(scored or {})}
    report["wall_time_s"] = round(time.perf_counter() - began, 1)
    stem = f"evaluation-{source}" + "".join(f"-without-{n}" for n in leave_out)
    target = output or DEFAULT_REPORTS_DIR / f"{stem.replace('/', '_')}.json"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise WxstreamError(
            f"cannot write the report {target}: {exc}", fix="pass a writable --output PATH"
        ) from exc
    scope = f" (left out and scored: {', '.join(sorted(scored))})" if scored else ""
    click.echo(
        f"source {source}{scope}: {report['samples']} test samples, model {report['model']['name']}"
    )
    click.echo(format_table(report, leads))
    for check in report["goal"]:
        mark = "met" if check["met"] else "NOT met"
        click.echo(f"goal {check['criterion']}: {check['value']} ({check['limit']}) {mark}")
    click.echo(f"wall time {report['wall_time_s']} s; report written to {target}")
    if plot_path is not None:
        from wxstream.models.plots import evaluation_title, mae_curves, plot_mae_per_lead

        plot_mae_per_lead(mae_curves(report), path=plot_path, title=evaluation_title(report))
        click.echo(f"MAE per lead pictured in {plot_path}")
