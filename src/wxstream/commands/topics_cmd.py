"""``wxstream topics create|list``: the pipeline's Kafka topics."""

from __future__ import annotations

import click

from wxstream import settings
from wxstream.commands.model_publish_cmd import control_topic_option
from wxstream.commands.options import (
    anomalies_topic_option,
    bootstrap_servers_option,
    dlq_topic_option,
    features_topic_option,
    kafka_client_options,
    predictions_topic_option,
    verification_topic_option,
)
from wxstream.errors import ConfigError
from wxstream.kafka import ensure_topics, list_topics, topic_replication, wait_for_broker


@click.group()
def topics() -> None:
    """Create and list the pipeline's Kafka topics."""


@topics.command()
@bootstrap_servers_option
@kafka_client_options
@click.option(
    "--partitions",
    envvar="WXSTREAM_PARTITIONS",
    show_envvar=True,
    type=click.IntRange(1),
    default=settings.DEFAULT_PARTITIONS,
    show_default=True,
    help="Partitions of the features, predictions and anomalies topics.",
)
@click.option(
    "--replication-factor",
    envvar="WXSTREAM_REPLICATION_FACTOR",
    show_envvar=True,
    type=click.IntRange(-1),
    default=-1,
    show_default=True,
    help="Replicas of each partition; -1: the cluster's default.replication.factor "
    "(use 3 on a production cluster of three or more brokers).",
)
@click.option(
    "--min-insync-replicas",
    envvar="WXSTREAM_MIN_INSYNC_REPLICAS",
    show_envvar=True,
    type=click.IntRange(1),
    default=None,
    help="min.insync.replicas of the topics (with acks=all, writes fail rather than "
    "land on fewer replicas); default: the cluster's. Typically replication factor - 1.",
)
@features_topic_option
@predictions_topic_option
@dlq_topic_option
@anomalies_topic_option
@verification_topic_option
@control_topic_option
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
    client_properties: tuple[settings.ClientProperty, ...],
    partitions: int,
    replication_factor: int,
    min_insync_replicas: int | None,
    features_topic: str,
    predictions_topic: str,
    dlq_topic: str,
    anomalies_topic: str,
    verification_topic: str,
    control_topic: str,
    wait_s: float,
) -> None:
    """Create the features, predictions, dead-letter, anomalies, shadow and verification
    topics and the compacted control topic (existing ones are kept)."""
    kafka_settings = settings.KafkaSettings(
        bootstrap_servers=bootstrap_servers,
        features_topic=features_topic,
        predictions_topic=predictions_topic,
        dlq_topic=dlq_topic,
        anomalies_topic=anomalies_topic,
        verification_topic=verification_topic,
        control_topic=control_topic,
        partitions=partitions,
        replication_factor=replication_factor,
        min_insync_replicas=min_insync_replicas,
        client_properties=client_properties,
    )
    if 0 < replication_factor < (min_insync_replicas or 0):
        raise ConfigError(
            f"--min-insync-replicas {min_insync_replicas} exceeds --replication-factor "
            f"{replication_factor}: no write could ever succeed",
            fix="set --min-insync-replicas to at most the replication factor (usually one less)",
        )
    wait_for_broker(bootstrap_servers, wait_s, client_properties)
    outcomes = ensure_topics(kafka_settings)
    replication = topic_replication(kafka_settings, [o.name for o in outcomes])
    for outcome in outcomes:
        verb = "created" if outcome.created else "exists "
        found = replication.get(outcome.name)
        replicas = f", replication factor {found.replicas}" if found is not None else ""
        min_isr = (
            f", min.insync.replicas {found.min_insync_replicas}"
            if found is not None and found.min_insync_replicas is not None
            else ""
        )
        click.echo(f"{verb} {outcome.name} ({outcome.partitions} partitions{replicas}{min_isr})")


@topics.command(name="list")
@bootstrap_servers_option
@kafka_client_options
def list_command(
    bootstrap_servers: str, client_properties: tuple[settings.ClientProperty, ...]
) -> None:
    """List the topics, their partition counts and replicas."""
    wait_for_broker(bootstrap_servers, 10.0, client_properties)
    kafka_settings = settings.KafkaSettings(
        bootstrap_servers=bootstrap_servers, client_properties=client_properties
    )
    found = list_topics(kafka_settings)
    if not found:
        click.echo("no topics")
    replication = topic_replication(kafka_settings, found)
    for name, partitions in sorted(found.items()):
        replicas = replication[name].replicas if name in replication else "?"
        click.echo(f"{name} ({partitions} partitions, replication factor {replicas})")
