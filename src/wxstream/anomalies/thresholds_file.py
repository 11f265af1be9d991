"""``qc_thresholds.json`` in a model directory: written and read beside the model's files.

The file is an addition to the layout of :mod:`wxstream.models.model_dir`; the model's
own files and ``metadata.json`` stay as they are (their checksums do not cover it), so
a model without the file still loads and one with it is still a valid model directory.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Final

from wxstream.anomalies.thresholds import QcThresholds
from wxstream.errors import ModelFormatError, ModelNotFoundError

QC_THRESHOLDS_FILE: Final = "qc_thresholds.json"
_FIX = "learn them again with `wxstream anomalies evaluate --write-thresholds`"


def write_qc_thresholds(model_dir: Path, thresholds: QcThresholds) -> Path:
    """Write ``<model_dir>/qc_thresholds.json`` atomically (temporary file renamed)."""
    if not model_dir.is_dir():
        raise ModelNotFoundError(
            f"model directory not found: {model_dir}", fix="pass an existing --model-dir"
        )
    target = model_dir / QC_THRESHOLDS_FILE
    tmp = model_dir / f".{QC_THRESHOLDS_FILE}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(thresholds.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def read_qc_thresholds(model_dir: Path) -> QcThresholds | None:
    """The thresholds stored in ``model_dir``, or ``None`` when it has none.

    Raises:
        ModelFormatError: the file exists but is not valid thresholds JSON.
    """
    path = model_dir / QC_THRESHOLDS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return QcThresholds.from_json(data)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ModelFormatError(f"{path}: invalid QC thresholds: {exc}", fix=_FIX) from exc
