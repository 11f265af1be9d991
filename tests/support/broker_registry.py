"""A per-user record of the Kafka brokers the test suite starts, so that a run killed
before its fixtures could stop them does not leave them running for good.

Every broker the suite starts gets a record (a small JSON file) in :data:`REGISTRY_DIR`
naming its data directory, its pid and the test process that owns it; the record goes
when the broker is stopped. At the start of the next run, :func:`stop_leftover_brokers`
stops the broker of every record whose owner is gone, by that broker's own pid file
(see :func:`wxstream.kafka.process.stop_broker_left_in`, which checks the process is
that broker before it signals anything). Records of a run that still goes on (another
checkout of the project, the same user) are left alone.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from wxstream.kafka.broker import BrokerInfo, LocalBroker
from wxstream.kafka.process import stop_broker_left_in
from wxstream.settings import BrokerSettings

REGISTRY_DIR = Path.home() / ".cache" / "wxstream" / "test-brokers"
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BrokerRecord:
    """One broker the suite started, and the test process that started it."""

    path: Path
    data_dir: Path
    owner_pid: int
    owner_started: float  # the owner's start time: a recycled pid is another process
    broker_pid: int | None

    def owner_alive(self) -> bool:
        """Whether the test process that started the broker still runs."""
        try:
            return bool(psutil.Process(self.owner_pid).create_time() == self.owner_started)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return False


def _write(path: Path, fields: dict[str, object]) -> None:
    # Write then rename: a run killed mid-write leaves no half record.
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(fields) + "\n")
    partial.replace(path)


def record_broker(registry: Path, data_dir: Path, broker_pid: int | None = None) -> Path:
    """Record that this process starts a broker from ``data_dir``; the record's path."""
    registry.mkdir(parents=True, exist_ok=True)
    me = psutil.Process(os.getpid())
    path = registry / f"{uuid.uuid4().hex}.json"
    fields: dict[str, object] = {
        "data_dir": str(data_dir),
        "owner_pid": me.pid,
        "owner_started": me.create_time(),
        "broker_pid": broker_pid,
    }
    _write(path, fields)
    return path


def note_broker_pid(path: Path, broker_pid: int) -> None:
    """Add the started broker's pid to the record in ``path`` (used should its data
    directory, pid file included, be removed while it runs)."""
    fields = json.loads(path.read_text())
    fields["broker_pid"] = broker_pid
    _write(path, fields)


def read_record(path: Path) -> BrokerRecord | None:
    """The record in ``path`` (None: unreadable or of another shape)."""
    try:
        fields = json.loads(path.read_text())
        broker_pid = fields.get("broker_pid")
        return BrokerRecord(
            path=path,
            data_dir=Path(fields["data_dir"]),
            owner_pid=int(fields["owner_pid"]),
            owner_started=float(fields["owner_started"]),
            broker_pid=int(broker_pid) if broker_pid is not None else None,
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None


def stop_leftover_brokers(registry: Path = REGISTRY_DIR) -> list[int]:
    """Stop the broker of every record in ``registry`` whose owner is gone and remove
    those records; the pids stopped."""
    stopped: list[int] = []
    for path in sorted(registry.glob("*.json")):
        record = read_record(path)
        if record is not None and record.owner_alive():
            continue
        if record is not None:
            pid = stop_broker_left_in(record.data_dir, STOP_TIMEOUT_S, record.broker_pid)
            if pid is not None:
                stopped.append(pid)
        path.unlink(missing_ok=True)
    return stopped


@contextlib.contextmanager
def registered_broker(
    settings: BrokerSettings, registry: Path = REGISTRY_DIR
) -> Iterator[tuple[LocalBroker, BrokerInfo]]:
    """Start the broker of ``settings`` under a record in ``registry``; stop it and drop
    the record on the way out."""
    broker = LocalBroker(settings)
    # Recorded before start: a run killed during start-up leaves the pid file behind.
    path = record_broker(registry, settings.data_dir)
    try:
        info = broker.start()
        note_broker_pid(path, info.pid)
        yield broker, info
    finally:
        broker.stop()
        path.unlink(missing_ok=True)
