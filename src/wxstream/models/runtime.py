"""Inference backends: the network from its weights, run by ONNX Runtime, PyTorch or numpy.

Every backend maps scaled inputs ``(B, L, F)`` float32 to scaled quantiles
``(B, horizon, 3)`` float32; scaling and unscaling live in
:class:`~wxstream.models.forecasting_model.ForecastingModel`, shared by all of them.

* ``onnxruntime`` (the CPU default): the ONNX graph is built here from the safetensors
  weights with ``onnx.helper`` (ONNX has a native LSTM op), so a CPU process never
  imports torch (a few hundred MB of resident memory saved per process).
* ``torch``: PyTorch eager, cuDNN on CUDA (the GPU default).
* ``numpy``: a plain numpy LSTM; a reference with no runtime dependency.

The choice was made by measurement (``benchmarks/runtime_bench.py``, docs/model.md).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Mapping
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt

from wxstream.errors import ConfigError, DependencyMissingError
from wxstream.models.model_dir import NetworkSpec

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
RuntimeName = Literal["onnxruntime", "torch", "numpy"]
RUNTIME_NAMES: tuple[str, ...] = ("onnxruntime", "torch", "numpy")
ONNX_OPSET = 17
ONNX_IR_VERSION = 8

# PyTorch stacks LSTM gates as (i, f, g, o); ONNX as (i, o, f, c).
_TORCH_TO_ONNX_GATES = (0, 3, 1, 2)


class InferenceBackend(Protocol):
    """Runs the network on scaled inputs."""

    name: str
    device: str

    def run(self, x_scaled: F32) -> F32:
        """``(B, L, F)`` scaled inputs -> ``(B, horizon, 3)`` scaled quantiles (B >= 1)."""
        ...


def cuda_driver_present() -> bool:
    """Whether a CUDA driver with at least one visible device exists; never imports torch.

    Asks ``libcuda`` directly so that CPU-only processes skip the torch import.
    """
    try:
        lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    try:
        if lib.cuInit(0) != 0:
            return False
        count = ctypes.c_int(0)
        if lib.cuDeviceGetCount(ctypes.byref(count)) != 0:
            return False
    except AttributeError:
        return False
    return count.value > 0


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when torch sees a GPU, else ``"cpu"``; checks explicit values."""
    if device not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {device!r}", fix="use auto, cpu or cuda")
    if device == "cpu":
        return "cpu"
    available = False
    if cuda_driver_present():
        import torch

        available = bool(torch.cuda.is_available())
    if device == "cuda" and not available:
        raise ConfigError(
            "device 'cuda' requested but no CUDA device is available",
            fix="use --device cpu (or auto), or run on a machine with a GPU",
        )
    return "cuda" if available else "cpu"


def _softplus(x: F32) -> F32:
    # Stable for large |x|; matches torch's softplus to float32 rounding.
    return np.asarray(np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x))), dtype=np.float32)


def _sigmoid(x: F32) -> F32:
    return np.asarray(0.5 * (np.tanh(0.5 * x) + 1.0), dtype=np.float32)


class NumpyBackend:
    """A plain numpy LSTM: exact reference, no runtime dependency."""

    name = "numpy"
    device = "cpu"

    def __init__(self, weights: Mapping[str, F32], spec: NetworkSpec) -> None:
        self.spec = spec
        self._layers = [
            (
                np.ascontiguousarray(weights[f"lstm.weight_ih_l{i}"].T),
                np.ascontiguousarray(weights[f"lstm.weight_hh_l{i}"].T),
                weights[f"lstm.bias_ih_l{i}"] + weights[f"lstm.bias_hh_l{i}"],
            )
            for i in range(spec.num_layers)
        ]
        self._head_w = np.ascontiguousarray(weights["head.weight"].T)
        self._head_b = weights["head.bias"]

    def run(self, x_scaled: F32) -> F32:
        """See :class:`InferenceBackend`."""
        hsz = self.spec.hidden_size
        seq = np.asarray(x_scaled, dtype=np.float32)
        batch, steps = seq.shape[0], seq.shape[1]
        h = np.zeros((batch, hsz), np.float32)
        for w_ih, w_hh, bias in self._layers:
            # The input projection of all steps at once; only the recurrence loops.
            proj = seq @ w_ih + bias
            h = np.zeros((batch, hsz), np.float32)
            c = np.zeros((batch, hsz), np.float32)
            outs = np.empty((batch, steps, hsz), np.float32)
            for t in range(steps):
                gates = proj[:, t] + h @ w_hh
                i = _sigmoid(gates[:, :hsz])
                f = _sigmoid(gates[:, hsz : 2 * hsz])
                g = np.tanh(gates[:, 2 * hsz : 3 * hsz])
                o = _sigmoid(gates[:, 3 * hsz :])
                c = f * c + i * g
                h = o * np.tanh(c)
                outs[:, t] = h
            seq = outs
        raw = (h @ self._head_w + self._head_b).reshape(batch, self.spec.horizon, 3)
        lower = raw[..., 1] - _softplus(raw[..., 0])
        upper = raw[..., 1] + _softplus(raw[..., 2])
        return np.stack((lower, raw[..., 1], upper), axis=-1).astype(np.float32)


