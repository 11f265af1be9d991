"""The model store of ``wxstream bench --swap`` and the windows its runs must forecast.

The store names one model, ``bench-swap``, with two versions of the benchmarked model:
the champion, and a copy under a version of its own (its metadata says it is a copy,
so its files, and so its id, differ). A swap's cost (loading and checking a version on
every actor, then draining one transaction) does not depend on the weights, so the
copy measures it without training a second model.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from wxstream.anomalies.thresholds_file import QC_THRESHOLDS_FILE
from wxstream.messages import FeatureMessage
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import ModelRef, add_version, resolve_version
from wxstream.settings import ModelSettings

SWAP_NAME = "bench-swap"


def swap_store(model_dir: Path, storage: Path) -> tuple[ModelSettings, str, str]:
    """Write ``<storage>/trained/forecasting/bench-swap`` (champion and a copy); returns
    its settings, the champion's id and the copy's id."""
    forecasting = storage / "trained" / "forecasting"
    bundle = read_model_dir(model_dir)
    first, _ = add_version(forecasting, SWAP_NAME, bundle, who="bench")
    copy = replace(bundle, metadata={**bundle.metadata, "copy_of": model_dir.name})
    second, _ = add_version(forecasting, SWAP_NAME, copy, who="bench")
    limits = model_dir / QC_THRESHOLDS_FILE
    if limits.is_file():
        # The limits file lies beside the model files and is not part of a version's id.
        for version in (first, second):
            _, path = resolve_version(forecasting, ModelRef(SWAP_NAME, version))
            shutil.copy2(limits, path / QC_THRESHOLDS_FILE)
    return ModelSettings(storage_path=storage, model_name=SWAP_NAME), first, second


def full_windows(messages: Sequence[FeatureMessage], lookback: int) -> set[tuple[str, str]]:
    """``(station, window_end ISO)`` of every message that ends ``lookback`` consecutive
    hourly windows of its station: the forecasts a run without loss must publish (with
    the quality stage keeping every hour, ``--qc-policy use``)."""
    out: set[tuple[str, str]] = set()
    by_station: dict[str, list[FeatureMessage]] = {}
    for msg in messages:
        by_station.setdefault(msg.station_id, []).append(msg)
    for station, series in by_station.items():
        series.sort(key=lambda m: m.window_start)
        for i in range(lookback - 1, len(series)):
            window = series[i - lookback + 1 : i + 1]
            starts = [m.window_start for m in window]
            if all(b - a == timedelta(hours=1) for a, b in itertools.pairwise(starts)):
                out.add((station, window[-1].window_end.isoformat()))
    return out


def longest_gap_ms(
    received_ms: Sequence[float], around_ms: float, before_ms: float, after_ms: float
) -> float:
    """The longest time between two consecutive forecast arrivals whose span meets
    ``[around_ms - before_ms, around_ms + after_ms]`` (0: fewer than two arrivals)."""
    times = sorted(received_ms)
    low, high = around_ms - before_ms, around_ms + after_ms
    gaps = [b - a for a, b in itertools.pairwise(times) if b >= low and a <= high]
    return max(gaps, default=0.0)
