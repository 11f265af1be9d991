"""The evaluation report: the targets it is held to and the printed table."""

from __future__ import annotations

from typing import Any

from wxstream.anomalies.evaluation import REFERENCES

MAX_FALSE_POSITIVE_RATE = 0.005


def _fault(report: dict[str, Any], label: str) -> dict[str, Any] | None:
    for row in report["faults"]:
        if row["fault"] == label:
            ours: dict[str, Any] = row["detectors"]["wxstream"]
            return ours
    return None


def _worst(report: dict[str, Any], labels: list[str], key: str) -> float | None:
    values = [row[key] for label in labels if (row := _fault(report, label)) is not None]
    values = [v for v in values if v is not None]
    return min(values) if values else None


def _goal(criterion: str, value: float | None, limit: str, met: bool) -> dict[str, Any]:
    return {"criterion": criterion, "value": value, "limit": limit, "met": met}


def goals(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets, each with the measured value and whether it is met."""
    out: list[dict[str, Any]] = []
    fp = float(report["false_positive_rate"]["wxstream"])
    out.append(_goal("false positives (share of clean station-hours)", fp, "<= 0.005", fp <= 0.005))
    spikes = _worst(report, ["spike 5sd", "spike 8sd"], "recall")
    out.append(_goal("recall, spikes >= 5 sd", spikes, ">= 0.95", (spikes or 0) >= 0.95))
    units = _worst(report, ["degF 6-24h", "kelvin 6-24h"], "recall_within_1h")
    out.append(_goal("recall within 1 h, unit mix-ups", units, ">= 0.95", (units or 0) >= 0.95))
    long_stuck = ["stuck 6h", "stuck 12h", "stuck 24h", "stuck 48h"]
    stuck = _worst(report, long_stuck, "recall")
    out.append(_goal("recall, stuck sensor >= 6 h", stuck, ">= 0.90", (stuck or 0) >= 0.90))
    delays = [
        row["median_delay_h"]
        for label in long_stuck
        if (row := _fault(report, label)) is not None and row["median_delay_h"] is not None
    ]
    delay = max(delays) if delays else None
    out.append(
        _goal(
            "median delay, stuck sensor >= 6 h (h)",
            delay,
            "<= 6",
            delay is not None and delay <= 6,
        )
    )
    drift = _worst(report, ["drift 3C/14d"], "recall")
    out.append(_goal("recall, 3 degC drift over 14 days", drift, ">= 0.70", (drift or 0) >= 0.70))
    behind = []
    for row in report["faults"]:
        ours = row["detectors"]["wxstream"]["f1"]
        for ref in REFERENCES:
            theirs = row["detectors"][ref]["f1"]
            if theirs < 1.0 and ours <= theirs:
                behind.append(f"{row['fault']} ({ref} {theirs} >= {ours})")
    out.append(
        _goal(
            "F1 above both reference detectors (where below 1.0)",
            len(behind),
            "0 faults behind",
            not behind,
        )
        | {"behind": behind}
    )
    return out


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def format_table(report: dict[str, Any]) -> str:
    """One line per fault type and size: ours (P, R, F1, delay), its parts' recall, and
    the reference detectors' F1; then the false-positive rates."""
    header = (
        f"{'fault':<18} {'n':>4} {'P':>5} {'R':>5} {'F1':>5} {'delay h':>7} "
        f"{'R qc':>5} {'R res':>5} {'R nb':>5} {'F1 rz':>6} {'F1 if':>6}"
    )
    lines = [header, "-" * len(header)]
    for row in report["faults"]:
        d = row["detectors"]
        ours = d["wxstream"]
        lines.append(
            f"{row['fault']:<18} {row['trials']:>4} {_cell(ours['precision']):>5} "
            f"{_cell(ours['recall']):>5} {_cell(ours['f1']):>5} "
            f"{_cell(ours['median_delay_h']):>7} {_cell(d['qc']['recall']):>5} "
            f"{_cell(d['forecast_residual']['recall']):>5} {_cell(d['neighbours']['recall']):>5} "
            f"{_cell(d['rolling_z']['f1']):>6} {_cell(d['isolation_forest']['f1']):>6}"
        )
    rates = ", ".join(f"{k} {v * 100:.2f} %" for k, v in report["false_positive_rate"].items())
    lines.append(f"false positives on {report['station_hours']} clean station-hours: {rates}")
    return "\n".join(lines)
