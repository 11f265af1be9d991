"""The rules on a whole Kafka record (:func:`decode_record`): the key is the station,
the window is not from the future; and the feature frame paths never publish a window
that is not one aligned hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from wxstream.messages import (
    REASONS,
    FeatureMessage,
    InvalidRecord,
    decode_record,
    encode_feature,
    encode_frame,
    publishable_mask,
)

HOUR_MS = 3_600_000
START = datetime(2013, 11, 5, 6, tzinfo=UTC)
START_MS = int(START.timestamp() * 1000)
# A record produced now (2026) of a 2013 window, as replay sends it.
NOW_MS = 1_790_000_000_000


def _value(station: str = "EWR", start: datetime = START) -> bytes:
    """A synthetic, valid feature message (unit test of pure code)."""
    return encode_feature(
        FeatureMessage(station, start, start + timedelta(hours=1), 5.0, 1.0, 2.0, 4.0, 6.0, 3)
    )


def _decode(
    value: bytes,
    key: bytes | None = b"EWR",
    timestamp_ms: int | None = NOW_MS,
    now_ms: int = NOW_MS,
    max_ahead_ms: int = 2 * HOUR_MS,
) -> FeatureMessage | InvalidRecord:
    return decode_record(value, key, timestamp_ms, now_ms, max_ahead_ms)


def test_a_record_keyed_by_its_station_is_accepted() -> None:
    decoded = _decode(_value())
    assert isinstance(decoded, FeatureMessage)
    assert decoded.station_id == "EWR"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "key_missing"),
        (b"", "key_missing"),
        (b"JFK", "key_mismatch"),
        (b"ewr", "key_mismatch"),
    ],
)
def test_a_record_without_its_station_as_key_is_rejected(key: bytes | None, reason: str) -> None:
    decoded = _decode(_value(), key=key)
    assert isinstance(decoded, InvalidRecord)
    assert decoded.reason == reason
    assert reason in REASONS
    assert "EWR" in decoded.detail


def test_value_rules_come_before_record_rules() -> None:
    decoded = _decode(b"{not json", key=None)
    assert isinstance(decoded, InvalidRecord)
    assert decoded.reason == "undecodable"


def test_a_window_ahead_of_the_record_timestamp_is_in_the_future() -> None:
    # The producer stamped the record at the window's start: within the tolerance.
    assert isinstance(_decode(_value(), timestamp_ms=START_MS), FeatureMessage)
    at_limit = _decode(_value(), timestamp_ms=START_MS - 2 * HOUR_MS)
    assert isinstance(at_limit, FeatureMessage)
    beyond = _decode(_value(), timestamp_ms=START_MS - 2 * HOUR_MS - 1)
    assert isinstance(beyond, InvalidRecord)
    assert beyond.reason == "window_in_future"


def test_a_window_ahead_of_the_wall_clock_is_in_the_future_whatever_the_timestamp() -> None:
    future = datetime(2099, 1, 1, tzinfo=UTC)
    future_ms = int(future.timestamp() * 1000)
    # A producer whose clock is as wrong as its data does not make the record valid.
    for timestamp_ms in (future_ms, NOW_MS, None, -1):
        decoded = _decode(_value(start=future), timestamp_ms=timestamp_ms)
        assert isinstance(decoded, InvalidRecord), timestamp_ms
        assert decoded.reason == "window_in_future"
        assert "2099-01-01T00:00:00Z" in decoded.detail


def test_without_a_record_timestamp_the_wall_clock_alone_bounds_the_window() -> None:
    for timestamp_ms in (None, -1):
        assert isinstance(_decode(_value(), timestamp_ms=timestamp_ms), FeatureMessage)


def _frame(starts: list[str], ends: list[str]) -> pd.DataFrame:
    n = len(starts)
    return pd.DataFrame(
        {
            "station_id": ["EWR"] * n,
            "window_start": pd.to_datetime(starts, utc=True),
            "window_end": pd.to_datetime(ends, utc=True),
            "avg_temperature": [5.0] * n,
            "avg_dewpoint": [1.0] * n,
            "avg_wind_speed": [2.0] * n,
            "min_temperature": [4.0] * n,
            "max_temperature": [6.0] * n,
            "observation_count": [3] * n,
        }
    )


def test_publishable_rows_are_aligned_hours_only() -> None:
    frame = _frame(
        ["2013-11-05T06:00Z", "2013-11-05T07:00Z", "2013-11-05T08:00Z", "2013-11-05T09:30Z"],
        ["2013-11-05T07:00Z", "2013-11-05T07:30Z", "2013-11-05T11:00Z", "2013-11-05T10:30Z"],
    )
    assert publishable_mask(frame).tolist() == [True, False, False, False]
    assert len(encode_frame(frame)) == 1


def test_real_feature_rows_are_all_aligned_hours(nyc_features: pd.DataFrame) -> None:
    mask = publishable_mask(nyc_features)
    # Only the rows with a missing measurement are left out, never for their window.
    missing = nyc_features[["avg_temperature", "avg_dewpoint", "avg_wind_speed"]].isna()
    assert (~mask).sum() == missing.any(axis=1).sum()
    for key, value in encode_frame(nyc_features)[::500]:
        decoded = _decode(value, key=key)
        assert isinstance(decoded, FeatureMessage), decoded
