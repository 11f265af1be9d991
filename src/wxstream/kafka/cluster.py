"""A local multi-node Apache Kafka cluster (KRaft), for trying and testing failover.

Every node is a :class:`~wxstream.kafka.broker.LocalBroker` in combined mode
(``process.roles=broker,controller``) given a :class:`~wxstream.kafka.broker.NodeTopology`:
a static quorum of every node's controller listener (``controller.quorum.voters``), one
cluster id all storages are formatted with, and replication defaults of
``min(3, nodes)`` with ``min.insync.replicas`` one less, for user topics and for the
offsets and transaction state topics alike. The layout::

    cluster.json    node count, client and controller ports, cluster id (fixed at the
                    first start: the voters are part of every node's configuration)
    node-1/ ...     one LocalBroker data directory per node (server.properties,
                    broker.log, broker.pid, kraft/)

Node ids are 1..nodes; node ``i`` listens for clients on ``port + i - 1`` and for
controllers on ``controller_port + i - 1`` (default ``controller_port``: ``port + nodes``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from confluent_kafka import KafkaException

from wxstream.errors import BrokerError
from wxstream.kafka import jars
from wxstream.kafka.broker import BrokerInfo, BrokerStatus, LocalBroker
from wxstream.kafka.clients import kafka_errors, make_admin
from wxstream.kafka.node_properties import NodeTopology
from wxstream.settings import BrokerSettings, KafkaSettings

logger = logging.getLogger(__name__)

CLUSTER_FILE = "cluster.json"
_QUORUM_STATE = Path("__cluster_metadata-0") / "quorum-state"


@dataclass(frozen=True)
class ClusterLayout:
    """Ports and identity of a cluster, fixed when its storages are formatted."""

    host: str
    ports: tuple[int, ...]
    controller_ports: tuple[int, ...]
    cluster_id: str

    @property
    def voters(self) -> str:
        """``controller.quorum.voters`` of every node."""
        return ",".join(
            f"{i}@{self.host}:{port}" for i, port in enumerate(self.controller_ports, start=1)
        )

    @property
    def bootstrap_servers(self) -> str:
        """Every node's client endpoint."""
        return ",".join(f"{self.host}:{port}" for port in self.ports)


