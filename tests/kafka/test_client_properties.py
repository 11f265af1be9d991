"""Client security settings: the properties file, the variables, librdkafka's verdict
on them, and credentials that never show (repr, errors, help, logs, status JSON)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from wxstream.cli import ENV_PREFIX, cli, main
from wxstream.errors import ConfigError
from wxstream.kafka.client_properties import (
    bootstrap_from_file,
    client_properties,
    read_properties_file,
    reveal,
)
from wxstream.kafka.clients import base_config, consumer_config, producer_config
from wxstream.settings import KafkaSettings, Secret, ServeSettings

PASSWORD = "pa55-Not-Shown-7f3c"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "client.properties"
    path.write_text(text, encoding="utf-8")
    return path


def test_properties_file_as_kafka_users_write_it(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "# Confluent-style client.properties\n"
        "bootstrap.servers=broker-1:9093,broker-2:9093\n"
        "security.protocol = SASL_SSL\n"
        "! another comment style\n"
        "sasl.mechanisms: SCRAM-SHA-512\n"
        "sasl.username=svc-forecast\n"
        f"sasl.password={PASSWORD}\n"
        "client.id=wx\\\n"
        "stream\n"
        "\n",
    )
    pairs = read_properties_file(path)
    assert pairs == [
        ("bootstrap.servers", "broker-1:9093,broker-2:9093"),
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanisms", "SCRAM-SHA-512"),
        ("sasl.username", "svc-forecast"),
        ("sasl.password", PASSWORD),
        ("client.id", "wxstream"),
    ]
    assert bootstrap_from_file(pairs) == "broker-1:9093,broker-2:9093"
    properties = dict(client_properties(pairs, {}))
    assert "bootstrap.servers" not in properties
    assert properties["security.protocol"] == "SASL_SSL"
    assert isinstance(properties["sasl.password"], Secret)
    assert properties["sasl.username"] == "svc-forecast"


def test_variables_override_the_file_and_secrets_are_wrapped() -> None:
    properties = client_properties(
        [("security.protocol", "SASL_PLAINTEXT"), ("sasl.mechanism", "PLAIN")],
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "KAFKA_SASL_USERNAME": "svc",
            "KAFKA_SASL_PASSWORD": PASSWORD,
            "KAFKA_SSL_KEY_PASSWORD": PASSWORD + "-key",
            "KAFKA_SSL_CA_LOCATION": None,
        },
    )
    found = dict(properties)
    assert found["security.protocol"] == "SASL_SSL"
    assert found["sasl.mechanism"] == "SCRAM-SHA-256"
    assert isinstance(found["sasl.password"], Secret)
    assert isinstance(found["ssl.key.password"], Secret)
    assert "ssl.ca.location" not in found
    assert reveal(properties)["sasl.password"] == PASSWORD


def test_java_jaas_login_becomes_username_and_password() -> None:
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="svc" password="{PASSWORD}";'
    )
    found = dict(client_properties([("sasl.jaas.config", jaas)], {}))
    assert found["sasl.username"] == "svc"
    assert found["sasl.password"] == Secret(PASSWORD)
    assert "sasl.jaas.config" not in found


def test_untranslatable_jaas_login_is_a_clear_error_without_the_secret() -> None:
    jaas = (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        f'clientSecret="{PASSWORD}";'
    )
    with pytest.raises(ConfigError) as caught:
        client_properties([("sasl.jaas.config", jaas)], {})
    assert "sasl.jaas.config" in caught.value.message
    assert PASSWORD not in caught.value.message
    assert caught.value.fix is not None
    assert "sasl.oauthbearer" in caught.value.fix


def test_unknown_key_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        client_properties([("ssl.endpoint.identification", "https")], {}, source="c.properties")
    assert "c.properties" in caught.value.message
    assert "ssl.endpoint.identification" in caught.value.message
    assert caught.value.fix is not None
    assert "librdkafka" in caught.value.fix


def test_invalid_value_is_an_error_naming_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        client_properties([], {"KAFKA_SECURITY_PROTOCOL": "TLS"})
    assert "security.protocol" in caught.value.message


def test_java_truststore_points_at_ssl_ca_location() -> None:
    with pytest.raises(ConfigError) as caught:
        client_properties([("ssl.truststore.location", "/etc/kafka/truststore.jks")], {})
    assert caught.value.fix is not None
    assert "ssl.ca.location" in caught.value.fix


def test_sasl_without_mechanism_asks_for_one() -> None:
    with pytest.raises(ConfigError) as caught:
        client_properties([], {"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
    assert caught.value.fix is not None
    assert "KAFKA_SASL_MECHANISM" in caught.value.fix


@pytest.mark.parametrize("key", ["group.id", "transactional.id", "isolation.level"])
def test_keys_the_guarantees_depend_on_cannot_be_overridden(key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        client_properties([(key, "x")], {})
    assert key in caught.value.message


def test_oauthbearer_is_accepted() -> None:
    found = dict(
        client_properties(
            [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "OAUTHBEARER"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.client.id", "wxstream"),
                ("sasl.oauthbearer.client.secret", PASSWORD),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp.example/token"),
            ],
            {},
        )
    )
    assert isinstance(found["sasl.oauthbearer.client.secret"], Secret)


def test_every_client_gets_the_properties_and_the_pipeline_keeps_its_own() -> None:
    settings = KafkaSettings(
        client_properties=client_properties(
            [("linger.ms", "50"), ("acks", "all")],
            {
                "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
                "KAFKA_SASL_MECHANISM": "PLAIN",
                "KAFKA_SASL_USERNAME": "svc",
                "KAFKA_SASL_PASSWORD": PASSWORD,
            },
        )
    )
    assert base_config(settings)["sasl.password"] == PASSWORD
    consumer = consumer_config(settings, "group")
    assert consumer["security.protocol"] == "SASL_SSL"
    assert consumer["isolation.level"] == "read_committed"
    producer = producer_config(settings, transactional_id="t")
    assert producer["acks"] == "all"
    assert producer["enable.idempotence"] is True
    assert settings.security_protocol == "SASL_SSL"


def test_secret_repr_and_settings_repr_hide_the_value() -> None:
    secret = Secret(PASSWORD)
    assert PASSWORD not in repr(secret)
    assert PASSWORD not in str(secret)
    assert PASSWORD not in f"{secret}"
    kafka = KafkaSettings(client_properties=(("sasl.password", secret),))
    assert PASSWORD not in repr(kafka)
    assert PASSWORD not in repr(ServeSettings(kafka=kafka))
    assert secret.reveal() == PASSWORD


def _invoke(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, env=env, auto_envvar_prefix=ENV_PREFIX)
    return result.exit_code, result.output


def _main(
    args: list[str],
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str]:
    """The real entry point: errors reported as ``error:`` / ``fix:`` lines."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exited:
        main(args)
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out + captured.err


