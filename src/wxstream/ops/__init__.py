"""Read-only views of a running pipeline: ``status``, ``tail`` and forecast verification.

- :mod:`wxstream.ops.status`: the status report, its parts and :func:`assess`.
- :mod:`wxstream.ops.status_probes`: asking Kafka and Ray (:func:`gather_status`).
- :mod:`wxstream.ops.tail`: :class:`Tail`, the live view of forecasts.
- :mod:`wxstream.ops.anomalies` / :mod:`wxstream.ops.anomaly_tail`: the findings of the
  quality stage (read, counted, shown; :class:`AnomalyTail` follows them live).
- :mod:`wxstream.ops.verification`: :class:`Verifier`, forecasts scored against what
  was observed.
- :mod:`wxstream.ops.model_skill`: live skill of a model's versions read from the
  topics (``wxstream models skill|decide``).
"""

from __future__ import annotations

from wxstream.ops.anomalies import (
    AnomaliesRead,
    AnomalyReport,
    count_anomalies,
    format_anomaly,
    read_anomalies,
)
from wxstream.ops.anomaly_tail import AnomalyTail, AnomalyTailProgress
from wxstream.ops.status import (
    ACTOR_CLASS_NAME,
    EXIT_GROUP_INACTIVE,
    EXIT_KAFKA_UNREACHABLE,
    EXIT_LAG_GROWING,
    EXIT_NO_ACTORS,
    EXIT_OK,
    EXIT_RAY_UNAVAILABLE,
    EXIT_TOPIC_MISSING,
    ActorReport,
    BrokerReport,
    DeadLetterReport,
    GroupReport,
    Health,
    MemberReport,
    PartitionLag,
    Problem,
    RayReport,
    RayState,
    StatusReport,
    TopicReport,
    assess,
    parse_actor_repr,
)
from wxstream.ops.status_probes import (
    GroupAnswer,
    KafkaAdminProbe,
    KafkaProbe,
    RayProbe,
    RayStateProbe,
    gather_status,
)
from wxstream.ops.tail import (
    RowLimiter,
    StartOffsets,
    Tail,
    TailProgress,
    format_forecast,
    format_header,
    format_mae,
    format_verified,
)
from wxstream.ops.verification import (
    DEFAULT_MAX_OBSERVATIONS,
    DEFAULT_MAX_PENDING,
    LeadScore,
    VerifiedPair,
    Verifier,
    target_window_start,
)

__all__ = [
    "ACTOR_CLASS_NAME",
    "DEFAULT_MAX_OBSERVATIONS",
    "DEFAULT_MAX_PENDING",
    "EXIT_GROUP_INACTIVE",
    "EXIT_KAFKA_UNREACHABLE",
    "EXIT_LAG_GROWING",
    "EXIT_NO_ACTORS",
    "EXIT_OK",
    "EXIT_RAY_UNAVAILABLE",
    "EXIT_TOPIC_MISSING",
    "ActorReport",
    "AnomaliesRead",
    "AnomalyReport",
    "AnomalyTail",
    "AnomalyTailProgress",
    "BrokerReport",
    "DeadLetterReport",
    "GroupAnswer",
    "GroupReport",
    "Health",
    "KafkaAdminProbe",
    "KafkaProbe",
    "LeadScore",
    "MemberReport",
    "PartitionLag",
    "Problem",
    "RayProbe",
    "RayReport",
    "RayState",
    "RayStateProbe",
    "RowLimiter",
    "StartOffsets",
    "StatusReport",
    "Tail",
    "TailProgress",
    "TopicReport",
    "VerifiedPair",
    "Verifier",
    "assess",
    "count_anomalies",
    "format_anomaly",
    "format_forecast",
    "format_header",
    "format_mae",
    "format_verified",
    "gather_status",
    "parse_actor_repr",
    "read_anomalies",
    "target_window_start",
]
