"""Process and port helpers of the local broker: detached launch, liveness, free ports."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import psutil

from wxstream.errors import BrokerError, PortInUseError


def spawn_detached(command: list[str], log_path: Path) -> int:
    """Start ``command`` in its own session, not as our child, and return its pid.

    A short-lived ``sh`` starts the JVM in the background and exits, so the JVM is
    re-parented and outlives the CLI process that started it, and no ``Popen`` object
    of ours is left waiting on a long-running child.
    """
    script = 'log=$1; shift; "$@" >>"$log" 2>&1 </dev/null & echo $!'
    log_path.write_text("")
    done = subprocess.run(
        ["/bin/sh", "-c", script, "wxstream-kafka", str(log_path), *command],
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        raise BrokerError(
            f"could not launch the Kafka broker: {done.stderr.strip() or done.stdout.strip()}",
            fix="check that /bin/sh and java can be executed",
        )
    return int(done.stdout.strip())


def process_alive(pid: int) -> bool:
    """True when ``pid`` runs and is not a zombie."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_gone(process: psutil.Process, timeout_s: float) -> bool:
    """True once ``process`` has exited (a zombie counts as exited) within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive(process.pid):
            return True
        time.sleep(0.1)
    return not process_alive(process.pid)


def require_free_port(host: str, port: int, role: str) -> None:
    """Raise :class:`PortInUseError` unless ``host:port`` can be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # The JVM binds with SO_REUSEADDR too, so TIME_WAIT leftovers do not count.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            flag = "--port" if role == "client" else "--controller-port"
            raise PortInUseError(
                f"port {port} on {host} ({role} port of the Kafka broker) is already in use",
                fix=f"choose another port with {flag}, or stop the process listening on "
                f"{port} (`ss -ltnp 'sport = :{port}'` shows it)",
            ) from exc


def free_port(host: str) -> int:
    """A port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