def _sasl_env() -> dict[str, str]:
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "svc",
        "KAFKA_SASL_PASSWORD": PASSWORD,
    }


@pytest.mark.parametrize(
    "command", ["serve", "replay", "tail", "status", "topics create", "topics list"]
)
def test_every_kafka_command_takes_the_security_flags(command: str) -> None:
    code, output = _invoke([*command.split(), "--help"], _sasl_env())
    assert code == 0, output
    for flag in ("--kafka-config", "--security-protocol", "--sasl-password", "--ssl-ca-location"):
        assert flag in output
    assert "KAFKA_SASL_PASSWORD" in output
    assert PASSWORD not in output


def test_unknown_key_in_the_file_fails_the_command_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "security.protocol=SSL\nssl.truststore.type=JKS\n")
    code, output = _main(["topics", "list", "--kafka-config", str(path)], {}, monkeypatch, capsys)
    assert code == 2, output
    assert f"error: {path}: " in output
    assert "ssl.truststore.type" in output
    assert "fix: " in output
    assert "Traceback" not in output


def test_an_unreachable_secured_cluster_shows_no_secret(
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    env = _sasl_env() | {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    code, output = _main(["topics", "create", "--wait-s", "0.5"], env, monkeypatch, capsys)
    assert code == 1, output
    assert "error: Kafka at 127.0.0.1:1 did not answer" in output
    assert PASSWORD not in output
    assert PASSWORD not in caplog.text


def test_status_json_shows_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    env = _sasl_env() | {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    code, output = _invoke(["status", "--no-ray", "--json", "--timeout-s", "1"], env)
    assert code == 3, output
    assert '"reachable": false' in output
    assert PASSWORD not in output
    assert PASSWORD not in caplog.text
