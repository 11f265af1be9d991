"""The embedded broker run secured (SASL_SSL, SCRAM users, ACLs enforced): ``serve`` end
to end as a user holding only the minimal ACLs of docs/security.md, and the failures a
wrong password, an untrusted certificate or a missing ACL give (one ``error:`` /
``fix:`` pair naming the setting or the ACL, no traceback, no secret)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.serve_support import read_all, serve_settings
from wxstream.cli import ENV_PREFIX, cli, main
from wxstream.errors import KafkaAccessError
from wxstream.kafka import (
    SERVICE_USER,
    BrokerInfo,
    LocalBroker,
    committed_offsets,
    end_offsets,
    ensure_topics,
    free_port,
    grant,
    kafka_errors,
    make_producer,
    service_acls,
)
from wxstream.settings import BrokerSettings, KafkaSettings, Secret
from wxstream.streaming import run_service

pytestmark = [pytest.mark.kafka]

TRANSACTIONAL_PREFIX = "serve-tx-"


@dataclass(frozen=True)
class SecuredCluster:
    """The secured broker, its client settings files, and settings for this test."""

    info: BrokerInfo
    admin: KafkaSettings  # super user, this test's topics
    service: KafkaSettings  # the service user (ACLs only), same topics
    group_id: str


@pytest.fixture(scope="module")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBroker]:
    settings = BrokerSettings(
        port=free_port("127.0.0.1"),
        data_dir=tmp_path_factory.mktemp("kafka-secured"),
        security="sasl_ssl",
    )
    broker = LocalBroker(settings)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def cluster(secured_broker: LocalBroker) -> SecuredCluster:
    info = secured_broker.start()  # already running: reports it
    assert info.admin_config is not None
    assert info.client_config is not None
    suffix = uuid.uuid4().hex[:10]
    topics = KafkaSettings(
        bootstrap_servers=info.bootstrap_servers,
        features_topic=f"features-{suffix}",
        predictions_topic=f"predictions-{suffix}",
        dlq_topic=f"features-{suffix}.dlq",
        anomalies_topic=f"anomalies-{suffix}",
    )
    admin = replace(topics, client_properties=secured_broker.admin_client_properties())
    service = replace(
        topics, client_properties=secured_broker.security.client_settings(SERVICE_USER)
    )
    ensure_topics(admin)
    group_id = f"serve-{suffix}"
    grant(
        admin,
        service_acls(
            f"User:{SERVICE_USER}", topics, group_id, transactional_prefix=TRANSACTIONAL_PREFIX
        ),
    )
    return SecuredCluster(info, admin, service, group_id)


def _main(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


def _password(settings: KafkaSettings) -> str:
    value = dict(settings.client_properties)["sasl.password"]
    assert isinstance(value, Secret)
    return value.reveal()


@pytest.mark.ray
@pytest.mark.slow
def test_serve_end_to_end_over_sasl_ssl_with_only_the_minimal_acls(
    ray_local: None, cluster: SecuredCluster, serve_model_dir: Path
) -> None:
    assert cluster.info.admin_config is not None
    limit = 150
    replayed = CliRunner().invoke(
        cli,
        [
            "replay",
            "--kafka-config",
            str(cluster.info.admin_config),
            "--features-topic",
            cluster.admin.features_topic,
            "--limit",
            str(limit),
            "--no-progress",
        ],
        auto_envvar_prefix=ENV_PREFIX,
    )
    assert replayed.exit_code == 0, replayed.output
    settings = serve_settings(
        cluster.service,
        serve_model_dir,
        group_id=cluster.group_id,
        transactional_id=f"{TRANSACTIONAL_PREFIX}{uuid.uuid4().hex[:8]}",
        max_messages=limit,
    )

    summary = run_service(settings)

    assert summary.stop_reason == "max_messages"
    assert summary.messages_in == limit
    assert summary.forecasts_out > 0
    # Read back read_committed (the consumer default) as the administrator.
    predictions = read_all(cluster.admin, cluster.admin.predictions_topic, summary.forecasts_out)
    assert len(predictions) == summary.forecasts_out
    ends = end_offsets(cluster.admin, cluster.admin.features_topic)
    committed = committed_offsets(cluster.admin, cluster.group_id, cluster.admin.features_topic)
    assert committed == {p: (end if end > 0 else None) for p, end in ends.items()}


def test_wrong_password_names_the_credentials_settings(
    cluster: SecuredCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cluster.info.client_config is not None
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "not-the-password")
    code, output = _main(
        ["topics", "list", "--kafka-config", str(cluster.info.client_config)], monkeypatch, capsys
    )
    assert code == 1, output
    lines = output.strip().splitlines()
    assert lines[-2].startswith("error: Kafka authentication failed"), output
    assert lines[-1].startswith("fix: check sasl.username and sasl.password"), output
    assert "Traceback" not in output
    assert "not-the-password" not in output
    assert _password(cluster.service) not in output


def test_untrusted_certificate_names_ssl_ca_location(
    cluster: SecuredCluster,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cluster.info.client_config is not None
    text = cluster.info.client_config.read_text()
    no_ca = tmp_path / "no-ca.properties"
    no_ca.write_text("".join(f"{line}\n" for line in text.splitlines() if "ssl.ca" not in line))
    code, output = _main(["topics", "list", "--kafka-config", str(no_ca)], monkeypatch, capsys)
    assert code == 1, output
    lines = output.strip().splitlines()
    assert lines[-2].startswith("error: TLS handshake with Kafka failed"), output
    assert lines[-1].startswith("fix: set ssl.ca.location"), output
    assert _password(cluster.service) not in output


def test_missing_transactional_id_acl_names_the_acl(cluster: SecuredCluster) -> None:
    producer = make_producer(cluster.service, transactional_id=f"other-{uuid.uuid4().hex[:6]}")
    with (
        pytest.raises(KafkaAccessError) as caught,
        kafka_errors(cluster.service.bootstrap_servers, "starting transactions", producer),
    ):
        producer.init_transactions(20)
    assert "transactional id" in caught.value.message
    assert caught.value.fix is not None
    assert "--transactional-id" in caught.value.fix


def test_missing_write_acl_on_predictions_names_the_acl(cluster: SecuredCluster) -> None:
    producer = make_producer(cluster.service)
    errors: list[object] = []
    producer.produce(
        cluster.service.features_topic,  # READ only: WRITE is not granted
        b"{}",
        on_delivery=lambda err, _msg: errors.append(err),
    )
    producer.flush(20)
    assert len(errors) == 1
    from confluent_kafka import KafkaError as ConfluentKafkaError

    from wxstream.kafka.clients import translate_kafka_error

    error = errors[0]
    assert isinstance(error, ConfluentKafkaError)
    translated = translate_kafka_error(error, cluster.service.bootstrap_servers)
    assert isinstance(translated, KafkaAccessError)
    assert translated.fix is not None
    assert "--operation WRITE --topic" in translated.fix
