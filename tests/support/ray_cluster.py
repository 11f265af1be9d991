"""A two-node Ray cluster on this machine: two ``ray start --block`` processes, a head
and a worker, both on 127.0.0.1, each with its own CPUs.

Everything lives under a temporary directory of its own (``--temp-dir``), so the
cluster's address file does not replace ``/tmp/ray/ray_current_cluster``, which a
plain ``ray.init()`` elsewhere on the machine would otherwise connect to. Ports come
from below the ephemeral range, away from the defaults another Ray may hold (the
dashboard agent's 52365). Stopped by its own process ids only (never
``ray stop``, which stops every Ray of the user).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.cluster_support import port_block
from tests.support.waiting import wait_until

RAY = str(Path(sys.executable).parent / "ray")
DEFAULT_TOKEN = Path.home() / ".ray" / "auth_token"
# A dead node is declared dead after about 5 s of failed health checks (default 15 s),
# and only then are its actors restarted elsewhere.
SYSTEM_CONFIG = {"health_check_period_ms": 1000, "health_check_failure_threshold": 5}


def auth_mode() -> str:
    """``RAY_AUTH_MODE`` of the cluster and its drivers.

    A head started without it turns token authentication on by itself when the user
    has a token; a worker node or a driver does not, and is then refused: all of them
    get the same mode.
    """
    return os.environ.get("RAY_AUTH_MODE") or ("token" if DEFAULT_TOKEN.is_file() else "disabled")


@dataclass
class RayNode:
    """One ``ray start --block`` process and its log."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def raylet_pid(self) -> int | None:
        """Pid of this node's raylet (None: not running)."""
        try:
            children = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return None
        for child in children:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if child.name() == "raylet":
                    return child.pid
        return None

    def up(self) -> bool:
        """Whether the node runs and joined the cluster; fails the test once ``ray
        start`` has exited."""
        code = self.process.poll()
        assert code is None, f"ray start ({self.name}) exited {code}:\n{self.output()}"
        # Printed once the node registered with the cluster: a driver connecting
        # earlier would see (and place actors on) the head alone.
        started = "Ray runtime started" in self.log_path.read_text(errors="replace")
        return started and self.raylet_pid() is not None

    def output(self) -> str:
        """The end of what ``ray start`` printed."""
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM the ``ray start`` process (it stops its node's processes), SIGKILL
        what is left of them after a while."""
        try:
            family = [psutil.Process(self.process.pid)]
            family += family[0].children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(20)
        for proc in family:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        if self.process.poll() is None:
            self.process.wait(10)


@dataclass
class TwoNodeRay:
    """The head and the worker node, and the address drivers connect to."""

    address: str
    head: RayNode
    worker: RayNode
    temp_dir: Path

    def driver_command(self, command: list[str]) -> list[str]:
        """``command`` run with the cluster's authentication mode (``env`` execs it, so
        the pid stays the command's own)."""
        return ["env", f"RAY_AUTH_MODE={auth_mode()}", *command]


def _start_node(name: str, args: list[str], log_dir: Path) -> RayNode:
    log_path = log_dir / f"{name}.log"
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_HEAD_ADDRESS")}
    env["RAY_AUTH_MODE"] = auth_mode()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [RAY, "start", "--block", "--disable-usage-stats", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    return RayNode(name, process, log_path)


@contextlib.contextmanager
def two_node_ray(log_dir: Path, head_cpus: int = 1, worker_cpus: int = 1) -> Iterator[TwoNodeRay]:
    """Start the head, then the worker; stop both on the way out."""
    # Unix socket paths are short: a short temporary directory rather than log_dir.
    temp_dir = Path(tempfile.mkdtemp(prefix="wxray-"))
    base = port_block(4)
    address = f"127.0.0.1:{base}"
    common = ["--node-ip-address=127.0.0.1", f"--temp-dir={temp_dir}"]
    head = _start_node(
        "head",
        [
            "--head",
            f"--port={base}",
            f"--num-cpus={head_cpus}",
            "--include-dashboard=false",
            f"--dashboard-agent-listen-port={base + 1}",
            f"--system-config={json.dumps(SYSTEM_CONFIG)}",
            *common,
        ],
        log_dir,
    )
    nodes = [head]
    try:
        wait_until(head.up, 120, "the head node's raylet")
        worker = _start_node(
            "worker",
            [
                f"--address={address}",
                f"--num-cpus={worker_cpus}",
                f"--dashboard-agent-listen-port={base + 2}",
                *common,
            ],
            log_dir,
        )
        nodes.append(worker)
        wait_until(worker.up, 120, "the worker node's raylet")
        yield TwoNodeRay(address, head, worker, temp_dir)
    finally:
        for node in reversed(nodes):
            node.stop()
        shutil.rmtree(temp_dir, ignore_errors=True)
