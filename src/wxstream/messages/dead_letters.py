"""Dead-letter records for ``weather-features.dlq``: the original bytes plus why.

Pure code. A record that is not a valid feature message is republished unchanged
(value and key) with headers that say where it came from and what was wrong:

=====================  ===========================================================
header                 value (UTF-8)
=====================  ===========================================================
``wx.reason``          reason code (see :data:`wxstream.features.REASONS`)
``wx.detail``          human-readable detail, at most :data:`MAX_DETAIL_CHARS`
``wx.source.topic``    topic the record was read from
``wx.source.partition`` its partition (decimal)
``wx.source.offset``   its offset (decimal)
``wx.error.ts``        when it was rejected, ISO-8601 UTC with milliseconds
=====================  ===========================================================

A value longer than :data:`MAX_DEAD_LETTER_VALUE_BYTES` (only ``too_large`` records:
the decoder rejects anything longer than the same limit) keeps its first
:data:`MAX_DEAD_LETTER_VALUE_BYTES` bytes, and a key longer than
:data:`MAX_DEAD_LETTER_KEY_BYTES` its first bytes; ``wx.value.bytes`` /
``wx.key.bytes`` then give the original length and ``wx.value.sha256`` /
``wx.key.sha256`` its SHA-256 (hex). Otherwise an input record near the broker's
``message.max.bytes`` would yield a dead letter (its bytes plus headers) larger than
the limit: the transaction holding it would fail on every retry and stop the service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from wxstream.messages.features import MAX_MESSAGE_BYTES

REASON_HEADER: Final = "wx.reason"
DETAIL_HEADER: Final = "wx.detail"
SOURCE_TOPIC_HEADER: Final = "wx.source.topic"
SOURCE_PARTITION_HEADER: Final = "wx.source.partition"
SOURCE_OFFSET_HEADER: Final = "wx.source.offset"
ERROR_TS_HEADER: Final = "wx.error.ts"
HEADER_NAMES: Final = (
    REASON_HEADER,
    DETAIL_HEADER,
    SOURCE_TOPIC_HEADER,
    SOURCE_PARTITION_HEADER,
    SOURCE_OFFSET_HEADER,
    ERROR_TS_HEADER,
)
MAX_DETAIL_CHARS: Final = 1000
MAX_DEAD_LETTER_VALUE_BYTES: Final = MAX_MESSAGE_BYTES
MAX_DEAD_LETTER_KEY_BYTES: Final = 1024
VALUE_BYTES_HEADER: Final = "wx.value.bytes"
VALUE_SHA256_HEADER: Final = "wx.value.sha256"
KEY_BYTES_HEADER: Final = "wx.key.bytes"
KEY_SHA256_HEADER: Final = "wx.key.sha256"


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One record for the dead-letter topic.

    Attributes:
        key: the original key (``None`` when the record had none).
        value: the original value bytes (``None`` for a tombstone).
        headers: ``(name, value)`` pairs, see the module docstring.
        reason: the reason code (also in the headers), for metrics.
    """

    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]]
    reason: str


def format_error_ts(error_ts_ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(error_ts_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{error_ts_ms % 1000:03d}Z"


def dead_letter(
    *,
    key: bytes | None,
    value: bytes | None,
    reason: str,
    detail: str,
    source_topic: str,
    source_partition: int,
    source_offset: int,
    error_ts_ms: int,
) -> DeadLetter:
    """The dead-letter record for a rejected input record (see the module docstring
    for values and keys that are cut)."""
    headers: list[tuple[str, str | bytes | None]] = [
        (REASON_HEADER, reason.encode()),
        (DETAIL_HEADER, detail[:MAX_DETAIL_CHARS].encode("utf-8", "replace")),
        (SOURCE_TOPIC_HEADER, source_topic.encode()),
        (SOURCE_PARTITION_HEADER, str(source_partition).encode()),
        (SOURCE_OFFSET_HEADER, str(source_offset).encode()),
        (ERROR_TS_HEADER, format_error_ts(error_ts_ms).encode()),
    ]
    value = _bounded(value, MAX_DEAD_LETTER_VALUE_BYTES, "value", headers)
    key = _bounded(key, MAX_DEAD_LETTER_KEY_BYTES, "key", headers)
    return DeadLetter(key=key, value=value, headers=headers, reason=reason)


def _bounded(
    raw: bytes | None, limit: int, what: str, headers: list[tuple[str, str | bytes | None]]
) -> bytes | None:
    """``raw`` cut to ``limit`` bytes; a cut adds its original length and SHA-256."""
    if raw is None or len(raw) <= limit:
        return raw
    headers.append((f"wx.{what}.bytes", str(len(raw)).encode()))
    headers.append((f"wx.{what}.sha256", hashlib.sha256(raw).hexdigest().encode()))
    return raw[:limit]


def read_headers(headers: Sequence[tuple[str, str | bytes | None]] | None) -> dict[str, str]:
    """The ``wx.*`` headers of a dead-letter record as text (for consumers and tests)."""
    out: dict[str, str] = {}
    for name, raw in headers or ():
        if not name.startswith("wx.") or raw is None:
            continue
        out[name] = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return out
