"""Operator-facing failures: each says what is wrong and how to fix it, without a Python
traceback unless asked for (``--debug`` or ``LOG_LEVEL=DEBUG``).

Every case runs the real CLI in a subprocess, as an operator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from wxstream.errors import RayUnavailableError
from wxstream.settings import KafkaSettings
from wxstream.streaming import actor_options
from wxstream.streaming.ray_checks import (
    DASHBOARD_INSTALL_HINT,
    dashboard_dependencies_installed,
    dashboard_plan,
    ray_address_reachable,
    require_ray_reachable,
    split_ray_address,
)


def _wxstream(
    *args: str, env: dict[str, str] | None = None, timeout_s: float = 120
) -> subprocess.CompletedProcess[str]:
    merged = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "wxstream", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=merged,
        check=False,
    )


def _assert_clear_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Non-zero exit, ``error:`` and ``fix:`` lines naming ``expected``, no traceback."""
    assert result.returncode != 0, result.stdout
    assert "error:" in result.stderr, result.stderr
    assert "fix:" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


def _topic_flags(settings: KafkaSettings) -> list[str]:
    return [
        f"--bootstrap-servers={settings.bootstrap_servers}",
        f"--features-topic={settings.features_topic}",
        f"--predictions-topic={settings.predictions_topic}",
        f"--dlq-topic={settings.dlq_topic}",
        f"--anomalies-topic={settings.anomalies_topic}",
        f"--group-id=failures-{uuid.uuid4().hex[:8]}",
    ]


def _storage(model_dir: Path) -> str:
    """``<storage>`` of ``<storage>/trained/forecasting/<name>``."""
    return str(model_dir.parents[2])


# -- model directory ----------------------------------------------------------------------


def test_no_model_names_the_folder_and_how_to_get_one(tmp_path: Path, unused_port: int) -> None:
    result = _wxstream(
        "serve",
        f"--model-storage-path={tmp_path}",
        f"--bootstrap-servers=127.0.0.1:{unused_port}",
    )
    _assert_clear_failure(
        result, str(tmp_path / "trained" / "forecasting"), "wxstream train", "import-keras"
    )


def test_a_named_model_that_does_not_exist_names_its_path(tmp_path: Path, unused_port: int) -> None:
    result = _wxstream(
        "serve",
        f"--model-storage-path={tmp_path}",
        "--model-name=nope",
        f"--bootstrap-servers=127.0.0.1:{unused_port}",
    )
    _assert_clear_failure(result, "model directory not found", "nope", "wxstream train")


# -- Kafka ----------------------------------------------------------------------------------


def test_kafka_unreachable_names_the_servers_and_how_to_start_a_broker(
    serve_model_dir: Path, unused_port: int
) -> None:
    result = _wxstream(
        "serve",
        f"--model-storage-path={_storage(serve_model_dir)}",
        f"--bootstrap-servers=127.0.0.1:{unused_port}",
    )
    _assert_clear_failure(result, f"127.0.0.1:{unused_port}", "wxstream kafka start")


@pytest.mark.kafka
def test_a_missing_topic_says_how_to_create_it(
    kafka_settings: KafkaSettings, serve_model_dir: Path
) -> None:
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    result = _wxstream(
        "serve",
        f"--model-storage-path={_storage(serve_model_dir)}",
        *_topic_flags(kafka_settings),
        f"--features-topic={missing}",
    )
    _assert_clear_failure(result, missing, "wxstream topics create")


# -- Ray --------------------------------------------------------------------------------------


@pytest.mark.kafka
def test_ray_unreachable_names_the_address_and_how_to_check_it(
    kafka_settings: KafkaSettings, serve_model_dir: Path, unused_port: int
) -> None:
    address = f"127.0.0.1:{unused_port}"
    began = time.monotonic()
    result = _wxstream(
        "serve",
        f"--model-storage-path={_storage(serve_model_dir)}",
        *_topic_flags(kafka_settings),
        f"--ray-address={address}",
    )
    # ray.init alone would retry this address for minutes.
    assert time.monotonic() - began < 30
    _assert_clear_failure(result, address, f"ray status --address {address}")


