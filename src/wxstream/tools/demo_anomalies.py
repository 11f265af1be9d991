"""The demo's anomaly part: where the replay's faults go, which verified forecasts
they touch (left out of the clean MAE), and the report of what the quality stage found.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

from wxstream.messages.anomalies import AnomalyMessage
from wxstream.ops.anomalies import ANOMALY_HEADER, format_anomaly, read_anomalies
from wxstream.ops.verification import VerifiedPair, target_window_start
from wxstream.settings import KafkaSettings, ReplaySettings
from wxstream.tools.replay_faults import InjectedFault


def lookback_h(model_dir: Path) -> int:
    """Input hours of the served model (its ``metadata.json``)."""
    metadata = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
    return int(metadata["lookback"])


def planned_faults(settings: ReplaySettings) -> tuple[InjectedFault, ...]:
    """Where :func:`replay` with ``settings`` puts its faults (the same pure, seeded draw)."""
    from wxstream.tools.replay import load_observations, select_features
    from wxstream.tools.replay_faults import inject_faults, parse_fault_spec

    if not settings.inject_faults:
        return ()
    rows = select_features(load_observations(settings), settings).rows
    return inject_faults(rows, parse_fault_spec(settings.inject_faults), seed=settings.fault_seed)[
        1
    ]


def near_faults(
    injected: tuple[InjectedFault, ...], lookback_h: int
) -> Callable[[VerifiedPair], bool]:
    """Whether a verified pair's input window or target hour touches an injected fault."""

    def excluded(pair: VerifiedPair) -> bool:
        first_input = pair.issued_at - timedelta(hours=lookback_h)
        target = target_window_start(pair.issued_at, pair.lead_h)
        return any(f.covers(pair.station_id, first_input, target) for f in injected)

    return excluded


def run_findings(
    kafka: KafkaSettings, features_start: Mapping[int, int], timeout_s: float
) -> list[AnomalyMessage]:
    """The anomalies topic's findings about this run's records: those whose source is
    at or after ``features_start`` (partition -> offset) in the features topic (a reused
    broker's topic holds earlier runs' findings too). None when there is no topic."""
    from wxstream.errors import TopicMissingError

    try:
        read = read_anomalies(kafka, timeout_s=timeout_s)
    except TopicMissingError:
        return []
    return [
        f
        for f in read.findings
        if f.source.topic == kafka.features_topic
        and f.source.offset >= features_start.get(f.source.partition, 0)
    ]


def anomaly_table(findings: list[AnomalyMessage]) -> dict[str, dict[str, int]]:
    """Check -> severity -> number of findings."""
    table: dict[str, dict[str, int]] = {}
    for finding in findings:
        row = table.setdefault(finding.anomaly.check, {"suspect": 0, "bad": 0})
        row[finding.anomaly.severity] += 1
    return dict(sorted(table.items()))


_FIRST_FINDINGS = 5


def anomaly_lines(
    topic: str,
    findings: list[AnomalyMessage],
    *,
    forecasts: int,
    flagged: int | None,
    excluded_pairs: int | None,
) -> list[str]:
    """The demo's anomaly report: a table per check and severity, the first findings,
    how many forecasts had flagged input (``None``: they do not say) and how many
    verified values the MAE leaves out (``None``: no fault injected)."""
    lines = [f"anomalies found by the quality stage ({topic}): {len(findings)}"]
    if findings:
        lines.append(f"  {'check':<28}{'suspect':>8}{'bad':>6}")
        lines.extend(
            f"  {check:<28}{row['suspect']:>8}{row['bad']:>6}"
            for check, row in anomaly_table(findings).items()
        )
        lines.append("  first findings:")
        lines.append("    " + ANOMALY_HEADER)
        lines.extend("    " + format_anomaly(f) for f in findings[:_FIRST_FINDINGS])
    else:
        lines.append(
            "  none in this run's records: the service writes them when it runs the "
            "quality stage and its model has qc_thresholds.json (see docs/anomalies.md)"
        )
    if flagged is None:
        lines.append("forecasts with flagged input: not reported by this service")
    else:
        lines.append(f"forecasts with flagged input: {flagged} of {forecasts}")
    if excluded_pairs is not None:
        lines.append(
            f"the MAE leaves out {excluded_pairs} verified value(s) whose input window or "
            "target hour touches an injected fault"
        )
    return lines
