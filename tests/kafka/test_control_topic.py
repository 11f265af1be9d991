"""The control topic on the real broker: created compacted with one partition, written
by `models promote|rollback|publish --bootstrap-servers`, followed by the watcher."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from confluent_kafka.admin._config import ConfigResource

from tests.support.registry_support import add_versions
from tests.support.waiting import wait_until
from wxstream.cli import ENV_PREFIX, cli
from wxstream.errors import WxstreamError
from wxstream.kafka import make_admin, topic_partitions
from wxstream.messages.alias_state import AliasState
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import read_aliases
from wxstream.settings import KafkaSettings
from wxstream.streaming.alias_watcher import AliasWatcher

pytestmark = pytest.mark.kafka


def test_the_control_topic_is_compacted_with_one_partition(kafka_settings: KafkaSettings) -> None:
    assert topic_partitions(kafka_settings, kafka_settings.control_topic) == 1
    admin = make_admin(kafka_settings)
    resource = ConfigResource("TOPIC", kafka_settings.control_topic)
    configs = admin.describe_configs([resource])[resource].result(timeout=30)
    assert configs["cleanup.policy"].value == "compact"


def test_promote_rollback_and_publish_announce_the_state_on_disk(
    kafka_settings: KafkaSettings, serve_model_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "trained" / "forecasting"
    first, second = add_versions(root, "nyc", read_model_dir(serve_model_dir), 2)
    watcher = AliasWatcher(kafka_settings).start()
    kafka = [
        f"--bootstrap-servers={kafka_settings.bootstrap_servers}",
        f"--control-topic={kafka_settings.control_topic}",
        f"--model-storage-path={tmp_path}",
    ]
    runner = CliRunner()
    try:
        steps = [
            ["models", "promote", "nyc", second, "--why", "better", *kafka],
            ["models", "rollback", "nyc", *kafka],
            ["models", "publish", "nyc", *kafka],
        ]
        for args in steps:
            result = runner.invoke(cli, args, auto_envvar_prefix=ENV_PREFIX)
            assert result.exit_code == 0, result.output
            assert "published to" in result.output
        states: list[AliasState] = []

        def three_states() -> bool:
            while not watcher.states.empty():
                states.append(watcher.states.get_nowait())
            return len(states) >= 3

        wait_until(three_states, 60, "three alias states")
    finally:
        watcher.close()
    assert [s.champion for s in states] == [second, first, first]
    assert [s.name for s in states] == ["nyc"] * 3
    sequences = [s.sequence for s in states]
    assert sequences[0] < sequences[1] == sequences[2]
    assert states[0].why == "better"
    # Without --bootstrap-servers only the files move.
    result = runner.invoke(
        cli,
        ["models", "promote", "nyc", second, "--why", "x", f"--model-storage-path={tmp_path}"],
        auto_envvar_prefix=ENV_PREFIX,
        env={"KAFKA_BOOTSTRAP_SERVERS": None},
    )
    assert result.exit_code == 0
    assert "published" not in result.output


def test_a_move_without_a_control_topic_is_kept_on_disk_and_says_how_to_announce_it(
    kafka_settings: KafkaSettings, serve_model_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "trained" / "forecasting"
    _, second = add_versions(root, "nyc", read_model_dir(serve_model_dir), 2)
    args = [
        "models",
        "promote",
        "nyc",
        second,
        "--why",
        "better",
        f"--bootstrap-servers={kafka_settings.bootstrap_servers}",
        "--control-topic=no-such-control-topic",
        f"--model-storage-path={tmp_path}",
    ]
    result = CliRunner().invoke(cli, args, auto_envvar_prefix=ENV_PREFIX)
    assert result.exit_code != 0
    assert isinstance(result.exception, WxstreamError)
    assert "set on disk but were not announced" in result.exception.message
    assert "wxstream models publish nyc" in (result.exception.fix or "")
    assert read_aliases(root / "nyc")["champion"] == second
