"""A local three-node Kafka cluster for tests, and ``wxstream serve`` run the way a
supervisor runs it (restarted when it exits asking for a restart).

The cluster's nodes are recorded in the broker registry one by one (each node is a
broker data directory), so a run killed before its fixture could stop them leaves
nothing running past the next run's start (see ``broker_registry``).
"""

from __future__ import annotations

import contextlib
import random
import signal
import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from tests.support.broker_registry import REGISTRY_DIR, note_broker_pid, record_broker
from tests.support.fault_harness import ServeProcess
from wxstream.errors import DeliveryStalledError
from wxstream.kafka.cluster import LocalCluster
from wxstream.settings import BrokerSettings


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_block(count: int) -> int:
    """First of ``count`` consecutive free ports below the ephemeral range.

    A node killed and restarted binds its ports again; a port of the ephemeral range
    may meanwhile be the local end of some client connection (any process's).
    """
    high = _ephemeral_low() - count
    for _ in range(200):
        base = random.randrange(20000, high)
        if all(_bindable(base + i) for i in range(count)):
            return base
    raise AssertionError(f"no {count} consecutive free ports below {high}")


@contextlib.contextmanager
def registered_cluster(settings: BrokerSettings) -> Iterator[LocalCluster]:
    """Start the cluster of ``settings`` with every node recorded in the broker registry;
    stop it and drop the records on the way out."""
    cluster = LocalCluster(settings)
    records = [
        record_broker(REGISTRY_DIR, settings.data_dir / f"node-{i}") for i in cluster.node_ids
    ]
    try:
        for record, info in zip(records, cluster.start(), strict=True):
            note_broker_pid(record, info.pid)
        yield cluster
    finally:
        # A throwaway cluster: SIGKILL. Stopping all three gracefully waits out the stop
        # timeout (the last node's controlled shutdown finds no controller quorum).
        for node_id in cluster.node_ids:
            if cluster.node(node_id).pid is not None:
                cluster.kill_node(node_id)
        for record in records:
            record.unlink(missing_ok=True)


def cluster_settings(data_dir: Path, nodes: int = 3) -> BrokerSettings:
    """Settings of a test cluster: a free port block, a small heap per node."""
    base = port_block(2 * nodes)
    return replace(BrokerSettings(), port=base, data_dir=data_dir, nodes=nodes, heap_mb=384)


class SupervisedService:
    """``wxstream serve`` as a child process, started again whenever it exits with
    :attr:`DeliveryStalledError.exit_code` (what the service asks of its supervisor);
    any other exit fails the test."""

    def __init__(self, command: list[str], log_dir: Path) -> None:
        self.command = command
        self.log_dir = log_dir
        self.restarts = 0
        self.outputs: list[str] = []
        self.current = ServeProcess(command, log_dir / "serve-0.log")

    def check(self) -> bool:
        """Restart the service if it exited asking for it; True (for ``wait_until``)."""
        if self.current.alive():
            return True
        code = self.current.wait(0)
        output = self.current.output()
        assert code == DeliveryStalledError.exit_code, f"exit code {code}:\n{output[-3000:]}"
        self.current.close()
        self.outputs.append(output)
        self.restarts += 1
        self.current = ServeProcess(self.command, self.log_dir / f"serve-{self.restarts}.log")
        return True

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM the running service; its exit code."""
        self.current.signal(signal.SIGTERM)
        code = self.current.wait(timeout_s)
        self.outputs.append(self.current.output())
        return code

    def close(self) -> None:
        """Kill the service if it still runs."""
        self.current.close()


@contextlib.contextmanager
def supervised(command: list[str], log_dir: Path) -> Iterator[SupervisedService]:
    """A :class:`SupervisedService` killed on the way out if still running."""
    service = SupervisedService(command, log_dir)
    try:
        yield service
    finally:
        service.close()
