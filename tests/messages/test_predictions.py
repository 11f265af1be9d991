"""The weather-predictions codec: schema-valid, bit-exact float32, decodable."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxstream.messages import InvalidRecord
from wxstream.messages.predictions import (
    ForecastInput,
    PredictionEncoder,
    PredictionMessage,
    decode_prediction,
    finite_rows,
    load_json_schema,
    quantile_array,
)

T0 = datetime(2013, 3, 1, 5, tzinfo=UTC)


@dataclass(frozen=True)
class Info:
    """The model facts the encoder reads (a ForecastingModel has the same attributes)."""

    name: str = "lstm-test%1"
    version: str = "7"
    leads_h: tuple[int, ...] = tuple(range(1, 25))
    short_term_leads: tuple[int, ...] = tuple(range(1, 7))
    long_term_leads: tuple[int, ...] = tuple(range(1, 25))


def inputs(n: int, station: str = "EWR") -> list[ForecastInput]:
    return [
        ForecastInput(
            station_id=station,
            issued_at=T0 + timedelta(hours=k + 1),
            first_window_start=T0 - timedelta(hours=47 - k),
            last_window_start=T0 + timedelta(hours=k),
        )
        for k in range(n)
    ]


def quantiles(n: int, horizon: int = 24, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mid = rng.normal(10, 8, size=(n, horizon)).astype(np.float32)
    spread = rng.uniform(0.1, 3, size=(n, horizon)).astype(np.float32)
    return np.stack([mid - spread, mid, mid + spread], axis=-1).astype(np.float32)


def test_encoded_messages_validate_against_the_schema() -> None:
    encoder = PredictionEncoder(Info())
    values = encoder.encode(inputs(3), quantiles(3), produced_at=datetime.now(UTC))
    schema = load_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for value in values:
        jsonschema.validate(json.loads(value), schema)


def test_round_trip_is_bit_exact_and_keeps_metadata() -> None:
    q = quantiles(4)
    produced = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    values = PredictionEncoder(Info()).encode(inputs(4), q, produced_at=produced)
    for k, value in enumerate(values):
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        np.testing.assert_array_equal(quantile_array(msg), q[k])
        assert msg.station_id == "EWR"
        assert msg.model_name == "lstm-test%1"
        assert msg.model_version == "7"
        assert msg.issued_at == T0 + timedelta(hours=k + 1)
        assert msg.last_window_start == T0 + timedelta(hours=k)
        assert msg.first_window_start == T0 - timedelta(hours=47 - k)
        assert msg.produced_at == produced
        assert msg.leads_h == tuple(range(1, 25))
        assert msg.short_term.leads_h == tuple(range(1, 7))
        assert msg.short_term.temperature_c == msg.temperature_c[:6]
        assert msg.long_term.temperature_c == msg.temperature_c


def test_fields_are_in_wire_order() -> None:
    value = PredictionEncoder(Info()).encode(inputs(1), quantiles(1), datetime.now(UTC))[0]
    assert list(json.loads(value)) == [
        "station_id",
        "issued_at",
        "model_name",
        "model_version",
        "arm",
        "leads_h",
        "temperature_c",
        "temperature_p10_c",
        "temperature_p90_c",
        "short_term",
        "long_term",
        "input_window",
        "input_flagged",
        "produced_at",
    ]


def test_input_flagged_round_trips_and_defaults_to_false_for_older_records() -> None:
    flagged = [replace(item, input_flagged=True) for item in inputs(2)]
    values = PredictionEncoder(Info()).encode(flagged, quantiles(2), datetime.now(UTC))
    decoded = decode_prediction(values[0])
    assert not isinstance(decoded, InvalidRecord)
    assert decoded.input_flagged
    older = json.loads(values[1])
    del older["input_flagged"]
    decoded = decode_prediction(json.dumps(older).encode())
    assert not isinstance(decoded, InvalidRecord)
    assert not decoded.input_flagged


def test_short_horizon_views_follow_the_model() -> None:
    info = Info(leads_h=(1, 2, 3), short_term_leads=(1, 2, 3), long_term_leads=(1, 2, 3))
    value = PredictionEncoder(info).encode(inputs(1), quantiles(1, horizon=3), datetime.now(UTC))
    obj = json.loads(value[0])
    assert obj["short_term"]["leads_h"] == [1, 2, 3]
    assert obj["short_term"]["temperature_c"] == obj["temperature_c"]


def test_station_ids_are_json_escaped() -> None:
    value = PredictionEncoder(Info()).encode(
        inputs(1, station='we"ird\\%s'), quantiles(1), datetime.now(UTC)
    )[0]
    msg = decode_prediction(value)
    assert isinstance(msg, PredictionMessage)
    assert msg.station_id == 'we"ird\\%s'


def test_non_finite_forecasts_are_refused() -> None:
    q = quantiles(2)
    q[1, 3, 0] = np.nan
    assert finite_rows(q).tolist() == [True, False]
    with pytest.raises(ValueError, match="finite"):
        PredictionEncoder(Info()).encode(inputs(2), q, datetime.now(UTC))


def test_shape_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="expected"):
        PredictionEncoder(Info()).encode(inputs(2), quantiles(3), datetime.now(UTC))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "undecodable"),
        (b"\xff", "undecodable"),
        (b"[1]", "not_an_object"),
        (b'{"station_id":"x"}', "wrong_type"),
    ],
)
def test_decoder_returns_bad_input_as_values(raw: bytes | None, reason: str) -> None:
    result = decode_prediction(raw)
    assert isinstance(result, InvalidRecord)
    assert result.reason == reason


@settings(max_examples=100, deadline=None)
@given(
    q=hnp.arrays(
        np.float32,
        (2, 5, 3),
        elements=st.floats(-120, 120, allow_nan=False, width=32),
    )
)
def test_any_finite_float32_survives_the_text_round_trip(q: np.ndarray) -> None:
    info = Info(leads_h=(1, 2, 3, 4, 5), short_term_leads=(1, 2), long_term_leads=(1, 2, 3, 4, 5))
    values = PredictionEncoder(info).encode(inputs(2), q, datetime.now(UTC))
    for k, value in enumerate(values):
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        np.testing.assert_array_equal(quantile_array(msg), q[k])


def test_views_that_are_not_a_prefix_of_the_leads() -> None:
    info = Info(leads_h=(1, 2, 3, 4, 5, 6), short_term_leads=(2, 4), long_term_leads=(1, 3, 5, 6))
    q = quantiles(2, horizon=6)
    values = PredictionEncoder(info).encode(inputs(2), q, datetime.now(UTC))
    for k, value in enumerate(values):
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        assert msg.short_term.leads_h == (2, 4)
        assert msg.short_term.temperature_c == (msg.temperature_c[1], msg.temperature_c[3])
        assert msg.long_term.leads_h == (1, 3, 5, 6)
        np.testing.assert_array_equal(
            np.array(msg.long_term.temperature_c, dtype=np.float32), q[k, [0, 2, 4, 5], 1]
        )
        jsonschema.validate(json.loads(value), load_json_schema())


def test_version_and_arm_are_written_and_read_back() -> None:
    encoder = PredictionEncoder(Info(), version="3f0a9c41d2b7", arm="challenger")
    value = encoder.encode(inputs(1), quantiles(1), datetime.now(UTC))[0]
    jsonschema.validate(json.loads(value), load_json_schema())
    decoded = decode_prediction(value)
    assert isinstance(decoded, PredictionMessage)
    assert (decoded.model_name, decoded.model_version, decoded.arm) == (
        "lstm-test%1",
        "3f0a9c41d2b7",
        "challenger",
    )


def test_records_without_an_arm_read_as_the_champion() -> None:
    value = PredictionEncoder(Info()).encode(inputs(1), quantiles(1), datetime.now(UTC))[0]
    old = json.loads(value)
    del old["arm"]
    decoded = decode_prediction(json.dumps(old).encode())
    assert isinstance(decoded, PredictionMessage)
    assert (decoded.model_version, decoded.arm) == ("7", "champion")


def test_an_unknown_arm_is_refused() -> None:
    with pytest.raises(ValueError, match="arm"):
        PredictionEncoder(Info(), arm="shadow")
    value = PredictionEncoder(Info()).encode(inputs(1), quantiles(1), datetime.now(UTC))[0]
    bad = json.loads(value)
    bad["arm"] = "shadow"
    decoded = decode_prediction(json.dumps(bad).encode())
    assert isinstance(decoded, InvalidRecord)
    assert decoded.reason == "wrong_type"


def test_interval_scales_are_written_validated_and_read_back_exactly() -> None:
    q = quantiles(3)
    scales = np.random.default_rng(1).uniform(0.5, 2.0, size=(3, 24, 2)).astype(np.float32)
    values = PredictionEncoder(Info()).encode(inputs(3), q, datetime.now(UTC), scales)
    for value, expected in zip(values, scales, strict=True):
        jsonschema.validate(json.loads(value), load_json_schema())
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        assert msg.interval_scale is not None
        lower, upper = msg.interval_scale
        assert np.array(lower, np.float32).tolist() == expected[:, 0].tolist()
        assert np.array(upper, np.float32).tolist() == expected[:, 1].tolist()
    # without scales the field is absent and reads as None (as from older writers)
    (plain,) = PredictionEncoder(Info()).encode(inputs(1), q[:1], datetime.now(UTC))
    assert b"interval_scale" not in plain
    decoded = decode_prediction(plain)
    assert isinstance(decoded, PredictionMessage)
    assert decoded.interval_scale is None


def test_a_malformed_interval_scale_is_a_wrong_type() -> None:
    (value,) = PredictionEncoder(Info()).encode(inputs(1), quantiles(1), datetime.now(UTC))
    obj = json.loads(value)
    obj["interval_scale"] = {"lower": [1.0], "upper": [1.0]}
    bad = decode_prediction(json.dumps(obj).encode())
    assert isinstance(bad, InvalidRecord)
    assert bad.reason == "wrong_type"
