"""The wire formats, pure: ``weather-features`` records, ``weather-predictions``
records, ``weather-anomalies`` findings, dead letters on ``weather-features.dlq``, and
their JSON Schemas.
records, dead letters on ``weather-features.dlq``, ``weather-verification`` records
(forecasts paired with observations), and their JSON Schemas.

Nothing here does IO: decoders take bytes and return a message or an
:class:`InvalidRecord` (a value with a reason code, never an exception).
"""

from __future__ import annotations

from wxstream.messages.anomalies import (
    Anomaly,
    AnomalyMessage,
    AnomalySource,
    anomaly_key,
    decode_anomaly,
    encode_anomaly,
)
from wxstream.messages.anomalies import schema_path as anomaly_schema_path
from wxstream.messages.dead_letters import (
    DETAIL_HEADER,
    REASON_HEADER,
    DeadLetter,
    dead_letter,
    read_headers,
)
from wxstream.messages.feature_frames import encode_frame, messages_from_frame, publishable_mask
from wxstream.messages.features import (
    FIELDS,
    MAX_MESSAGE_BYTES,
    REASONS,
    FeatureMessage,
    InvalidRecord,
    decode_feature,
    decode_record,
    encode_feature,
    feature_key,
    format_timestamp,
)
from wxstream.messages.features import schema_path as feature_schema_path
from wxstream.messages.predictions import (
    ForecastInput,
    PredictionEncoder,
    PredictionMessage,
    decode_prediction,
)
from wxstream.messages.predictions import schema_path as prediction_schema_path
from wxstream.messages.verification import (
    SkillRecord,
    decode_verification,
    encode_verification,
)
from wxstream.messages.verification import schema_path as verification_schema_path

__all__ = [
    "DETAIL_HEADER",
    "FIELDS",
    "MAX_MESSAGE_BYTES",
    "REASONS",
    "REASON_HEADER",
    "Anomaly",
    "AnomalyMessage",
    "AnomalySource",
    "DeadLetter",
    "FeatureMessage",
    "ForecastInput",
    "InvalidRecord",
    "PredictionEncoder",
    "PredictionMessage",
    "SkillRecord",
    "anomaly_key",
    "anomaly_schema_path",
    "dead_letter",
    "decode_anomaly",
    "decode_feature",
    "decode_prediction",
    "decode_record",
    "decode_verification",
    "encode_anomaly",
    "encode_feature",
    "encode_frame",
    "encode_verification",
    "feature_key",
    "feature_schema_path",
    "format_timestamp",
    "messages_from_frame",
    "prediction_schema_path",
    "publishable_mask",
    "read_headers",
    "verification_schema_path",
]
