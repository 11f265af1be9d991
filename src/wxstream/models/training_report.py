"""What a training run reports: sample ranges, forecast metrics, the summary table."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.models.dataset import WindowedSamples

if TYPE_CHECKING:
    from wxstream.models.training import TrainingResult

F32 = npt.NDArray[np.float32]


def sample_range(samples: WindowedSamples) -> dict[str, Any]:
    """Sample count, stations and first / last issue time (UTC ISO) of ``samples``."""
    if len(samples) == 0:
        return {"samples": 0, "start": None, "end": None}
    issued = pd.to_datetime(samples.issued_at).tz_localize("UTC")
    return {
        "samples": len(samples),
        "stations": sorted({str(s) for s in samples.station_id}),
        "start": issued.min().isoformat(),
        "end": issued.max().isoformat(),
    }


def forecast_metrics(pred: F32, samples: WindowedSamples) -> dict[str, Any]:
    """MAE per lead of the median and of persistence, and 80 % interval coverage.

    Args:
        pred: ``(N, H, 3)`` degC quantiles p10, p50, p90.
        samples: the samples ``pred`` forecasts.
    """
    if len(samples) == 0:
        return {}
    err = np.abs(pred[:, :, 1] - samples.y)
    persistence = np.abs(samples.last_target[:, None] - samples.y)
    inside = (samples.y >= pred[:, :, 0]) & (samples.y <= pred[:, :, 2])
    leads = range(1, pred.shape[1] + 1)
    return {
        "samples": len(samples),
        "mae_by_lead": {str(h): float(v) for h, v in zip(leads, err.mean(axis=0), strict=True)},
        "persistence_mae_by_lead": {
            str(h): float(v) for h, v in zip(leads, persistence.mean(axis=0), strict=True)
        },
        "coverage_80_by_lead": {
            str(h): float(v) for h, v in zip(leads, inside.mean(axis=0), strict=True)
        },
        "mae": float(err.mean()),
        "persistence_mae": float(persistence.mean()),
        "coverage_80": float(inside.mean()),
    }


def summary_lines(
    result: TrainingResult, path: Path | None, test_metrics: Mapping[str, Any] | None = None
) -> list[str]:
    """The end-of-training summary table (plain text lines)."""
    best = result.best
    val_loss = "-" if best.val_loss is None else f"{best.val_loss:.4f}"
    width = 22
    lines = [
        f"{'epochs run':<{width}}{result.epochs_run} (best {result.best_epoch})",
        f"{'train / val loss':<{width}}{best.train_loss:.4f} / {val_loss}  (pinball, scaled)",
        f"{'train samples':<{width}}{result.data['train']['samples']}",
        f"{'validation samples':<{width}}{result.data['validation']['samples']}",
        f"{'duration':<{width}}{result.duration_s:.1f} s",
    ]
    leads = [h for h in (1, 6, 24) if h <= result.config.horizon]
    for label, metrics in (
        ("validation", result.metrics.get("validation")),
        ("test", test_metrics),
    ):
        if not metrics:
            continue
        header = "  ".join(f"{f'lead {h} h':>9}" for h in leads)
        lines.append(f"{label + ' MAE (degC)':<{width}}{header}")
        for row, key in (
            ("  model p50", "mae_by_lead"),
            ("  persistence", "persistence_mae_by_lead"),
        ):
            values = "  ".join(f"{metrics[key][str(h)]:>9.3f}" for h in leads)
            lines.append(f"{row:<{width}}{values}")
        lines.append(f"{'  80% coverage (all)':<{width}}{metrics['coverage_80']:>9.3f}")
    if path is not None:
        lines.append(f"{'model directory':<{width}}{path}")
    return lines
