"""The weather-anomalies codec: schema-valid, round trip, never raises on bad bytes."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from wxstream.messages import (
    Anomaly,
    AnomalySource,
    InvalidRecord,
    anomaly_key,
    decode_anomaly,
    encode_anomaly,
)
from wxstream.messages.anomalies import CHECKS, load_json_schema

HOUR = datetime(2013, 11, 3, 5, tzinfo=UTC)
SOURCE = AnomalySource(topic="weather-features", partition=2, offset=1234)
DETECTED = datetime(2026, 11, 26, 16, 0, 0, 123000, tzinfo=UTC)


def _finding(check: str = "spike", score: float = 2.5) -> Anomaly:
    return Anomaly("EWR", HOUR, "temperature", check, score, "suspect")


@pytest.mark.parametrize("check", CHECKS)
def test_every_check_round_trips_and_validates(check: str) -> None:
    value = encode_anomaly(_finding(check), value=12.25, source=SOURCE, detected_at=DETECTED)
    jsonschema.validate(json.loads(value), load_json_schema())
    decoded = decode_anomaly(value)
    assert not isinstance(decoded, InvalidRecord)
    assert decoded.anomaly == _finding(check)
    assert decoded.value == 12.25
    assert decoded.source == SOURCE
    assert decoded.detected_at == DETECTED


def test_non_finite_numbers_are_written_as_null() -> None:
    value = encode_anomaly(
        _finding(score=float("inf")), value=float("nan"), source=SOURCE, detected_at=DETECTED
    )
    obj = json.loads(value)
    assert obj["score"] is None
    assert obj["value"] is None
    jsonschema.validate(obj, load_json_schema())


def test_the_key_is_the_station() -> None:
    assert anomaly_key(_finding()) == b"EWR"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "undecodable"),
        (b"\xff", "undecodable"),
        (b"[1]", "not_an_object"),
        (b'{"station_id":"EWR"}', "wrong_type"),
    ],
)
def test_bad_bytes_are_values_not_exceptions(raw: bytes | None, reason: str) -> None:
    decoded = decode_anomaly(raw)
    assert isinstance(decoded, InvalidRecord)
    assert decoded.reason == reason


def test_an_unknown_check_is_refused() -> None:
    obj = json.loads(encode_anomaly(_finding(), value=1.0, source=SOURCE, detected_at=DETECTED))
    obj["check"] = "horoscope"
    decoded = decode_anomaly(json.dumps(obj).encode())
    assert isinstance(decoded, InvalidRecord)
    assert "check" in decoded.detail