def _reorder_gates(arr: F32) -> F32:
    return np.concatenate([np.split(arr, 4, axis=0)[k] for k in _TORCH_TO_ONNX_GATES], axis=0)


def build_onnx_model(weights: Mapping[str, F32], spec: NetworkSpec) -> Any:
    """The network as an ``onnx.ModelProto``: input ``x`` (B, L, F), output ``q`` (B, H, 3)."""
    from onnx import TensorProto, helper, numpy_helper

    init: list[Any] = []

    def const(name: str, value: npt.NDArray[Any]) -> str:
        init.append(numpy_helper.from_array(value, name=name))
        return name

    nodes = [helper.make_node("Transpose", ["x"], ["x_tbf"], perm=[1, 0, 2])]
    seq = "x_tbf"
    squeeze1 = const("axes_1", np.array([1], np.int64)) if spec.num_layers > 1 else ""
    for layer in range(spec.num_layers):
        w = _reorder_gates(weights[f"lstm.weight_ih_l{layer}"])[None]
        r = _reorder_gates(weights[f"lstm.weight_hh_l{layer}"])[None]
        b = np.concatenate(
            [
                _reorder_gates(weights[f"lstm.bias_ih_l{layer}"]),
                _reorder_gates(weights[f"lstm.bias_hh_l{layer}"]),
            ]
        )[None]
        last = layer == spec.num_layers - 1
        outputs = ["", f"h_{layer}"] if last else [f"y_{layer}"]
        nodes.append(
            helper.make_node(
                "LSTM",
                [
                    seq,
                    const(f"W_{layer}", w.astype(np.float32)),
                    const(f"R_{layer}", r.astype(np.float32)),
                    const(f"B_{layer}", b.astype(np.float32)),
                ],
                outputs,
                hidden_size=spec.hidden_size,
            )
        )
        if not last:
            # Y is (T, num_directions=1, B, H); the next layer wants (T, B, H).
            nodes.append(helper.make_node("Squeeze", [f"y_{layer}", squeeze1], [f"seq_{layer}"]))
            seq = f"seq_{layer}"
    top = spec.num_layers - 1
    axes0 = const("axes_0", np.array([0], np.int64))
    nodes += [
        helper.make_node("Squeeze", [f"h_{top}", axes0], ["h_last"]),
        helper.make_node(
            "Gemm",
            [
                "h_last",
                const("head_w", weights["head.weight"]),
                const("head_b", weights["head.bias"]),
            ],
            ["raw_flat"],
            transB=1,
        ),
        helper.make_node(
            "Reshape",
            ["raw_flat", const("raw_shape", np.array([-1, spec.horizon, 3], np.int64))],
            ["raw"],
        ),
        helper.make_node(
            "Split",
            ["raw", const("split_sizes", np.array([1, 1, 1], np.int64))],
            ["a", "m", "b"],
            axis=2,
        ),
    ]
    # softplus(v) = relu(v) + log(1 + exp(-|v|)): no overflow for large |v|.
    for v in ("a", "b"):
        nodes += [
            helper.make_node("Abs", [v], [f"{v}_abs"]),
            helper.make_node("Neg", [f"{v}_abs"], [f"{v}_nabs"]),
            helper.make_node("Exp", [f"{v}_nabs"], [f"{v}_exp"]),
            helper.make_node(
                "Add", [f"{v}_exp", const(f"one_{v}", np.array(1.0, np.float32))], [f"{v}_1p"]
            ),
            helper.make_node("Log", [f"{v}_1p"], [f"{v}_log"]),
            helper.make_node("Relu", [v], [f"{v}_relu"]),
            helper.make_node("Add", [f"{v}_relu", f"{v}_log"], [f"{v}_sp"]),
        ]
    nodes += [
        helper.make_node("Sub", ["m", "a_sp"], ["lower"]),
        helper.make_node("Add", ["m", "b_sp"], ["upper"]),
        helper.make_node("Concat", ["lower", "m", "upper"], ["q"], axis=2),
    ]
    graph = helper.make_graph(
        nodes,
        "wxstream_lstm_forecaster",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", None, spec.n_inputs])],
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, ["batch", spec.horizon, 3])],
        initializer=init,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        producer_name="wxstream",
    )
    model.ir_version = ONNX_IR_VERSION
    return model


