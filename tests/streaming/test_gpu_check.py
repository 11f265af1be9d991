"""``benchmarks/gpu_check.py``: the same-device check, and its CPU half on the real local Ray.

This machine has no GPU, so the run covers what ``--allow-cpu-only`` does: a random-weight
model written by the project's model-directory writer, actors spawned with the service's
placement and factory, forecasts/s measured per actor and in total.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from wxstream.models.model_loader import load_model
from wxstream.streaming import DeviceInfo

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def gpu_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module
    spec.loader.exec_module(module)
    return module


def _cuda(pid: int, uuid: str = "GPU-aaaa", gpu_ids: tuple[str, ...] = ("0",)) -> DeviceInfo:
    return DeviceInfo("cuda", "torch", pid, gpu_ids, 0, "NVIDIA H100 80GB HBM3", uuid)


def test_four_actors_on_one_gpu_pass_the_same_device_check(gpu_check: ModuleType) -> None:
    assert gpu_check.same_cuda_device([_cuda(pid) for pid in range(4)]) is None


@pytest.mark.parametrize(
    ("infos", "says"),
    [
        ([], "no actor"),
        ([_cuda(1), DeviceInfo("cpu", "onnxruntime", 2, (), None, None, None)], "not run on CUDA"),
        ([_cuda(1), _cuda(2, uuid="GPU-bbbb", gpu_ids=("1",))], "2 different CUDA devices"),
        ([_cuda(1, gpu_ids=("0", "1")), _cuda(2, gpu_ids=("0", "1"))], "sees 2 GPUs"),
    ],
)
def test_the_same_device_check_names_what_differs(
    gpu_check: ModuleType, infos: list[DeviceInfo], says: str
) -> None:
    problem = gpu_check.same_cuda_device(infos)
    assert problem is not None
    assert says in problem


def test_random_model_loads_with_the_default_architecture(
    gpu_check: ModuleType, tmp_path: Path
) -> None:
    model = load_model(gpu_check.make_random_model(tmp_path / "random"), "cpu")
    assert (model.lookback, model.n_inputs, model.horizon) == (48, 7, 24)
    assert model.bundle.spec.hidden_size == 64
    assert model.metadata["training"]["random_weights"] is True


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("ray_local")
def test_cpu_half_reports_forecasts_per_actor_and_total(
    gpu_check: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "gpu_check.json"
    status = gpu_check.main(
        [
            "--make-model",
            "--model-dir",
            str(tmp_path / "random"),
            "--actors",
            "2",
            "--cpus-per-actor",
            "0.5",
            "--seconds",
            "1",
            "--batch-size",
            "64",
            "--allow-cpu-only",
            "--json",
            str(out),
        ]
    )
    assert status == 0
    printed = capsys.readouterr().out
    assert "random weights" in printed
    result = json.loads(out.read_text(encoding="utf-8"))
    if not result["cuda"]:
        assert "no CUDA device: running the CPU half only" in printed
        assert result["gpu"] is None
    cpu = result["cpu"]
    assert cpu["placement"]["device"] == "cpu"
    assert cpu["placement"]["num_gpus"] == 0.0
    assert [d["device"] for d in cpu["devices"]] == ["cpu", "cpu"]
    assert len({d["pid"] for d in cpu["devices"]}) == 2
    assert len(cpu["per_actor"]) == 2
    assert all(row["forecasts"] >= 64 and row["forecasts_per_s"] > 0 for row in cpu["per_actor"])
    assert cpu["total_forecasts_per_s"] > 0
