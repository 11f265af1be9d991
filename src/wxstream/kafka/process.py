"""Process and port helpers of the local broker: detached launch, liveness, stopping a
broker by its pid file, free ports."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

from wxstream.errors import BrokerError, PortInUseError

logger = logging.getLogger(__name__)

BROKER_MAIN_CLASS = "kafka.Kafka"
PID_FILE = "broker.pid"
"""Name of the file in a broker's data directory that holds the JVM's pid."""
PROPERTIES_FILE = "server.properties"
"""Name of the broker's configuration in its data directory (on the JVM's command line)."""


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


def read_pid(pid_path: Path) -> int | None:
    """The pid recorded in ``pid_path`` (None: no file, or not a number)."""
    try:
        return int(pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def broker_process(pid: int, data_dir: Path) -> psutil.Process | None:
    """The live broker JVM of ``data_dir`` running as ``pid``, else None.

    A pid is recycled by the system once its process exits: only a process whose command
    line runs the broker's main class with this data directory's configuration counts,
    so a stranger's process that got the pid is never mistaken for (and stopped as) ours.
    """
    try:
        process = psutil.Process(pid)
        command = process.cmdline()
        alive = process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    ours = BROKER_MAIN_CLASS in command and str(data_dir / PROPERTIES_FILE) in command
    return process if alive and ours else None


def terminate(process: psutil.Process, timeout_s: float) -> None:
    """SIGTERM ``process``, then SIGKILL if it still runs after ``timeout_s``.

    Raises :class:`BrokerError` when it survives even SIGKILL.
    """
    with contextlib.suppress(psutil.NoSuchProcess):
        process.send_signal(signal.SIGTERM)
    if wait_gone(process, timeout_s):
        return
    logger.warning(
        "process %d did not exit within %.0f s of SIGTERM; sending SIGKILL", process.pid, timeout_s
    )
    with contextlib.suppress(psutil.NoSuchProcess):
        process.kill()
    if not wait_gone(process, 10.0):
        raise BrokerError(
            f"process {process.pid} survived SIGKILL",
            fix=f"check the process with `ps -p {process.pid}`",
        )


def stop_broker_left_in(data_dir: Path, timeout_s: float, pid: int | None = None) -> int | None:
    """Stop the broker JVM that an earlier, now gone, process left running from
    ``data_dir``; return its pid (None: nothing of ours ran).

    The pid comes from ``data_dir``'s pid file, or from ``pid`` when the pid file is
    gone (a data directory removed while its broker still ran); either way the process
    is stopped only if it is that directory's broker (see :func:`broker_process`).
    """
    candidate = read_pid(data_dir / PID_FILE) or pid
    process = broker_process(candidate, data_dir) if candidate else None
    if process is None:
        return None
    logger.info("stopping the Kafka broker left running from %s (pid %d)", data_dir, process.pid)
    terminate(process, timeout_s)
    (data_dir / PID_FILE).unlink(missing_ok=True)
    return process.pid


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