def is_cluster_dir(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a multi-node cluster (rather than one broker)."""
    return (data_dir / CLUSTER_FILE).is_file()


class LocalCluster:
    """Start, stop, crash and inspect the nodes of a local KRaft cluster."""

    def __init__(self, settings: BrokerSettings) -> None:
        if settings.security != "plaintext":
            raise BrokerError(
                "the local multi-node cluster runs plaintext only",
                fix="drop --security, or start a single node (--nodes 1)",
            )
        self.settings = settings
        self.data_dir = settings.data_dir
        self.state_path = self.data_dir / CLUSTER_FILE
        recorded = self._read_layout()
        self.size = len(recorded.ports) if recorded is not None else settings.nodes
        if self.size < 2:
            raise BrokerError(
                f"a cluster needs at least 2 nodes, not {self.size}",
                fix="use --nodes 3 (a single broker is `wxstream kafka start`)",
            )

    @property
    def node_ids(self) -> range:
        """1..size."""
        return range(1, self.size + 1)

    @property
    def bootstrap_servers(self) -> str:
        """Every node's client endpoint (as recorded once laid out)."""
        recorded = self._read_layout()
        return recorded.bootstrap_servers if recorded else self.settings.bootstrap_servers

    def node(self, node_id: int) -> LocalBroker:
        """The :class:`LocalBroker` of node ``node_id`` (the layout must exist)."""
        layout = self._read_layout()
        if layout is None:
            raise BrokerError(
                f"no cluster was started from {self.data_dir}",
                fix="run `wxstream kafka start --nodes 3` first",
            )
        if node_id not in self.node_ids:
            raise BrokerError(f"no node {node_id} in a {self.size}-node cluster", fix="")
        factor = min(3, self.size)
        topology = NodeTopology(
            node_id=node_id,
            voters=layout.voters,
            cluster_id=layout.cluster_id,
            replication_factor=factor,
            min_insync_replicas=max(1, factor - 1),
        )
        node_settings = replace(
            self.settings,
            host=layout.host,
            port=layout.ports[node_id - 1],
            controller_port=layout.controller_ports[node_id - 1],
            data_dir=self.data_dir / f"node-{node_id}",
            nodes=1,
        )
        return LocalBroker(node_settings, topology)

    def start(self) -> list[BrokerInfo]:
        """Start every node not running and return once all answer (idempotent).

        The JVMs are launched first and awaited together: no node answers a client
        before a majority of the controllers has elected a leader.
        """
        self._ensure_layout()
        nodes = [self.node(i) for i in self.node_ids]
        spawned: list[tuple[LocalBroker, int, float]] = []
        try:
            for node in nodes:
                if node.pid is None:
                    java = node.prepare()
                    spawned.append((node, node.spawn(java), time.monotonic()))
            ours = {id(node) for node, _, _ in spawned}
            infos = [node.await_answer(pid, started) for node, pid, started in spawned]
            infos += [node.start() for node in nodes if id(node) not in ours]
        except BaseException:
            # Never served anything; a graceful stop would wait for a quorum that may
            # never form.
            for node, _, _ in spawned:
                with contextlib.suppress(BrokerError):
                    node.kill()
            raise
        return sorted(infos, key=lambda info: info.bootstrap_servers)

    def stop(self) -> list[int]:
        """Stop every node at once (SIGTERM, SIGKILL after ``stop_timeout_s``); the pids
        stopped. Together: a node shutting down alone waits for the others' controller."""
        if not is_cluster_dir(self.data_dir):
            return []
        nodes = [self.node(i) for i in self.node_ids]
        pids = [node.pid for node in nodes]
        with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
            stopped = list(pool.map(lambda node: node.stop(), nodes))
        return [pid for pid, done in zip(pids, stopped, strict=True) if done and pid is not None]

    def status(self) -> list[BrokerStatus]:
        """:meth:`LocalBroker.status` of every node, by node id."""
        return [self.node(i).status() for i in self.node_ids]

    def kill_node(self, node_id: int) -> int:
        """SIGKILL node ``node_id`` (a crash); its pid."""
        node = self.node(node_id)
        pid = node.pid
        if pid is None or not node.kill():
            raise BrokerError(f"node {node_id} does not run", fix="restart_node it first")
        return pid

    def restart_node(self, node_id: int) -> BrokerInfo:
        """Stop node ``node_id`` gracefully if it runs, start it again, and return once it
        answers."""
        node = self.node(node_id)
        node.stop()
        return node.start()

    def leader_of(self, topic: str, partition: int, timeout_s: float = 10.0) -> int:
        """Node id leading ``topic``'s ``partition`` (-1: none right now)."""
        admin = make_admin(KafkaSettings(bootstrap_servers=self.bootstrap_servers))
        with kafka_errors(self.bootstrap_servers, f"describing {topic}", admin):
            metadata = admin.list_topics(topic, timeout=timeout_s)
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or partition not in found.partitions:
            raise BrokerError(f"no partition {partition} of {topic}", fix="create the topic first")
        return int(found.partitions[partition].leader)

    def fully_replicated(self, timeout_s: float = 10.0) -> bool:
        """Whether every partition of every topic (internal ones too) has all its replicas
        in sync: what a rolling restart waits for before taking the next node down."""
        admin = make_admin(KafkaSettings(bootstrap_servers=self.bootstrap_servers))
        try:
            metadata = admin.list_topics(timeout=timeout_s)
        except KafkaException:
            return False
        partitions = [p for t in metadata.topics.values() for p in t.partitions.values()]
        return all(len(p.isrs) == len(p.replicas) for p in partitions)

    def active_controller(self) -> int:
        """Node id of the quorum's leader (the active controller; -1: none known).

        Brokers do not tell clients which controller is active (a KRaft broker answers
        a random broker as "controller"); every voter writes its view of the quorum to
        its ``quorum-state`` file at each change, so the newest epoch among the running
        nodes names the leader.
        """
        best_epoch, leader = -1, -1
        for node_id in self.node_ids:
            node = self.node(node_id)
            if node.pid is None:
                continue
            try:
                state = json.loads((node.kraft_dir / _QUORUM_STATE).read_text())
            except (FileNotFoundError, json.JSONDecodeError):
                continue
            epoch, leader_id = int(state.get("leaderEpoch", -1)), int(state.get("leaderId", -1))
            if epoch > best_epoch:
                best_epoch, leader = epoch, leader_id
        return leader

    def log_tail(self, node_id: int, lines: int = 30) -> str:
        """The last lines of node ``node_id``'s log."""
        return self.node(node_id).log_tail(lines)

    # -- internals -------------------------------------------------------------------

    def _read_layout(self) -> ClusterLayout | None:
        try:
            raw = json.loads(self.state_path.read_text())
            return ClusterLayout(
                host=str(raw["host"]),
                ports=tuple(int(p) for p in raw["ports"]),
                controller_ports=tuple(int(p) for p in raw["controller_ports"]),
                cluster_id=str(raw["cluster_id"]),
            )
        except (FileNotFoundError, json.JSONDecodeError, KeyError, TypeError, ValueError):
            return None

    def _ensure_layout(self) -> ClusterLayout:
        recorded = self._read_layout()
        if recorded is not None:
            return recorded
        settings = self.settings
        ports = tuple(settings.port + i for i in range(self.size))
        # Fixed ports next to the client ports rather than free ones picked by the
        # system: those come from the ephemeral range, where a client connection may
        # hold one by the time a restarted node binds it again.
        first = settings.controller_port or settings.port + self.size
        controllers = tuple(first + i for i in range(self.size))
        if set(ports) & set(controllers):
            raise BrokerError(
                f"controller ports {controllers} overlap client ports {ports}",
                fix="choose another --controller-port",
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Any node's storage tool makes the id; all nodes are formatted with it.
        probe = LocalBroker(replace(settings, data_dir=self.data_dir / "node-1", nodes=1))
        jars.require_jars(settings)
        cluster_id = probe.random_cluster_id(jars.find_java(settings))
        layout = ClusterLayout(settings.host, ports, controllers, cluster_id)
        fields = {
            "host": layout.host,
            "ports": list(layout.ports),
            "controller_ports": list(layout.controller_ports),
            "cluster_id": layout.cluster_id,
        }
        self.state_path.write_text(json.dumps(fields, indent=2) + "\n")
        logger.info("laid out a %d-node cluster %s in %s", self.size, cluster_id, self.data_dir)
        return layout
