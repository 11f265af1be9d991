"""The ``weather-features`` message: :class:`FeatureMessage`, its JSON codec and validation.

Wire format: one compact UTF-8 JSON object per Kafka record, key = ``station_id``::

    {"station_id":"EWR","window_start":"2013-01-01T06:00:00Z",
     "window_end":"2013-01-01T07:00:00Z","avg_temperature":3.9,"avg_dewpoint":-3.3,
     "avg_wind_speed":4.63,"min_temperature":3.9,"max_temperature":3.9,
     "observation_count":1}

Rules (the same in the codec and in ``schemas/weather-features.schema.json``):

* every field present; unknown extra fields are allowed and ignored (forward
  compatibility); the optional fields (pressure, humidity, wind vector, precipitation,
  station coordinates) and their rules are in :mod:`wxstream.messages.optional_fields`;
* the five measurements are finite JSON numbers (booleans are not numbers; ``NaN`` and
  ``Infinity`` literals are rejected): temperatures and dewpoint in -90..60 degC, wind
  speed in 0..120 m/s; ``observation_count`` an integer >= 1;
* timestamps are ISO-8601 with an explicit offset (the encoder writes UTC with ``Z``);
* the window is one aligned hour: ``window_start`` and ``window_end`` fall on a whole
  hour (minute and second 00, an offset of whole hours) and ``window_end`` is exactly
  one hour after ``window_start`` (``window_not_hourly``; the schema's pattern expresses
  the alignment, only the codec the length);
* consistency, which JSON Schema cannot express and only the codec checks:
  ``window_end > window_start``, ``min_temperature <= max_temperature`` and
  ``avg_temperature`` within ``[min, max]`` (0.01 degC tolerance for rounding). There is
  no dewpoint <= temperature rule: hourly averages over different non-null subsets can
  legitimately put the average dewpoint above the average temperature.

The model needs all three inputs finite, so feature rows with a null average (a window
where every reading of one measurement was missing) are not publishable:
:func:`publishable_mask` tells which rows are, and :func:`encode_frame` /
:func:`messages_from_frame` skip the others (callers count them as ``total - len``).

:func:`decode_feature` never raises: bad input is an :class:`InvalidRecord` whose
``reason`` is one of :data:`REASONS`, routed to the dead-letter topic.

:func:`decode_record` adds the rules that need the Kafka record around the value:

* the key is the UTF-8 ``station_id`` (``key_missing``, ``key_mismatch``): a station's
  window lives on the partition its key hashes to, so a record under another key would
  land beside the wrong windows and leave a hole in its station's own;
* ``window_start`` is at most ``max_ahead_ms`` ahead of the record's Kafka timestamp and
  of the wall clock (``window_in_future``): a window from the future would become its
  station's newest and make every real record after it count as out of order.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Final

from wxstream.messages.optional_fields import (
    BadOptional,
    OptionalFieldAccess,
    OptionalFields,
    check_optional,
    encode_optional,
)

MAX_MESSAGE_BYTES: Final = 64 * 1024
TEMPERATURE_RANGE_C: Final = (-90.0, 60.0)
WIND_SPEED_RANGE_MS: Final = (0.0, 120.0)
AVERAGE_TOLERANCE_C: Final = 0.01
MAX_STATION_ID_CHARS: Final = 128

FIELDS: Final = (
    "station_id",
    "window_start",
    "window_end",
    "avg_temperature",
    "avg_dewpoint",
    "avg_wind_speed",
    "min_temperature",
    "max_temperature",
    "observation_count",
)
"""The message's fields, in wire order."""

MEASUREMENT_FIELDS: Final = (
    "avg_temperature",
    "avg_dewpoint",
    "avg_wind_speed",
    "min_temperature",
    "max_temperature",
)

REASONS: Final = (
    "undecodable",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "non_finite",
    "out_of_range",
    "inconsistent",
    "too_large",
    "bad_timestamp",
    "window_not_hourly",
    "key_missing",
    "key_mismatch",
    "window_in_future",
    "window_jump",
)
"""Every :attr:`InvalidRecord.reason` code (``window_jump`` comes from the window rules,
:mod:`wxstream.streaming.core.windows`, the others from this module)."""

WINDOW_LENGTH: Final = timedelta(hours=1)
"""Every window is one aligned hour."""
DEFAULT_MAX_AHEAD_H: Final = 2.0
"""How far a window may start ahead of its record's Kafka timestamp and of the wall clock."""

