"""The local broker: start/stop/status through the Python API, click and the real CLI."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from click.testing import CliRunner

from tests.conftest import RunningBroker
from wxstream.commands.kafka_cmd import EXIT_NOT_RUNNING, kafka
from wxstream.errors import BrokerError, DependencyMissingError, PortInUseError
from wxstream.kafka import LocalBroker, make_consumer, make_producer
from wxstream.settings import BrokerSettings, KafkaSettings

pytestmark = pytest.mark.kafka

WXSTREAM = Path(sys.executable).parent / "wxstream"


def test_start_when_running_reports_the_running_broker(kafka_broker: RunningBroker) -> None:
    again = LocalBroker(kafka_broker.settings).start()

    assert again.already_running
    assert again.pid == kafka_broker.info.pid
    assert again.bootstrap_servers == kafka_broker.bootstrap_servers


def test_cli_start_and_status_report_the_running_broker(kafka_broker: RunningBroker) -> None:
    settings = kafka_broker.settings
    runner = CliRunner()
    started = runner.invoke(
        kafka, ["start", "--port", str(settings.port), "--data-dir", str(settings.data_dir)]
    )
    status = runner.invoke(kafka, ["status", "--data-dir", str(settings.data_dir)])

    assert started.exit_code == 0, started.output
    assert f"already running (pid {kafka_broker.info.pid})" in started.output
    assert kafka_broker.bootstrap_servers in started.output
    assert status.exit_code == 0, status.output
    assert f"running (pid {kafka_broker.info.pid}), answering" in status.output
    assert str(settings.data_dir / "broker.log") in status.output


def test_status_of_a_stopped_broker_exits_3(tmp_path: Path) -> None:
    result = CliRunner().invoke(kafka, ["status", "--data-dir", str(tmp_path)])

    assert result.exit_code == EXIT_NOT_RUNNING
    assert "not running" in result.output
    assert not LocalBroker(BrokerSettings(data_dir=tmp_path)).stop()


def test_taken_port_is_named_in_the_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            LocalBroker(BrokerSettings(port=port, data_dir=tmp_path)).start()

    assert f"port {port}" in caught.value.message
    assert caught.value.fix is not None
    assert "--port" in caught.value.fix
    assert not (tmp_path / "broker.pid").exists()


def test_missing_java_says_to_install_java_17(tmp_path: Path, unused_port: int) -> None:
    settings = BrokerSettings(port=unused_port, data_dir=tmp_path, java_home=tmp_path / "no-jdk")
    with pytest.raises(DependencyMissingError) as caught:
        LocalBroker(settings).start()

    assert caught.value.fix is not None
    assert "Java 17" in caught.value.fix


def test_early_exit_shows_the_broker_log(tmp_path: Path, unused_port: int) -> None:
    # Storage formatted for another node id: the broker refuses it and exits.
    kraft = tmp_path / "kraft"
    kraft.mkdir()
    (kraft / "meta.properties").write_text(
        "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=7\n"
        "directory.id=AAAAAAAAAAAAAAAAAAAAAA\n"
    )
    broker = LocalBroker(BrokerSettings(port=unused_port, data_dir=tmp_path))
    with pytest.raises(BrokerError) as caught:
        broker.start()

    assert "exited during start-up" in caught.value.message
    assert str(broker.log_path) in caught.value.message
    # The tail of the log is part of the message, so the reason is visible at once.
    assert "Stored node id 7 doesn't match" in caught.value.message
    assert "\tat kafka.Kafka" not in caught.value.message
    assert not broker.status().running


def _run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(WXSTREAM), *args], capture_output=True, text=True, timeout=180, check=False
    )


def test_cli_lifecycle_in_subprocesses(tmp_path: Path, unused_port: int) -> None:
    data_dir = tmp_path / "broker"
    bootstrap = f"127.0.0.1:{unused_port}"
    started = _run_cli("kafka", "start", "--port", str(unused_port), "--data-dir", str(data_dir))
    try:
        assert started.returncode == 0, started.stderr
        assert f"bootstrap servers: {bootstrap}" in started.stdout
        assert str(data_dir / "broker.log") in started.stdout
        pid = int((data_dir / "broker.pid").read_text())

        created = _run_cli("topics", "create", "--bootstrap-servers", bootstrap)
        assert created.returncode == 0, created.stderr
        assert "created weather-features (4 partitions," in created.stdout

        settings = KafkaSettings(bootstrap_servers=bootstrap)
        producer = make_producer(settings)
        producer.produce(settings.features_topic, key=b"KJFK", value=b"hello")
        assert producer.flush(15.0) == 0
        consumer = make_consumer(settings, f"group-{uuid.uuid4().hex}")
        consumer.subscribe([settings.features_topic])
        message = None
        deadline = time.monotonic() + 30.0
        while message is None and time.monotonic() < deadline:
            message = consumer.poll(0.5)
        consumer.close()
        assert message is not None
        assert message.error() is None
        assert (message.key(), message.value()) == (b"KJFK", b"hello")
    finally:
        stopped = _run_cli("kafka", "stop", "--data-dir", str(data_dir))

    assert stopped.returncode == 0, stopped.stderr
    assert f"stopped (pid {pid})" in stopped.stdout
    assert "SIGKILL" not in stopped.stderr
    assert not _java_alive(pid)
    assert not (data_dir / "broker.pid").exists()
    status = _run_cli("kafka", "status", "--data-dir", str(data_dir))
    assert status.returncode == EXIT_NOT_RUNNING


def _java_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
