"""From observations to model inputs: the Spark-style hourly aggregation that makes
``weather-features`` rows, and the feature adapter that turns messages into the
model's input matrix (the wire format itself lives in :mod:`wxstream.messages`)."""

from __future__ import annotations

from wxstream.features.adapter import FeatureAdapter, InputSpec, default_adapter
from wxstream.features.aggregation import FEATURE_COLUMNS, aggregate_hourly

__all__ = [
    "FEATURE_COLUMNS",
    "FeatureAdapter",
    "InputSpec",
    "aggregate_hourly",
    "default_adapter",
]
