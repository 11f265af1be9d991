"""The model directory: what a trained forecaster is on disk, written and read without torch.

Layout of ``$MODEL_STORAGE_PATH/trained/forecasting/<NAME>/``:

* ``model.safetensors``: the network weights (PyTorch ``state_dict`` names, float32);
* ``scaler_X.json``: the input scaler (one column per adapter input);
* ``scaler_y.json``: the target scaler (one column per lead);
* ``feature_adapter.json``: message fields -> model inputs;
* ``metadata.json``: everything else (shapes, quantiles, data ranges, metrics, the
  optional ``interval_calibration`` factors, SHA-256 of the other files).

Reading parses JSON and safetensors only: no pickle, no code from the directory.
Writing goes to a temporary sibling folder renamed into place, so a reader never
sees half a model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import ModelError, ModelFormatError, ModelNotFoundError, WxstreamError
from wxstream.features.adapter import FeatureAdapter
from wxstream.models.calibration import scale_from_metadata
from wxstream.models.scalers import AffineScaler

logger = logging.getLogger(__name__)

WEIGHTS_FILE = "model.safetensors"
SCALER_X_FILE = "scaler_X.json"
SCALER_Y_FILE = "scaler_y.json"
ADAPTER_FILE = "feature_adapter.json"
METADATA_FILE = "metadata.json"
MODEL_FILES: tuple[str, ...] = (
    METADATA_FILE,
    WEIGHTS_FILE,
    SCALER_X_FILE,
    SCALER_Y_FILE,
    ADAPTER_FILE,
)

# A model name that holds versions (``wxstream.models.registry``) keeps them in this folder.
VERSIONS_DIR = "versions"

FORMAT_NAME = "wxstream-forecasting-model"
FORMAT_VERSION = 1
TARGET_MODES = ("residual", "absolute")

_FIX_RECREATE = "re-create it with `wxstream train` or `wxstream models import-keras DIR`"
FIX_NO_MODEL = (
    "train one with `wxstream train` or import one with `wxstream models import-keras DIR`"
)

Weights = dict[str, npt.NDArray[np.float32]]


@dataclass(frozen=True)
class NetworkSpec:
    """Shape of the network: enough to rebuild it from its weights.

    The net is ``num_layers`` stacked LSTM layers (``hidden_size`` units) over
    ``n_inputs`` scaled inputs, then one linear head from the last hidden state to
    ``horizon * n_quantiles`` outputs.
    """

    n_inputs: int
    hidden_size: int
    num_layers: int
    horizon: int
    n_quantiles: int = 3

    def weight_shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected ``state_dict`` names and shapes (PyTorch ``nn.LSTM`` layout)."""
        gates = 4 * self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            width = self.n_inputs if layer == 0 else self.hidden_size
            shapes[f"lstm.weight_ih_l{layer}"] = (gates, width)
            shapes[f"lstm.weight_hh_l{layer}"] = (gates, self.hidden_size)
            shapes[f"lstm.bias_ih_l{layer}"] = (gates,)
            shapes[f"lstm.bias_hh_l{layer}"] = (gates,)
        shapes["head.weight"] = (self.horizon * self.n_quantiles, self.hidden_size)
        shapes["head.bias"] = (self.horizon * self.n_quantiles,)
        return shapes

    def to_dict(self) -> dict[str, Any]:
        """The ``network`` entry of ``metadata.json``."""
        return {
            "type": "lstm",
            "n_inputs": self.n_inputs,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "horizon": self.horizon,
            "n_quantiles": self.n_quantiles,
            "head": "linear-noncrossing-quantiles",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NetworkSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(
            n_inputs=int(data["n_inputs"]),
            hidden_size=int(data["hidden_size"]),
            num_layers=int(data["num_layers"]),
            horizon=int(data["horizon"]),
            n_quantiles=int(data.get("n_quantiles", 3)),
        )


@dataclass(frozen=True)
class ModelBundle:
    """Everything in a model directory, in memory; torch-free.

    Attributes:
        metadata: the parsed ``metadata.json``.
        weights: ``state_dict`` name -> float32 array.
        scaler_x: input scaler.
        scaler_y: target scaler, one column per lead.
        adapter: the feature adapter.
    """

    metadata: dict[str, Any]
    weights: Weights
    scaler_x: AffineScaler
    scaler_y: AffineScaler
    adapter: FeatureAdapter

    @property
    def spec(self) -> NetworkSpec:
        """The network shape recorded in the metadata."""
        return NetworkSpec.from_dict(self.metadata["network"])

    def validate(self, where: str = "model") -> None:
        """Check that weights, scalers, adapter and metadata agree (:class:`ModelFormatError`)."""
        _validate_bundle(self, Path(where))


def file_sha256(path: Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_path(forecasting_dir: Path, name: str) -> Path:
    """``<forecasting_dir>/<name>``, refusing names that would escape the folder."""
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise ModelError(
            f"invalid model name {name!r}",
            fix="use letters, digits, '-', '_' or '.', not starting with '.'",
        )
    return forecasting_dir / name


def write_model_dir(
    forecasting_dir: Path, name: str, bundle: ModelBundle, *, overwrite: bool = False
) -> Path:
    """Write ``bundle`` to ``<forecasting_dir>/<name>/`` atomically and return that path.

    The files go to a temporary sibling folder first; ``metadata.json`` gets the
    SHA-256 of the other files; then the folder is renamed into place.

    Raises:
        ModelError: the directory exists and ``overwrite`` is false.
        ModelFormatError: the bundle is inconsistent.
    """
    from safetensors.numpy import save_file

    target = model_path(forecasting_dir, name)
    _validate_bundle(bundle, target)
    if target.exists() and not overwrite:
        raise ModelError(
            f"model directory already exists: {target}",
            fix="choose another --name, or remove the old directory",
        )
    if (target / VERSIONS_DIR).is_dir():
        # Overwriting would drop every version, the aliases and their history.
        raise ModelError(
            f"model {name!r} has versions, which are never overwritten: {target}",
            fix=f"add a version with `wxstream train --name {name}`, or choose another name",
        )
    forecasting_dir.mkdir(parents=True, exist_ok=True)
    tmp = forecasting_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in bundle.weights.items()}
        save_file(tensors, str(tmp / WEIGHTS_FILE), metadata={"format": FORMAT_NAME})
        bundle.scaler_x.save(tmp / SCALER_X_FILE)
        bundle.scaler_y.save(tmp / SCALER_Y_FILE)
        bundle.adapter.save(tmp / ADAPTER_FILE)
        metadata = dict(bundle.metadata)
        metadata["name"] = name
        metadata["files"] = {f: file_sha256(tmp / f) for f in MODEL_FILES if f != METADATA_FILE}
        (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            old = forecasting_dir / f".{name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote model directory %s", target)
    return target


def _format_error(path: Path, what: str) -> ModelFormatError:
    return ModelFormatError(f"{path}: {what}", fix=_FIX_RECREATE)


def read_metadata(model_dir: Path) -> dict[str, Any]:
    """Parse and check ``metadata.json`` of ``model_dir``."""
    path = model_dir / METADATA_FILE
    if not path.is_file():
        raise _format_error(path, "missing file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _format_error(path, f"not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise _format_error(path, "not a JSON object")
    if data.get("format") != FORMAT_NAME:
        raise _format_error(path, f"format is {data.get('format')!r}, expected {FORMAT_NAME!r}")
    if int(data.get("format_version", -1)) > FORMAT_VERSION:
        raise ModelFormatError(
            f"{path}: format_version {data.get('format_version')} is newer than this "
            f"wxstream reads ({FORMAT_VERSION})",
            fix="upgrade wxstream",
        )
    required = (
        "name",
        "version",
        "created",
        "lookback",
        "horizon",
        "quantiles",
        "features",
        "target",
        "target_mode",
        "network",
    )
    missing = [k for k in required if k not in data]
    if missing:
        raise _format_error(path, f"missing key(s) {', '.join(missing)}")
    try:
        NetworkSpec.from_dict(data["network"])
    except (KeyError, TypeError, ValueError) as exc:
        raise _format_error(path, f"invalid 'network' entry: {exc!r}") from exc
    if data["target_mode"] not in TARGET_MODES:
        raise _format_error(path, f"target_mode must be one of {TARGET_MODES}")
    return data


def _load_weights(path: Path) -> Weights:
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    if not path.is_file():
        raise _format_error(path, "missing file")
    try:
        raw = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise _format_error(path, f"corrupt safetensors file: {exc}") from exc
    return {k: np.asarray(v, dtype=np.float32) for k, v in raw.items()}


def _load_adapter(path: Path) -> FeatureAdapter:
    if not path.is_file():
        raise _format_error(path, "missing file")
    try:
        return FeatureAdapter.load(path)
    except (WxstreamError, OSError, ValueError, KeyError, TypeError) as exc:
        raise _format_error(path, f"invalid feature adapter: {exc}") from exc


def read_model_dir(model_dir: Path) -> ModelBundle:
    """Read and check a model directory.

    Raises:
        ModelNotFoundError: ``model_dir`` does not exist.
        ModelFormatError: a file is missing, corrupt, or disagrees with the metadata
            (the message names the file and what is wrong).
    """
    if not model_dir.is_dir():
        raise ModelNotFoundError(f"model directory not found: {model_dir}", fix=FIX_NO_MODEL)
    metadata = read_metadata(model_dir)
    for fname, digest in dict(metadata.get("files", {})).items():
        path = model_dir / fname
        if fname in MODEL_FILES and path.is_file() and file_sha256(path) != digest:
            raise _format_error(path, "checksum mismatch: the file changed after it was written")
    scaler_paths = [model_dir / SCALER_X_FILE, model_dir / SCALER_Y_FILE]
    for path in scaler_paths:
        if not path.is_file():
            raise _format_error(path, "missing file")
    bundle = ModelBundle(
        metadata=metadata,
        weights=_load_weights(model_dir / WEIGHTS_FILE),
        scaler_x=AffineScaler.load(scaler_paths[0]),
        scaler_y=AffineScaler.load(scaler_paths[1]),
        adapter=_load_adapter(model_dir / ADAPTER_FILE),
    )
    _validate_bundle(bundle, model_dir)
    return bundle


def _validate_bundle(bundle: ModelBundle, where: Path) -> None:
    meta = bundle.metadata
    spec = _checked_network(meta, where / METADATA_FILE)
    features = list(meta["features"])
    _check_weights(bundle, spec, where / WEIGHTS_FILE)
    if list(bundle.scaler_x.names) != features:
        raise _format_error(
            where / SCALER_X_FILE,
            f"columns {list(bundle.scaler_x.names)} differ from the features {features}",
        )
    if bundle.scaler_y.size != spec.horizon:
        raise _format_error(
            where / SCALER_Y_FILE,
            f"{bundle.scaler_y.size} columns, expected horizon {spec.horizon}",
        )
    _check_adapter(bundle, features, where / ADAPTER_FILE)


def _checked_network(meta: Mapping[str, Any], meta_path: Path) -> NetworkSpec:
    """The network of ``metadata.json``, once it agrees with the rest of the file."""
    spec = NetworkSpec.from_dict(meta["network"])
    features = list(meta["features"])
    horizon = int(meta["horizon"])
    if spec.n_inputs != len(features) or spec.horizon != horizon:
        raise _format_error(
            meta_path,
            f"network ({spec.n_inputs} inputs, horizon {spec.horizon}) disagrees with "
            f"features ({len(features)}) / horizon ({horizon})",
        )
    if len(meta["quantiles"]) != spec.n_quantiles:
        raise _format_error(meta_path, "quantiles and network.n_quantiles disagree")
    if meta["target"] not in features:
        raise _format_error(meta_path, f"target {meta['target']!r} is not among the features")
    try:
        scale_from_metadata(meta, horizon)
    except ValueError as exc:
        raise _format_error(meta_path, str(exc)) from exc
    return spec


def _check_weights(bundle: ModelBundle, spec: NetworkSpec, weights_path: Path) -> None:
    expected = spec.weight_shapes()
    actual = {k: tuple(v.shape) for k, v in bundle.weights.items()}
    if actual != expected:
        problems = [
            f"{k}: expected {expected.get(k, 'absent')}, found {actual.get(k, 'absent')}"
            for k in sorted(set(expected) | set(actual))
            if expected.get(k) != actual.get(k)
        ]
        raise _format_error(
            weights_path, "weights do not match metadata.json: " + "; ".join(problems[:4])
        )
    if not all(np.isfinite(v).all() for v in bundle.weights.values()):
        raise _format_error(weights_path, "weights contain NaN or infinity")


def _check_adapter(bundle: ModelBundle, features: list[str], adapter_path: Path) -> None:
    target = bundle.metadata["target"]
    target_spec = (
        bundle.adapter.inputs[features.index(target)]
        if (list(bundle.adapter.input_names) == features)
        else None
    )
    if target_spec is not None and target_spec.field != bundle.adapter.target.field:
        raise _format_error(
            adapter_path,
            f"input {target!r} reads {target_spec.field}, but the target is "
            f"{bundle.adapter.target.field}",
        )
    if list(bundle.adapter.input_names) != features:
        raise _format_error(
            adapter_path,
            f"inputs {list(bundle.adapter.input_names)} differ from the features {features}",
        )
