"""The ``weather-verification`` message: one forecast paired with what was observed.

Wire format (one compact UTF-8 JSON object per record, key = station id)::

    {"station_id":"EWR","issued_at":"2013-11-03T01:00:00Z","lead_h":3,
     "valid_at":"2013-11-03T04:00:00Z","model_name":"lstm-nyc","model_version":"7",
     "p10_c":4.5,"p50_c":6.25,"p90_c":8.0,"observed_c":7.2,
     "abs_error_c":0.95,"pinball_c":0.31,"covered":true}

* ``valid_at`` is ``issued_at + lead_h`` hours: the hour whose observation was used.
* ``abs_error_c`` is ``|observed - p50|``; ``pinball_c`` the mean pinball loss of p10,
  p50 and p90; ``covered`` whether ``p10 <= observed <= p90`` (the 80 % interval).
* Floats are written with Python's shortest round-trip repr, so a record read back holds
  the very same doubles: live skill rebuilt from the topic equals the skill kept live.

:func:`decode_verification` never raises: bad input is an :class:`InvalidRecord`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

from wxstream.messages.features import InvalidRecord, format_timestamp
from wxstream.messages.json_codec import (
    load_object,
    read_schema,
    schema_file,
    text_field,
    utc_field,
)

SCHEMA_RESOURCE: Final = "schemas/weather-verification.schema.json"


@dataclass(frozen=True, slots=True)
class SkillRecord:
    """One forecast of one lead paired with the observation at its valid hour.

    Attributes:
        station_id: the station (also the record key).
        issued_at: when the forecast was issued (UTC).
        lead_h: lead in hours; the forecast is valid at ``issued_at + lead_h``.
        model_name: the model that made the forecast.
        model_version: its version.
        p10_c: 10th percentile, degC.
        p50_c: median, degC.
        p90_c: 90th percentile, degC.
        observed_c: the observed temperature at the valid hour, degC.
        abs_error_c: ``|observed_c - p50_c|``.
        pinball_c: mean pinball loss of the three quantiles, degC.
        covered: whether ``p10_c <= observed_c <= p90_c``.
    """

    station_id: str
    issued_at: datetime
    lead_h: int
    model_name: str
    model_version: str
    p10_c: float
    p50_c: float
    p90_c: float
    observed_c: float
    abs_error_c: float
    pinball_c: float
    covered: bool

    @property
    def valid_at(self) -> datetime:
        """The hour the forecast is for: ``issued_at + lead_h`` hours."""
        return self.issued_at + timedelta(hours=self.lead_h)


_FLOATS: Final = ("p10_c", "p50_c", "p90_c", "observed_c", "abs_error_c", "pinball_c")


def encode_verification(record: SkillRecord) -> bytes:
    """The compact JSON value of a record.

    Raises:
        ValueError: a float is not finite (JSON has no NaN).
    """
    values = [float(getattr(record, name)) for name in _FLOATS]
    if not all(math.isfinite(v) for v in values):
        raise ValueError("verification values must be finite")
    floats = ",".join(f'"{name}":{value!r}' for name, value in zip(_FLOATS, values, strict=True))
    return (
        f'{{"station_id":{json.dumps(record.station_id)},'
        f'"issued_at":"{format_timestamp(record.issued_at)}",'
        f'"lead_h":{int(record.lead_h)},'
        f'"valid_at":"{format_timestamp(record.valid_at)}",'
        f'"model_name":{json.dumps(record.model_name)},'
        f'"model_version":{json.dumps(record.model_version)},'
        f'{floats},"covered":{"true" if record.covered else "false"}}}'
    ).encode()


class VerificationEncoder:
    """Encodes many records to exactly the bytes of :func:`encode_verification`, at a
    fraction of the cost: the JSON of a station with an issue time, of a valid time and
    of a model version is written once and reused (live skill encodes one record per
    forecast lead, so every lead of a forecast shares them).

    The caches grow with the distinct stations, times and versions seen: make one
    encoder per batch (:func:`encode_verifications`).
    """

    def __init__(self) -> None:
        self._stations: dict[str, str] = {}
        self._times: dict[datetime, str] = {}
        self._leads: dict[tuple[str, datetime, int], str] = {}
        self._models: dict[tuple[str, str], str] = {}

    def _time(self, value: datetime) -> str:
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = format_timestamp(value)
        return text

    def _lead(self, station_id: str, issued_at: datetime, lead_h: int) -> str:
        """Everything before ``model_name`` (a station's lead of one issue time: the
        same for the main and the shadow forecast)."""
        station = self._stations.get(station_id)
        if station is None:
            station = self._stations[station_id] = json.dumps(station_id)
        lead = int(lead_h)
        text = self._leads[(station_id, issued_at, lead_h)] = (
            f'{{"station_id":{station},"issued_at":"{self._time(issued_at)}",'
            f'"lead_h":{lead},"valid_at":"{self._time(issued_at + timedelta(hours=lead_h))}",'
        )
        return text

    def encode(self, record: SkillRecord) -> bytes:
        """The value of one record (see :func:`encode_verification`)."""
        p10 = float(record.p10_c)
        p50 = float(record.p50_c)
        p90 = float(record.p90_c)
        observed = float(record.observed_c)
        abs_error = float(record.abs_error_c)
        loss = float(record.pinball_c)
        # A sum of finite doubles is finite unless it overflows: one check for six.
        if not math.isfinite(p10 + p50 + p90 + observed + abs_error + loss) and not all(
            math.isfinite(v) for v in (p10, p50, p90, observed, abs_error, loss)
        ):
            raise ValueError("verification values must be finite")
        head = self._leads.get((record.station_id, record.issued_at, record.lead_h))
        if head is None:
            head = self._lead(record.station_id, record.issued_at, record.lead_h)
        model = self._models.get((record.model_name, record.model_version))
        if model is None:
            model = self._models[(record.model_name, record.model_version)] = (
                f'"model_name":{json.dumps(record.model_name)},'
                f'"model_version":{json.dumps(record.model_version)},"p10_c":'
            )
        covered = "true}" if record.covered else "false}"
        return (
            f'{head}{model}{p10!r},"p50_c":{p50!r},"p90_c":{p90!r},"observed_c":{observed!r},'
            f'"abs_error_c":{abs_error!r},"pinball_c":{loss!r},"covered":{covered}'
        ).encode()


def encode_verifications(records: Iterable[SkillRecord]) -> list[bytes]:
    """The values of many records, each exactly :func:`encode_verification`'s bytes.

    Raises:
        ValueError: a float is not finite (JSON has no NaN).
    """
    encode = VerificationEncoder().encode
    return [encode(record) for record in records]


def _number(obj: dict[str, Any], name: str) -> float:
    value = obj.get(name)
    if type(value) not in (int, float):
        raise ValueError(f"{name} must be a number")
    number = float(value)  # type: ignore[arg-type]  # an int or a float, checked above
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite")
    return number


def _record(obj: dict[str, Any]) -> SkillRecord:
    lead = obj.get("lead_h")
    if type(lead) is not int or lead < 1:
        raise ValueError("lead_h must be a positive integer")
    covered = obj.get("covered")
    if type(covered) is not bool:
        raise ValueError("covered must be true or false")
    issued_at = utc_field(obj.get("issued_at"), "issued_at")
    if "valid_at" in obj and utc_field(obj.get("valid_at"), "valid_at") != issued_at + timedelta(
        hours=lead
    ):
        raise ValueError("valid_at must be issued_at + lead_h hours")
    p10, p50, p90, observed, abs_error, pinball = (_number(obj, name) for name in _FLOATS)
    return SkillRecord(
        station_id=text_field(obj, "station_id"),
        issued_at=issued_at,
        lead_h=lead,
        model_name=text_field(obj, "model_name"),
        model_version=text_field(obj, "model_version"),
        p10_c=p10,
        p50_c=p50,
        p90_c=p90,
        observed_c=observed,
        abs_error_c=abs_error,
        pinball_c=pinball,
        covered=covered,
    )


def decode_verification(raw: bytes | bytearray | memoryview | None) -> SkillRecord | InvalidRecord:
    """Decode one ``weather-verification`` value; never raises.

    Returns:
        the record, or an :class:`InvalidRecord` (``undecodable``, ``not_an_object`` or
        ``wrong_type``) naming the problem.
    """
    obj = load_object(raw)
    if isinstance(obj, InvalidRecord):
        return obj
    try:
        return _record(obj)
    except (ValueError, TypeError, OverflowError) as exc:
        return InvalidRecord("wrong_type", str(exc)[:200])


def schema_path() -> Path:
    """Path of the JSON Schema (draft 2020-12) shipped as package data."""
    return schema_file(SCHEMA_RESOURCE)


def load_json_schema() -> dict[str, Any]:
    """The message's JSON Schema as a dict."""
    return read_schema(SCHEMA_RESOURCE)
