"""``wxstream anomalies evaluate`` end to end: load, split, learn, inject, score, report."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
import pandas as pd

from wxstream.anomalies.evaluation import Detectors, evaluate_faults, stream_frame
from wxstream.anomalies.learning import LearningQuantiles
from wxstream.anomalies.neighbours import (
    SOURCE_GROUPS,
    Groups,
    NeighbourLearning,
    NeighbourMedians,
    load_groups,
)
from wxstream.anomalies.reference import ReferenceDetectors
from wxstream.anomalies.report import goals
from wxstream.anomalies.thresholds import QcThresholds
from wxstream.anomalies.thresholds_file import write_qc_thresholds
from wxstream.anomalies.thresholds_learning import learn_model_thresholds
from wxstream.errors import DataError
from wxstream.settings import AnomalyEvaluationSettings

logger = logging.getLogger(__name__)

# Rows of the reference rolling z-score (a day) and the clean context kept before each
# fault beyond the longest window a detector needs.
ROLLING_WINDOW_H = 24
EXTRA_CONTEXT_H = 24
# A CSV has no named split: the first 60 % of its time range trains, the next 20 %
# validates, the last 20 % is the test period.
CSV_SPLIT_FRACTIONS = (0.6, 0.8)


def load_features(settings: AnomalyEvaluationSettings) -> pd.DataFrame:
    """Publishable hourly feature rows of the source or CSV (optionally some stations)."""
    from wxstream.data import ColumnMapping, load_csv, load_source
    from wxstream.features import aggregate_hourly
    from wxstream.messages import publishable_mask

    if settings.csv_path is not None:
        if settings.mapping_path is None:
            raise DataError(
                "--csv needs a column mapping",
                fix="pass --mapping PATH to a JSON file naming the timestamp, temperature, "
                "dewpoint and wind speed columns",
            )
        observations = load_csv(settings.csv_path, ColumnMapping.load(settings.mapping_path))
    else:
        observations = load_source(settings.source, settings.data_dir)
    features = aggregate_hourly(observations)
    features = features.loc[publishable_mask(features)]
    if settings.stations:
        features = features.loc[features["station_id"].isin(settings.stations)]
        if features.empty:
            raise DataError(
                f"none of the stations {list(settings.stations)} is in the data",
                fix="pass --stations with ids the source has",
            )
    return features.reset_index(drop=True)


def split_features(
    features: pd.DataFrame, settings: AnomalyEvaluationSettings
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Train, validation and test rows: the source's split, or 60/20/20 % of a CSV's time."""
    from wxstream.data import get_split, split_frame

    if settings.csv_path is None:
        return split_frame(features, get_split(settings.source), column="window_start")
    stamps = features["window_start"]
    first, last = stamps.min(), stamps.max()
    cut1, cut2 = (first + (last - first) * f for f in CSV_SPLIT_FRACTIONS)
    return (
        features.loc[stamps < cut1].reset_index(drop=True),
        features.loc[(stamps >= cut1) & (stamps < cut2)].reset_index(drop=True),
        features.loc[stamps >= cut2].reset_index(drop=True),
    )


def _groups(settings: AnomalyEvaluationSettings) -> Groups:
    if settings.groups_path is not None:
        return load_groups(settings.groups_path)
    if settings.csv_path is not None:
        return {}
    return SOURCE_GROUPS.get(settings.source, {})


def _period(rows: pd.DataFrame) -> list[str]:
    if rows.empty:
        return []
    return [str(rows["window_start"].min()), str(rows["window_start"].max())]


def run_evaluation(settings: AnomalyEvaluationSettings) -> dict[str, Any]:
    """The whole evaluation; returns the JSON-ready report."""
    began = time.perf_counter()
    features = load_features(settings)
    train, validation, test = split_features(features, settings)
    if train.empty or test.empty:
        raise DataError(
            "the split leaves no training or no test rows",
            fix="use a source or CSV that covers the split's periods",
        )
    learning, buddy_learning = LearningQuantiles(), NeighbourLearning()
    name = settings.source if settings.csv_path is None else str(settings.csv_path)
    groups = _groups(settings)
    model = None
    if settings.model_dir is not None:
        from wxstream.models.model_loader import load_model

        model = load_model(settings.model_dir, device="cpu")
    thresholds = learn_model_thresholds(
        train,
        validation,
        source=name,
        groups=groups,
        model=model,
        quantiles=learning,
        buddy=buddy_learning,
    )
    if model is not None and settings.model_dir is not None and settings.write_thresholds:
        path = write_qc_thresholds(settings.model_dir, thresholds)
        logger.info("wrote %s", path)
    references = ReferenceDetectors.fit(
        stream_frame(train),
        flag_rate=settings.reference_flag_rate,
        window_h=ROLLING_WINDOW_H,
        seed=settings.seed,
    )
    detectors = Detectors(
        thresholds=thresholds,
        model=model,
        medians=NeighbourMedians.from_features(test, groups),
        references=references,
        min_run_h=buddy_learning.min_run_h,
    )
    lookback = model.lookback if model is not None else 0
    # The buddy check starts scoring once a third of its baseline is there.
    buddy_warm_up = buddy_learning.window_h + buddy_learning.baseline_h // 3
    context = max(lookback, buddy_warm_up, ROLLING_WINDOW_H) + EXTRA_CONTEXT_H
    result = evaluate_faults(
        detectors,
        stream_frame(test),
        trials_per_size=settings.trials_per_size,
        seed=settings.seed,
        grace_h=settings.grace_h,
        context_rows=context,
    )
    report: dict[str, Any] = {
        "source": name,
        "periods": {
            "train": _period(train),
            "validation": _period(validation),
            "test": _period(test),
        },
        "stations": sorted(str(s) for s in test["station_id"].unique()),
        "model": None if model is None else {"name": model.name, "path": str(model.path)},
        "seed": settings.seed,
        "trials_per_size": settings.trials_per_size,
        "grace_h": settings.grace_h,
        **result,
        "thresholds": thresholds_summary(thresholds),
    }
    report["goals"] = goals(report)
    report["wall_time_s"] = round(time.perf_counter() - began, 1)
    return report


def thresholds_summary(thresholds: QcThresholds) -> dict[str, Any]:
    """The learnt limits as the report shows them (the buddy hour offsets left out)."""
    data = thresholds.to_json()
    for limits in data["neighbours"].values():
        limits["hour_offset_mean_c"] = round(float(np.mean(limits.pop("hour_offset_c"))), 3)
    return data
