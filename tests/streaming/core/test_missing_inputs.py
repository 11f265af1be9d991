"""The rule for a missing optional input where rows enter their windows: carried
forward from the station's last value (static facts for ever, measured ones for
MAX_CARRY_H hours), else the hour is kept out and counted; never a NaN window.
Synthetic values (pure code only)."""

from __future__ import annotations

import math

import numpy as np

from tests.streaming.core.test_assembly import HOUR, LOOKBACK, T0, feature
from wxstream.features.adapter import FeatureAdapter, InputSpec, default_adapter
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.missing_inputs import MAX_CARRY_H, MissingInputs, optional_columns
from wxstream.streaming.testing import MemoryRecord

NAN = math.nan


def row(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def test_the_adapter_names_its_optional_columns() -> None:
    adapter = FeatureAdapter(
        inputs=(
            InputSpec("temperature", field="avg_temperature", unit="degC"),
            InputSpec("pressure", field="avg_pressure_hpa", unit="hPa"),
            InputSpec("elevation", field="elevation_m", unit="m"),
        ),
        target=InputSpec("temperature", field="avg_temperature", unit="degC"),
    )
    assert optional_columns(adapter) == {1: "avg_pressure_hpa", 2: "elevation_m"}
    assert optional_columns(default_adapter()) == {}
    assert not MissingInputs(optional_columns(default_adapter())).enabled


def test_a_measured_input_is_carried_for_max_carry_h_a_static_one_for_ever() -> None:
    rule = MissingInputs({1: "avg_pressure_hpa", 2: "elevation_m"})
    complete, state = rule.fill("A", row(5.0, NAN, NAN), 0.0)
    assert not complete  # nothing seen yet
    first = row(5.0, 1010.0, 30.0)
    complete, state = rule.fill("A", first, 1.0)
    assert complete
    rule.keep("A", state)
    for hour in range(2, 2 + int(MAX_CARRY_H)):
        later = row(6.0, NAN, NAN)
        complete, state = rule.fill("A", later, float(hour))
        assert complete
        assert later.tolist() == [6.0, 1010.0, 30.0]
        rule.keep("A", state)
    too_old = row(6.0, NAN, NAN)
    complete, _ = rule.fill("A", too_old, 2.0 + MAX_CARRY_H)
    assert not complete
    assert math.isnan(too_old[1])
    assert too_old[2] == 30.0  # the elevation still stands in
    # another station has its own values
    assert not rule.fill("B", row(1.0, NAN, 5.0), 1.0)[0]
    rule.forget(["A"])
    assert not rule.fill("A", row(5.0, NAN, 30.0), 3.0)[0]


def pressure_rows(messages: object) -> np.ndarray:
    """Stand-in adapter: (temperature, pressure) with the pressure absent (NaN) in the
    hours 0 and 5..9 (a synthetic sensor outage)."""
    assert isinstance(messages, list)
    out = []
    for m in messages:
        hour = (m.window_start - T0) / HOUR
        out.append([m.avg_temperature, NAN if hour == 0 or 5 <= hour <= 9 else 1000.0 + hour])
    return np.array(out, dtype=np.float32)


def test_the_assembler_fills_short_gaps_and_keeps_long_ones_out_of_the_windows() -> None:
    asm = BatchAssembler(
        topic="features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=pressure_rows,
        clock_ms=lambda: 1_790_000_000_000,
        optional_columns={1: "avg_pressure_hpa"},
    )
    counts = asm.ingest([MemoryRecord(0, k, b"A", feature("A", k)) for k in range(14)])
    # hour 0: no pressure yet; hours 5-7 carry hour 4's; 8 and 9 are too far from it
    assert counts.missing_inputs == 3
    batch = asm.seal()
    assert batch is not None
    inputs = batch.inputs()
    assert np.isfinite(inputs).all()
    issued = [(r.source.issued_at - T0) / HOUR for r in batch.requests]
    # windows of hours 1..7 (hour 3 on), then after the gap 10..13 (hour 12 on)
    assert issued == [4, 5, 6, 7, 8, 13, 14]
    np.testing.assert_array_equal(inputs[4, :, 1], [1004.0, 1004.0, 1004.0])
