"""Dead-letter records keep the original bytes and say where they came from."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from wxstream.messages import REASONS, InvalidRecord, decode_feature
from wxstream.messages.dead_letters import (
    HEADER_NAMES,
    MAX_DETAIL_CHARS,
    dead_letter,
    format_error_ts,
    read_headers,
)


def test_dead_letter_keeps_bytes_and_names_its_source() -> None:
    raw = b'{"station_id":"EWR","window_start":"nope"}'
    invalid = decode_feature(raw)
    assert isinstance(invalid, InvalidRecord)
    record = dead_letter(
        key=b"EWR",
        value=raw,
        reason=invalid.reason,
        detail=invalid.detail,
        source_topic="weather-features",
        source_partition=3,
        source_offset=1234,
        error_ts_ms=1_700_000_000_123,
    )
    assert record.value == raw
    assert record.key == b"EWR"
    assert record.reason == "missing_field"
    headers = read_headers(record.headers)
    assert tuple(headers) == HEADER_NAMES
    assert headers["wx.reason"] == "missing_field"
    assert headers["wx.source.topic"] == "weather-features"
    assert headers["wx.source.partition"] == "3"
    assert headers["wx.source.offset"] == "1234"
    assert headers["wx.error.ts"] == "2023-11-14T22:13:20.123Z"


def test_tombstone_and_missing_key_are_kept_as_none() -> None:
    record = dead_letter(
        key=None,
        value=None,
        reason="undecodable",
        detail="empty",
        source_topic="t",
        source_partition=0,
        source_offset=0,
        error_ts_ms=0,
    )
    assert record.key is None
    assert record.value is None
    assert read_headers(record.headers)["wx.error.ts"] == "1970-01-01T00:00:00.000Z"


def test_read_headers_ignores_foreign_headers() -> None:
    assert read_headers([("traceparent", b"x"), ("wx.reason", b"too_large")]) == {
        "wx.reason": "too_large"
    }
    assert read_headers(None) == {}


@given(detail=st.text(max_size=3000), reason=st.sampled_from(REASONS))
def test_detail_is_bounded_and_valid_utf8(detail: str, reason: str) -> None:
    record = dead_letter(
        key=b"k",
        value=b"v",
        reason=reason,
        detail=detail,
        source_topic="t",
        source_partition=1,
        source_offset=2,
        error_ts_ms=5,
    )
    text = read_headers(record.headers)["wx.detail"]
    assert len(text) <= MAX_DETAIL_CHARS
    assert read_headers(record.headers)["wx.reason"] == reason


@given(ms=st.integers(min_value=0, max_value=4_102_444_800_000))
def test_error_ts_round_trips_to_the_millisecond(ms: int) -> None:
    text = format_error_ts(ms)
    assert text.endswith("Z")
    parsed = datetime.fromisoformat(text)
    assert round(parsed.timestamp() * 1000) == ms
