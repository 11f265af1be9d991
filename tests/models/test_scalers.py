"""JSON affine scalers: invariants (Hypothesis), exact JSON round trip, error cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from wxstream.errors import ModelFormatError
from wxstream.models.scalers import AffineScaler

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=64)
positive = st.floats(min_value=1e-3, max_value=1e4, allow_nan=False, width=64)


@st.composite
def scalers(draw: st.DrawFn) -> AffineScaler:
    n = draw(st.integers(min_value=1, max_value=6))
    return AffineScaler(
        names=tuple(f"c{i}" for i in range(n)),
        center=tuple(draw(st.lists(finite, min_size=n, max_size=n))),
        scale=tuple(draw(st.lists(positive, min_size=n, max_size=n))),
        kind=draw(st.sampled_from(["standard", "minmax"])),
    )


@given(scaler=scalers(), data=st.data())
@settings(max_examples=80, deadline=None)
def test_scale_then_unscale_is_identity(scaler: AffineScaler, data: st.DataObject) -> None:
    values = data.draw(
        hnp.arrays(np.float64, (data.draw(st.integers(0, 20)), scaler.size), elements=finite)
    )
    back = scaler.inverse_transform(scaler.transform(values))
    np.testing.assert_allclose(back, values, rtol=1e-9, atol=1e-9)


@given(scaler=scalers())
@settings(max_examples=80, deadline=None)
def test_json_round_trip_is_exact(scaler: AffineScaler) -> None:
    again = AffineScaler.from_json(scaler.to_json())
    assert again == scaler
    assert again.center == scaler.center  # float-exact, not approximate
    assert again.scale == scaler.scale


@given(
    values=hnp.arrays(
        np.float64,
        st.tuples(st.integers(2, 50), st.integers(1, 4)),
        elements=st.floats(-100, 100, allow_nan=False),
    )
)
@settings(max_examples=60, deadline=None)
def test_fit_standardises_columns(values: np.ndarray) -> None:
    scaler = AffineScaler.fit(values, [f"c{i}" for i in range(values.shape[1])])
    z = scaler.transform(values)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-6)
    spread = values.std(axis=0) >= 1e-6
    np.testing.assert_allclose(z.std(axis=0)[spread], 1.0, rtol=1e-6)
    assert all(s > 0 for s in scaler.scale)


def test_fit_ignores_nan_and_pools_leading_axes() -> None:
    values = np.array([[[1.0, 10.0], [np.nan, 20.0]], [[3.0, np.nan], [5.0, 30.0]]])
    scaler = AffineScaler.fit(values, ["a", "b"])
    assert scaler.center == pytest.approx((3.0, 20.0))
    assert scaler.scale == pytest.approx((np.std([1.0, 3.0, 5.0]), np.std([10.0, 20.0, 30.0])))


def test_constant_column_scales_by_one() -> None:
    scaler = AffineScaler.fit(np.full((5, 1), 7.0), ["k"])
    assert scaler.scale == (1.0,)
    assert scaler.transform(np.array([[8.0]]))[0, 0] == 1.0


def test_minmax_matches_scikit_learn() -> None:
    from sklearn.preprocessing import MinMaxScaler

    rng = np.random.default_rng(0)
    data = rng.normal(size=(40, 3)) * [5.0, 1.0, 20.0]
    reference = MinMaxScaler(feature_range=(-1.0, 1.0)).fit(data)
    ours = AffineScaler.from_minmax(
        reference.data_min_, reference.data_max_, ["a", "b", "c"], (-1.0, 1.0)
    )
    np.testing.assert_allclose(ours.transform(data), reference.transform(data), atol=1e-12)


def test_float32_stays_float32() -> None:
    scaler = AffineScaler(names=("a",), center=(1.5,), scale=(2.0,))
    out = scaler.transform(np.array([[3.5]], dtype=np.float32))
    assert out.dtype == np.float32
    assert out[0, 0] == 1.0


def test_file_round_trip(tmp_path: Path) -> None:
    scaler = AffineScaler(names=("a", "b"), center=(0.1, -3.0), scale=(1 / 3, 7.0))
    scaler.save(tmp_path / "s.json")
    assert AffineScaler.load(tmp_path / "s.json") == scaler


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"format": "other"}', "not a wxstream-affine-scaler"),
        (
            json.dumps(
                {"format": "wxstream-affine-scaler", "names": ["a"], "center": [0], "scale": [0]}
            ),
            "positive",
        ),
        (
            json.dumps({"format": "wxstream-affine-scaler", "names": ["a"], "center": [0]}),
            "invalid scaler",
        ),
    ],
)
def test_bad_files_raise_model_format_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "scaler_X.json"
    path.write_text(text)
    with pytest.raises(ModelFormatError, match=message) as info:
        AffineScaler.load(path)
    assert str(path) in str(info.value)
