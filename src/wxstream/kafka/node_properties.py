"""The ``server.properties`` of one local KRaft node (combined broker and controller):
alone (``node.id=1``, a one-voter quorum, every replication factor one), or as one node
of a local cluster (:class:`NodeTopology`: static voters, replication defaults)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SINGLE_NODE_ID = 1

# Few internal partitions so the group and transaction coordinators load quickly; no
# automatic topic creation so a missing topic is reported instead of silently created.
# Replication comes from replication_properties (one node: every factor and ISR is one).
_FIXED_PROPERTIES = {
    "process.roles": "broker,controller",
    "controller.listener.names": "CONTROLLER",
    "inter.broker.listener.name": "PLAINTEXT",
    "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
    "num.partitions": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.num.partitions": "1",
    "group.initial.rebalance.delay.ms": "0",
    "auto.create.topics.enable": "false",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "log.segment.bytes": str(16 * 1024 * 1024),
    "log.index.size.max.bytes": str(1024 * 1024),
    "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    "log.retention.hours": "24",
}

# Several nodes: a killed node is fenced (and leaves every ISR) after 6 s without a
# heartbeat instead of 9 s, so that writes needing min.insync.replicas resume sooner.
_CLUSTER_PROPERTIES = {
    "broker.heartbeat.interval.ms": "1000",
    "broker.session.timeout.ms": "6000",
}


def replication_properties(factor: int, min_isr: int) -> dict[str, str]:
    """Replication defaults of user topics and of the internal topics (offsets,
    transaction state, share-group state)."""
    return {
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(min_isr),
        "offsets.topic.replication.factor": str(factor),
        "transaction.state.log.replication.factor": str(factor),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(factor),
        "share.coordinator.state.topic.min.isr": str(min_isr),
    }


@dataclass(frozen=True)
class NodeTopology:
    """Where one node of a multi-node cluster stands in it.

    Attributes:
        node_id: this node's id (also its voter id: every node is a controller).
        voters: ``controller.quorum.voters``, ``id@host:port`` of every controller.
        cluster_id: the id every node's storage is formatted with.
        replication_factor: default replication of user and internal topics.
        min_insync_replicas: default ``min.insync.replicas`` (and of the
            transaction state log).
    """

    node_id: int
    voters: str
    cluster_id: str
    replication_factor: int
    min_insync_replicas: int


def node_properties(
    host: str, port: int, controller_port: int, kraft_dir: Path, topology: NodeTopology | None
) -> dict[str, str]:
    """The configuration of a node listening on ``port`` (clients) and
    ``controller_port`` with its log in ``kraft_dir`` (TLS/SASL settings come on top)."""
    properties = dict(_FIXED_PROPERTIES)
    properties.update(
        {
            "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://{host}:{port}",
            "log.dirs": str(kraft_dir),
        }
    )
    if topology is None:
        properties["node.id"] = str(SINGLE_NODE_ID)
        properties["controller.quorum.bootstrap.servers"] = f"{host}:{controller_port}"
        properties.update(replication_properties(1, 1))
        return properties
    # A static quorum: every node knows every voter from its configuration.
    properties["node.id"] = str(topology.node_id)
    properties["controller.quorum.voters"] = topology.voters
    properties.update(
        replication_properties(topology.replication_factor, topology.min_insync_replicas)
    )
    properties.update(_CLUSTER_PROPERTIES)
    return properties
