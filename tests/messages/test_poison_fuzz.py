"""Poison input never stops the pipeline: fuzzing the decode and dead-letter path.

Pure functions only (no Kafka, no Ray): :func:`decode_feature` never raises and names
a reason for everything it rejects; :func:`dead_letter` builds a record for any
rejected input that fits the producer's size limit and says where the input came from;
and the loop's :class:`BatchAssembler` dead-letters every poison record exactly once
while the forecasts of the good records stay exactly what they are without poison.
The real-broker run with poison interleaved is ``test_faults.py``.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wxstream.features.adapter import default_adapter
from wxstream.messages import REASONS, FeatureMessage, InvalidRecord, decode_feature
from wxstream.messages.dead_letters import dead_letter, read_headers
from wxstream.messages.features import MAX_MESSAGE_BYTES, encode_feature
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.testing import MemoryRecord

PRODUCER_MESSAGE_MAX_BYTES = 1_000_000
"""librdkafka's default ``message.max.bytes``: a dead letter larger than this cannot be
produced, and a transaction that tries fails the whole batch."""
LOOKBACK = 4
START = datetime(2013, 9, 1, tzinfo=UTC)

GOOD: dict[str, Any] = {
    "station_id": "EWR",
    "window_start": "2013-09-03T00:00:00Z",
    "window_end": "2013-09-03T01:00:00Z",
    "avg_temperature": 20.0,
    "avg_dewpoint": 15.0,
    "avg_wind_speed": 3.0,
    "min_temperature": 19.0,
    "max_temperature": 21.0,
    "observation_count": 1,
}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


def check_decoded(raw: bytes | None) -> FeatureMessage | InvalidRecord:
    """Decode, and check the result is a message or a reason code with a detail."""
    result = decode_feature(raw)
    if isinstance(result, InvalidRecord):
        assert result.reason in REASONS
        assert result.detail
    else:
        assert isinstance(result, FeatureMessage)
        for value in (
            result.avg_temperature,
            result.avg_dewpoint,
            result.avg_wind_speed,
            result.min_temperature,
            result.max_temperature,
        ):
            assert math.isfinite(value)
        assert result.window_end > result.window_start
    return result


def letter_for(raw: bytes | None, key: bytes | None, offset: int) -> dict[str, str]:
    """The dead letter of a rejected ``raw``; checks its size and returns its headers."""
    invalid = decode_feature(raw)
    assert isinstance(invalid, InvalidRecord)
    record = dead_letter(
        key=key,
        value=raw,
        reason=invalid.reason,
        detail=invalid.detail,
        source_topic="weather-features",
        source_partition=2,
        source_offset=offset,
        error_ts_ms=1_700_000_000_000,
    )
    header_bytes = sum(
        len(name) + len(value if isinstance(value, bytes) else (value or "").encode())
        for name, value in record.headers
    )
    size = len(record.value or b"") + len(record.key or b"") + header_bytes
    assert size < PRODUCER_MESSAGE_MAX_BYTES - 1024
    if raw is not None and len(raw) <= MAX_MESSAGE_BYTES:
        # Whatever the decoder looked at whole is kept whole.
        assert record.value == raw
    headers = read_headers(record.headers)
    assert headers["wx.reason"] == invalid.reason
    assert int(headers["wx.source.offset"]) == offset
    return headers


# -- decoding -----------------------------------------------------------------------------


@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check_decoded(raw)


@given(json_values)
def test_json_of_any_shape_never_raises(value: object) -> None:
    result = check_decoded(json.dumps(value, allow_nan=True).encode())
    if not isinstance(value, dict):
        assert isinstance(result, InvalidRecord)


@given(st.sampled_from(sorted(GOOD)), json_values)
def test_one_field_replaced_by_anything_never_raises(name: str, value: object) -> None:
    obj = dict(GOOD)
    obj[name] = value
    check_decoded(json.dumps(obj, allow_nan=True).encode())


@given(
    st.sampled_from(["avg_temperature", "avg_dewpoint", "min_temperature", "max_temperature"]),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e308"]),
)
def test_nan_infinity_and_huge_measurements_are_rejected(name: str, literal: str) -> None:
    text = json.dumps(GOOD).replace(f'"{name}": {GOOD[name]}', f'"{name}": {literal}')
    result = check_decoded(text.encode())
    assert isinstance(result, InvalidRecord)
    assert result.reason in ("non_finite", "out_of_range", "inconsistent")


@given(st.integers(min_value=1, max_value=300_000), st.sampled_from([b"[", b'{"a":']))
def test_deep_nesting_is_rejected(depth: int, opener: bytes) -> None:
    result = check_decoded(opener * depth)
    assert isinstance(result, InvalidRecord)


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=MAX_MESSAGE_BYTES + 1, max_value=1_048_576), st.binary(max_size=64))
def test_messages_up_to_one_megabyte_are_rejected_as_too_large(size: int, seed: bytes) -> None:
    raw = (seed or b"x") * (size // max(1, len(seed)) + 1)
    result = check_decoded(raw[:size])
    assert isinstance(result, InvalidRecord)
    assert result.reason == "too_large"


# -- dead letters ---------------------------------------------------------------------------


@given(
    st.one_of(
        st.none(),
        st.binary(max_size=5000),
        st.builds(lambda n: b"\x00" * n, st.integers(MAX_MESSAGE_BYTES, 1_048_588)),
        st.builds(lambda v: json.dumps(v, allow_nan=True).encode(), json_values),
    ),
    st.one_of(st.none(), st.binary(max_size=200)),
    st.integers(min_value=0, max_value=2**62),
)
def test_every_rejected_record_has_a_dead_letter_that_can_be_produced(
    raw: bytes | None, key: bytes | None, offset: int
) -> None:
    if isinstance(decode_feature(raw), FeatureMessage):
        return
    headers = letter_for(raw, key, offset)
    assert headers["wx.detail"]
    assert headers["wx.source.topic"] == "weather-features"


def test_a_one_megabyte_poison_record_is_dead_lettered_within_the_limit() -> None:
    raw = b'{"station_id":"' + b"E" * 1_000_000 + b'"}'
    headers = letter_for(raw, b"EWR", 7)
    assert headers["wx.reason"] == "too_large"


# -- the loop's assembler ---------------------------------------------------------------------


def good_series(hours: int) -> list[bytes]:
    """Synthetic hourly messages of two stations, interleaved."""
    out: list[bytes] = []
    for h in range(hours):
        for k, station in enumerate(("EWR", "JFK")):
            temp = 10.0 + 5.0 * math.sin(h / 4.0) + k
            start = START + timedelta(hours=h)
            msg = FeatureMessage(
                station, start, start + timedelta(hours=1), temp, temp - 3.0, 2.0 + k,
                temp - 0.5, temp + 0.5, 1,
            )  # fmt: skip
            out.append(encode_feature(msg))
    return out


def _key(value: bytes | None) -> bytes:
    """The station of a valid value (as producers key records), else any key."""
    decoded = decode_feature(value)
    return decoded.station_id.encode() if isinstance(decoded, FeatureMessage) else b"EWR"


def assemble(values: list[bytes | None]) -> tuple[list[tuple[str, str, bytes]], list[int]]:
    """Feed ``values`` (one partition) through a fresh assembler; the forecast requests
    as (station, issued_at, window bytes) and the offsets of the dead letters."""
    adapter = default_adapter()
    assembler = BatchAssembler(
        topic="weather-features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=adapter.to_inputs,
    )
    records = [MemoryRecord(0, offset, _key(value), value) for offset, value in enumerate(values)]
    requests: list[tuple[str, str, bytes]] = []
    dead: list[int] = []
    for start in range(0, len(records), 7):
        assembler.ingest(records[start : start + 7])
        batch = assembler.seal()
        if batch is None:
            continue
        for request in batch.requests:
            window = np.ascontiguousarray(request.window.rows).tobytes()
            requests.append(
                (request.source.station_id, request.source.issued_at.isoformat(), window)
            )
        for letter in batch.dead_letters:
            dead.append(int(read_headers(letter.headers)["wx.source.offset"]))
    return requests, dead


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=300),
            st.builds(lambda v: json.dumps(v, allow_nan=True).encode(), json_values),
            st.none(),
        ),
        max_size=30,
    ),
    st.randoms(use_true_random=False),
)
def test_poison_among_good_records_changes_no_forecast(
    poison: list[bytes | None], rng: Any
) -> None:
    poison = [p for p in poison if isinstance(decode_feature(p), InvalidRecord)]
    good = good_series(12)
    mixed: list[bytes | None] = list(good)
    for value in poison:
        mixed.insert(rng.randint(0, len(mixed)), value)
    clean_requests, clean_dead = assemble(list(good))
    requests, dead = assemble(mixed)
    assert clean_dead == []
    assert requests == clean_requests
    expected_dead = [i for i, v in enumerate(mixed) if isinstance(decode_feature(v), InvalidRecord)]
    assert dead == expected_dead
    assert len(dead) == len(poison)
