"""The views of the ``weather-anomalies`` topic: one finding as a table line or JSON,
the findings a topic holds, and their counts per check and severity.

The shaping functions are pure; :func:`read_anomalies` reads the topic to its end
(``read_committed``: findings of aborted transactions never show).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from wxstream.kafka.topic_reader import read_topics
from wxstream.messages.anomalies import AnomalyMessage, decode_anomaly
from wxstream.messages.features import format_timestamp
from wxstream.settings import KafkaSettings

ANOMALY_HEADER = (
    f"{'hour (UTC)':<16}  {'station':<10} {'variable':<12} {'check':<27} "
    f"{'severity':<8} {'score':>7} {'value':>7}"
)


def _number(value: float | None, spec: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    return format(value, spec)


def format_anomaly(message: AnomalyMessage) -> str:
    """One table line: hour, station, variable, check, severity, score, value."""
    a = message.anomaly
    return (
        f"{a.hour:%Y-%m-%d %H:%M}  {a.station_id:<10} {a.variable:<12} {a.check:<27} "
        f"{a.severity:<8} {_number(a.score, '7.2f'):>7} {_number(message.value, '7.1f'):>7}"
    )


def anomaly_json(message: AnomalyMessage) -> dict[str, Any]:
    """One finding as a JSON-ready dict (non-finite numbers as ``None``)."""
    a = message.anomaly
    return {
        "station_id": a.station_id,
        "hour": format_timestamp(a.hour),
        "variable": a.variable,
        "check": a.check,
        "severity": a.severity,
        "score": a.score if math.isfinite(a.score) else None,
        "value": message.value,
        "source": {
            "topic": message.source.topic,
            "partition": message.source.partition,
            "offset": message.source.offset,
        },
        "detected_at": format_timestamp(message.detected_at),
    }


def anomaly_line_json(message: AnomalyMessage) -> str:
    """:func:`anomaly_json` as one compact line (``wxstream tail --anomalies --json``)."""
    return json.dumps(anomaly_json(message), separators=(",", ":"))


@dataclass(frozen=True)
class AnomalyReport:
    """Findings in the anomalies topic, by check and by severity.

    ``complete`` is ``False`` when counting stopped at its limit or timeout; the counts
    are then a lower bound. ``undecodable`` counts records that are not findings.
    """

    topic: str
    records: int
    by_check: dict[str, int] = field(default_factory=dict)
    by_severity: dict[str, int] = field(default_factory=dict)
    undecodable: int = 0
    complete: bool = True


def count_anomalies(
    topic: str, findings: Sequence[AnomalyMessage], *, undecodable: int = 0, complete: bool = True
) -> AnomalyReport:
    """The counts of :class:`AnomalyReport` over decoded findings."""
    checks = Counter(f.anomaly.check for f in findings)
    severities = Counter(f.anomaly.severity for f in findings)
    return AnomalyReport(
        topic=topic,
        records=len(findings) + undecodable,
        by_check=dict(sorted(checks.items())),
        by_severity=dict(sorted(severities.items())),
        undecodable=undecodable,
        complete=complete,
    )


def anomaly_status_line(report: AnomalyReport) -> str:
    """The ``wxstream status`` line: findings in the topic, per check and per severity."""
    checks = ", ".join(f"{check} {n}" for check, n in report.by_check.items()) or "-"
    severities = ", ".join(f"{s} {n}" for s, n in report.by_severity.items()) or "-"
    more = "" if report.complete else "+ (counting stopped early)"
    bad = f"; {report.undecodable} undecodable" if report.undecodable else ""
    return (
        f"anomalies {report.topic}: {report.records}{more} finding(s); by check: {checks}; "
        f"by severity: {severities}{bad}"
    )


def anomaly_marks(
    findings: Iterable[AnomalyMessage], observed: pd.DataFrame, station_id: str
) -> pd.DataFrame:
    """Where to mark a station's findings on its observed series (``time`` and
    ``temperature_c`` of :func:`~wxstream.models.plots.observed_series`): one row per
    observed hour with findings, its worst ``severity`` and its ``checks``. Findings of
    hours outside ``observed`` (another period, or hours never observed) are left out."""
    worst: dict[pd.Timestamp, str] = {}
    checks: dict[pd.Timestamp, set[str]] = {}
    for finding in findings:
        a = finding.anomaly
        if a.station_id != station_id:
            continue
        hour = pd.Timestamp(a.hour)
        if worst.get(hour) != "bad":
            worst[hour] = a.severity
        checks.setdefault(hour, set()).add(a.check)
    found = pd.DataFrame(
        {
            "time": pd.to_datetime(list(worst), utc=True),
            "severity": list(worst.values()),
            "checks": [",".join(sorted(checks[h])) for h in worst],
        }
    )
    marks = observed[["time", "temperature_c"]].merge(found, on="time", how="inner")
    return marks.sort_values("time").reset_index(drop=True)


@dataclass(frozen=True)
class AnomaliesRead:
    """The findings :func:`read_anomalies` decoded, what it could not, and whether the
    topic was read to its end."""

    findings: tuple[AnomalyMessage, ...]
    undecodable: int
    complete: bool


def decode_all(values: Iterable[bytes | None]) -> tuple[list[AnomalyMessage], int]:
    """Decoded findings and the count of values that are not findings."""
    findings: list[AnomalyMessage] = []
    bad = 0
    for value in values:
        decoded = decode_anomaly(value)
        if isinstance(decoded, AnomalyMessage):
            findings.append(decoded)
        else:
            bad += 1
    return findings, bad


def read_anomalies(
    settings: KafkaSettings,
    *,
    timeout_s: float = 30.0,
    limit: int | None = None,
    expected: int = 0,
) -> AnomaliesRead:
    """Every finding in ``settings.anomalies_topic`` up to its end (``read_committed``).

    Raises:
        TopicMissingError: the topic does not exist.
        KafkaUnavailableError: Kafka does not answer.
    """
    read = read_topics(
        settings,
        [settings.anomalies_topic],
        timeout_s=timeout_s,
        limit=limit,
        expected=expected,
    )
    findings, bad = decode_all(message.value() for message in read.records)
    return AnomaliesRead(tuple(findings), bad, read.complete)


def load_anomalies_file(text: str) -> list[AnomalyMessage]:
    """Findings from a JSON file: a list of wire-format objects (as
    ``wxstream tail --anomalies --json`` prints them, one per line, or as one array).

    Raises:
        ValueError: an entry is not a finding.
    """
    stripped = text.strip()
    if not stripped:
        return []
    if stripped.startswith("["):
        entries = [json.dumps(entry) for entry in json.loads(stripped)]
    else:
        entries = [line for line in stripped.splitlines() if line.strip()]
    findings: list[AnomalyMessage] = []
    for i, entry in enumerate(entries, start=1):
        obj = json.loads(entry)
        # A hand-written file may leave out where and when a finding was made.
        obj.setdefault("detected_at", obj.get("hour"))
        obj.setdefault("source", {"topic": "file", "partition": 0, "offset": i})
        decoded = decode_anomaly(json.dumps(obj).encode())
        if not isinstance(decoded, AnomalyMessage):
            raise ValueError(f"entry {i}: {decoded.detail}")
        findings.append(decoded)
    return findings