@pytest.mark.kafka
def test_debug_shows_the_traceback(
    kafka_settings: KafkaSettings, serve_model_dir: Path, unused_port: int
) -> None:
    args = [
        "serve",
        f"--model-storage-path={_storage(serve_model_dir)}",
        *_topic_flags(kafka_settings),
        f"--ray-address=127.0.0.1:{unused_port}",
    ]
    flagged = _wxstream("--debug", *args)
    assert "Traceback" in flagged.stderr
    assert "RayUnavailableError" in flagged.stderr
    assert "fix:" in flagged.stderr
    by_env = _wxstream(*args, env={"LOG_LEVEL": "DEBUG"})
    assert "Traceback" in by_env.stderr
    assert by_env.returncode == flagged.returncode != 0


def test_ray_address_probe_is_fast_and_parses_addresses(unused_port: int) -> None:
    began = time.monotonic()
    assert not ray_address_reachable(f"127.0.0.1:{unused_port}", timeout_s=1.0)
    with pytest.raises(RayUnavailableError) as caught:
        require_ray_reachable(f"ray://127.0.0.1:{unused_port}", timeout_s=1.0)
    assert time.monotonic() - began < 5
    assert caught.value.fix is not None
    assert "ray status --address" in caught.value.fix
    assert split_ray_address("ray://head:10001") == ("head", 10001)
    assert split_ray_address("head") == ("head", 6379)
    with pytest.raises(RayUnavailableError):
        split_ray_address("head:notaport")


# -- no GPU -------------------------------------------------------------------------------------


def test_device_selection_falls_back_to_cpu_without_a_gpu() -> None:
    cpu = actor_options(cluster_gpus=0, use_gpu=True, gpu_fraction=0.25, num_cpus=0.25)
    assert (cpu.device, cpu.num_gpus) == ("cpu", 0.0)
    gpu = actor_options(cluster_gpus=1, use_gpu=True, gpu_fraction=0.25, num_cpus=0.25)
    assert (gpu.device, gpu.num_gpus) == ("cuda", 0.25)
    forced = actor_options(cluster_gpus=1, use_gpu=False, gpu_fraction=0.25, num_cpus=0.25)
    assert (forced.device, forced.num_gpus) == ("cpu", 0.0)


@pytest.mark.kafka
@pytest.mark.ray
@pytest.mark.slow
def test_serve_without_a_gpu_runs_on_cpu_and_says_so_once(
    kafka_settings: KafkaSettings, serve_model_dir: Path
) -> None:
    result = _wxstream(
        "serve",
        f"--model-storage-path={_storage(serve_model_dir)}",
        *_topic_flags(kafka_settings),
        "--num-actors=2",
        "--ray-num-cpus=1",
        "--idle-exit-s=1",
        timeout_s=240,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("No GPU devices found, using CPU") == 1, result.stderr
    expected = (
        "Ray dashboard: http://"
        if dashboard_dependencies_installed()
        else f"Ray dashboard: not available ({DASHBOARD_INSTALL_HINT})"
    )
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_dashboard_plan() -> None:
    off = dashboard_plan(requested=False, installed=True)
    assert (off.include, off.message) == (False, "Ray dashboard: off (--no-dashboard)")
    missing = dashboard_plan(requested=True, installed=False)
    assert not missing.include
    assert missing.message == "Ray dashboard: not available (pip install 'ray[default]')"
    on = dashboard_plan(requested=True, installed=True)
    assert on.include
    assert on.message == "Ray dashboard: http://127.0.0.1:8265"


# -- invalid configuration -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "code", "expected"),
    [
        (["serve", "--batch-size=0"], {}, 2, ["--batch-size", "0 is not in the range x>=1"]),
        (["serve"], {"WXSTREAM_BATCH_SIZE": "0"}, 2, ["WXSTREAM_BATCH_SIZE"]),
        (
            ["serve", "--guarantee=maybe"],
            {},
            2,
            ["--guarantee", "'maybe' is not one of 'exactly-once', 'at-least-once'"],
        ),
        (["status"], {"LOG_LEVEL": "LOUD"}, 2, ["LOUD", "LOG_LEVEL", "DEBUG, INFO"]),
    ],
)
def test_invalid_configuration_names_the_flag_and_what_is_allowed(
    args: list[str], env: dict[str, str], code: int, expected: list[str]
) -> None:
    result = _wxstream(*args, env=env)
    assert result.returncode == code
    _assert_clear_failure(result, *expected)
