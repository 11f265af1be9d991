"""Read the weights of a Keras LSTM forecaster from a legacy HDF5 (``.h5``) file with h5py.

No TensorFlow or Keras is needed. Both writers lay the file out the same way::

    /model_weights                 attrs: layer_names, keras_version, backend
    /model_weights/<layer>         attrs: weight_names (paths relative to the group)
        Keras 3: <model>/lstm/lstm_cell/kernel, .../recurrent_kernel, .../bias
        Keras 2: lstm/lstm_cell/kernel:0, ...

and keep the architecture as JSON in the root attribute ``model_config``. A file from
``model.save_weights`` has the layer groups at the root and no ``model_config``; the
layers are then recognised by their weights and the Keras defaults are assumed.

Supported: ``[InputLayer] LSTM [Dropout] [LSTM ...] [Dropout] Dense`` with the LSTM
defaults (tanh, sigmoid, forward, every LSTM but the last returning sequences) and a
linear Dense.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import ModelFormatError

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

# Layers without weights that do nothing at inference time.
_PASSIVE_LAYERS = frozenset({"InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise"})
_LINEAR = (None, "linear")


@dataclass(frozen=True)
class KerasLSTMLayer:
    """One Keras LSTM layer: ``kernel`` (F, 4U), ``recurrent_kernel`` (U, 4U), ``bias`` (4U,)."""

    name: str
    kernel: F32
    recurrent_kernel: F32
    bias: F32

    @property
    def units(self) -> int:
        """Hidden units."""
        return int(self.recurrent_kernel.shape[0])


@dataclass(frozen=True)
class KerasNetwork:
    """The weights of ``LSTM x N -> Dense(horizon)``, as stored by Keras.

    Attributes:
        lstm_layers: the LSTM layers, input side first.
        dense_kernel: ``(units, horizon)``.
        dense_bias: ``(horizon,)``.
        lookback: the time steps of the model's input shape, when fixed.
        keras_version: the writer's version, when recorded.
        backend: the writer's backend, when recorded.
    """

    lstm_layers: tuple[KerasLSTMLayer, ...]
    dense_kernel: F32
    dense_bias: F32
    lookback: int | None
    keras_version: str | None
    backend: str | None

    @property
    def n_inputs(self) -> int:
        """Input features per step."""
        return int(self.lstm_layers[0].kernel.shape[0])

    @property
    def hidden_size(self) -> int:
        """Units of the (last) LSTM layer."""
        return self.lstm_layers[-1].units

    @property
    def horizon(self) -> int:
        """Outputs of the Dense layer: forecast leads."""
        return int(self.dense_kernel.shape[1])


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _texts(value: Any) -> list[str]:
    return [_text(v) for v in np.atleast_1d(np.asarray(value, dtype=object)).tolist()]


def _weight_key(weight_name: str) -> str:
    """``sequential/lstm/lstm_cell/kernel`` or ``lstm/lstm_cell/kernel:0`` -> ``kernel``."""
    return weight_name.rsplit("/", 1)[-1].split(":", 1)[0]


def _layer_configs(model_config: Any) -> list[dict[str, Any]]:
    """The ``[{class_name, config}]`` list of a Sequential or a chain-shaped functional model."""
    config = model_config.get("config", {}) if isinstance(model_config, Mapping) else {}
    layers = config.get("layers") if isinstance(config, Mapping) else None
    if not isinstance(layers, list):
        raise ValueError("model_config has no layer list")
    return [layer for layer in layers if isinstance(layer, Mapping)]  # type: ignore[misc]


def _input_lookback(layers: Sequence[Mapping[str, Any]], model_config: Any) -> int | None:
    shapes: list[Any] = []
    for layer in layers:
        cfg = layer.get("config", {})
        shapes += [cfg.get("batch_shape"), cfg.get("batch_input_shape")]
    cfg = model_config.get("config", {}) if isinstance(model_config, Mapping) else {}
    shapes.append(cfg.get("build_input_shape") if isinstance(cfg, Mapping) else None)
    for shape in shapes:
        if isinstance(shape, list) and len(shape) == 3 and isinstance(shape[1], int):
            return int(shape[1])
    return None


def _check_lstm_config(name: str, cfg: Mapping[str, Any], last: bool, where: str) -> None:
    problems = []
    if cfg.get("activation", "tanh") != "tanh":
        problems.append(f"activation {cfg.get('activation')!r} (only tanh)")
    if cfg.get("recurrent_activation", "sigmoid") != "sigmoid":
        problems.append(f"recurrent_activation {cfg.get('recurrent_activation')!r} (only sigmoid)")
    if cfg.get("go_backwards", False):
        problems.append("go_backwards")
    if cfg.get("time_major", False):
        problems.append("time_major")
    if bool(cfg.get("return_sequences", False)) == last:
        problems.append(
            "return_sequences on the last LSTM" if last else "an inner LSTM not returning sequences"
        )
    if problems:
        raise ModelFormatError(
            f"{where}: LSTM layer {name!r} is not convertible: {', '.join(problems)}",
            fix="only LSTMs with the Keras defaults convert; retrain such a model with wxstream",
        )


def _read_arrays(group: Any) -> dict[str, F32]:
    names = _texts(group.attrs.get("weight_names", []))
    return {_weight_key(n): np.asarray(group[n], dtype=np.float32) for n in names}


def _convert(
    weights_root: Any, model_config: Any, where: str
) -> tuple[list[KerasLSTMLayer], F32, F32, int | None]:
    layer_names = _texts(weights_root.attrs["layer_names"])
    arrays = {name: _read_arrays(weights_root[name]) for name in layer_names}
    if model_config is not None:
        layers = _layer_configs(model_config)
        kinds = [(str(l_.get("class_name")), dict(l_.get("config", {}))) for l_ in layers]
        lookback = _input_lookback(layers, model_config)
    else:
        logger.warning("%s has no model_config; assuming Keras LSTM defaults", where)
        kinds = [
            ("LSTM" if "recurrent_kernel" in arrays[n] else "Dense", {"name": n})
            for n in layer_names
            if arrays[n]
        ]
        lookback = None
    active = [(kind, cfg) for kind, cfg in kinds if kind not in _PASSIVE_LAYERS]
    unsupported = [
        f"{cfg.get('name')} ({kind})" for kind, cfg in active if kind not in ("LSTM", "Dense")
    ]
    if (
        unsupported
        or [k for k, _ in active[-1:]] != ["Dense"]
        or [k for k, _ in active].count("Dense") != 1
    ):
        shown = " -> ".join(kind for kind, _ in kinds)
        raise ModelFormatError(
            f"{where}: unsupported architecture {shown}"
            + (f"; unsupported layers: {', '.join(unsupported)}" if unsupported else ""),
            fix="only LSTM [-> LSTM ...] -> Dense(horizon) models convert",
        )
    lstms: list[KerasLSTMLayer] = []
    lstm_cfgs = [(kind, cfg) for kind, cfg in active if kind == "LSTM"]
    for i, (_, cfg) in enumerate(lstm_cfgs):
        name = str(cfg.get("name"))
        _check_lstm_config(name, cfg, last=i == len(lstm_cfgs) - 1, where=where)
        found = arrays.get(name, {})
        units = int(found["recurrent_kernel"].shape[0]) if "recurrent_kernel" in found else 0
        bias = found.get("bias")
        if bias is None and cfg.get("use_bias", True) is False and units:
            bias = np.zeros(4 * units, np.float32)
        if "kernel" not in found or units == 0 or bias is None:
            raise ModelFormatError(f"{where}: LSTM layer {name!r} lacks kernel/recurrent/bias")
        lstms.append(KerasLSTMLayer(name, found["kernel"], found["recurrent_kernel"], bias))
    dense_cfg = active[-1][1]
    if dense_cfg.get("activation", "linear") not in _LINEAR:
        raise ModelFormatError(
            f"{where}: Dense activation {dense_cfg.get('activation')!r}; only linear converts"
        )
    dense = arrays.get(str(dense_cfg.get("name")), {})
    if "kernel" not in dense:
        raise ModelFormatError(f"{where}: Dense layer {dense_cfg.get('name')!r} has no kernel")
    horizon = int(dense["kernel"].shape[-1])
    dense_bias = dense.get("bias", np.zeros(horizon, np.float32))
    return lstms, dense["kernel"], dense_bias, lookback


def _check_shapes(net: KerasNetwork, where: str) -> None:
    width = net.n_inputs
    for layer in net.lstm_layers:
        units = layer.units
        expected = {
            "kernel": (width, 4 * units),
            "recurrent_kernel": (units, 4 * units),
            "bias": (4 * units,),
        }
        actual = {
            "kernel": layer.kernel.shape,
            "recurrent_kernel": layer.recurrent_kernel.shape,
            "bias": layer.bias.shape,
        }
        if actual != expected:
            raise ModelFormatError(
                f"{where}: LSTM layer {layer.name!r} weights {actual}, expected {expected} "
                "(a GRU or a CuDNN-specific LSTM does not convert)"
            )
        width = units
    if len({layer.units for layer in net.lstm_layers}) != 1:
        raise ModelFormatError(
            f"{where}: stacked LSTM layers of different widths "
            f"{[layer.units for layer in net.lstm_layers]} do not convert",
            fix="wxstream networks use one hidden size for every layer",
        )
    if net.dense_kernel.shape != (width, net.horizon) or net.dense_bias.shape != (net.horizon,):
        raise ModelFormatError(
            f"{where}: Dense weights {net.dense_kernel.shape}/{net.dense_bias.shape} do not "
            f"follow an LSTM of {width} units"
        )
    arrays = [net.dense_kernel, net.dense_bias]
    for layer in net.lstm_layers:
        arrays += [layer.kernel, layer.recurrent_kernel, layer.bias]
    if not all(np.isfinite(a).all() for a in arrays):
        raise ModelFormatError(f"{where}: weights contain NaN or infinity")


def read_keras_h5(path: Path) -> KerasNetwork:
    """Read the LSTM and Dense weights of a Keras ``.h5`` model file.

    Raises:
        ModelFormatError: the file is missing, not HDF5, not a Keras model, or holds an
            architecture that does not convert (the message names the file).
    """
    import h5py

    where = str(path)
    try:
        with h5py.File(path, "r") as h5:
            raw_config = h5.attrs.get("model_config")
            model_config = json.loads(_text(raw_config)) if raw_config is not None else None
            root = h5.get("model_weights", h5)
            if "layer_names" not in root.attrs:
                raise ModelFormatError(f"{where}: not a Keras model file (no layer_names)")
            version = root.attrs.get("keras_version", h5.attrs.get("keras_version"))
            backend = root.attrs.get("backend", h5.attrs.get("backend"))
            lstms, dense_kernel, dense_bias, lookback = _convert(root, model_config, where)
    except ModelFormatError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as exc:
        raise ModelFormatError(
            f"{where}: cannot read the Keras model ({type(exc).__name__}: {exc})",
            fix="check that the file is a complete Keras .h5 model (model.save('model.h5'))",
        ) from exc
    net = KerasNetwork(
        lstm_layers=tuple(lstms),
        dense_kernel=dense_kernel,
        dense_bias=dense_bias,
        lookback=lookback,
        keras_version=None if version is None else _text(version),
        backend=None if backend is None else _text(backend),
    )
    _check_shapes(net, where)
    return net