MEASUREMENT_RANGES: Final[dict[str, tuple[float, float]]] = {
    "avg_temperature": TEMPERATURE_RANGE_C,
    "avg_dewpoint": TEMPERATURE_RANGE_C,
    "avg_wind_speed": WIND_SPEED_RANGE_MS,
    "min_temperature": TEMPERATURE_RANGE_C,
    "max_temperature": TEMPERATURE_RANGE_C,
}

TIMESTAMP_PATTERN: Final = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
"""What a timestamp looks like (also in the JSON Schema)."""
_TIMESTAMP_RE: Final = re.compile(TIMESTAMP_PATTERN)

HOUR_TIMESTAMP_PATTERN: Final = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"T([01][0-9]|2[0-3]):00:00(\.0{1,6})?"
    r"(Z|[+-]([01][0-9]|2[0-3]):00)$"
)
"""What a window boundary looks like: a whole hour, offset in whole hours (also in the
JSON Schema). Stricter than :data:`TIMESTAMP_PATTERN`."""


@dataclass(frozen=True, slots=True)
class FeatureMessage(OptionalFieldAccess):
    """One station's aggregated observations over one window ``[window_start, window_end)``.

    Timestamps are timezone-aware UTC datetimes; measurements are degC and m/s. The
    optional fields (units in :mod:`wxstream.messages.optional_fields`) are attributes
    too (``msg.longitude``), ``None`` where the message lacks them; ``optional`` holds
    them all, ``None`` when it has none.
    """

    station_id: str
    window_start: datetime
    window_end: datetime
    avg_temperature: float
    avg_dewpoint: float
    avg_wind_speed: float
    min_temperature: float
    max_temperature: float
    observation_count: int
    optional: OptionalFields | None = None


@dataclass(frozen=True, slots=True)
class InvalidRecord:
    """A record that is not a valid :class:`FeatureMessage`.

    Attributes:
        reason: one of :data:`REASONS` (a stable code for metrics and the DLQ).
        detail: a human-readable explanation naming the offending field.
    """

    reason: str
    detail: str


class _NonFiniteError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _NonFiniteError(name)


_decoder = json.JSONDecoder(parse_constant=_reject_constant)


