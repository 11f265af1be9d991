"""Finding and loading model directories: ``load_model`` and ``resolve_model_dir``."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wxstream.errors import ModelError, ModelNotFoundError
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_dir import FIX_NO_MODEL, METADATA_FILE, model_path, read_model_dir
from wxstream.models.runtime import resolve_device
from wxstream.settings import ModelSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelEntry:
    """One directory under ``trained/forecasting`` as listed by ``wxstream models list``.

    Attributes:
        name: the directory name.
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
    """Every model directory under ``forecasting_dir``, oldest first (by ``created``, then name).

    Hidden folders (in-progress writes) are skipped; a directory with unreadable
    metadata is listed with its ``problem``.
    """
    if not forecasting_dir.is_dir():
        return []
    entries: list[ModelEntry] = []
    for child in sorted(forecasting_dir.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        try:
            data = json.loads((child / METADATA_FILE).read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            entries.append(ModelEntry(child.name, child, data))
        except (OSError, ValueError) as exc:
            entries.append(ModelEntry(child.name, child, None, f"{METADATA_FILE}: {exc}"))
    return sorted(entries, key=lambda e: (e.created, e.name))


def resolve_model_dir(settings: ModelSettings) -> Path:
    """The directory of ``settings.model_name``, or of the newest model when it is ``None``.

    Raises:
        ModelNotFoundError: the named directory, or any model at all, is missing.
    """
    root = settings.forecasting_dir
    if settings.model_name is not None:
        path = model_path(root, settings.model_name)
        if not path.is_dir():
            raise ModelNotFoundError(f"model directory not found: {path}", fix=FIX_NO_MODEL)
        return path
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
