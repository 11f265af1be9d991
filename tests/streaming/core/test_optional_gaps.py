"""The service fills the missing hours of an optional input within each window, as
training does (features.gaps), and does not forecast a window that has no value of it
at all (counted): no NaN reaches the model. Synthetic values (pure code only)."""

from __future__ import annotations

import math

import numpy as np

from tests.streaming.core.test_assembly import HOUR, LOOKBACK, T0, feature
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.testing import MemoryRecord

OUTAGE = {0, 5, 6, 7, 8, 9}
"""Hours without pressure (a synthetic sensor outage)."""


def pressure_rows(messages: object) -> np.ndarray:
    """Stand-in adapter: (temperature, pressure), pressure absent (NaN) in OUTAGE."""
    assert isinstance(messages, list)
    out = []
    for m in messages:
        hour = (m.window_start - T0) / HOUR
        out.append([m.avg_temperature, math.nan if hour in OUTAGE else 1000.0 + hour])
    return np.array(out, dtype=np.float32)


def test_gaps_are_filled_within_the_window_and_a_window_without_a_value_is_skipped() -> None:
    asm = BatchAssembler(
        topic="features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=pressure_rows,
        clock_ms=lambda: 1_790_000_000_000,
        optional_columns=(1,),
    )
    counts = asm.ingest([MemoryRecord(0, k, b"A", feature("A", k)) for k in range(14)])
    # full windows end at hours 2..13; those of hours 5-7, 6-8 and 7-9 hold no pressure
    assert counts.missing_inputs == 3
    assert counts.forecasts == 9
    batch = asm.seal()
    assert batch is not None
    newest = [(r.source.last_window_start - T0) / HOUR for r in batch.requests]
    assert newest == [2, 3, 4, 5, 6, 10, 11, 12, 13]
    x = batch.inputs()
    assert np.isfinite(x).all()
    pressure = {int(h): x[i, :, 1].tolist() for i, h in enumerate(newest)}
    assert pressure[2] == [1001.0, 1001.0, 1002.0]  # before the first value: that value
    assert pressure[6] == [1004.0, 1004.0, 1004.0]  # after it: the last one before
    assert pressure[10] == [1010.0, 1010.0, 1010.0]
    assert pressure[13] == [1011.0, 1012.0, 1013.0]


def test_a_model_without_optional_inputs_gets_its_windows_as_they_are() -> None:
    asm = BatchAssembler(
        topic="features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=pressure_rows,
        clock_ms=lambda: 1_790_000_000_000,
    )
    counts = asm.ingest([MemoryRecord(0, k, b"A", feature("A", k)) for k in range(4)])
    assert counts.missing_inputs == 0
    batch = asm.seal()
    assert batch is not None
    assert np.isnan(batch.inputs()[0, 0, 1])  # nothing filled: not an optional input
