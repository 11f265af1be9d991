"""Scoring the detectors on real held-out rows with injected faults.

For each fault type and size, trials are drawn (seeded) over the stations' test rows;
each trial cuts the station's rows around the fault (clean context before it, a grace
period after it), injects the fault and runs every detector over the segment as the
service would see it. The same detectors also run over the clean test rows.

Per fault type and size and detector:

* recall: share of trials with an alarm from the fault's first hour to ``grace_h``
  hours after its last, at a station-hour where the same detector raises none on the
  clean rows (an alarm it raises anyway is not a detection: over a month-long drift a
  detector flagging 0.5 % of hours at random would otherwise "detect" most drifts);
* detection delay: hours from the fault's first hour to the first such alarm (median);
* precision: those alarms over those alarms plus the alarms the same detector raises
  on the same station-hours without the fault (the clean twin);
* F1 of that precision and recall.

And per detector, the false-positive rate: flagged clean test station-hours over all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.anomalies.faults import FAULTS, FaultSpec, Trial, fault_label, inject, plan_trials
from wxstream.anomalies.neighbours import NeighbourMedians
from wxstream.anomalies.offline import (
    decode_flags,
    flat_forecast_scores,
    issued_forecasts,
    lead1_residuals,
    neighbour_flags,
    qc_flags,
)
from wxstream.anomalies.reference import ReferenceDetectors
from wxstream.anomalies.residual import residual_flags
from wxstream.anomalies.thresholds import QcThresholds
from wxstream.models.forecasting_model import ForecastingModel

BoolArray = npt.NDArray[np.bool_]

DETECTORS: tuple[str, ...] = (
    "wxstream",
    "qc",
    "forecast_residual",
    "neighbours",
    "rolling_z",
    "isolation_forest",
)
"""``wxstream`` is every check together; the next three are its parts alone
(``forecast_residual``: the checks that use the forecast, the residual and the forecast
flat line); the last two are the reference detectors. Records the decoder refuses count
for every one."""
REFERENCES: tuple[str, ...] = ("rolling_z", "isolation_forest")


@dataclass(frozen=True)
class Detectors:
    """Everything the detectors need, learnt or loaded before scoring."""

    thresholds: QcThresholds
    model: ForecastingModel | None
    medians: NeighbourMedians
    references: ReferenceDetectors
    min_run_h: int

    def flags(self, frame: pd.DataFrame) -> dict[str, BoolArray]:
        """Per detector, the rows it flags (``frame``: streams in arrival order, index 0..n-1)."""
        refused = decode_flags(frame)
        qc, _ = qc_flags(frame, self.thresholds)
        residual = np.zeros(len(frame), dtype=bool)
        if self.model is not None and self.thresholds.residual is not None:
            issued = issued_forecasts(self.model, frame)
            z = lead1_residuals(self.model, frame, issued)
            residual = residual_flags(z, self.thresholds.residual)
            flat = self.thresholds.flat_forecast
            if flat is not None:
                residual |= np.abs(flat_forecast_scores(frame, issued, flat)) > flat.z_suspect
        buddies = neighbour_flags(frame, self.thresholds, self.medians, min_run_h=self.min_run_h)
        usable = ~refused
        passed = frame.loc[usable].reset_index(drop=True)
        rolling = np.zeros(len(frame), dtype=bool)
        forest = np.zeros(len(frame), dtype=bool)
        rolling[usable] = self.references.rolling_z_flags(passed)
        forest[usable] = self.references.forest_flags(passed)
        return {
            "wxstream": refused | qc | residual | buddies,
            "qc": refused | qc,
            "forecast_residual": refused | residual,
            "neighbours": refused | buddies,
            "rolling_z": refused | rolling,
            "isolation_forest": refused | forest,
        }


def stream_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """Clean rows as streams: sorted by station and hour, ``station`` beside the id."""
    out = rows.sort_values(["station_id", "window_start"], kind="stable").reset_index(drop=True)
    out["station"] = out["station_id"].astype(str)
    return out


@dataclass
class _Tally:
    detected: int = 0
    within_1h: int = 0
    alarms_in_faults: int = 0
    alarms_in_twins: int = 0
    delays: list[int] = field(default_factory=list)


def _summary(tally: _Tally, trials: int) -> dict[str, float | None]:
    recall = tally.detected / trials if trials else 0.0
    alarms = tally.alarms_in_faults + tally.alarms_in_twins
    precision = tally.alarms_in_faults / alarms if alarms else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "recall": round(recall, 4),
        "recall_within_1h": round(tally.within_1h / trials, 4) if trials else 0.0,
        "precision": round(precision, 4),
        "f1": round(f1, 4),
        "median_delay_h": float(np.median(tally.delays)) if tally.delays else None,
    }


@dataclass(frozen=True)
class _Segment:
    trial: Trial
    offset: int  # first row of the segment in the trials' frame
    context: int  # clean rows before the fault


def _build_segments(
    clean: pd.DataFrame,
    trials: Sequence[Trial],
    *,
    context_rows: int,
    grace_rows: int,
    diff_std: float,
) -> tuple[pd.DataFrame, list[_Segment]]:
    by_station = {str(s): rows.reset_index(drop=True) for s, rows in clean.groupby("station")}
    parts: list[pd.DataFrame] = []
    segments: list[_Segment] = []
    offset = 0
    for number, trial in enumerate(trials):
        rows = by_station[trial.station]
        first = trial.start - context_rows
        piece = rows.iloc[first : trial.start + trial.length + grace_rows].reset_index(drop=True)
        faulty = inject(
            piece, trial.spec, context_rows, trial.length, sign=trial.sign, diff_std=diff_std
        )
        faulty["station_id"] = f"{trial.station}#{number}"
        parts.append(faulty)
        segments.append(_Segment(trial, offset, context_rows))
        offset += len(faulty)
    frame = pd.concat(parts, ignore_index=True) if parts else clean.iloc[:0]
    return frame, segments


def evaluate_faults(
    detectors: Detectors,
    clean: pd.DataFrame,
    *,
    trials_per_size: int,
    seed: int,
    grace_h: int,
    context_rows: int,
    faults: Sequence[FaultSpec] = FAULTS,
) -> dict[str, object]:
    """Run the clean rows and every fault's trials through every detector.

    Args:
        detectors: the learnt detectors.
        clean: the clean test rows as :func:`stream_frame` makes them.
        trials_per_size: trials per fault type and size.
        seed: seed of the trials (same seed, same faults).
        grace_h: hours after a fault in which an alarm still counts as detecting it.
        context_rows: clean rows before each fault (the model's lookback and the
            buddy window need them).

    Returns:
        ``{"false_positive_rate": {...}, "faults": [...]}`` (JSON-ready).
    """
    clean_flags = detectors.flags(clean)
    begins = {str(s): int(rows.index[0]) for s, rows in clean.groupby("station")}
    lengths = {str(s): len(rows) for s, rows in clean.groupby("station")}
    trials = [
        trial
        for spec in faults
        for trial in plan_trials(
            lengths,
            spec,
            trials_per_size,
            seed=seed,
            context_rows=context_rows,
            grace_rows=grace_h,
        )
    ]
    diff_std = detectors.thresholds.variables["temperature"].diff_std
    frame, segments = _build_segments(
        clean, trials, context_rows=context_rows, grace_rows=grace_h, diff_std=diff_std
    )
    fault_flags = (
        detectors.flags(frame) if len(frame) else {d: np.zeros(0, bool) for d in DETECTORS}
    )
    tallies: dict[tuple[str, str], _Tally] = {}
    counts: dict[str, int] = {}
    for segment in segments:
        trial = segment.trial
        label = fault_label(trial.spec)
        counts[label] = counts.get(label, 0) + 1
        window = trial.length + grace_h
        lo = segment.offset + segment.context
        twin_lo = begins[trial.station] + trial.start
        for name in DETECTORS:
            tally = tallies.setdefault((label, name), _Tally())
            twin = clean_flags[name][twin_lo : twin_lo + window]
            # An alarm the clean twin raises too would be there without the fault.
            hits = np.flatnonzero(fault_flags[name][lo : lo + window] & ~twin)
            tally.alarms_in_faults += len(hits)
            tally.alarms_in_twins += int(twin.sum())
            if len(hits):
                tally.detected += 1
                tally.delays.append(int(hits[0]))
                tally.within_1h += int(hits[0] <= 1)
    results = []
    for spec in faults:
        label = fault_label(spec)
        n = counts.get(label, 0)
        results.append(
            {
                "fault": label,
                "kind": spec.kind,
                "size": spec.size,
                "trials": n,
                "detectors": {
                    name: _summary(tallies.get((label, name), _Tally()), n) for name in DETECTORS
                },
            }
        )
    return {
        "station_hours": len(clean),
        "false_positive_rate": {
            name: round(float(clean_flags[name].mean()) if len(clean) else 0.0, 5)
            for name in DETECTORS
        },
        "faults": results,
    }
