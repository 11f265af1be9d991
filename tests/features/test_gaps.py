"""The within-window gap rule for optional inputs (synthetic values: a pure function)."""

from __future__ import annotations

import numpy as np

from wxstream.features.gaps import fill_window_gaps

NAN = np.nan


def test_fills_forward_then_back_within_each_window_only() -> None:
    x = np.array(
        [
            [[1.0, NAN], [2.0, 5.0], [3.0, NAN], [4.0, 7.0]],
            [[1.0, NAN], [2.0, NAN], [3.0, NAN], [4.0, NAN]],
        ],
        dtype=np.float32,
    )
    out, ok = fill_window_gaps(x, [1])
    np.testing.assert_array_equal(out[0, :, 1], [5.0, 5.0, 5.0, 7.0])
    assert ok.tolist() == [True, False]
    np.testing.assert_array_equal(out[:, :, 0], x[:, :, 0])  # other columns untouched
    assert np.isnan(x[0, 0, 1])  # the input is not changed in place


def test_complete_windows_come_back_as_they_are() -> None:
    x = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    out, ok = fill_window_gaps(x, [0, 2])
    assert out is x
    assert ok.all()
    out, ok = fill_window_gaps(x, [])
    assert out is x


def test_a_required_column_with_a_gap_is_not_filled() -> None:
    x = np.array([[[NAN, 1.0], [2.0, NAN]]], dtype=np.float32)
    out, ok = fill_window_gaps(x, [1])
    assert np.isnan(out[0, 0, 0])
    np.testing.assert_array_equal(out[0, :, 1], [1.0, 1.0])
    assert ok.tolist() == [True]
