"""``wxstream tail``: print forecasts as they arrive, optionally verified."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from wxstream import settings
from wxstream.commands.options import (
    LEADS,
    anomalies_topic_option,
    bootstrap_servers_option,
    features_topic_option,
    kafka_client_options,
    predictions_topic_option,
)

if TYPE_CHECKING:
    from wxstream.ops import AnomalyTail

F = TypeVar("F", bound=Callable[..., Any])


@click.command()
@bootstrap_servers_option
@kafka_client_options
@predictions_topic_option
@features_topic_option
@anomalies_topic_option
@click.option(
    "--anomalies",
    is_flag=True,
    help="Follow the quality stage's findings instead of forecasts: one line per "
    "finding (hour, station, variable, check, severity, score, value).",
)
@click.option(
    "--station",
    envvar="WXSTREAM_TAIL_STATION",
    show_envvar=True,
    default=None,
    help="With --anomalies: only this station's findings.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="With --anomalies: one JSON object per finding and line.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Also read the features topic; show the observed temperature and a running MAE.",
)
@click.option("--from-beginning", is_flag=True, help="Start at the oldest retained forecasts.")
@click.option(
    "--max-messages",
    type=click.IntRange(1),
    default=None,
    help="Stop after this many forecasts (with --anomalies: findings shown).",
)
@click.option(
    "--timeout-s",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Stop after this many seconds.",
)
@click.option(
    "--idle-timeout-s",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Stop once nothing arrived for this many seconds.",
)
@click.option(
    "--leads",
    type=LEADS,
    default="1,6,24",
    show_default=True,
    help="Forecast leads (hours) shown as columns and verified on screen.",
)
@click.option(
    "--max-rows-per-s",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Print at most this many rows per second (the rest are counted).",
)
def tail(
    *,
    bootstrap_servers: str,
    client_properties: tuple[settings.ClientProperty, ...],
    predictions_topic: str,
    features_topic: str,
    anomalies_topic: str,
    anomalies: bool,
    station: str | None,
    as_json: bool,
    verify: bool,
    from_beginning: bool,
    max_messages: int | None,
    timeout_s: float | None,
    idle_timeout_s: float | None,
    leads: tuple[int, ...],
    max_rows_per_s: float | None,
) -> None:
    """Print forecasts as they arrive: median and p10-p90 interval at a few leads.

    Reads with isolation.level=read_committed, so only forecasts of committed
    transactions appear. Stops on Ctrl-C or at --max-messages / --timeout-s.
    With --anomalies it follows the anomalies topic instead (see docs/anomalies.md).
    """
    from wxstream.errors import ConfigError
    from wxstream.ops import AnomalyTail, Tail

    if not anomalies and (station is not None or as_json):
        raise ConfigError("--station and --json go with --anomalies", fix="add --anomalies")
    tail_settings = settings.TailSettings(
        kafka=settings.KafkaSettings(
            bootstrap_servers=bootstrap_servers,
            client_properties=client_properties,
            features_topic=features_topic,
            predictions_topic=predictions_topic,
            anomalies_topic=anomalies_topic,
        ),
        verify=verify,
        from_beginning=from_beginning,
        max_messages=max_messages,
        timeout_s=timeout_s,
        idle_timeout_s=idle_timeout_s,
        leads_shown_h=leads,
        max_rows_per_s=max_rows_per_s,
    )
    if anomalies:
        _tail_anomalies(AnomalyTail(tail_settings, click.echo, station=station, as_json=as_json))
        return
    runner = Tail(tail_settings, emit=click.echo)
    try:
        progress = runner.run()
    except KeyboardInterrupt:
        progress = runner.progress
    click.echo(
        f"{progress.forecasts} forecast(s)"
        + (f", {progress.observations} observation(s)" if verify else "")
        + (f", {progress.invalid} undecodable record(s)" if progress.invalid else "")
    )


def _tail_anomalies(runner: AnomalyTail) -> None:
    try:
        progress = runner.run()
    except KeyboardInterrupt:
        progress = runner.progress
    if not runner.as_json:
        click.echo(
            f"{progress.shown} finding(s) shown of {progress.findings}"
            + (f", {progress.invalid} undecodable record(s)" if progress.invalid else "")
        )
