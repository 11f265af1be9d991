"""Spark-style hourly features, the ``weather-features`` message codec, the feature adapter."""

from __future__ import annotations

from wxstream.features.adapter import FeatureAdapter, InputSpec, default_adapter
from wxstream.features.aggregation import FEATURE_COLUMNS, aggregate_hourly
from wxstream.features.schema import (
    REASONS,
    FeatureMessage,
    InvalidRecord,
    decode_feature,
    encode_feature,
    encode_frame,
    feature_key,
    messages_from_frame,
    publishable_mask,
    schema_path,
)

__all__ = [
    "FEATURE_COLUMNS",
    "REASONS",
    "FeatureAdapter",
    "FeatureMessage",
    "InputSpec",
    "InvalidRecord",
    "aggregate_hourly",
    "decode_feature",
    "default_adapter",
    "encode_feature",
    "encode_frame",
    "feature_key",
    "messages_from_frame",
    "publishable_mask",
    "schema_path",
]
