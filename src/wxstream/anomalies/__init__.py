"""Anomaly detection on the hourly feature stream.

Quality-control checks per station (:func:`check` over a :class:`QcState`), the
forecast-residual detector, the buddy check against neighbouring stations, the faults
injected to evaluate them and the evaluation itself. Every limit is learnt from a
training period and stored as data (:class:`QcThresholds`, ``qc_thresholds.json``).
"""

from wxstream.anomalies.anomaly import CHECKS, SEVERITIES, VARIABLES, Anomaly, Severity
from wxstream.anomalies.faults import FAULTS, FaultSpec, Trial, inject, plan_trials
from wxstream.anomalies.flat_forecast import (
    FlatForecastState,
    flat_forecast_anomaly,
    forecast_issued,
    learn_flat_forecast_limits,
    observe,
    run_scores,
)
from wxstream.anomalies.learning import LearningQuantiles, learn_thresholds
from wxstream.anomalies.neighbours import (
    SOURCE_GROUPS,
    NeighbourLearning,
    NeighbourMedians,
    learn_neighbour_limits,
    load_groups,
    neighbour_scores,
)
from wxstream.anomalies.qc import QcRunner, QcState, check, initial_state
from wxstream.anomalies.residual import (
    P10_P90_WIDTH_SD,
    learn_residual_limits,
    residual_anomaly,
    standardised_residual,
)
from wxstream.anomalies.thresholds import (
    FlatForecastLimits,
    NeighbourLimits,
    QcThresholds,
    ResidualLimits,
    VariableLimits,
)
from wxstream.anomalies.thresholds_file import (
    QC_THRESHOLDS_FILE,
    read_qc_thresholds,
    write_qc_thresholds,
)

__all__ = [
    "CHECKS",
    "FAULTS",
    "P10_P90_WIDTH_SD",
    "QC_THRESHOLDS_FILE",
    "SEVERITIES",
    "SOURCE_GROUPS",
    "VARIABLES",
    "Anomaly",
    "FaultSpec",
    "FlatForecastLimits",
    "FlatForecastState",
    "LearningQuantiles",
    "NeighbourLearning",
    "NeighbourLimits",
    "NeighbourMedians",
    "QcRunner",
    "QcState",
    "QcThresholds",
    "ResidualLimits",
    "Severity",
    "Trial",
    "VariableLimits",
    "check",
    "flat_forecast_anomaly",
    "forecast_issued",
    "initial_state",
    "inject",
    "learn_flat_forecast_limits",
    "learn_neighbour_limits",
    "learn_residual_limits",
    "learn_thresholds",
    "load_groups",
    "neighbour_scores",
    "observe",
    "plan_trials",
    "read_qc_thresholds",
    "residual_anomaly",
    "run_scores",
    "standardised_residual",
    "write_qc_thresholds",
]
