"""The embedded single-node Apache Kafka broker (KRaft, broker and controller in one JVM).

:class:`LocalBroker` is what ``wxstream kafka start|stop|status`` and the test fixture
use. Everything the broker owns lives in its data directory::

    server.properties   generated configuration
    log4j2.xml          logging configuration (copied from the package)
    broker.log          the JVM's stdout and stderr
    broker.pid          pid of the running JVM
    broker.json         ports of the running (or last) broker, read by stop and status
    kraft/              the formatted log directory (metadata and topic data)
    security/           secured broker only: CA, key store, passwords, client settings
                        (see :mod:`wxstream.kafka.broker_security`)

One node of a multi-node cluster (:mod:`wxstream.kafka.cluster`) is a ``LocalBroker``
given a :class:`NodeTopology`: its node id, the static controller quorum it votes in,
the cluster id all nodes are formatted with, and the cluster's replication defaults.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import json
import logging
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from wxstream.errors import BrokerError
from wxstream.kafka import jars
from wxstream.kafka.admin import probe_broker
from wxstream.kafka.broker_security import BrokerCredentials, BrokerSecurity
from wxstream.kafka.node_properties import NodeTopology, node_properties
from wxstream.kafka.process import (
    PID_FILE,
    PROPERTIES_FILE,
    broker_process,
    free_port,
    process_alive,
    read_pid,
    require_free_port,
    spawn_detached,
    terminate,
    wait_gone,
)
from wxstream.settings import BrokerSettings, ClientProperty

logger = logging.getLogger(__name__)

_LOG_TAIL_LINES = 30
_POLL_INTERVAL_S = 0.25
_TOOL_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class BrokerInfo:
    """A running local broker."""

    pid: int
    bootstrap_servers: str
    controller_port: int
    data_dir: Path
    log_path: Path
    already_running: bool  # True: start() found it running and started nothing
    startup_s: float  # seconds start() waited for it to answer
    # Secured broker: client settings of the super user and of the service user.
    admin_config: Path | None = None
    client_config: Path | None = None


@dataclass(frozen=True)
class BrokerStatus:
    """What :meth:`LocalBroker.status` found."""

    running: bool
    pid: int | None
    bootstrap_servers: str
    log_path: Path
    answering: bool  # the broker answered a metadata request


class LocalBroker:
    """Fetch, format, start, stop and inspect the local broker described by ``settings``."""

    def __init__(self, settings: BrokerSettings, topology: NodeTopology | None = None) -> None:
        self.settings = settings
        self.topology = topology
        self.data_dir = settings.data_dir
        self.properties_path = self.data_dir / PROPERTIES_FILE
        self.log4j_path = self.data_dir / "log4j2.xml"
        self.log_path = self.data_dir / "broker.log"
        self.pid_path = self.data_dir / PID_FILE
        self.state_path = self.data_dir / "broker.json"
        self.kraft_dir = self.data_dir / "kraft"
        self.security = BrokerSecurity(self.data_dir)

    @property
    def secured(self) -> bool:
        """True when the broker of this data directory runs (or last ran) secured."""
        recorded = self._read_state().get("security")
        return (recorded or self.settings.security) == "sasl_ssl"

    def admin_client_properties(self) -> tuple[ClientProperty, ...]:
        """Client settings with which the broker answers its super user (none when
        it is not secured)."""
        return self.security.client_settings() if self.secured else ()

    def fetch(self, *, force: bool = False) -> jars.FetchResult:
        """Fetch the broker jars into the cache (nothing to do when cached)."""
        return jars.fetch_jars(self.settings, force=force)

    def start(self) -> BrokerInfo:
        """Start the broker and return once it answers a metadata request.

        Idempotent: a broker already running from this data directory is reported, not
        started twice.

        Raises:
            PortInUseError: the client or controller port is taken by another process.
            DependencyMissingError: java (or, for a first fetch, mvn) is missing.
            BrokerError: formatting failed, the JVM exited early or did not answer.
        """
        running = self._running_process()
        if running is not None:
            return self._report_running(running)
        java = self.prepare()
        started = time.monotonic()
        pid = self.spawn(java)
        return self.await_answer(pid, started)

    def prepare(self) -> str:
        """Check the ports, write the configuration and format the storage (when not
        yet formatted) without starting the JVM; returns the java to launch it with.

        The nodes of a cluster are prepared and spawned one by one, then awaited
        together: no node answers before a majority of the controllers runs.
        """
        self.pid_path.unlink(missing_ok=True)
        java = jars.find_java(self.settings)
        jars.require_jars(self.settings)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        require_free_port(self.settings.host, self.settings.port, "client")
        formatted = (self.kraft_dir / "meta.properties").is_file()
        recorded = self._read_state().get("security", "plaintext")
        if formatted and recorded != self.settings.security:
            raise BrokerError(
                f"the storage in {self.kraft_dir} was formatted for a {recorded} broker, "
                f"not {self.settings.security}",
                fix=f"start it as it was formatted, or remove {self.data_dir} to start afresh",
            )
        credentials = None
        if self.settings.security == "sasl_ssl":
            credentials = self.security.ensure(java, self.settings.host)
        self._write_config(self._controller_port(), credentials)
        if not formatted:
            self._format_storage(java, credentials)
        return java

    def kill(self) -> bool:
        """SIGKILL the JVM (a crash, not a shutdown); False when none ran."""
        process = self._running_process()
        if process is None:
            return False
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
        if not wait_gone(process, 10.0):
            raise BrokerError(
                f"the Kafka broker (pid {process.pid}) survived SIGKILL",
                fix=f"check the process with `ps -p {process.pid}`",
            )
        self.pid_path.unlink(missing_ok=True)
        logger.info("killed the Kafka broker (pid %d)", process.pid)
        return True

    @property
    def pid(self) -> int | None:
        """Pid of the running JVM (None: not running)."""
        process = self._running_process()
        return process.pid if process is not None else None

    def stop(self) -> bool:
        """Stop the broker: SIGTERM, then SIGKILL after ``stop_timeout_s``.

        Returns False when no broker was running. Raises :class:`BrokerError` when the
        process survives even SIGKILL.
        """
        process = self._running_process()
        if process is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        pid = process.pid
        logger.info("stopping the Kafka broker (pid %d)", pid)
        terminate(process, self.settings.stop_timeout_s)
        self.pid_path.unlink(missing_ok=True)
        logger.info("the Kafka broker (pid %d) stopped", pid)
        return True

    def status(self) -> BrokerStatus:
        """Whether the broker of this data directory runs, and where it listens."""
        process = self._running_process()
        bootstrap = self._recorded_bootstrap()
        answering = process is not None and probe_broker(
            bootstrap, 2.0, self.admin_client_properties()
        )
        return BrokerStatus(
            running=process is not None,
            pid=process.pid if process is not None else None,
            bootstrap_servers=bootstrap,
            log_path=self.log_path,
            answering=answering,
        )

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of the broker log without Java stack frames
        ('' when there is no log)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        # Stack frames would push the one line that says what went wrong out of view.
        kept = [line for line in text.splitlines() if not _is_stack_frame(line)]
        return "\n".join(kept[-lines:])

    # -- internals -------------------------------------------------------------------

    def _running_process(self) -> psutil.Process | None:
        pid = read_pid(self.pid_path)
        # broker_process refuses a recycled pid that now runs something else.
        return broker_process(pid, self.data_dir) if pid is not None else None

    def _report_running(self, process: psutil.Process) -> BrokerInfo:
        bootstrap = self._recorded_bootstrap()
        started = time.monotonic()
        deadline = started + self.settings.start_timeout_s
        # It may still be starting up (a second `start` right after the first).
        while not probe_broker(bootstrap, 1.0, self.admin_client_properties()):
            if time.monotonic() >= deadline or not process.is_running():
                raise BrokerError(
                    f"a Kafka broker runs from {self.data_dir} (pid {process.pid}) "
                    f"but does not answer at {bootstrap}",
                    fix=f"see {self.log_path}; run `wxstream kafka stop "
                    f"--data-dir {self.data_dir}` and start it again",
                )
            time.sleep(_POLL_INTERVAL_S)
        return BrokerInfo(
            pid=process.pid,
            bootstrap_servers=bootstrap,
            controller_port=_as_int(self._read_state().get("controller_port"), 0),
            data_dir=self.data_dir,
            log_path=self.log_path,
            already_running=True,
            startup_s=time.monotonic() - started,
            **self._client_files(),
        )

    def _controller_port(self) -> int:
        if self.settings.controller_port is not None:
            port = self.settings.controller_port
        else:
            # A formatted log directory remembers the controller's endpoint; keep it.
            recorded = self._read_state().get("controller_port")
            formatted = (self.kraft_dir / "meta.properties").is_file()
            port = _as_int(recorded, 0) if formatted else 0
            port = port or free_port(self.settings.host)
        if port == self.settings.port:
            raise BrokerError(
                f"the controller port {port} equals the client port",
                fix="choose another --controller-port",
            )
        require_free_port(self.settings.host, port, "controller")
        return port

    def _write_config(self, controller_port: int, credentials: BrokerCredentials | None) -> None:
        host, port = self.settings.host, self.settings.port
        properties = node_properties(host, port, controller_port, self.kraft_dir, self.topology)
        if credentials is not None:
            properties.update(
                self.security.server_properties(credentials, host, port, controller_port)
            )
        lines = ["# Generated by `wxstream kafka start`; rewritten on every start."]
        lines += [f"{key}={value}" for key, value in properties.items()]
        # A secured broker's configuration holds passwords: owner only.
        self.properties_path.touch(mode=0o600, exist_ok=True)
        self.properties_path.chmod(0o600)
        self.properties_path.write_text("\n".join(lines) + "\n")
        config = importlib.resources.files("wxstream.kafka").joinpath("log4j2.xml")
        self.log4j_path.write_text(config.read_text())
        state = {
            "host": host,
            "port": port,
            "controller_port": controller_port,
            "security": self.settings.security,
        }
        self.state_path.write_text(json.dumps(state, indent=2) + "\n")

    def _java_command(
        self, java: str, main_class: str, *args: str, heap_mb: int, short_lived: bool = False
    ) -> list[str]:
        # The storage tool runs for a second: skip the optimizing compiler and G1 set-up.
        quick_start = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"] if short_lived else []
        return [
            java,
            *quick_start,
            f"-Xmx{heap_mb}m",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_path}",
            "-cp",
            jars.classpath(self.settings),
            main_class,
            *args,
        ]

    def _run_tool(self, java: str, *args: str) -> str:
        command = self._java_command(
            java, "kafka.tools.StorageTool", *args, heap_mb=256, short_lived=True
        )
        try:
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=_TOOL_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(
                f"kafka-storage {args[0]} did not finish within {_TOOL_TIMEOUT_S:.0f} s",
                fix="check that the machine is not overloaded, then retry",
            ) from exc
        if done.returncode != 0:
            raise BrokerError(
                f"kafka-storage {args[0]} failed (exit code {done.returncode}):\n"
                f"{(done.stdout + done.stderr).strip()[-2000:]}",
                fix=f"remove {self.kraft_dir} to start from empty storage, or run "
                "`wxstream kafka fetch --force`",
            )
        return done.stdout

    def random_cluster_id(self, java: str) -> str:
        """A new cluster id from ``kafka-storage random-uuid``."""
        return self._run_tool(java, "random-uuid").strip().splitlines()[-1].strip()

    def _format_storage(self, java: str, credentials: BrokerCredentials | None) -> None:
        if self.topology is not None:
            # Static voters: no --standalone / --initial-controllers; the shared id.
            logger.info("formatting %s for cluster %s", self.kraft_dir, self.topology.cluster_id)
            self._run_tool(
                java,
                "format",
                "--cluster-id",
                self.topology.cluster_id,
                "--config",
                str(self.properties_path),
            )
            return
        cluster_id = self.random_cluster_id(java)
        logger.info("formatting %s for cluster %s", self.kraft_dir, cluster_id)
        # SCRAM users must exist before the first start: nobody could log in otherwise.
        scram = self.security.scram_format_args(credentials) if credentials else []
        self._run_tool(
            java,
            "format",
            "--standalone",
            "--cluster-id",
            cluster_id,
            "--config",
            str(self.properties_path),
            *scram,
        )

    def spawn(self, java: str) -> int:
        """Launch the JVM of the prepared configuration; its pid (not yet answering)."""
        command = self._java_command(
            java, "kafka.Kafka", str(self.properties_path), heap_mb=self.settings.heap_mb
        )
        pid = spawn_detached(command, self.log_path)
        self.pid_path.write_text(f"{pid}\n")
        logger.info("started the Kafka broker (pid %d), log in %s", pid, self.log_path)
        return pid

    def await_answer(self, pid: int, started: float) -> BrokerInfo:
        """Wait until the JVM ``pid`` spawned at ``started`` (monotonic) answers a
        metadata request; stop it when it does not within ``start_timeout_s``."""
        controller_port = _as_int(self._read_state().get("controller_port"), 0)
        bootstrap = self.settings.bootstrap_servers
        deadline = started + self.settings.start_timeout_s
        while not probe_broker(bootstrap, 1.0, self.admin_client_properties()):
            if not process_alive(pid):
                self.pid_path.unlink(missing_ok=True)
                raise BrokerError(
                    f"the Kafka broker exited during start-up; last lines of "
                    f"{self.log_path}:\n{self.log_tail()}",
                    fix=f"read {self.log_path}; remove {self.kraft_dir} if the storage is "
                    "from another Kafka version or cluster",
                )
            if time.monotonic() >= deadline:
                self.stop()
                raise BrokerError(
                    f"the Kafka broker did not answer at {bootstrap} within "
                    f"{self.settings.start_timeout_s:.0f} s; last lines of "
                    f"{self.log_path}:\n{self.log_tail()}",
                    fix="raise --start-timeout-s on a slow machine, or read the log",
                )
            time.sleep(_POLL_INTERVAL_S)
        startup_s = time.monotonic() - started
        logger.info("the Kafka broker answers at %s after %.1f s", bootstrap, startup_s)
        return BrokerInfo(
            pid=pid,
            bootstrap_servers=bootstrap,
            controller_port=controller_port,
            data_dir=self.data_dir,
            log_path=self.log_path,
            already_running=False,
            startup_s=startup_s,
            **self._client_files(),
        )

    def _client_files(self) -> dict[str, Path]:
        if not self.secured:
            return {}
        self.security.write_client_files(self._recorded_bootstrap())
        return {
            "admin_config": self.security.admin_properties,
            "client_config": self.security.client_properties,
        }

    def _read_state(self) -> dict[str, object]:
        try:
            loaded = json.loads(self.state_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def _recorded_bootstrap(self) -> str:
        state = self._read_state()
        host = state.get("host", self.settings.host)
        port = state.get("port", self.settings.port)
        return f"{host}:{port}"


def _is_stack_frame(line: str) -> bool:
    stripped = line.lstrip()
    return line[:1] in (" ", "\t") and (
        stripped.startswith("at ") or (stripped.startswith("...") and "more" in stripped)
    )


def _as_int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