class OnnxRuntimeBackend:
    """ONNX Runtime on the CPU, graph built from the weights; torch is never imported.

    Args:
        weights: ``state_dict`` name -> float32 array.
        spec: the network shape.
        intra_op_threads: threads per ``run``; 1 by default because several
            inference processes usually share a few cores.
    """

    name = "onnxruntime"
    device = "cpu"

    def __init__(
        self, weights: Mapping[str, F32], spec: NetworkSpec, *, intra_op_threads: int = 1
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyMissingError(
                "onnxruntime is not installed", fix="pip install onnxruntime, or use runtime numpy"
            ) from exc
        options = ort.SessionOptions()
        options.intra_op_num_threads = intra_op_threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        proto = build_onnx_model(weights, spec)
        self._session = ort.InferenceSession(
            proto.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def run(self, x_scaled: F32) -> F32:
        """See :class:`InferenceBackend`."""
        out = self._session.run(["q"], {"x": np.ascontiguousarray(x_scaled, dtype=np.float32)})
        return np.asarray(out[0], dtype=np.float32)


class TorchBackend:
    """PyTorch eager; cuDNN's fused LSTM on CUDA.

    Args:
        weights: ``state_dict`` name -> float32 array.
        spec: the network shape.
        device: ``"cpu"`` or ``"cuda"``.
        num_threads: torch intra-op threads on the CPU (``None``: leave torch's setting).
    """

    name = "torch"

    def __init__(
        self,
        weights: Mapping[str, F32],
        spec: NetworkSpec,
        *,
        device: str = "cpu",
        num_threads: int | None = None,
    ) -> None:
        import torch

        from wxstream.models.lstm import LSTMForecaster

        if num_threads is not None and device == "cpu":
            torch.set_num_threads(num_threads)
        self.device = device
        self._torch = torch
        net = LSTMForecaster(spec)
        net.load_numpy_weights(weights)
        self._net = net.to(device).eval()

    def run(self, x_scaled: F32) -> F32:
        """See :class:`InferenceBackend`."""
        torch = self._torch
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(x_scaled, dtype=np.float32)).to(self.device)
            return np.asarray(self._net(x).to("cpu").numpy(), dtype=np.float32)


def make_backend(
    weights: Mapping[str, F32],
    spec: NetworkSpec,
    *,
    device: str,
    runtime: str | None = None,
    intra_op_threads: int = 1,
) -> InferenceBackend:
    """Build the backend for ``device`` (``cpu``/``cuda``); ``runtime=None``: the measured best.

    CPU -> ONNX Runtime, CUDA -> torch (cuDNN). ``runtime`` forces one of
    ``onnxruntime``, ``torch``, ``numpy``; only ``torch`` runs on CUDA.
    """
    chosen = runtime or ("torch" if device == "cuda" else "onnxruntime")
    if chosen not in RUNTIME_NAMES:
        raise ConfigError(f"unknown runtime {chosen!r}", fix=f"use one of {list(RUNTIME_NAMES)}")
    if device == "cuda" and chosen != "torch":
        raise ConfigError(
            f"runtime {chosen!r} runs on the CPU only", fix="use runtime torch on CUDA"
        )
    logger.debug("inference backend %s on %s", chosen, device)
    if chosen == "torch":
        return TorchBackend(weights, spec, device=device, num_threads=intra_op_threads)
    if chosen == "numpy":
        return NumpyBackend(weights, spec)
    return OnnxRuntimeBackend(weights, spec, intra_op_threads=intra_op_threads)
