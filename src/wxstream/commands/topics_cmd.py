"""``wxstream topics create|list``: the pipeline's Kafka topics."""

from __future__ import annotations

import click

from wxstream import settings
from wxstream.commands.options import (
    bootstrap_servers_option,
    dlq_topic_option,
    features_topic_option,
    predictions_topic_option,
)
from wxstream.kafka import ensure_topics, list_topics, wait_for_broker


@click.group()
def topics() -> None:
    """Create and list the pipeline's Kafka topics."""


@topics.command()
@bootstrap_servers_option
@click.option(
    "--partitions",
    envvar="WXSTREAM_PARTITIONS",
    show_envvar=True,
    type=click.IntRange(1),
    default=settings.DEFAULT_PARTITIONS,
    show_default=True,
    help="Partitions of the features and predictions topics.",
)
@features_topic_option
@predictions_topic_option
@dlq_topic_option
@click.option(
    "--wait-s",
    envvar="WXSTREAM_KAFKA_WAIT_S",
    show_envvar=True,
    type=click.FloatRange(0.0),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the broker to answer first.",
)
def create(
    *,
    bootstrap_servers: str,
    partitions: int,
    features_topic: str,
    predictions_topic: str,
    dlq_topic: str,
    wait_s: float,
) -> None:
    """Create the features, predictions and dead-letter topics (existing ones are kept)."""
    kafka_settings = settings.KafkaSettings(
        bootstrap_servers=bootstrap_servers,
        features_topic=features_topic,
        predictions_topic=predictions_topic,
        dlq_topic=dlq_topic,
        partitions=partitions,
    )
    wait_for_broker(bootstrap_servers, wait_s)
    for outcome in ensure_topics(kafka_settings):
        verb = "created" if outcome.created else "exists "
        click.echo(f"{verb} {outcome.name} ({outcome.partitions} partitions)")


@topics.command(name="list")
@bootstrap_servers_option
def list_command(bootstrap_servers: str) -> None:
    """List the topics and their partition counts."""
    wait_for_broker(bootstrap_servers, 10.0)
    found = list_topics(settings.KafkaSettings(bootstrap_servers=bootstrap_servers))
    if not found:
        click.echo("no topics")
    for name, partitions in sorted(found.items()):
        click.echo(f"{name} ({partitions} partitions)")
