"""TLS, SCRAM users and ACLs of the local broker when it runs secured
(``wxstream kafka start --security sasl_ssl``).

Everything lives under ``<data dir>/security`` (readable by the owner only)::

    ca.p12, ca.pem          a CA made for this broker (PEM: what clients trust)
    broker.p12              the broker's key and certificate (127.0.0.1, localhost)
    credentials.json        generated passwords (key stores, SCRAM users)
    admin.properties        client settings of the super user ``admin``
    client.properties       client settings of the user ``wxstream`` (ACLs only)

The certificates are made with the JDK's ``keytool`` (the broker needs a JDK anyway).
The client listener speaks SASL_SSL (SCRAM-SHA-512) and the StandardAuthorizer is on.
The KRaft controller listener stays PLAINTEXT on the loopback address with its
anonymous principal a super user (the broker registers itself over it): a local
development broker trusts local processes, a production cluster must not.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wxstream.errors import BrokerError, DependencyMissingError
from wxstream.settings import ClientProperty, Secret

ADMIN_USER = "admin"
SERVICE_USER = "wxstream"
SCRAM_MECHANISM = "SCRAM-SHA-512"
_KEYTOOL_TIMEOUT_S = 60.0
_VALIDITY_DAYS = "3650"


@dataclass(frozen=True)
class BrokerCredentials:
    """The generated passwords of one secured broker."""

    store_password: Secret
    admin_password: Secret
    service_password: Secret


class BrokerSecurity:
    """The security files of a local broker in ``data_dir / "security"``."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "security"
        self.ca_store = self.dir / "ca.p12"
        self.ca_pem = self.dir / "ca.pem"
        self.broker_store = self.dir / "broker.p12"
        self.credentials_path = self.dir / "credentials.json"
        self.admin_properties = self.dir / "admin.properties"
        self.client_properties = self.dir / "client.properties"

    def ensure(self, java: str, host: str) -> BrokerCredentials:
        """Credentials and certificates, made on first use and kept afterwards."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        credentials = self._load_credentials()
        if credentials is None:
            credentials = BrokerCredentials(
                Secret(secrets.token_urlsafe(18)),
                Secret(secrets.token_urlsafe(18)),
                Secret(secrets.token_urlsafe(18)),
            )
            _write_private(
                self.credentials_path,
                json.dumps(
                    {
                        "store_password": credentials.store_password.reveal(),
                        "admin_password": credentials.admin_password.reveal(),
                        "service_password": credentials.service_password.reveal(),
                    }
                ),
            )
        if not (self.broker_store.is_file() and self.ca_pem.is_file()):
            self._make_certificates(_keytool(java), host, credentials.store_password)
        return credentials

    def credentials(self) -> BrokerCredentials:
        """The stored credentials (raises :class:`BrokerError` when there are none)."""
        found = self._load_credentials()
        if found is None:
            raise BrokerError(
                f"no credentials of a secured broker in {self.dir}",
                fix="start the broker with `wxstream kafka start --security sasl_ssl`",
            )
        return found

    def server_properties(
        self, credentials: BrokerCredentials, host: str, port: int, controller_port: int
    ) -> dict[str, str]:
        """The broker properties of the secured listener and the authorizer."""
        store = credentials.store_password.reveal()
        admin = credentials.admin_password.reveal()
        return {
            "listeners": f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": f"SASL_SSL://{host}:{port}",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "SASL_SSL",
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            f"listener.name.sasl_ssl.{SCRAM_MECHANISM.lower()}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN_USER}" password="{admin}";'
            ),
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.broker_store),
            "ssl.keystore.password": store,
            "ssl.key.password": store,
            "ssl.truststore.type": "PKCS12",
            "ssl.truststore.location": str(self.ca_store),
            "ssl.truststore.password": store,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            # ANONYMOUS: the broker's own requests on the loopback controller listener.
            "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
        }

    def scram_format_args(self, credentials: BrokerCredentials) -> list[str]:
        """``kafka-storage format`` arguments creating the SCRAM users."""
        users = (
            (ADMIN_USER, credentials.admin_password),
            (SERVICE_USER, credentials.service_password),
        )
        args: list[str] = []
        for name, password in users:
            args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password.reveal()}]"]
        return args

    def client_settings(self, user: str = ADMIN_USER) -> tuple[ClientProperty, ...]:
        """Client properties of ``user`` (``admin`` or ``wxstream``)."""
        credentials = self.credentials()
        password = (
            credentials.admin_password if user == ADMIN_USER else credentials.service_password
        )
        return (
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", SCRAM_MECHANISM),
            ("sasl.username", user),
            ("sasl.password", password),
            ("ssl.ca.location", str(self.ca_pem)),
        )

    def write_client_files(self, bootstrap_servers: str) -> None:
        """``admin.properties`` and ``client.properties`` for ``--kafka-config``."""
        for path, user in (
            (self.admin_properties, ADMIN_USER),
            (self.client_properties, SERVICE_USER),
        ):
            lines = [
                f"# Client settings of the user {user} of the local secured broker.",
                f"bootstrap.servers={bootstrap_servers}",
            ]
            for key, value in self.client_settings(user):
                text = value.reveal() if isinstance(value, Secret) else value
                lines.append(f"{key}={text}")
            _write_private(path, "\n".join(lines) + "\n")

    def _load_credentials(self) -> BrokerCredentials | None:
        try:
            loaded = json.loads(self.credentials_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return BrokerCredentials(
            Secret(str(loaded["store_password"])),
            Secret(str(loaded["admin_password"])),
            Secret(str(loaded["service_password"])),
        )

    def _make_certificates(self, keytool: str, host: str, password: Secret) -> None:
        for path in (self.ca_store, self.broker_store, self.ca_pem):
            path.unlink(missing_ok=True)
        store = ["-storetype", "PKCS12", "-storepass", password.reveal()]
        csr = self.dir / "broker.csr"
        signed = self.dir / "broker.pem"
        common = ["-keyalg", "RSA", "-keysize", "2048", "-validity", _VALIDITY_DAYS]
        san = f"SAN=IP:{host},DNS:localhost" if host[:1].isdigit() else f"SAN=DNS:{host}"
        steps = [
            [
                "-genkeypair",
                "-alias",
                "ca",
                "-dname",
                "CN=wxstream local CA",
                *common,
                "-ext",
                "bc:c",
                "-keystore",
                str(self.ca_store),
                *store,
            ],
            [
                "-exportcert",
                "-rfc",
                "-alias",
                "ca",
                "-keystore",
                str(self.ca_store),
                *store,
                "-file",
                str(self.ca_pem),
            ],
            [
                "-genkeypair",
                "-alias",
                "broker",
                "-dname",
                "CN=localhost",
                *common,
                "-keystore",
                str(self.broker_store),
                *store,
            ],
            [
                "-certreq",
                "-alias",
                "broker",
                "-keystore",
                str(self.broker_store),
                *store,
                "-file",
                str(csr),
            ],
            [
                "-gencert",
                "-rfc",
                "-alias",
                "ca",
                "-keystore",
                str(self.ca_store),
                *store,
                "-infile",
                str(csr),
                "-outfile",
                str(signed),
                "-validity",
                _VALIDITY_DAYS,
                "-ext",
                san,
                "-ext",
                "EKU=serverAuth,clientAuth",
            ],
            [
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                str(self.ca_pem),
                "-keystore",
                str(self.broker_store),
                *store,
            ],
            [
                "-importcert",
                "-alias",
                "broker",
                "-file",
                str(signed),
                "-keystore",
                str(self.broker_store),
                *store,
            ],
        ]
        for step in steps:
            _run_keytool(keytool, step)
        csr.unlink(missing_ok=True)
        signed.unlink(missing_ok=True)


def _keytool(java: str) -> str:
    beside = Path(java).resolve().with_name("keytool")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("keytool")
    if found is None:
        raise DependencyMissingError(
            "keytool (part of the JDK) was not found; the secured broker needs it for its "
            "certificates",
            fix="install a Java 17 JDK (e.g. `apt-get install openjdk-17-jdk-headless`)",
        )
    return found


def _run_keytool(keytool: str, args: list[str]) -> None:
    try:
        done = subprocess.run(
            [keytool, *args],
            capture_output=True,
            text=True,
            timeout=_KEYTOOL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BrokerError(
            f"keytool {args[0]} did not finish within {_KEYTOOL_TIMEOUT_S:.0f} s",
            fix="check that the machine is not overloaded, then retry",
        ) from exc
    if done.returncode != 0:
        # keytool's output names files and aliases, never the store password.
        raise BrokerError(
            f"keytool {args[0]} failed: {(done.stdout + done.stderr).strip()[-500:]}",
            fix="remove the security folder of the broker's data directory and start again",
        )


def _write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(text)
