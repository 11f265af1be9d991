"""The live skill pictured: MAE, pinball loss and 80 % coverage against lead, one line
per model version (``wxstream plot --skill``, from the verification topic), in the style
of :mod:`wxstream.models.plots`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from wxstream.errors import DataError
from wxstream.models.plots import DEFAULT_DPI, _lead_ticks, _new_figure, _save

SKILL_FIGSIZE_IN = (13.0, 4.5)
NOMINAL_COVERAGE = 0.8


@dataclass(frozen=True)
class SkillCurve:
    """One version's figures per lead, leads ascending."""

    leads_h: Sequence[int]
    mae_c: Sequence[float]
    pinball_c: Sequence[float]
    coverage: Sequence[float]
    pairs: int


def plot_skill(
    curves: Mapping[str, SkillCurve], *, path: Path, title: str, dpi: int = DEFAULT_DPI
) -> Path:
    """Three panels (MAE, pinball, coverage against lead), one line per version label.

    Raises:
        DataError: no version has a paired forecast.
    """
    if not any(len(c.leads_h) for c in curves.values()):
        raise DataError(
            "no paired forecasts to plot",
            fix="run serve --live-skill (or wxstream models skill NAME --publish) first",
        )
    fig = _new_figure(*SKILL_FIGSIZE_IN)
    mae_ax, pinball_ax, coverage_ax = fig.subplots(1, 3)
    max_lead = 1
    for label, curve in sorted(curves.items()):
        leads = list(curve.leads_h)
        name = f"{label} (n={curve.pairs})"
        mae_ax.plot(leads, list(curve.mae_c), marker="o", markersize=3, label=name)
        pinball_ax.plot(leads, list(curve.pinball_c), marker="o", markersize=3, label=name)
        coverage_ax.plot(leads, list(curve.coverage), marker="o", markersize=3, label=name)
        max_lead = max([max_lead, *leads])
    coverage_ax.axhline(NOMINAL_COVERAGE, color="grey", linestyle="--", linewidth=1)
    coverage_ax.axhspan(0.75, 0.85, color="grey", alpha=0.1)
    for ax, ylabel in (
        (mae_ax, "MAE of p50 (°C)"),
        (pinball_ax, "pinball loss p10/p50/p90 (°C)"),
        (coverage_ax, "share inside p10-p90"),
    ):
        ax.set_xlabel("lead time (hours)")
        ax.set_ylabel(ylabel)
        ax.set_xlim(0.5, max_lead + 0.5)
        ax.set_xticks(_lead_ticks(max_lead))
        ax.grid(True, alpha=0.3)
    mae_ax.set_ylim(bottom=0)
    pinball_ax.set_ylim(bottom=0)
    coverage_ax.set_ylim(0, 1)
    mae_ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    return _save(fig, path, dpi)
