"""The ``weather-anomalies`` message: one finding of the quality checks on the feature
stream, JSON, key = station id.

Wire format (one compact UTF-8 JSON object per record, fields in this order)::

    {"station_id":"EWR","hour":"2013-11-03T05:00:00Z","variable":"temperature",
     "check":"spike","score":2.31,"severity":"suspect","value":12.3,
     "source":{"topic":"weather-features","partition":0,"offset":1234},
     "detected_at":"2026-11-26T16:00:00.123Z"}

* ``hour`` is the ``window_start`` of the hourly window concerned.
* ``variable`` is a key of :data:`VARIABLES`, or ``time`` / ``record`` for checks of
  the message as a whole; ``check`` one of :data:`CHECKS`.
* ``score`` is how far past the limit, in the check's own unit (a ratio to the
  threshold for most checks: 1.0 is at the limit); ``severity`` is ``suspect`` (past the
  learnt limit) or ``bad`` (far past it, or impossible).
* ``value`` is the observed value of ``variable`` in that hour (``null`` when the
  check concerns the record, not one value).
* ``source`` names the input record that revealed the finding (for a spike, the hour
  after it), so a finding can be traced back and is unique per input record.

The finding itself, :class:`Anomaly`, is what every detector of
:mod:`wxstream.anomalies` returns; it lives here because it is what goes on the wire.
:func:`decode_anomaly` never raises.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from wxstream.messages.features import InvalidRecord, format_timestamp
from wxstream.messages.json_codec import (
    load_object,
    read_schema,
    schema_file,
    text_field,
    utc_field,
)

SCHEMA_RESOURCE: Final = "schemas/weather-anomalies.schema.json"

Severity = Literal["suspect", "bad"]
SEVERITIES: Final = ("suspect", "bad")

VARIABLES: Final[dict[str, str]] = {
    "temperature": "avg_temperature",
    "dewpoint": "avg_dewpoint",
    "wind_speed": "avg_wind_speed",
}
"""Checked variable -> the feature message field that carries it."""

RECORD_VARIABLES: Final = ("time", "record")
"""``variable`` of the checks that concern a whole record, not one value."""

CHECKS: Final = (
    "decode",  # the service's decoder refused the record (dead-letter topic)
    "range",
    "step",
    "spike",
    "flat_line",
    "dewpoint_above_temperature",
    "min_avg_max",
    "duplicate",
    "out_of_order",
    "gap",
    "forecast_residual",
    "neighbours",
)
"""Every :attr:`Anomaly.check` name."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One finding.

    Attributes:
        station_id: the station.
        hour: ``window_start`` of the hourly window concerned (UTC).
        variable: a key of :data:`VARIABLES`, or ``"time"`` / ``"record"``.
        check: one of :data:`CHECKS`.
        score: how far past the limit, in the check's own unit (a ratio to the
            threshold for most checks: 1.0 is at the limit).
        severity: ``suspect`` (past the learnt limit) or ``bad`` (far past it, or impossible).
    """

    station_id: str
    hour: datetime
    variable: str
    check: str
    score: float
    severity: Severity


@dataclass(frozen=True, slots=True)
class AnomalySource:
    """The input record that revealed a finding."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class AnomalyMessage:
    """A decoded ``weather-anomalies`` record (see the module docstring)."""

    anomaly: Anomaly
    value: float | None
    source: AnomalySource
    detected_at: datetime


def _number(value: float | None) -> str:
    # JSON has no NaN or infinity: a non-finite value is written as null.
    if value is None or not math.isfinite(value):
        return "null"
    return repr(float(value))


def encode_anomaly(
    anomaly: Anomaly, *, value: float | None, source: AnomalySource, detected_at: datetime
) -> bytes:
    """The compact JSON value of one finding (fields in the module docstring's order)."""
    return (
        f'{{"station_id":{json.dumps(anomaly.station_id)},'
        f'"hour":"{format_timestamp(anomaly.hour)}",'
        f'"variable":{json.dumps(anomaly.variable)},'
        f'"check":{json.dumps(anomaly.check)},'
        f'"score":{_number(anomaly.score)},'
        f'"severity":"{anomaly.severity}",'
        f'"value":{_number(value)},'
        f'"source":{{"topic":{json.dumps(source.topic)},'
        f'"partition":{int(source.partition)},"offset":{int(source.offset)}}},'
        f'"detected_at":"{_millis(detected_at)}"}}'
    ).encode()


def anomaly_key(anomaly: Anomaly) -> bytes:
    """The Kafka key: the station id (findings of one station stay in order)."""
    return anomaly.station_id.encode("utf-8")


def _millis(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _optional_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if type(value) not in (int, float):
        raise ValueError(f"{name} must be a number or null")
    return float(value)


def _source(value: Any) -> AnomalySource:
    if type(value) is not dict:
        raise ValueError("source must be an object")
    partition, offset = value.get("partition"), value.get("offset")
    if type(partition) is not int or type(offset) is not int:
        raise ValueError("source.partition and source.offset must be integers")
    return AnomalySource(topic=text_field(value, "topic"), partition=partition, offset=offset)


def decode_anomaly(raw: bytes | bytearray | memoryview | None) -> AnomalyMessage | InvalidRecord:
    """Decode one ``weather-anomalies`` value; never raises.

    Returns:
        the message, or an :class:`InvalidRecord` (``undecodable``, ``not_an_object`` or
        ``wrong_type``) naming the problem.
    """
    obj = load_object(raw)
    if isinstance(obj, InvalidRecord):
        return obj
    try:
        score = _optional_float(obj.get("score"), "score")
        anomaly = Anomaly(
            station_id=text_field(obj, "station_id"),
            hour=utc_field(obj.get("hour"), "hour"),
            variable=text_field(obj, "variable", (*VARIABLES, *RECORD_VARIABLES)),
            check=text_field(obj, "check", CHECKS),
            score=float("nan") if score is None else score,
            severity="bad" if text_field(obj, "severity", SEVERITIES) == "bad" else "suspect",
        )
        return AnomalyMessage(
            anomaly=anomaly,
            value=_optional_float(obj.get("value"), "value"),
            source=_source(obj.get("source")),
            detected_at=utc_field(obj.get("detected_at"), "detected_at"),
        )
    except (ValueError, TypeError) as exc:
        return InvalidRecord("wrong_type", str(exc)[:200])


def schema_path() -> Path:
    """Path of the JSON Schema (draft 2020-12) shipped as package data."""
    return schema_file(SCHEMA_RESOURCE)


def load_json_schema() -> dict[str, Any]:
    """The message's JSON Schema as a dict."""
    return read_schema(SCHEMA_RESOURCE)
