"""Import a model directory of the original format (Keras ``model.h5`` + pickled scalers).

The original deployment stored::

    model.h5              Keras LSTM (Sequential: LSTM [, LSTM ...] -> Dense(horizon))
    scaler_X.pkl          scikit-learn scaler of the inputs (one column per input)
    scaler_y.pkl          scikit-learn scaler of the target (one column, or one per lead)
    feature_adapter.pkl   pickled dict: feature_columns, target_column, lookback, horizon
    metadata.json         free-form description

:func:`import_keras_dir` converts it into a wxstream model directory. The weights are
read from the HDF5 file with h5py (no TensorFlow or Keras at run time); the pickles are
read only when the caller trusts them, and then through
:mod:`wxstream.models.safe_unpickle`.

The Keras model is a point forecast; wxstream models emit the quantiles p10, p50, p90.
The imported network's head puts the Keras output in p50 and a constant far below zero
in the two interval logits, so ``softplus`` of them is exactly 0 in float32 and
p10 = p50 = p90: a zero-width interval, recorded as ``"interval": "none"``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from wxstream.errors import ConfigError, ModelFormatError, UntrustedPickleError
from wxstream.models.config import QUANTILES, ModelConfig, long_term_leads, short_term_leads
from wxstream.models.keras_h5 import KerasNetwork, read_keras_h5
from wxstream.models.legacy_pickles import (
    DEFAULT_FEATURES,
    HORIZON_KEYS,
    LOOKBACK_KEYS,
    LegacyAdapter,
    affine_from_pickled,
    build_adapter,
    first_of,
    parse_legacy_adapter,
    positive_int,
)
from wxstream.models.model_dir import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ModelBundle,
    NetworkSpec,
    Weights,
    file_sha256,
    model_path,
    write_model_dir,
)
from wxstream.models.safe_unpickle import load_restricted

logger = logging.getLogger(__name__)

KERAS_MODEL_FILE = "model.h5"
SCALER_X_PICKLE = "scaler_X.pkl"
SCALER_Y_PICKLE = "scaler_y.pkl"
ADAPTER_PICKLE = "feature_adapter.pkl"
ORIGINAL_METADATA_FILE = "metadata.json"
PICKLE_FILES: tuple[str, ...] = (SCALER_X_PICKLE, SCALER_Y_PICKLE, ADAPTER_PICKLE)

# softplus(-1e4) underflows to exactly 0.0 in float32 (exp(-1e4) == 0), in every
# backend (torch, ONNX Runtime, numpy), so p10 and p90 equal p50 bit for bit.
NO_INTERVAL_LOGIT = -1.0e4

_FIX_PICKLE = "pass --trust-pickles only if the directory comes from a source you trust"


@dataclass(frozen=True)
class ImportResult:
    """What :func:`import_keras_dir` wrote.

    Attributes:
        path: the new model directory.
        name: its name.
        bundle: the converted model, as written.
    """

    path: Path
    name: str
    bundle: ModelBundle


def keras_to_weights(net: KerasNetwork) -> tuple[NetworkSpec, Weights]:
    """PyTorch ``state_dict`` weights for the Keras network.

    Keras stacks the LSTM gates (i, f, c, o) in kernel columns, PyTorch (i, f, g, o) in
    weight rows: the same order, transposed. Keras has one bias; it goes to
    ``bias_ih`` and ``bias_hh`` is zero. The Dense output j becomes the p50 row of
    lead j in the quantile head; the interval rows get :data:`NO_INTERVAL_LOGIT`.
    """
    spec = NetworkSpec(
        n_inputs=net.n_inputs,
        hidden_size=net.hidden_size,
        num_layers=len(net.lstm_layers),
        horizon=net.horizon,
    )
    weights: Weights = {}
    for k, layer in enumerate(net.lstm_layers):
        weights[f"lstm.weight_ih_l{k}"] = np.ascontiguousarray(layer.kernel.T, dtype=np.float32)
        weights[f"lstm.weight_hh_l{k}"] = np.ascontiguousarray(
            layer.recurrent_kernel.T, dtype=np.float32
        )
        weights[f"lstm.bias_ih_l{k}"] = layer.bias.astype(np.float32)
        weights[f"lstm.bias_hh_l{k}"] = np.zeros_like(layer.bias, dtype=np.float32)
    head_w = np.zeros((spec.horizon, 3, spec.hidden_size), np.float32)
    head_b = np.full((spec.horizon, 3), NO_INTERVAL_LOGIT, np.float32)
    head_w[:, 1, :] = net.dense_kernel.T
    head_b[:, 1] = net.dense_bias
    weights["head.weight"] = head_w.reshape(spec.horizon * 3, spec.hidden_size)
    weights["head.bias"] = head_b.reshape(spec.horizon * 3)
    return spec, weights


def parse_input_override(text: str) -> tuple[str, tuple[str, str]]:
    """``NAME=FIELD:UNIT`` (the ``--input`` option) -> ``(NAME, (FIELD, UNIT))``."""
    name, _, rest = text.partition("=")
    field_name, _, unit = rest.partition(":")
    if not (name and field_name and unit):
        raise ConfigError(
            f"invalid --input {text!r}",
            fix="write NAME=FIELD:UNIT, e.g. temp=avg_temperature:degF",
        )
    return name.strip(), (field_name.strip(), unit.strip())


def default_import_name(source_dir: Path, original_metadata: Mapping[str, Any]) -> str:
    """``KERAS_<name>``: the original ``model_name``/``name`` or the directory name."""
    original = original_metadata.get("model_name") or original_metadata.get("name")
    base = str(original) if isinstance(original, str) and original else source_dir.resolve().name
    return "KERAS_" + (re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or "model")


def _read_original_metadata(path: Path) -> dict[str, Any]:
    if not path.is_file():
        logger.warning("%s not found; the import records no original metadata", path)
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFormatError(f"{path}: not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelFormatError(f"{path}: expected a JSON object")
    return data


def _resolve_shape(
    legacy: LegacyAdapter, net: KerasNetwork, original: Mapping[str, Any], source_dir: Path
) -> tuple[int, int]:
    """Lookback and horizon from the adapter, the metadata and the network; all must agree."""
    lookbacks = {
        "feature_adapter.pkl": legacy.lookback,
        "metadata.json": positive_int(
            first_of(original, LOOKBACK_KEYS), "lookback", "metadata.json"
        ),
        "model.h5 input shape": net.lookback,
    }
    horizons = {
        "feature_adapter.pkl": legacy.horizon,
        "metadata.json": positive_int(first_of(original, HORIZON_KEYS), "horizon", "metadata.json"),
        "model.h5 Dense units": net.horizon,
    }
    resolved: list[int] = []
    for what, found in (("lookback", lookbacks), ("horizon", horizons)):
        known = {k: v for k, v in found.items() if v is not None}
        if len(set(known.values())) > 1:
            raise ModelFormatError(
                f"{source_dir}: the {what} disagrees between files: {known}",
                fix="the files do not belong to one model; check the directory",
            )
        if not known:
            raise ModelFormatError(
                f"{source_dir}: the {what} is given nowhere (feature_adapter.pkl, "
                "metadata.json or the model's input shape)",
                fix=f"add '{what}' to metadata.json",
            )
        resolved.append(next(iter(known.values())))
    return resolved[0], resolved[1]


def import_keras_dir(
    source_dir: Path,
    forecasting_dir: Path,
    *,
    name: str | None = None,
    trust_pickles: bool = False,
    overwrite: bool = False,
    input_overrides: Mapping[str, tuple[str, str]] | None = None,
) -> ImportResult:
    """Convert an original-format directory into ``<forecasting_dir>/<name>/``.

    Args:
        source_dir: the directory with ``model.h5``, the ``.pkl`` files, ``metadata.json``.
        forecasting_dir: ``$MODEL_STORAGE_PATH/trained/forecasting``.
        name: the new model's name; default :func:`default_import_name`.
        trust_pickles: read the pickles (restricted to scalers and plain data).
        overwrite: replace an existing model of that name.
        input_overrides: input name -> (message field, unit), over the adapter's.

    Raises:
        UntrustedPickleError: pickles present but not trusted, or holding other objects.
        ModelFormatError: a file is missing, corrupt or inconsistent (named in the message).
    """
    source_dir = Path(source_dir)
    h5_path = source_dir / KERAS_MODEL_FILE
    required = [h5_path, source_dir / SCALER_X_PICKLE, source_dir / SCALER_Y_PICKLE]
    missing = [str(p) for p in required if not p.is_file()]
    if missing:
        raise ModelFormatError(
            f"not an original-format model directory: missing {', '.join(missing)}",
            fix="point at the directory holding model.h5, scaler_X.pkl and scaler_y.pkl",
        )
    pickles = [source_dir / f for f in PICKLE_FILES if (source_dir / f).is_file()]
    if not trust_pickles:
        raise UntrustedPickleError(
            f"{source_dir} holds pickle files ({', '.join(p.name for p in pickles)}); "
            "loading a pickle can run arbitrary code, so they are read only with "
            "--trust-pickles (and then only scikit-learn scalers and plain data are admitted)",
            fix=_FIX_PICKLE,
        )
    original = _read_original_metadata(source_dir / ORIGINAL_METADATA_FILE)
    net = read_keras_h5(h5_path)
    adapter_path = source_dir / ADAPTER_PICKLE
    if adapter_path.is_file():
        legacy = parse_legacy_adapter(load_restricted(adapter_path), str(adapter_path))
    else:
        logger.warning("%s not found; assuming inputs %s", adapter_path, list(DEFAULT_FEATURES))
        legacy = LegacyAdapter()
    if len(legacy.features) != net.n_inputs:
        raise ModelFormatError(
            f"{h5_path}: the LSTM reads {net.n_inputs} inputs but the adapter lists "
            f"{len(legacy.features)} ({list(legacy.features)})"
        )
    lookback, horizon = _resolve_shape(legacy, net, original, source_dir)
    adapter = build_adapter(legacy, input_overrides or {})
    pickled_x = load_restricted(source_dir / SCALER_X_PICKLE)
    pickled_y = load_restricted(source_dir / SCALER_Y_PICKLE)
    scaler_x = affine_from_pickled(pickled_x, legacy.features, SCALER_X_PICKLE)
    lead_names = tuple(f"{legacy.target}+{h}h" for h in range(1, horizon + 1))
    scaler_y = affine_from_pickled(pickled_y, lead_names, SCALER_Y_PICKLE)
    spec, weights = keras_to_weights(net)
    created = datetime.now(UTC).replace(microsecond=0)
    final_name = name or default_import_name(source_dir, original)
    model_path(forecasting_dir, final_name)  # checks the name before any work is written
    config = ModelConfig(
        lookback=lookback,
        horizon=horizon,
        inputs=legacy.features,
        target=legacy.target,
        residual=False,
        hidden_size=spec.hidden_size,
        num_layers=spec.num_layers,
    )
    metadata: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": final_name,
        "version": "keras-import-" + created.strftime("%Y%m%dT%H%M%SZ"),
        "created": created.isoformat().replace("+00:00", "Z"),
        "lookback": lookback,
        "horizon": horizon,
        "quantiles": list(QUANTILES),
        "leads_h": list(config.leads_h),
        "short_term_leads_h": list(short_term_leads(horizon)),
        "long_term_leads_h": list(long_term_leads(horizon)),
        "features": list(legacy.features),
        "target": legacy.target,
        "target_unit": "degC",
        "target_mode": "absolute",
        "network": spec.to_dict(),
        "config": config.to_dict(),
        "data": {"sources": []},
        "interval": "none",
        "imported_from": {
            "format": "keras-h5",
            "path": str(source_dir.resolve()),
            "keras_version": net.keras_version,
            "keras_backend": net.backend,
            "scaler_x": f"sklearn {pickled_x.class_name}",
            "scaler_y": f"sklearn {pickled_y.class_name}",
            "files": {p.name: file_sha256(p) for p in [h5_path, *pickles] if p.is_file()},
        },
        "original_metadata": original,
    }
    bundle = ModelBundle(
        metadata=metadata, weights=weights, scaler_x=scaler_x, scaler_y=scaler_y, adapter=adapter
    )
    path = write_model_dir(forecasting_dir, final_name, bundle, overwrite=overwrite)
    logger.info("imported %s as %s (interval: none)", source_dir, path)
    return ImportResult(path=path, name=final_name, bundle=bundle)
