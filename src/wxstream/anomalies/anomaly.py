"""What every detector reports: an :class:`Anomaly` for one station, hour and variable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

Severity = Literal["suspect", "bad"]
SEVERITIES: Final = ("suspect", "bad")

VARIABLES: Final[dict[str, str]] = {
    "temperature": "avg_temperature",
    "dewpoint": "avg_dewpoint",
    "wind_speed": "avg_wind_speed",
}
"""Checked variable -> the feature message field that carries it."""

CHECKS: Final = (
    "decode",  # the service's decoder refused the record (dead-letter topic)
    "range",
    "step",
    "spike",
    "flat_line",
    "dewpoint_above_temperature",
    "min_avg_max",
    "duplicate",
    "out_of_order",
    "gap",
    "forecast_residual",
    "neighbours",
)
"""Every :attr:`Anomaly.check` name."""


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One finding.

    Attributes:
        station_id: the station.
        hour: ``window_start`` of the hourly window concerned (UTC).
        variable: a key of :data:`VARIABLES`, or ``"time"`` / ``"record"``.
        check: one of :data:`CHECKS`.
        score: how far past the limit, in the check's own unit (a ratio to the
            threshold for most checks: 1.0 is at the limit).
        severity: ``suspect`` (past the learnt limit) or ``bad`` (far past it, or impossible).
    """

    station_id: str
    hour: datetime
    variable: str
    check: str
    score: float
    severity: Severity
