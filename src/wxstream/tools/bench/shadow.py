"""The model ``wxstream bench --shadow`` serves: a registry name whose champion and
challenger are two versions of the benchmarked model.

The challenger holds the champion's weights under a version of its own (its metadata
says it is a copy, so its files, and so its id, differ): a shadow's cost is one more
forward pass, encoding and produce per window whatever its weights, so the copy
measures what a real second version costs without training one. The model's QC limits
go with both versions, so that the quality stage runs as in the runs compared.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from wxstream.anomalies.thresholds_file import QC_THRESHOLDS_FILE
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import ModelRef, add_version, promote, resolve_version
from wxstream.settings import ModelSettings

SHADOW_NAME = "bench-shadow"


def shadow_model(model_dir: Path, storage: Path) -> ModelSettings:
    """Write ``<storage>/trained/forecasting/bench-shadow`` with two versions of the
    model in ``model_dir`` (champion, and a copy as challenger) and name it."""
    forecasting = storage / "trained" / "forecasting"
    bundle = read_model_dir(model_dir)
    add_version(forecasting, SHADOW_NAME, bundle, who="bench")
    copy = replace(bundle, metadata={**bundle.metadata, "copy_of": model_dir.name})
    second, _ = add_version(forecasting, SHADOW_NAME, copy, who="bench")
    promote(
        forecasting,
        SHADOW_NAME,
        second,
        alias="challenger",
        why="the benchmark's shadow",
        who="bench",
    )
    limits = model_dir / QC_THRESHOLDS_FILE
    if limits.is_file():
        # The same quality stage as the runs it is compared with (the limits file lies
        # beside the model files and is not part of a version's id).
        for alias in ("champion", "challenger"):
            _, path = resolve_version(forecasting, ModelRef(SHADOW_NAME, alias))
            shutil.copy2(limits, path / QC_THRESHOLDS_FILE)
    return ModelSettings(storage_path=storage, model_name=SHADOW_NAME)
