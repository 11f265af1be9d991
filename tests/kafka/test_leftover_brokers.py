"""Brokers a killed test run left running are stopped by the next run, by their own
pid files, and nothing that is not such a broker is ever signalled."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.broker_registry import read_record, record_broker, stop_leftover_brokers
from wxstream.kafka.process import PID_FILE, process_alive, stop_broker_left_in

ROOT = Path(__file__).resolve().parents[2]

# What a test run does up to the moment it is killed: a broker started under a record,
# then the process goes without stopping it.
_KILLED_RUN = """
import sys, time
from pathlib import Path
from tests.support.broker_registry import registered_broker
from wxstream.kafka.process import free_port
from wxstream.settings import BrokerSettings

settings = BrokerSettings(port=free_port("127.0.0.1"), data_dir=Path(sys.argv[2]))
with registered_broker(settings, Path(sys.argv[1])) as (_broker, info):
    print(info.pid, flush=True)
    time.sleep(600)
"""

# A run that recorded a broker and ended without removing the record.
_GONE_OWNER = """
import sys
from pathlib import Path
from tests.support.broker_registry import record_broker

record_broker(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _python(script: str, *args: object) -> list[str]:
    return [sys.executable, "-c", script, *map(str, args)]


@pytest.mark.kafka
@pytest.mark.parametrize("pid_file", ["kept", "lost"])
def test_a_broker_left_by_a_killed_run_is_stopped_by_the_next(
    tmp_path: Path, pid_file: str
) -> None:
    registry, data_dir = tmp_path / "registry", tmp_path / "kafka"
    command = _python(_KILLED_RUN, registry, data_dir)
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as run:
        try:
            assert run.stdout is not None
            broker_pid = int(run.stdout.readline())
        finally:
            run.send_signal(signal.SIGKILL)
            run.wait(30)
    try:
        assert process_alive(broker_pid), "the broker went with the run that started it"
        assert (data_dir / PID_FILE).is_file()
        if pid_file == "lost":
            # Then the pid noted in the record is used, and checked all the same.
            (data_dir / PID_FILE).unlink()

        assert stop_leftover_brokers(registry) == [broker_pid]

        assert not process_alive(broker_pid)
        assert not list(registry.glob("*.json"))
        assert not (data_dir / PID_FILE).exists()
    finally:
        # Should an assertion fail before the cleanup did its work.
        stop_broker_left_in(data_dir, 60.0, broker_pid)


def test_a_stranger_with_the_recorded_pid_is_left_alone(tmp_path: Path) -> None:
    registry, data_dir = tmp_path / "registry", tmp_path / "kafka"
    data_dir.mkdir()
    subprocess.run(_python(_GONE_OWNER, registry, data_dir), cwd=ROOT, check=True, timeout=60)
    # The broker's pid was recycled: another program runs under it now.
    stranger = subprocess.Popen(["sleep", "120"])
    try:
        (data_dir / PID_FILE).write_text(f"{stranger.pid}\n")

        assert stop_leftover_brokers(registry) == []

        assert stranger.poll() is None
        assert not list(registry.glob("*.json")), "the stale record was not removed"
    finally:
        stranger.kill()
        stranger.wait(30)


def test_the_record_of_a_run_still_going_is_kept(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    mine = record_broker(registry, tmp_path / "kafka", broker_pid=None)

    assert stop_leftover_brokers(registry) == []

    record = read_record(mine)
    assert record is not None
    assert record.owner_alive()


def test_an_unreadable_record_is_dropped(tmp_path: Path) -> None:
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / "torn.json").write_text('{"data_dir": ')

    assert stop_leftover_brokers(registry) == []
    assert not list(registry.glob("*.json"))
