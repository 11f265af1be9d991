"""Finding and loading model directories: ``load_model`` and ``resolve_model_dir``.

A model reference (``NAME``, ``NAME@VERSION``, ``NAME@ALIAS``) is resolved by the
registry (``wxstream.models.registry``), the one copy of that logic.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wxstream.errors import ModelError, ModelNotFoundError, WxstreamError
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_dir import FIX_NO_MODEL, METADATA_FILE, read_model_dir
from wxstream.models.registry import ModelRef, resolve, resolve_version
from wxstream.models.runtime import resolve_device
from wxstream.settings import ModelSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    """One directory under ``trained/forecasting`` as listed by ``wxstream models list``.

    Attributes:
        name: the model name (the folder's name).
        path: the directory.
        metadata: parsed ``metadata.json``, or ``None`` when unreadable.
        problem: why the metadata could not be read, else ``None``.
    """

    name: str
    path: Path
    metadata: dict[str, Any] | None
    problem: str | None = None

    @property
    def created(self) -> str:
        """ISO creation time from the metadata ('' when unknown)."""
        return str((self.metadata or {}).get("created", ""))


def list_models(forecasting_dir: Path) -> list[ModelEntry]:
    """Every model name under ``forecasting_dir``, oldest first (by ``created``, then name).

    A versioned name is listed by its champion; hidden folders (in-progress writes) are
    skipped; a name whose champion is unreadable is listed with its ``problem``.
    """
    if not forecasting_dir.is_dir():
        return []
    entries: list[ModelEntry] = []
    for child in sorted(forecasting_dir.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        try:
            _, path = resolve_version(forecasting_dir, ModelRef(child.name))
            data = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            entries.append(ModelEntry(child.name, path, data))
        except (OSError, ValueError, WxstreamError) as exc:
            entries.append(ModelEntry(child.name, child, None, f"{METADATA_FILE}: {exc}"))
    return sorted(entries, key=lambda e: (e.created, e.name))


def resolve_model_dir(settings: ModelSettings) -> Path:
    """The directory ``settings.model_name`` names, or the newest model's when it is ``None``.

    A name is ``NAME`` (its champion), ``NAME@VERSION``, ``NAME@champion`` or
    ``NAME@challenger``; the registry resolves it (``wxstream.models.registry.resolve``).

    Raises:
        ModelNotFoundError: the named model or version, or any model at all, is missing.
        IncompleteVersionError: the version is half-copied or changed.
    """
    root = settings.forecasting_dir
    if settings.model_name is not None:
        return resolve(root, settings.model_name)
    readable = [e for e in list_models(root) if e.metadata is not None]
    if not readable:
        raise ModelNotFoundError(f"no model found under {root}", fix=FIX_NO_MODEL)
    newest = readable[-1]
    logger.info("using the newest model %s", newest.path)
    return newest.path


def load_model(
    model_dir: Path,
    device: str = "auto",
    *,
    runtime: str | None = None,
    intra_op_threads: int = 1,
) -> ForecastingModel:
    """Load a model directory into a :class:`ForecastingModel`.

    Args:
        model_dir: the ``trained/forecasting/<NAME>`` directory.
        device: ``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``.
        runtime: ``None`` picks by device (CPU: onnxruntime, CUDA: torch), or one of
            ``onnxruntime``, ``torch``, ``numpy``.
        intra_op_threads: CPU threads per inference call.

    Raises:
        ModelNotFoundError: ``model_dir`` does not exist.
        ModelFormatError: a file is missing, corrupt or disagrees with the metadata.
    """
    model_dir = Path(model_dir)
    bundle = read_model_dir(model_dir)
    resolved = resolve_device(device)
    try:
        model = ForecastingModel.from_bundle(
            bundle,
            device=resolved,
            runtime=runtime,
            intra_op_threads=intra_op_threads,
            path=model_dir,
        )
    except (RuntimeError, ValueError) as exc:
        raise ModelError(
            f"{model_dir}: cannot build the inference runtime: {exc}",
            fix="try --device cpu, or another runtime",
        ) from exc
    logger.info("loaded model %s (%s on %s)", model.name, model.runtime, model.device)
    return model
