"""Frozen settings objects, one per component.

Built by the CLI from flags and environment variables (the only place that reads the
environment); every other module receives one of these and reads nothing else.
Units are part of the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_KAFKA_VERSION = "4.1.1"
DEFAULT_BROKER_PORT = 9092
DEFAULT_BOOTSTRAP_SERVERS = f"127.0.0.1:{DEFAULT_BROKER_PORT}"
FEATURES_TOPIC = "weather-features"
PREDICTIONS_TOPIC = "weather-predictions"
DLQ_TOPIC = "weather-features.dlq"
CONSUMER_GROUP = "ray-ml-inference"
DEFAULT_PARTITIONS = 4
DEFAULT_MODEL_STORAGE_PATH = Path("./models")


def default_cache_dir() -> Path:
    """Where fetched Kafka jars live: outside the repository, shared by checkouts."""
    return Path.home() / ".cache" / "wxstream"


def default_broker_dir() -> Path:
    """Where the local broker keeps its data, log and pid file unless told otherwise."""
    return Path.home() / ".local" / "share" / "wxstream" / "kafka"


@dataclass(frozen=True)
class BrokerSettings:
    """The embedded single-node KRaft broker started by ``wxstream kafka start``."""

    kafka_version: str = DEFAULT_KAFKA_VERSION
    host: str = "127.0.0.1"
    port: int = DEFAULT_BROKER_PORT
    controller_port: int | None = None  # None: the first free port
    data_dir: Path = field(default_factory=default_broker_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    heap_mb: int = 512
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 60.0

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` that clients connect to."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class KafkaSettings:
    """How clients reach Kafka and which topics the pipeline uses."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    features_topic: str = FEATURES_TOPIC
    predictions_topic: str = PREDICTIONS_TOPIC
    dlq_topic: str = DLQ_TOPIC
    partitions: int = DEFAULT_PARTITIONS
    request_timeout_s: float = 10.0


@dataclass(frozen=True)
class RaySettings:
    """How to reach Ray and how to place inference actors."""

    address: str | None = None  # None: start a local Ray
    num_actors: int = 4
    gpu_fraction: float = 0.25
    use_gpu: bool = True  # False: --no-gpu, CPU even where a GPU exists
    dashboard: bool = True
    num_cpus: int | None = None  # for a local Ray only; None: Ray decides


@dataclass(frozen=True)
class ModelSettings:
    """Where models live and which one to use."""

    storage_path: Path = DEFAULT_MODEL_STORAGE_PATH
    model_name: str | None = None  # None: the newest under trained/forecasting/

    @property
    def forecasting_dir(self) -> Path:
        """``$MODEL_STORAGE_PATH/trained/forecasting``."""
        return self.storage_path / "trained" / "forecasting"


Guarantee = Literal["exactly-once", "at-least-once"]
