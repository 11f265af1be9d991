"""The control topic's codec: schema-valid, exact round trip, bad input as values."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema
import pytest

from wxstream.messages.alias_state import (
    AliasState,
    decode_alias_state,
    encode_alias_state,
    load_json_schema,
    schema_path,
)
from wxstream.messages.features import InvalidRecord

STATE = AliasState(
    name="lstm-nyc",
    champion="3f2a9c1b0d4e",
    challenger=None,
    moved_at=datetime(2026, 12, 1, 20, 15, tzinfo=UTC),
    who="ana",
    why="better MAE",
    sequence=7,
)


def test_the_schema_ships_and_is_valid() -> None:
    assert schema_path().is_file()
    jsonschema.Draft202012Validator.check_schema(load_json_schema())


@pytest.mark.parametrize("challenger", [None, "77aa00bb11cc"])
def test_a_state_round_trips_and_validates(challenger: str | None) -> None:
    state = AliasState(
        STATE.name, STATE.champion, challenger, STATE.moved_at, STATE.who, STATE.why, 7
    )
    value = encode_alias_state(state)
    jsonschema.validate(json.loads(value), load_json_schema())
    assert decode_alias_state(value) == state
    assert state.key == b"lstm-nyc"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "undecodable"),
        (b"{", "undecodable"),
        (b"[]", "not_an_object"),
        (
            b'{"name":"m","champion":"a","challenger":null,"moved_at":"2026-12-01T00:00:00Z",'
            b'"who":"x","sequence":-1}',
            "wrong_type",
        ),
        (
            b'{"name":"m","champion":"","challenger":null,"moved_at":"2026-12-01T00:00:00Z",'
            b'"who":"x","sequence":1}',
            "wrong_type",
        ),
        (
            b'{"name":"m","champion":"a","challenger":3,"moved_at":"2026-12-01T00:00:00Z",'
            b'"who":"x","sequence":1}',
            "wrong_type",
        ),
        (
            b'{"name":"m","champion":"a","challenger":null,"moved_at":"2026-12-01T00:00:00",'
            b'"who":"x","sequence":1}',
            "wrong_type",
        ),
    ],
)
def test_bad_values_are_invalid_records_not_exceptions(raw: bytes | None, reason: str) -> None:
    decoded = decode_alias_state(raw)
    assert isinstance(decoded, InvalidRecord)
    assert decoded.reason == reason
