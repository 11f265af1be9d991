"""``wxstream kafka fetch|start|stop|status``: the embedded local Apache Kafka broker."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from wxstream import settings
from wxstream.commands.options import broker_data_dir_option, broker_port_option
from wxstream.kafka import LocalBroker, LocalCluster, is_cluster_dir, jars_ready, libs_dir

F = TypeVar("F", bound=Callable[..., Any])

EXIT_NOT_RUNNING = 3


def _cache_dir_option(func: F) -> F:
    return click.option(
        "--cache-dir",
        envvar="WXSTREAM_CACHE_DIR",
        show_envvar=True,
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help=f"Where the Kafka jars are cached; default: {settings.default_cache_dir()}.",
    )(func)


def _version_option(func: F) -> F:
    return click.option(
        "--kafka-version",
        envvar="WXSTREAM_KAFKA_VERSION",
        show_envvar=True,
        default=settings.DEFAULT_KAFKA_VERSION,
        show_default=True,
        help="Apache Kafka version (Maven Central org.apache.kafka:kafka_2.13).",
    )(func)


def _broker_settings(**values: Any) -> settings.BrokerSettings:
    """BrokerSettings from the given flags, defaults for those left unset (None)."""
    given = {key: value for key, value in values.items() if value is not None}
    return settings.BrokerSettings(**given)


@click.group()
def kafka() -> None:
    """The local Apache Kafka broker (KRaft, 127.0.0.1 only): one node, or a cluster."""


@kafka.command()
@_cache_dir_option
@_version_option
@click.option("--force", is_flag=True, help="Fetch again even when the cache is complete.")
def fetch(cache_dir: Path | None, kafka_version: str, force: bool) -> None:
    """Fetch the Kafka broker jars from Maven Central into the cache (needs mvn)."""
    broker_settings = _broker_settings(cache_dir=cache_dir, kafka_version=kafka_version)
    result = LocalBroker(broker_settings).fetch(force=force)
    if result.fetched:
        click.echo(
            f"fetched Apache Kafka {kafka_version}: {result.jar_count} jars in "
            f"{result.libs_dir} ({result.elapsed_s:.1f} s)"
        )
    else:
        click.echo(f"Apache Kafka {kafka_version} is already fetched: {result.libs_dir}")


@kafka.command()
@broker_port_option()
@click.option(
    "--controller-port",
    envvar="WXSTREAM_KAFKA_CONTROLLER_PORT",
    show_envvar=True,
    type=click.IntRange(1, 65535),
    default=None,
    help="KRaft controller port on 127.0.0.1; default: a free port. With --nodes above 1: "
    "the first of consecutive controller ports, default --port plus the node count.",
)
@broker_data_dir_option()
@_cache_dir_option
@_version_option
@click.option(
    "--heap-mb",
    envvar="WXSTREAM_KAFKA_HEAP_MB",
    show_envvar=True,
    type=click.IntRange(128),
    default=None,
    help=f"Maximum JVM heap of the broker (-Xmx) in MiB; default: "
    f"{settings.BrokerSettings.heap_mb}, or {settings.CLUSTER_NODE_HEAP_MB} per node with "
    "--nodes above 1.",
)
@click.option(
    "--nodes",
    envvar="WXSTREAM_KAFKA_NODES",
    show_envvar=True,
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="Combined broker+controller nodes. Above 1: a plaintext cluster on client ports "
    "--port, --port+1, ..., replication factor min(3, nodes), min.insync.replicas one "
    "less, each node in <data dir>/node-N (see docs/operations.md, failover).",
)
@click.option(
    "--start-timeout-s",
    envvar="WXSTREAM_KAFKA_START_TIMEOUT_S",
    show_envvar=True,
    type=click.FloatRange(1.0),
    default=settings.BrokerSettings.start_timeout_s,
    show_default=True,
    help="Seconds to wait for the broker to answer.",
)
@click.option(
    "--java-home",
    envvar="JAVA_HOME",
    show_envvar=True,
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Java 17 installation to use; default: java on PATH.",
)
@click.option(
    "--security",
    envvar="WXSTREAM_KAFKA_SECURITY",
    show_envvar=True,
    type=click.Choice(["plaintext", "sasl_ssl"]),
    default="plaintext",
    show_default=True,
    help="sasl_ssl: TLS with a CA made for the broker, SCRAM-SHA-512 users (admin: super "
    "user; wxstream: the service's ACLs) and ACLs enforced; writes the client settings to "
    "use as properties files for --kafka-config. Fixed when the storage is formatted.",
)
def start(
    *,
    port: int,
    controller_port: int | None,
    data_dir: Path | None,
    cache_dir: Path | None,
    kafka_version: str,
    heap_mb: int | None,
    nodes: int,
    start_timeout_s: float,
    java_home: Path | None,
    security: str,
) -> None:
    """Start the broker (fetching the jars first if needed); returns once it answers."""
    broker_settings = _broker_settings(
        port=port,
        controller_port=controller_port,
        data_dir=data_dir,
        cache_dir=cache_dir,
        kafka_version=kafka_version,
        heap_mb=heap_mb if heap_mb or nodes == 1 else settings.CLUSTER_NODE_HEAP_MB,
        start_timeout_s=start_timeout_s,
        java_home=java_home,
        security="sasl_ssl" if security == "sasl_ssl" else "plaintext",
        nodes=nodes,
    )
    if not jars_ready(broker_settings):
        click.echo(f"fetching Apache Kafka {kafka_version} into {libs_dir(broker_settings)} ...")
    if nodes > 1 or is_cluster_dir(broker_settings.data_dir):
        _start_cluster(broker_settings)
        return
    broker = LocalBroker(broker_settings)
    info = broker.start()
    if info.already_running:
        click.echo(f"Kafka broker already running (pid {info.pid})")
    else:
        click.echo(f"Kafka broker started (pid {info.pid}) in {info.startup_s:.1f} s")
    click.echo(f"  bootstrap servers: {info.bootstrap_servers}")
    click.echo(f"  controller:        127.0.0.1:{info.controller_port}")
    click.echo(f"  data dir:          {info.data_dir}")
    click.echo(f"  log:               {info.log_path}")
    if info.admin_config is not None and info.client_config is not None:
        _grant_service_acls(broker, info.bootstrap_servers)
        click.echo("  security:          SASL_SSL (SCRAM-SHA-512), TLS, ACLs enforced")
        click.echo(f"  CA certificate:    {broker.security.ca_pem}")
        click.echo(f"  admin (super user) settings:   {info.admin_config}")
        click.echo(f"  service user (ACLs) settings:  {info.client_config}")
        click.echo(f"  e.g. wxstream topics create --kafka-config {info.admin_config}")
        click.echo(f"       wxstream serve --kafka-config {info.client_config}")


def _start_cluster(broker_settings: settings.BrokerSettings) -> None:
    cluster = LocalCluster(broker_settings)
    infos = cluster.start()
    for node_id, info in zip(cluster.node_ids, infos, strict=True):
        state = "already running" if info.already_running else f"started in {info.startup_s:.1f} s"
        click.echo(
            f"node {node_id}: pid {info.pid}, {info.bootstrap_servers}, controller "
            f"127.0.0.1:{info.controller_port}, {state}"
        )
    click.echo(f"  bootstrap servers: {cluster.bootstrap_servers}")
    click.echo(f"  active controller: node {cluster.active_controller()}")
    click.echo(f"  data dir:          {cluster.data_dir} (node-N/broker.log per node)")


def _grant_service_acls(broker: LocalBroker, bootstrap_servers: str) -> None:
    """The service user gets the minimal ACLs on the default topic, group and
    transactional id names (docs/security.md)."""
    from wxstream.kafka.acls import grant, service_acls
    from wxstream.kafka.broker_security import SERVICE_USER

    admin = settings.KafkaSettings(
        bootstrap_servers=bootstrap_servers, client_properties=broker.admin_client_properties()
    )
    grant(
        admin,
        service_acls(f"User:{SERVICE_USER}", settings.KafkaSettings(), settings.CONSUMER_GROUP),
    )


@kafka.command()
@broker_data_dir_option()
@click.option(
    "--stop-timeout-s",
    envvar="WXSTREAM_KAFKA_STOP_TIMEOUT_S",
    show_envvar=True,
    type=click.FloatRange(1.0),
    default=settings.BrokerSettings.stop_timeout_s,
    show_default=True,
    help="Seconds to wait after SIGTERM before SIGKILL.",
)
def stop(data_dir: Path | None, stop_timeout_s: float) -> None:
    """Stop the broker, or every node of a cluster (SIGTERM, then SIGKILL after
    --stop-timeout-s)."""
    broker_settings = _broker_settings(data_dir=data_dir, stop_timeout_s=stop_timeout_s)
    if is_cluster_dir(broker_settings.data_dir):
        cluster = LocalCluster(broker_settings)
        pids = cluster.stop()
        if pids:
            click.echo(f"Kafka cluster stopped ({len(pids)} nodes: pids {pids})")
        else:
            click.echo(f"no Kafka node running from {cluster.data_dir}")
        return
    broker = LocalBroker(broker_settings)
    pid_before = broker.status().pid
    if broker.stop():
        click.echo(f"Kafka broker stopped (pid {pid_before})")
    else:
        click.echo(f"no Kafka broker running from {broker.data_dir}")


@kafka.command()
@broker_data_dir_option()
def status(data_dir: Path | None) -> None:
    """Show whether the broker runs (exit code 0) or not (exit code 3); of a cluster,
    every node (exit code 3 unless all run)."""
    broker_settings = _broker_settings(data_dir=data_dir)
    if is_cluster_dir(broker_settings.data_dir):
        _cluster_status(LocalCluster(broker_settings))
        return
    current = LocalBroker(broker_settings).status()
    if current.running:
        answer = "answering" if current.answering else "NOT answering yet"
        click.echo(f"running (pid {current.pid}), {answer}")
    else:
        click.echo("not running")
    click.echo(f"  bootstrap servers: {current.bootstrap_servers}")
    click.echo(f"  log:               {current.log_path}")
    if not current.running:
        sys.exit(EXIT_NOT_RUNNING)


def _cluster_status(cluster: LocalCluster) -> None:
    statuses = cluster.status()
    for node_id, current in zip(cluster.node_ids, statuses, strict=True):
        if current.running:
            answer = "answering" if current.answering else "NOT answering yet"
            click.echo(f"node {node_id}: running (pid {current.pid}), {answer}")
        else:
            click.echo(f"node {node_id}: not running")
        click.echo(f"  {current.bootstrap_servers}, log {current.log_path}")
    controller = cluster.active_controller()
    click.echo(f"active controller: {f'node {controller}' if controller > 0 else 'none known'}")
    if not all(current.running for current in statuses):
        sys.exit(EXIT_NOT_RUNNING)
