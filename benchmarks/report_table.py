"""Render a ``wxstream evaluate`` JSON report as the Markdown tables of docs/evaluation.md.

Usage::

    .venv/bin/python benchmarks/report_table.py reports/evaluation-five-cities.json \
        --leads 1,3,6,12,24
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _fmt(value: float | None, pct: bool = False) -> str:
    if value is None:
        return "-"
    return f"{100 * value:.1f} %" if pct else f"{value:.3f}"


def render(report: dict[str, Any], leads: list[str]) -> str:
    """MAE / RMSE / skill table per method, then the model's interval and the goal."""
    methods: dict[str, Any] = report["methods"]
    leads = [h for h in leads if h in methods["persistence"]["mae"]]
    lines = [
        f"{report['source']}: {report['samples']} test samples, stations "
        f"{', '.join(report['stations'])}",
        "",
        "| method | "
        + " | ".join(f"MAE {h} h" for h in leads)
        + " | "
        + " | ".join(f"RMSE {h} h" for h in leads)
        + " | "
        + " | ".join(f"skill {h} h" for h in leads)
        + " |",
        "|---" * (1 + 3 * len(leads)) + "|",
    ]
    for name, m in methods.items():
        cells = [_fmt(m[k][h]) for k in ("mae", "rmse", "skill_vs_persistence") for h in leads]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    model = methods["model"]
    raw = report["calibration"].get("raw_coverage_p10_p90", {})
    lines += [
        "",
        "| model interval | " + " | ".join(f"{h} h" for h in leads) + " |",
        "|---" * (1 + len(leads)) + "|",
        "| p10-p90 coverage | "
        + " | ".join(_fmt(model["coverage_p10_p90"][h], pct=True) for h in leads)
        + " |",
        "| raw coverage (before calibration) | "
        + " | ".join(_fmt(raw.get(h), pct=True) for h in leads)
        + " |",
        "| mean width degC | "
        + " | ".join(_fmt(model["mean_width_p10_p90"][h]) for h in leads)
        + " |",
        "",
        "| goal criterion | value | limit | met |",
        "|---|---|---|---|",
    ]
    for check in report["goal"]:
        met = "met" if check["met"] else "**not met**"
        lines.append(f"| {check['criterion']} | {check['value']} | {check['limit']} | {met} |")
    return "\n".join(lines)


def main() -> None:
    """Print the tables of one report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("report", type=Path)
    parser.add_argument("--leads", default="1,3,6,12,24")
    args = parser.parse_args()
    report = json.loads(args.report.read_text(encoding="utf-8"))
    print(render(report, args.leads.split(",")))


if __name__ == "__main__":
    main()
