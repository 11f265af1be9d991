"""``wxstream replay``: publish real observations as hourly feature messages."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from wxstream import settings
from wxstream.commands.options import (
    bootstrap_servers_option,
    data_dir_option,
    features_topic_option,
    kafka_client_options,
)
from wxstream.data import SOURCE_NAMES
from wxstream.errors import ConfigError

F = TypeVar("F", bound=Callable[..., Any])


def parse_instant(value: str | None, flag: str) -> datetime | None:
    """A ``--start``/``--end`` value as a UTC instant (dates and naive times are UTC)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ConfigError(
            f"{flag} {value!r} is not an ISO-8601 date or time",
            fix=f"write e.g. {flag} 2013-11-01 or {flag} 2013-11-01T05:00:00+00:00",
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@click.command()
@bootstrap_servers_option
@kafka_client_options
@features_topic_option
@click.option(
    "--source",
    type=click.Choice(SOURCE_NAMES),
    default="nycflights13",
    show_default=True,
    help="Named observation source (the UCI sources are read from --data-dir).",
)
@data_dir_option
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Replay this CSV of observations instead of --source (needs --mapping).",
)
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="JSON column mapping of --csv: timestamp, temperature, dewpoint, wind_speed with "
    "units; optionally pressure, relative_humidity, wind_direction, precipitation, latitude, "
    "longitude, elevation (docs/data.md).",
)
@click.option("--start", default=None, help="First window start to replay (ISO-8601; UTC).")
@click.option("--end", default=None, help="Replay windows starting before this (ISO-8601; UTC).")
@click.option(
    "--stations",
    default=None,
    help="Comma-separated station ids to replay; default: every station.",
)
@click.option(
    "--station-copies",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Publish each real series under N station ids (EWR#1..EWR#N) for load tests.",
)
@click.option(
    "--limit", type=click.IntRange(0), default=None, help="Publish at most this many messages."
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Simulated hours per second; default: as fast as possible.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.0, min_open=True),
    default=None,
    help="Messages per second (an alternative to --speed).",
)
@click.option(
    "--linger-ms",
    type=click.IntRange(0),
    default=20,
    show_default=True,
    help="Producer batching delay.",
)
@click.option(
    "--inject-faults",
    envvar="WXSTREAM_REPLAY_INJECT_FAULTS",
    show_envvar=True,
    default="",
    help="Put named faults into the real series first, KIND[:SIZE]@STATION joined by "
    "commas (kinds and sizes of `wxstream anomalies evaluate`, e.g. "
    "spike:8sd@EWR,stuck:12h@JFK,degF@LGA); where they go is drawn from --fault-seed.",
)
@click.option(
    "--fault-seed",
    envvar="WXSTREAM_REPLAY_FAULT_SEED",
    show_envvar=True,
    type=int,
    default=0,
    show_default=True,
    help="Seed of where --inject-faults puts each fault.",
)
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
@click.option(
    "--required-fields-only",
    is_flag=True,
    help="Publish only the required fields, leaving out the optional ones (pressure, "
    "humidity, wind vector, precipitation, station coordinates) the source has.",
)
def replay(
    *,
    bootstrap_servers: str,
    client_properties: tuple[settings.ClientProperty, ...],
    features_topic: str,
    source: str,
    data_dir: Path | None,
    csv_path: Path | None,
    mapping_path: Path | None,
    start: str | None,
    end: str | None,
    stations: str | None,
    station_copies: int,
    limit: int | None,
    speed: float | None,
    rate: float | None,
    linger_ms: int,
    inject_faults: str,
    fault_seed: int,
    no_progress: bool,
    required_fields_only: bool,
) -> None:
    """Publish real observations to the features topic as hourly feature messages.

    Example: wxstream replay --start 2013-11-01 --end 2014-01-01 --speed 24
    """
    from wxstream.tools import replay as run_replay
    from wxstream.tools.replay_faults import parse_fault_spec

    parse_fault_spec(inject_faults)  # a bad spec fails before any data is loaded
    replay_settings = settings.ReplaySettings(
        kafka=settings.KafkaSettings(
            bootstrap_servers=bootstrap_servers,
            client_properties=client_properties,
            features_topic=features_topic,
        ),
        source=source,
        data_dir=data_dir,
        csv_path=csv_path,
        mapping_path=mapping_path,
        start=parse_instant(start, "--start"),
        end=parse_instant(end, "--end"),
        stations=tuple(s.strip() for s in stations.split(",") if s.strip()) if stations else (),
        station_copies=station_copies,
        limit=limit,
        speed_h_per_s=speed,
        rate_per_s=rate,
        linger_ms=linger_ms,
        progress=not no_progress,
        inject_faults=inject_faults,
        fault_seed=fault_seed,
        optional_fields=not required_fields_only,
    )
    summary = run_replay(replay_settings)
    window = (
        f"{summary.first_window:%Y-%m-%d %H:%M} .. {summary.last_window:%Y-%m-%d %H:%M} UTC"
        if summary.first_window and summary.last_window
        else "no windows"
    )
    click.echo(
        f"published {summary.published} feature messages of {summary.stations} station(s) "
        f"to {features_topic} in {summary.elapsed_s:.1f} s ({summary.rate_per_s:,.0f} msg/s); "
        f"{window}; skipped {summary.skipped_null} window(s) with null values"
    )
    for fault in summary.injected:
        click.echo(f"injected {fault.describe()}")
