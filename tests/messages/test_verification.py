"""The weather-verification codec: schema-valid, exact round trip, bad input as values."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import jsonschema
import pytest

from wxstream.messages import (
    InvalidRecord,
    SkillRecord,
    decode_verification,
    encode_verification,
    verification_schema_path,
)
from wxstream.messages.verification import load_json_schema

RECORD = SkillRecord(
    station_id="EWR",
    issued_at=datetime(2013, 11, 3, 1, tzinfo=UTC),
    lead_h=3,
    model_name="lstm-nyc",
    model_version="7",
    p10_c=4.5,
    p50_c=6.25,
    p90_c=8.0,
    observed_c=7.2,
    abs_error_c=0.95 + 1e-16,
    pinball_c=0.1 + 0.2,
    covered=True,
)


def test_the_schema_ships_and_is_valid() -> None:
    assert verification_schema_path().is_file()
    jsonschema.Draft202012Validator.check_schema(load_json_schema())


def test_encoded_records_validate_against_the_schema() -> None:
    value = json.loads(encode_verification(RECORD))
    jsonschema.validate(value, load_json_schema())
    assert value["valid_at"] == "2013-11-03T04:00:00Z"
    assert list(value)[:3] == ["station_id", "issued_at", "lead_h"]


def test_round_trip_gives_the_same_doubles() -> None:
    assert decode_verification(encode_verification(RECORD)) == RECORD
    uncovered = replace(RECORD, covered=False, station_id='a "quoted" station', lead_h=24)
    assert decode_verification(encode_verification(uncovered)) == uncovered


def test_non_finite_values_are_refused_on_encode() -> None:
    with pytest.raises(ValueError, match="finite"):
        encode_verification(replace(RECORD, observed_c=float("nan")))


def _with(**changes: object) -> bytes:
    value = json.loads(encode_verification(RECORD))
    value.update(changes)
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "undecodable"),
        (b"\xff", "undecodable"),
        (b"{", "undecodable"),
        (b"[1]", "not_an_object"),
        (_with(lead_h=0), "wrong_type"),
        (_with(lead_h=1.5), "wrong_type"),
        (_with(covered=1), "wrong_type"),
        (_with(p50_c="6"), "wrong_type"),
        (_with(station_id=""), "wrong_type"),
        (_with(issued_at="2013-11-03T01:00:00"), "wrong_type"),
        (_with(valid_at="2013-11-03T05:00:00Z"), "wrong_type"),
        (b'{"station_id":"EWR","p50_c":NaN}', "wrong_type"),
    ],
)
def test_bad_values_decode_to_invalid_records(raw: bytes | None, reason: str) -> None:
    decoded = decode_verification(raw)
    assert isinstance(decoded, InvalidRecord)
    assert decoded.reason == reason


def test_the_batch_encoder_writes_exactly_the_bytes_of_the_single_encoder() -> None:
    from datetime import timedelta, timezone

    import numpy as np

    from wxstream.messages.verification import encode_verifications

    odd = [
        RECORD,
        replace(RECORD, lead_h=24, covered=False),
        replace(RECORD, station_id='Zürich "Süd"', model_name="m/ä", model_version="v\\1"),
        replace(RECORD, issued_at=datetime(2013, 11, 3, 1, 0, 0, 250, tzinfo=UTC)),
        # the same instant in another zone: written in UTC either way
        replace(RECORD, issued_at=datetime(2013, 11, 3, 2, tzinfo=timezone(timedelta(hours=1)))),
        replace(RECORD, p10_c=-0.0, p50_c=1e300, abs_error_c=5e-324, pinball_c=np.float64(0.1)),
        replace(RECORD, observed_c=np.float32(7.2)),  # type: ignore[arg-type]
    ]
    records = [replace(r, lead_h=lead) for r in odd for lead in (1, 3)]
    assert encode_verifications(records) == [encode_verification(r) for r in records]


def test_the_batch_encoder_refuses_what_the_single_encoder_refuses() -> None:
    from wxstream.messages.verification import encode_verifications

    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(ValueError, match="finite"):
            encode_verifications([RECORD, replace(RECORD, pinball_c=bad)])
    # finite values whose sum overflows are still written
    big = replace(RECORD, p10_c=1.7e308, p50_c=1.7e308, p90_c=1.7e308)
    assert encode_verifications([big]) == [encode_verification(big)]
