"""Kafka client properties: the ``key=value`` file Kafka users keep for their clients,
and the security settings given as environment variables, turned into the librdkafka
properties every client of the project gets (:attr:`KafkaSettings.client_properties`).

Credentials are wrapped in :class:`~wxstream.settings.Secret` as soon as they are read,
so no log line, error message or ``repr`` of the settings can show them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka import KafkaException, Producer

from wxstream.errors import ConfigError
from wxstream.settings import ClientProperty, Secret

logger = logging.getLogger(__name__)

# Keys whose value is a credential (librdkafka names).
_SECRET_KEYS = frozenset(
    {
        "sasl.password",
        "ssl.key.password",
        "ssl.keystore.password",
        "ssl.key.pem",
        "sasl.oauthbearer.client.secret",
        "sasl.oauthbearer.config",
        "sasl.jaas.config",
    }
)

# Keys wxstream sets itself on each client: its delivery guarantees depend on them, so
# a properties file may not change them.
RESERVED_KEYS = frozenset(
    {
        "group.id",
        "transactional.id",
        "enable.idempotence",
        "isolation.level",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "enable.partition.eof",
    }
)

# The settings a container gives as environment variables, each a librdkafka property.
ENV_PROPERTIES: Mapping[str, str] = {
    "KAFKA_SECURITY_PROTOCOL": "security.protocol",
    "KAFKA_SASL_MECHANISM": "sasl.mechanism",
    "KAFKA_SASL_USERNAME": "sasl.username",
    "KAFKA_SASL_PASSWORD": "sasl.password",
    "KAFKA_SSL_CA_LOCATION": "ssl.ca.location",
    "KAFKA_SSL_CERTIFICATE_LOCATION": "ssl.certificate.location",
    "KAFKA_SSL_KEY_LOCATION": "ssl.key.location",
    "KAFKA_SSL_KEY_PASSWORD": "ssl.key.password",
}

_JAAS = re.compile(
    r"org\.apache\.kafka\.common\.security\.(?:plain\.PlainLoginModule|scram\.ScramLoginModule)"
    r"\s+required\s+(?P<options>.*?);?\s*$",
    re.DOTALL,
)
_JAAS_OPTION = re.compile(r"""(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'|(\S+))""")


def is_secret_key(key: str) -> bool:
    """True when the value of ``key`` is a credential."""
    return key in _SECRET_KEYS or key.endswith((".password", ".secret"))


def wrap(key: str, value: str) -> ClientProperty:
    """``(key, value)`` with the value a :class:`Secret` where ``key`` holds a credential."""
    return (key, Secret(value) if is_secret_key(key) else value)


def reveal(properties: Iterable[ClientProperty]) -> dict[str, str]:
    """The properties as librdkafka takes them (credentials revealed)."""
    return {
        key: value.reveal() if isinstance(value, Secret) else value for key, value in properties
    }


def read_properties_file(path: Path) -> list[tuple[str, str]]:
    """``key=value`` pairs of a Java-style properties file, in order.

    Lines starting with ``#`` or ``!`` are comments; ``key: value`` works too; a line
    ending in ``\\`` continues on the next one.

    Raises:
        ConfigError: the file cannot be read, or a line has no key.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the Kafka client properties file {path}: {exc.strerror}",
            fix="point --kafka-config (KAFKA_CONFIG) at a readable key=value file",
        ) from exc
    pairs: list[tuple[str, str]] = []
    pending = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1]
            continue
        pending = ""
        if not line or line[0] in "#!":
            continue
        match = re.match(r"([^=:\s]+)\s*[=:\s]\s*(.*)$", line)
        if match is None:
            raise ConfigError(
                f"{path}:{number}: expected key=value, found a key without a value",
                fix="write each Kafka client property as key=value",
            )
        pairs.append((match.group(1), match.group(2)))
    return pairs


def jaas_credentials(value: Secret) -> tuple[str, Secret]:
    """(username, password) of a Java ``sasl.jaas.config`` for PLAIN or SCRAM.

    Raises:
        ConfigError: another login module (or no username/password in it).
    """
    match = _JAAS.match(value.reveal().strip())
    options: dict[str, str] = {}
    if match is not None:
        for name, double, single, bare in _JAAS_OPTION.findall(match.group("options")):
            options[name] = double or single or bare
    if "username" not in options or "password" not in options:
        raise ConfigError(
            "sasl.jaas.config: only the PLAIN and SCRAM login modules with username and "
            "password can be translated for librdkafka",
            fix="set sasl.username and sasl.password instead (for OAUTHBEARER: "
            "sasl.oauthbearer.method=oidc and the sasl.oauthbearer.* properties)",
        )
    return options["username"], Secret(options["password"])


def client_properties(
    file_pairs: Iterable[tuple[str, str]],
    variables: Mapping[str, str | None],
    *,
    source: str = "client properties",
) -> tuple[ClientProperty, ...]:
    """The librdkafka properties of every client: ``file_pairs`` (a properties file),
    then ``variables`` (env name in :data:`ENV_PROPERTIES` -> value, ``None``: unset)
    over them. Java-only JAAS logins are translated to ``sasl.username`` /
    ``sasl.password``; ``bootstrap.servers`` is left out (the CLI chooses it).

    Raises:
        ConfigError: a key wxstream sets itself, an untranslatable JAAS config, or a
            key or value librdkafka rejects (see :func:`check_properties`).
    """
    merged: dict[str, str | Secret] = {}
    for key, text in file_pairs:
        if key in RESERVED_KEYS or (key == "acks" and text not in ("all", "-1")):
            raise ConfigError(
                f"{source}: {key} is set by wxstream itself (its delivery guarantees depend on it)",
                fix=f"remove {key} from the Kafka client properties",
            )
        if key == "bootstrap.servers":
            continue
        if key == "sasl.jaas.config":
            username, password = jaas_credentials(Secret(text))
            merged["sasl.username"], merged["sasl.password"] = username, password
            continue
        merged[key] = wrap(key, text)[1]
    for variable, value in variables.items():
        if value:
            key = ENV_PROPERTIES[variable]
            merged[key] = wrap(key, value)[1]
    properties = tuple(merged.items())
    check_properties(properties, source=source)
    return properties


def bootstrap_from_file(file_pairs: Iterable[tuple[str, str]]) -> str | None:
    """``bootstrap.servers`` of a properties file, if it names one."""
    found = [value for key, value in file_pairs if key == "bootstrap.servers"]
    return found[-1] if found else None


def check_properties(properties: tuple[ClientProperty, ...], *, source: str) -> None:
    """Let librdkafka judge every key and value now, before any connection, so a typo
    fails at start-up with the key named rather than deep inside the service.

    Raises:
        ConfigError: naming the key (never a credential's value).
    """
    config: dict[str, object] = {"log_level": 0, **reveal(properties)}
    try:
        # A client without bootstrap servers connects nowhere; it only parses.
        Producer(config)
    except KafkaException as exc:
        error = exc.args[0] if exc.args else exc
        reason = error.str() if isinstance(error, ConfluentKafkaError) else str(error)
        raise ConfigError(
            f"{source}: {scrub(reason, properties)}", fix=_check_fix(reason)
        ) from None


def scrub(text: str, properties: Iterable[ClientProperty]) -> str:
    """``text`` with every credential value of ``properties`` replaced by ``********``."""
    for _, value in properties:
        if isinstance(value, Secret) and value.reveal():
            text = text.replace(value.reveal(), str(value))
    return text


def _check_fix(reason: str) -> str:
    if "No such configuration property" in reason:
        return (
            "remove the property or spell it as librdkafka does (see librdkafka's "
            "CONFIGURATION.md); Java-only client properties have no librdkafka equivalent"
        )
    if "GSSAPI" in reason:
        return (
            "set sasl.mechanism (KAFKA_SASL_MECHANISM) to PLAIN, SCRAM-SHA-256, "
            "SCRAM-SHA-512 or OAUTHBEARER"
        )
    if "TrustStore" in reason:
        return "export the CA certificate as PEM and set ssl.ca.location (KAFKA_SSL_CA_LOCATION)"
    return "correct the property named above"
