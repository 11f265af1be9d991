"""The learnt limits of every check, as data: :class:`QcThresholds` and its JSON form.

Nothing here is a tuned literal: every number comes from :mod:`.learning` (quantiles of
the training period's own hour-to-hour behaviour) and travels as ``qc_thresholds.json``
in the model directory (see :mod:`.thresholds_file`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

FORMAT_NAME: Final = "wxstream-qc-thresholds"
FORMAT_VERSION: Final = 2
"""2 added ``flat_forecast``; version 1 files (without it) still read."""


@dataclass(frozen=True)
class VariableLimits:
    """Limits of one variable (degC or m/s; run lengths in hours).

    Attributes:
        low / high: plausible range; outside is ``bad``.
        step_suspect / step_bad: limits of ``|x(t) - x(t-1)|`` between consecutive hours.
        spike_suspect / spike_bad: limits of the spike statistic: the smaller of the
            two changes into and out of an hour when they have opposite signs.
        flat_hours_suspect / flat_hours_bad: a value repeated this many consecutive
            hours is flagged.
        diff_std: standard deviation of the hour-to-hour change (the unit of the
            injected spikes, and a scale for reports).
    """

    low: float
    high: float
    step_suspect: float
    step_bad: float
    spike_suspect: float
    spike_bad: float
    flat_hours_suspect: int
    flat_hours_bad: int
    diff_std: float


@dataclass(frozen=True)
class ResidualLimits:
    """Limits of the standardised forecast residual ``|obs - p50| / ((p90 - p10) / 2.563)``.

    Attributes:
        lead_h: the lead whose forecast scores an observation.
        z_suspect / z_bad: limits of ``|z|``.
    """

    lead_h: int
    z_suspect: float
    z_bad: float


@dataclass(frozen=True)
class FlatForecastLimits:
    """Limits of the forecast flat-line score (:mod:`.flat_forecast`).

    Attributes:
        min_run_h: a run is scored once its value has repeated this many hours.
        z_suspect / z_bad: limits of ``|sum(z_j)| / sqrt(k)`` over the run's ``k``
            repeated hours.
    """

    min_run_h: int
    z_suspect: float
    z_bad: float


@dataclass(frozen=True)
class NeighbourLimits:
    """Buddy-check limits of one station against the median of its group's others.

    Attributes:
        group: the station group.
        hour_offset_c: the usual difference station - neighbours' median, per UTC hour.
        instant_c: limit of ``|difference - usual|`` in one hour.
        rolling_c: limit of the recent mean of ``difference - usual`` minus its baseline
            mean before.
        stuck_range_c: while the station repeats one value, the neighbours' median
            moving by more than this flags it.
    """

    group: str
    hour_offset_c: tuple[float, ...]
    instant_c: float
    rolling_c: float
    stuck_range_c: float


@dataclass(frozen=True)
class QcThresholds:
    """Every learnt limit.

    Attributes:
        variables: variable name (see :data:`~.anomaly.VARIABLES`) -> limits.
        dewpoint_excess_suspect_c / dewpoint_excess_bad_c: dew point above temperature
            by more than this is flagged.
        max_gap_h: a gap longer than this between consecutive hours is flagged.
        residual: the forecast-residual limits, or ``None`` when not learnt.
        flat_forecast: the forecast flat-line limits, or ``None`` when not learnt.
        neighbour_window_h / neighbour_baseline_h: windows of the recent and the
            baseline mean buddy difference.
        neighbours: station -> buddy limits (empty: no buddy check).
        learned_from: provenance (source, period, rows, quantiles).
    """

    variables: Mapping[str, VariableLimits]
    dewpoint_excess_suspect_c: float
    dewpoint_excess_bad_c: float
    max_gap_h: int
    residual: ResidualLimits | None = None
    flat_forecast: FlatForecastLimits | None = None
    neighbour_window_h: int = 0
    neighbour_baseline_h: int = 0
    neighbours: Mapping[str, NeighbourLimits] = field(default_factory=dict)
    learned_from: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The JSON object :meth:`from_json` reads."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "variables": {name: asdict(lim) for name, lim in self.variables.items()},
            "dewpoint_excess_suspect_c": self.dewpoint_excess_suspect_c,
            "dewpoint_excess_bad_c": self.dewpoint_excess_bad_c,
            "max_gap_h": self.max_gap_h,
            "residual": None if self.residual is None else asdict(self.residual),
            "flat_forecast": None if self.flat_forecast is None else asdict(self.flat_forecast),
            "neighbour_window_h": self.neighbour_window_h,
            "neighbour_baseline_h": self.neighbour_baseline_h,
            "neighbours": {
                station: {**asdict(lim), "hour_offset_c": list(lim.hour_offset_c)}
                for station, lim in self.neighbours.items()
            },
            "learned_from": dict(self.learned_from),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QcThresholds:
        """Inverse of :meth:`to_json`; ``ValueError``/``KeyError``/``TypeError`` when malformed."""
        if data.get("format") != FORMAT_NAME:
            raise ValueError(f"format is {data.get('format')!r}, expected {FORMAT_NAME!r}")
        if int(data.get("format_version", -1)) > FORMAT_VERSION:
            raise ValueError(f"format_version {data.get('format_version')} is newer than known")
        variables = {
            str(name): VariableLimits(
                low=float(v["low"]),
                high=float(v["high"]),
                step_suspect=float(v["step_suspect"]),
                step_bad=float(v["step_bad"]),
                spike_suspect=float(v["spike_suspect"]),
                spike_bad=float(v["spike_bad"]),
                flat_hours_suspect=int(v["flat_hours_suspect"]),
                flat_hours_bad=int(v["flat_hours_bad"]),
                diff_std=float(v["diff_std"]),
            )
            for name, v in dict(data["variables"]).items()
        }
        raw_residual = data.get("residual")
        residual = (
            None
            if raw_residual is None
            else ResidualLimits(
                lead_h=int(raw_residual["lead_h"]),
                z_suspect=float(raw_residual["z_suspect"]),
                z_bad=float(raw_residual["z_bad"]),
            )
        )
        raw_flat = data.get("flat_forecast")
        flat_forecast = (
            None
            if raw_flat is None
            else FlatForecastLimits(
                min_run_h=int(raw_flat["min_run_h"]),
                z_suspect=float(raw_flat["z_suspect"]),
                z_bad=float(raw_flat["z_bad"]),
            )
        )
        neighbours = {
            str(station): NeighbourLimits(
                group=str(n["group"]),
                hour_offset_c=tuple(float(x) for x in n["hour_offset_c"]),
                instant_c=float(n["instant_c"]),
                rolling_c=float(n["rolling_c"]),
                stuck_range_c=float(n["stuck_range_c"]),
            )
            for station, n in dict(data.get("neighbours", {})).items()
        }
        for station, lim in neighbours.items():
            if len(lim.hour_offset_c) != 24:
                raise ValueError(f"neighbours.{station}.hour_offset_c needs 24 values")
        return cls(
            variables=variables,
            dewpoint_excess_suspect_c=float(data["dewpoint_excess_suspect_c"]),
            dewpoint_excess_bad_c=float(data["dewpoint_excess_bad_c"]),
            max_gap_h=int(data["max_gap_h"]),
            residual=residual,
            flat_forecast=flat_forecast,
            neighbour_window_h=int(data.get("neighbour_window_h", 0)),
            neighbour_baseline_h=int(data.get("neighbour_baseline_h", 0)),
            neighbours=neighbours,
            learned_from=dict(data.get("learned_from", {})),
        )
