"""The optional fields of weather-features: absent, valid, invalid; codec and schema agree."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.messages import (
    FeatureMessage,
    InvalidRecord,
    decode_feature,
    encode_feature,
    encode_frame,
    feature_key,
    messages_from_frame,
)
from wxstream.messages.features import FIELDS, load_json_schema
from wxstream.messages.optional_fields import OPTIONAL_FIELDS, OPTIONAL_RANGES

GOOD: dict[str, Any] = {
    "station_id": "EWR",
    "window_start": "2013-01-01T06:00:00Z",
    "window_end": "2013-01-01T07:00:00Z",
    "avg_temperature": 3.9,
    "avg_dewpoint": -3.3,
    "avg_wind_speed": 4.63,
    "min_temperature": 3.9,
    "max_temperature": 3.9,
    "observation_count": 1,
}
FULL: dict[str, Any] = {
    "avg_pressure_hpa": 1012.5,
    "avg_relative_humidity": 59.4,
    "avg_wind_u": -3.1,
    "avg_wind_v": 2.2,
    "precipitation_mm": 0.25,
    "latitude": 40.6925,
    "longitude": -74.168667,
    "elevation_m": 5.5,
}
VALIDATOR = jsonschema.Draft202012Validator(load_json_schema())


def _raw(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def test_a_message_without_them_decodes_and_encodes_as_before() -> None:
    msg = decode_feature(_raw(GOOD))
    assert isinstance(msg, FeatureMessage)
    assert msg.optional_values() == (None,) * len(OPTIONAL_FIELDS)
    assert encode_feature(msg) == _raw(GOOD)  # byte for byte the old wire format
    assert FeatureMessage(*(getattr(msg, f) for f in FIELDS)) == msg  # old positional calls


def test_all_optional_fields_round_trip_in_wire_order() -> None:
    raw = _raw({**GOOD, **FULL})
    msg = decode_feature(raw)
    assert isinstance(msg, FeatureMessage)
    assert msg.optional_values() == tuple(FULL[name] for name in OPTIONAL_FIELDS)
    assert encode_feature(msg) == raw
    VALIDATOR.validate(json.loads(raw))


def test_null_and_integers_are_accepted() -> None:
    msg = decode_feature(_raw({**GOOD, "latitude": None, "elevation_m": 12}))
    assert isinstance(msg, FeatureMessage)
    assert msg.latitude is None
    assert msg.elevation_m == 12.0
    assert type(msg.elevation_m) is float


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"avg_pressure_hpa": "1012"}, "wrong_type"),
        ({"precipitation_mm": True}, "wrong_type"),
        ({"longitude": [1.0]}, "wrong_type"),
        ({"avg_relative_humidity": 100.5}, "out_of_range"),
        ({"avg_pressure_hpa": 250.0}, "out_of_range"),
        ({"precipitation_mm": -0.1}, "out_of_range"),
        ({"latitude": -90.5}, "out_of_range"),
        ({"longitude": 181}, "out_of_range"),
        ({"elevation_m": 10**400}, "out_of_range"),
        ({"avg_wind_u": 121.0}, "out_of_range"),
    ],
)
def test_invalid_values_get_the_reasons_of_the_other_fields(
    changes: dict[str, Any], reason: str
) -> None:
    result = decode_feature(_raw({**GOOD, **changes}))
    assert isinstance(result, InvalidRecord)
    assert result.reason == reason
    assert next(iter(changes)) in result.detail


def test_non_finite_optional_value() -> None:
    raw = _raw({**GOOD, "avg_wind_v": 1.5}).replace(b"1.5", b"NaN")
    result = decode_feature(raw)
    assert isinstance(result, InvalidRecord)
    assert result.reason == "non_finite"


_optional_values = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(-(10**5), 10**5),
    st.booleans(),
    st.text(max_size=3),
)


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(OPTIONAL_FIELDS), _optional_values, max_size=4))
def test_codec_and_schema_agree_on_optional_fields(extra: dict[str, Any]) -> None:
    obj = {**GOOD, **extra}
    result = decode_feature(json.dumps(obj).encode())
    assert isinstance(result, FeatureMessage) == VALIDATOR.is_valid(obj)


def test_schema_lists_every_optional_field_with_its_range() -> None:
    properties = load_json_schema()["properties"]
    for name, (low, high) in OPTIONAL_RANGES.items():
        assert properties[name]["minimum"] == low
        assert properties[name]["maximum"] == high
        assert name not in load_json_schema()["required"]


def test_frame_paths_carry_optional_columns_and_leave_out_bad_values() -> None:
    start = pd.Timestamp("2024-01-01T10:00Z")
    frame = pd.DataFrame(
        {
            "station_id": ["A", "A"],
            "window_start": [start, start + pd.Timedelta(hours=1)],
            "window_end": [start + pd.Timedelta(hours=1), start + pd.Timedelta(hours=2)],
            "avg_temperature": [1.0, 2.0],
            "avg_dewpoint": [0.0, 0.5],
            "avg_wind_speed": [1.0, 3.0],
            "min_temperature": [1.0, 2.0],
            "max_temperature": [1.0, 2.0],
            "observation_count": [1, 1],
            "avg_pressure_hpa": [1001.0, np.nan],
            "latitude": [-33.9, 95.0],  # the second is impossible: left out, row kept
        }
    )
    msgs = messages_from_frame(frame)
    assert [m.avg_pressure_hpa for m in msgs] == [1001.0, None]
    assert [m.latitude for m in msgs] == [-33.9, None]
    assert msgs[0].window_start == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert msgs[1].window_end - msgs[1].window_start == timedelta(hours=1)
    pairs = encode_frame(frame)
    assert pairs == [(feature_key(m), encode_feature(m)) for m in msgs]
    assert [decode_feature(v) for _, v in pairs] == msgs