def format_timestamp(value: datetime) -> str:
    """ISO-8601 in UTC with a ``Z`` suffix (microseconds only when non-zero)."""
    if value.tzinfo is None:
        raise ValueError("feature timestamps must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def encode_feature(msg: FeatureMessage) -> bytes:
    """The compact JSON value of a message (fields in :data:`FIELDS` order, then the
    optional fields it has)."""
    tail = "" if msg.optional is None else encode_optional(msg.optional)
    return (
        f'{{"station_id":{json.dumps(msg.station_id)},'
        f'"window_start":"{format_timestamp(msg.window_start)}",'
        f'"window_end":"{format_timestamp(msg.window_end)}",'
        f'"avg_temperature":{float(msg.avg_temperature)!r},'
        f'"avg_dewpoint":{float(msg.avg_dewpoint)!r},'
        f'"avg_wind_speed":{float(msg.avg_wind_speed)!r},'
        f'"min_temperature":{float(msg.min_temperature)!r},'
        f'"max_temperature":{float(msg.max_temperature)!r},'
        f'"observation_count":{int(msg.observation_count)}{tail}}}'
    ).encode()


def feature_key(msg: FeatureMessage) -> bytes:
    """The Kafka key: the station id, UTF-8 (keeps a station on one partition)."""
    return msg.station_id.encode()


# Recently parsed timestamps: consecutive windows of many stations share the same hour,
# so a small cache saves the regex and the parse for most messages.
_TIMESTAMP_CACHE: dict[str, datetime] = {}
_TIMESTAMP_CACHE_SIZE: Final = 4096


def _timestamp(obj: dict[str, Any], name: str) -> datetime | InvalidRecord:
    value = obj[name]
    if type(value) is not str:
        return InvalidRecord("wrong_type", f"{name} must be a string, got {type(value).__name__}")
    cached = _TIMESTAMP_CACHE.get(value)
    if cached is not None:
        return cached
    if _TIMESTAMP_RE.match(value) is None or value[-1] == "\n":
        return InvalidRecord("bad_timestamp", f"{name} is not ISO-8601 with offset: {value[:40]!r}")
    try:
        parsed = datetime.fromisoformat(value).astimezone(UTC)
    except ValueError as exc:
        return InvalidRecord("bad_timestamp", f"{name}: {exc}")
    if len(_TIMESTAMP_CACHE) >= _TIMESTAMP_CACHE_SIZE:
        _TIMESTAMP_CACHE.clear()
    _TIMESTAMP_CACHE[value] = parsed
    return parsed


def _on_the_hour(parsed: datetime, text: str) -> bool:
    # A whole UTC hour written with a whole-hour offset: minute and second 00 in the text
    # too, as the schema's pattern wants (``text`` already matched TIMESTAMP_PATTERN).
    whole_offset = text[-1] == "Z" or text[-2:] == "00"
    return whole_offset and parsed.minute == 0 and parsed.second == 0 and parsed.microsecond == 0


def _check_station(station: Any) -> str | InvalidRecord:
    if type(station) is not str:
        return InvalidRecord(
            "wrong_type", f"station_id must be a string, got {type(station).__name__}"
        )
    if not 0 < len(station) <= MAX_STATION_ID_CHARS:
        return InvalidRecord(
            "out_of_range", f"station_id must have 1..{MAX_STATION_ID_CHARS} characters"
        )
    return station


def _check_measurements(obj: dict[str, Any]) -> dict[str, float] | InvalidRecord:
    values: dict[str, float] = {}
    for name, (low, high) in MEASUREMENT_RANGES.items():
        value = obj[name]
        kind = type(value)
        if kind is not float and kind is not int:
            return InvalidRecord("wrong_type", f"{name} must be a number, got {kind.__name__}")
        if kind is float and not math.isfinite(value):
            return InvalidRecord("non_finite", f"{name} is {value}")
        # Compare before float(): a huge JSON integer would overflow the conversion.
        if not low <= value <= high:
            return InvalidRecord("out_of_range", f"{name}={value!r} outside {low}..{high}")
        values[name] = float(value)
    return values


def _check_count(count: Any) -> int | InvalidRecord:
    if type(count) is float and count.is_integer():
        count = int(count)  # JSON Schema counts 3.0 as an integer; so do we
    if type(count) is not int:
        return InvalidRecord(
            "wrong_type", f"observation_count must be an integer, got {type(count).__name__}"
        )
    if count < 1:
        return InvalidRecord("out_of_range", f"observation_count={count} must be >= 1")
    return count


def _check_window(obj: dict[str, Any]) -> tuple[datetime, datetime] | InvalidRecord:
    start = _timestamp(obj, "window_start")
    if isinstance(start, InvalidRecord):
        return start
    end = _timestamp(obj, "window_end")
    if isinstance(end, InvalidRecord):
        return end
    if end <= start:
        return InvalidRecord("inconsistent", "window_end must be after window_start")
    if not (_on_the_hour(start, obj["window_start"]) and _on_the_hour(end, obj["window_end"])):
        return InvalidRecord("window_not_hourly", "window_start and window_end must be whole hours")
    if end - start != WINDOW_LENGTH:
        return InvalidRecord(
            "window_not_hourly", f"window is {(end - start) / WINDOW_LENGTH:g} h, must be 1 h"
        )
    return start, end


def _check_optional(obj: dict[str, Any]) -> OptionalFields | InvalidRecord | None:
    if len(obj) == len(FIELDS):  # the fast path: a message of the required fields only
        return None
    checked = check_optional(obj)
    if isinstance(checked, BadOptional):
        return InvalidRecord(checked.reason, checked.detail)
    return checked


def _check(obj: dict[str, Any]) -> FeatureMessage | InvalidRecord:
    # Each rule returns the first reason it finds; the order is the documented one.
    for name in FIELDS:
        if name not in obj:
            return InvalidRecord("missing_field", f"missing field {name}")
    station = _check_station(obj["station_id"])
    if isinstance(station, InvalidRecord):
        return station
    values = _check_measurements(obj)
    if isinstance(values, InvalidRecord):
        return values
    count = _check_count(obj["observation_count"])
    if isinstance(count, InvalidRecord):
        return count
    window = _check_window(obj)
    if isinstance(window, InvalidRecord):
        return window
    start, end = window
    low_t, high_t = values["min_temperature"], values["max_temperature"]
    if low_t > high_t:
        return InvalidRecord("inconsistent", "min_temperature > max_temperature")
    avg = values["avg_temperature"]
    if not low_t - AVERAGE_TOLERANCE_C <= avg <= high_t + AVERAGE_TOLERANCE_C:
        return InvalidRecord("inconsistent", "avg_temperature outside [min, max]")
    optional = _check_optional(obj)
    if isinstance(optional, InvalidRecord):
        return optional
    return FeatureMessage(
        station,
        start,
        end,
        avg,
        values["avg_dewpoint"],
        values["avg_wind_speed"],
        low_t,
        high_t,
        count,
        optional,
    )


def decode_feature(raw: bytes | bytearray | memoryview | None) -> FeatureMessage | InvalidRecord:
    """Decode and validate one record value; never raises.

    Returns:
        the message, or an :class:`InvalidRecord` with a reason code from :data:`REASONS`.
    """
    if raw is None:
        return InvalidRecord("undecodable", "empty record value (tombstone)")
    try:
        if len(raw) > MAX_MESSAGE_BYTES:
            return InvalidRecord("too_large", f"{len(raw)} bytes > {MAX_MESSAGE_BYTES}")
        text = bytes(raw).decode("utf-8")
        obj = _decoder.decode(text)
    except _NonFiniteError as exc:
        return InvalidRecord("non_finite", f"{exc} is not a JSON number")
    except (UnicodeDecodeError, ValueError, RecursionError, TypeError) as exc:
        return InvalidRecord("undecodable", f"{type(exc).__name__}: {str(exc)[:200]}")
    if type(obj) is not dict:
        return InvalidRecord("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    try:
        return _check(obj)
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # Defensive: every rule above returns a value; this keeps the no-raise promise.
        return InvalidRecord("undecodable", f"{type(exc).__name__}: {str(exc)[:200]}")


def decode_record(
    value: bytes | bytearray | memoryview | None,
    key: bytes | None,
    timestamp_ms: int | None,
    now_ms: int,
    max_ahead_ms: int,
) -> FeatureMessage | InvalidRecord:
    """Decode one Kafka record: :func:`decode_feature` plus the rules on the record.

    Args:
        value: the record value.
        key: the record key (must be the UTF-8 ``station_id``).
        timestamp_ms: the record's Kafka timestamp (``None`` or negative: not available,
            then only the wall clock bounds the window).
        now_ms: the wall clock, epoch milliseconds (passed in: this module does no IO).
        max_ahead_ms: how far ``window_start`` may lie ahead of ``timestamp_ms`` and of
            ``now_ms``.

    Returns:
        the message, or an :class:`InvalidRecord`; never raises.
    """
    decoded = decode_feature(value)
    if isinstance(decoded, InvalidRecord):
        return decoded
    if not key:
        return InvalidRecord("key_missing", f"record has no key; expected {decoded.station_id!r}")
    if key != decoded.station_id.encode():
        shown = bytes(key[:40]).decode("utf-8", "replace")
        return InvalidRecord(
            "key_mismatch", f"key {shown!r} is not station_id {decoded.station_id[:40]!r}"
        )
    bound_ms = now_ms if timestamp_ms is None or timestamp_ms < 0 else min(now_ms, timestamp_ms)
    start_ms = decoded.window_start.timestamp() * 1000.0
    if start_ms > bound_ms + max_ahead_ms:
        ahead_h = (start_ms - bound_ms) / 3_600_000
        return InvalidRecord(
            "window_in_future",
            f"window_start {format_timestamp(decoded.window_start)} is {ahead_h:.1f} h ahead "
            f"of the record timestamp / wall clock (at most {max_ahead_ms / 3_600_000:g} h)",
        )
    return decoded


def validate_message(msg: FeatureMessage) -> InvalidRecord | None:
    """The reason ``msg`` would be rejected by :func:`decode_feature`, or ``None``."""
    result = decode_feature(encode_feature(msg))
    return result if isinstance(result, InvalidRecord) else None


def message_to_dict(msg: FeatureMessage) -> dict[str, Any]:
    """The message as the JSON object it encodes to (timestamps as strings)."""
    decoded: dict[str, Any] = json.loads(encode_feature(msg))
    return decoded


SCHEMA_RESOURCE: Final = "schemas/weather-features.schema.json"


def schema_path() -> Path:
    """Path of the JSON Schema (draft 2020-12) shipped as package data."""
    return Path(str(resources.files("wxstream.messages").joinpath(SCHEMA_RESOURCE)))


def load_json_schema() -> dict[str, Any]:
    """The message's JSON Schema as a dict."""
    loaded: dict[str, Any] = json.loads(schema_path().read_text(encoding="utf-8"))
    return loaded
