"""The deployment files: docker-compose.yml, its CPU override and the Dockerfile.

``docker compose config`` validates the file against the Compose specification where
the compose plugin is installed; the structural checks below run everywhere.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
CPU_OVERRIDE = ROOT / "docker-compose.cpu.yml"
DOCKERFILE = ROOT / "Dockerfile"


class _ComposeLoader(yaml.SafeLoader):
    """Safe YAML plus Compose's ``!reset`` / ``!override`` tags."""


def _tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return {"__tag__": node.tag, **loader.construct_mapping(node)}
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)


_ComposeLoader.add_constructor("!reset", _tagged)
_ComposeLoader.add_constructor("!override", _tagged)


def _load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_ComposeLoader)
    assert isinstance(data, dict)
    return data


def _compose_plugin() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False
    )
    return [docker, "compose"] if probe.returncode == 0 else None


# The file refuses to start Ray without a token: give `compose config` one.
_RAY_TOKEN_ENV = {**os.environ, "RAY_AUTH_TOKEN": "test-token"}


def _default(value: str) -> str:
    """What ``${NAME:-default}`` resolves to when NAME is unset."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    assert match is not None, value
    return match.group(1)


def test_compose_config_is_valid_where_the_plugin_exists() -> None:
    compose = _compose_plugin()
    services = set(_load(COMPOSE)["services"])
    if compose is None:
        # No compose plugin on this machine: the structural tests below carry the check.
        assert {"kafka", "ray-head", "ray-inference"} <= services
        return
    for files in (["-f", str(COMPOSE)], ["-f", str(COMPOSE), "-f", str(CPU_OVERRIDE)]):
        result = subprocess.run(
            [*compose, *files, "--profile", "monitoring", "config", "--quiet"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            cwd=ROOT,
            env=_RAY_TOKEN_ENV,
        )
        assert result.returncode == 0, result.stderr
    listed = subprocess.run(
        [*compose, "-f", str(COMPOSE), "--profile", "monitoring", "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env=_RAY_TOKEN_ENV,
    ).stdout.split()
    assert set(listed) == services


def test_kafka_is_a_single_kraft_node_with_a_health_check() -> None:
    kafka = _load(COMPOSE)["services"]["kafka"]
    image, tag = kafka["image"].split(":")
    assert image == "apache/kafka"
    assert tag.split(".")[0] == "4"
    env = kafka["environment"]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == 1
    assert "kafka:9092" in " ".join(kafka["healthcheck"]["test"])


def test_ray_nodes_run_the_image_with_gpu_reservations() -> None:
    services = _load(COMPOSE)["services"]
    head = services["ray-head"]
    assert head["entrypoint"] == ["ray"]
    assert head["command"][:2] == ["start", "--head"]
    assert {"--port=6379", "--dashboard-host=0.0.0.0", "--block"} <= set(head["command"])
    assert "healthcheck" in head
    worker = services["ray-worker"]
    assert "--address=ray-head:6379" in worker["command"]
    assert worker["depends_on"]["ray-head"]["condition"] == "service_healthy"
    for name in ("ray-head", "ray-worker", "ray-inference"):
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
        assert "build" in services[name]


def test_inference_waits_on_health_not_sleeps() -> None:
    services = _load(COMPOSE)["services"]
    inference = services["ray-inference"]
    env = inference["environment"]
    assert _default(env["KAFKA_BOOTSTRAP_SERVERS"]) == "kafka:9092"
    assert env["RAY_HEAD_ADDRESS"] == "ray-head:6379"
    assert env["MODEL_STORAGE_PATH"] == "/app/models"
    assert any(v.endswith(":/app/models") for v in inference["volumes"])
    assert "wxstream serve" in " ".join(inference["command"])
    conditions = {name: dep["condition"] for name, dep in inference["depends_on"].items()}
    assert conditions["kafka"] == "service_healthy"
    assert conditions["ray-head"] == "service_healthy"
    assert conditions["topics"] == "service_completed_successfully"
    topics = services["topics"]
    assert topics["command"][:2] == ["topics", "create"]
    assert topics["command"][topics["command"].index("--partitions") + 1] == "4"
    for service in services.values():
        assert "sleep" not in " ".join(map(str, service.get("command", [])))


def test_monitoring_is_an_optional_profile_scraping_the_service() -> None:
    services = _load(COMPOSE)["services"]
    for name in ("prometheus", "grafana"):
        assert services[name]["profiles"] == ["monitoring"]
    for name in ("kafka", "ray-head", "ray-worker", "topics", "ray-inference"):
        assert "profiles" not in services[name]
    prometheus = yaml.safe_load((ROOT / "deploy/prometheus/prometheus.yml").read_text())
    targets = [
        t
        for job in prometheus["scrape_configs"]
        for c in job["static_configs"]
        for t in c["targets"]
    ]
    port = services["ray-inference"]["environment"]["WXSTREAM_METRICS_PORT"]
    assert f"ray-inference:{port}" in targets
    for mount in services["grafana"]["volumes"]:
        host = mount.split(":")[0]
        assert (ROOT / host).is_dir(), host


def test_cpu_override_resets_every_gpu_reservation() -> None:
    base = _load(COMPOSE)["services"]
    override = _load(CPU_OVERRIDE)["services"]
    gpu_services = {name for name, svc in base.items() if "deploy" in svc}
    assert set(override) == gpu_services
    for svc in override.values():
        assert svc["deploy"]["__tag__"] == "!reset"


def test_dockerfile_installs_pinned_package_with_wxstream_entrypoint() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    lines = [
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "FROM python:3.11-slim"
    assert "-c constraints.txt" in text
    assert 'ENTRYPOINT ["wxstream"]' in lines
    assert "MODEL_STORAGE_PATH=/app/models" in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert ".venv" in ignored
    assert "src" not in ignored


def _published(service: dict[str, Any]) -> list[str]:
    return [str(port) for port in service.get("ports", [])]


def test_every_published_port_listens_on_loopback_only() -> None:
    services = _load(COMPOSE)["services"]
    published = {name: _published(svc) for name, svc in services.items() if "ports" in svc}
    # The Ray dashboard runs code (job submission); Kafka's host listener is PLAINTEXT.
    assert {"kafka", "ray-head"} <= set(published)
    for name, ports in published.items():
        for port in ports:
            assert port.startswith("127.0.0.1:"), (name, port)


def test_ray_runs_with_token_authentication_everywhere() -> None:
    services = _load(COMPOSE)["services"]
    for name in ("ray-head", "ray-worker", "ray-inference"):
        env = services[name]["environment"]
        assert env["RAY_AUTH_MODE"] == "token", name
        # ${RAY_AUTH_TOKEN:?...}: compose refuses to start without a token.
        assert env["RAY_AUTH_TOKEN"].startswith("${RAY_AUTH_TOKEN:?"), name


def test_kafka_client_security_reaches_every_wxstream_container() -> None:
    services = _load(COMPOSE)["services"]
    names = (
        "KAFKA_CONFIG",
        "KAFKA_SECURITY_PROTOCOL",
        "KAFKA_SASL_MECHANISM",
        "KAFKA_SASL_USERNAME",
        "KAFKA_SASL_PASSWORD",
        "KAFKA_SSL_CA_LOCATION",
        "KAFKA_SSL_CERTIFICATE_LOCATION",
        "KAFKA_SSL_KEY_LOCATION",
        "KAFKA_SSL_KEY_PASSWORD",
    )
    for service in ("topics", "ray-inference"):
        env = services[service]["environment"]
        for name in names:
            # Passed through from the host or .env, empty by default: never a literal.
            assert env[name] == f"${{{name}:-}}", (service, name)


def test_no_credential_is_written_into_the_file() -> None:
    services = _load(COMPOSE)["services"]
    checked = 0
    for name, service in services.items():
        for key, value in service.get("environment", {}).items():
            if re.search(r"PASSWORD|TOKEN|SECRET", key):
                checked += 1
                # Only a reference to the host's environment (or .env), never a value.
                assert str(value).startswith("${"), (name, key)
    assert checked >= 5
