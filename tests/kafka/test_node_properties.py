"""The configuration of one node, alone or in a local cluster, and the cluster's layout
(pure: no broker runs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from wxstream.errors import BrokerError
from wxstream.kafka.cluster import ClusterLayout, LocalCluster, is_cluster_dir
from wxstream.kafka.node_properties import NodeTopology, node_properties
from wxstream.settings import BrokerSettings


def test_a_single_node_is_its_own_quorum_with_replication_one() -> None:
    props = node_properties("127.0.0.1", 9092, 9093, Path("/data/kraft"), None)

    assert props["node.id"] == "1"
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:9093"
    assert "controller.quorum.voters" not in props
    for key in (
        "default.replication.factor",
        "min.insync.replicas",
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
    ):
        assert props[key] == "1", key


def test_a_cluster_node_votes_in_a_static_quorum_with_replication_three() -> None:
    topology = NodeTopology(
        node_id=2,
        voters="1@127.0.0.1:9095,2@127.0.0.1:9096,3@127.0.0.1:9097",
        cluster_id="abc",
        replication_factor=3,
        min_insync_replicas=2,
    )
    props = node_properties("127.0.0.1", 9093, 9096, Path("/data/node-2/kraft"), topology)

    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == topology.voters
    assert "controller.quorum.bootstrap.servers" not in props
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9093,CONTROLLER://127.0.0.1:9096"
    assert props["default.replication.factor"] == "3"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["min.insync.replicas"] == "2"
    assert props["transaction.state.log.min.isr"] == "2"


def test_the_layout_names_every_voter_and_every_client_endpoint() -> None:
    layout = ClusterLayout("127.0.0.1", (9092, 9093, 9094), (9095, 9096, 9097), "abc")

    assert layout.voters == "1@127.0.0.1:9095,2@127.0.0.1:9096,3@127.0.0.1:9097"
    assert layout.bootstrap_servers == "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094"


def test_cluster_nodes_get_consecutive_ports_and_their_own_directories(tmp_path: Path) -> None:
    settings = BrokerSettings(port=21000, data_dir=tmp_path, nodes=3)
    assert settings.bootstrap_servers == "127.0.0.1:21000,127.0.0.1:21001,127.0.0.1:21002"
    cluster = LocalCluster(settings)
    assert not is_cluster_dir(tmp_path)
    with pytest.raises(BrokerError, match="no cluster was started"):
        cluster.node(1)
    (tmp_path / "cluster.json").write_text(
        '{"host": "127.0.0.1", "ports": [21000, 21001, 21002], '
        '"controller_ports": [21003, 21004, 21005], "cluster_id": "abc"}'
    )
    assert is_cluster_dir(tmp_path)
    node = cluster.node(3)
    assert node.settings.port == 21002
    assert node.settings.controller_port == 21005
    assert node.data_dir == tmp_path / "node-3"
    assert node.topology is not None
    assert (node.topology.replication_factor, node.topology.min_insync_replicas) == (3, 2)
    # Nothing runs: no leader is known and stopping stops nothing.
    assert cluster.active_controller() == -1
    assert cluster.stop() == []


def test_a_cluster_is_plaintext_and_has_several_nodes(tmp_path: Path) -> None:
    with pytest.raises(BrokerError, match="plaintext only"):
        LocalCluster(BrokerSettings(data_dir=tmp_path, nodes=3, security="sasl_ssl"))
    with pytest.raises(BrokerError, match="at least 2 nodes"):
        LocalCluster(BrokerSettings(data_dir=tmp_path, nodes=1))
