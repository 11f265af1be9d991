"""Interval calibration as pure functions (synthetic values): fitting, applying, parsing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxstream.models.calibration import (
    METADATA_KEY,
    METHOD,
    fit_interval_calibration,
    interval_scale,
    scale_from_metadata,
    scale_interval,
)


def _ordered_quantiles(raw: np.ndarray) -> np.ndarray:
    return np.sort(raw, axis=-1)


@given(
    raw=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 8), st.integers(1, 5), st.just(3)),
        elements=st.floats(-60.0, 60.0, width=32),
    ),
    factor=st.lists(st.floats(0.01, 20.0), min_size=5, max_size=5),
)
def test_scaling_keeps_median_order_and_float32(raw: np.ndarray, factor: list[float]) -> None:
    q = _ordered_quantiles(raw)
    s = np.asarray(factor[: q.shape[1]], dtype=np.float32)
    out = scale_interval(q, s)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[..., 1], q[..., 1])
    assert (out[..., 0] <= out[..., 1]).all()
    assert (out[..., 1] <= out[..., 2]).all()
    np.testing.assert_array_equal(q, _ordered_quantiles(raw))  # input left alone


def test_scaling_stretches_each_side_by_its_factor() -> None:
    q = np.array([[[9.0, 10.0, 12.0], [0.0, 1.0, 1.5]]])
    out = scale_interval(q, [2.0, 0.5])
    np.testing.assert_allclose(out, [[[8.0, 10.0, 14.0], [0.5, 1.0, 1.25]]])
    assert out.dtype == np.float64


def test_fitted_factors_reach_the_target_coverage_on_the_fitting_set() -> None:
    rng = np.random.default_rng(7)
    n, leads = 4000, 4
    spread = np.array([1.0, 2.0, 3.0, 4.0])
    observed = rng.normal(0.0, spread, size=(n, leads))
    # an interval half as wide as the true 80 % interval: it covers far less than 80 %
    half = 0.5 * 1.2816 * spread
    q = np.stack(
        [
            np.broadcast_to(-half, (n, leads)),
            np.zeros((n, leads)),
            np.broadcast_to(half, (n, leads)),
        ],
        axis=-1,
    )
    entry = fit_interval_calibration(q, observed)
    assert entry is not None
    assert entry["method"] == METHOD
    assert entry["target_coverage"] == 0.8
    assert entry["validation_samples"] == n
    factor = np.asarray(entry["scale_per_lead"])
    np.testing.assert_allclose(factor, interval_scale(q, observed))
    assert ((factor > 1.7) & (factor < 2.3)).all()  # about twice the raw width
    assert entry["validation_coverage"]["raw"] < 0.6
    assert 0.8 <= entry["validation_coverage"]["calibrated"] < 0.81
    served = scale_interval(q, factor)
    inside = (observed >= served[..., 0]) & (observed <= served[..., 2])
    assert (inside.mean(axis=0) >= 0.8).all()


def test_degenerate_validation_gives_no_calibration() -> None:
    observed = np.zeros((10, 2))
    q = np.zeros((10, 2, 3))  # every observation on the median: factor 0
    assert fit_interval_calibration(q, observed) is None


def test_metadata_without_the_key_has_no_factors() -> None:
    assert scale_from_metadata({"interval": "none"}, 3) is None


def test_metadata_factors_are_parsed() -> None:
    meta = {METADATA_KEY: {"method": METHOD, "target_coverage": 0.8, "scale_per_lead": [1, 1.5]}}
    np.testing.assert_array_equal(scale_from_metadata(meta, 2), [1.0, 1.5])


@pytest.mark.parametrize(
    ("entry", "match"),
    [
        ([1.0, 1.0], "must be an object"),
        ({"method": "other", "scale_per_lead": [1.0, 1.0]}, "method"),
        ({"method": METHOD, "scale_per_lead": [1.0]}, "list of 2"),
        ({"method": METHOD, "scale_per_lead": "1.0"}, "list of 2"),
        ({"method": METHOD, "scale_per_lead": [1.0, 0.0]}, "> 0"),
        ({"method": METHOD, "scale_per_lead": [1.0, -2.0]}, "> 0"),
        ({"method": METHOD, "scale_per_lead": [1.0, float("nan")]}, "finite"),
        ({"method": METHOD, "scale_per_lead": [1.0, float("inf")]}, "finite"),
        ({"method": METHOD, "scale_per_lead": [1.0, True]}, "finite"),
        ({"method": METHOD, "scale_per_lead": [1.0, "2"]}, "finite"),
    ],
)
def test_bad_metadata_entries_are_refused(entry: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        scale_from_metadata({METADATA_KEY: entry}, 2)
