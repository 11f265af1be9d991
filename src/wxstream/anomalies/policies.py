"""What each quality policy does to the forecasts: ``wxstream anomalies policies``.

The model runs over a source's test period twice: on the clean stream, and on the same
stream with faults injected (:func:`fault_stream`: in every block of ``every_days``
days of each station, one fault drawn by the seed from the catalogue's types whose
longest duration is at most half the block, at a random place in it; a spike is sized
by the learnt standard deviation of the hourly temperature change). The faulted stream goes
through :class:`~.stage.QualityStage` with each policy, exactly as the service runs
it: messages in arrival order (hour by hour, stations in name order), the decoder's
rules first (refused records never reach the stage), then the stage, the per-station
windows of :mod:`wxstream.streaming.core.windows` with the service's gap tolerance,
one model call per arrival hour for the windows it completed, and each lead-1
forecast handed back to the stage (the residual detector and ``impute`` use it).
Every forecast is scored against the *clean* observations of the hours it forecasts:
MAE at the reported leads, per stream and policy.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
import pandas as pd

from wxstream.anomalies.faults import FAULTS, FaultSpec, fault_label, inject
from wxstream.anomalies.stage import IGNORED_CHECKS, POLICIES, QualityStage
from wxstream.anomalies.thresholds import QcThresholds
from wxstream.errors import ConfigError, DataError
from wxstream.messages import FeatureMessage, messages_from_frame
from wxstream.messages.predictions import P10, P50, P90
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.settings import AnomalyEvaluationSettings, QcPolicy
from wxstream.streaming.core.windows import StationWindow, WindowEntry, feed, stack_windows

REPORTED_LEADS_H: Final = (1, 6, 24)
_ARRIVAL: Final = "arrival_hour"
_HOUR: Final = timedelta(hours=1)


@dataclass(frozen=True)
class InjectedFault:
    """One fault of the faulted stream: ``label`` at ``station`` from row ``start``."""

    station: str
    label: str
    start: int
    length: int


def fault_stream(
    test: pd.DataFrame, *, every_days: int, seed: int, diff_std: float
) -> tuple[pd.DataFrame, list[InjectedFault]]:
    """The test rows with one fault per ``every_days`` days of each station, in arrival
    order (column ``arrival_hour``: the hour a row arrives at, its real hour).

    Args:
        test: clean feature rows.
        every_days: block length; each block of a station gets one fault.
        seed: draws the faults, their places, lengths and signs.
        diff_std: standard deviation of the hourly temperature change (the spike unit).
    """
    block = every_days * 24
    eligible = [spec for spec in FAULTS if spec.max_hours <= block // 2]
    rng = np.random.default_rng(seed)
    parts: list[pd.DataFrame] = []
    injected: list[InjectedFault] = []
    for station, unordered in test.groupby("station_id", sort=True):
        rows = unordered.sort_values("window_start").reset_index(drop=True)
        rows[_ARRIVAL] = rows["window_start"]
        for first in range(0, len(rows) - block + 1, block):
            spec: FaultSpec = eligible[int(rng.integers(len(eligible)))]
            length = int(rng.integers(spec.min_hours, spec.max_hours + 1))
            start = first + int(rng.integers(0, block - length))
            sign = 1.0 if rng.random() < 0.5 else -1.0
            rows = inject(rows, spec, start, length, sign=sign, diff_std=diff_std)
            injected.append(InjectedFault(str(station), fault_label(spec), start, length))
        parts.append(rows)
    frame = pd.concat(parts, ignore_index=True)
    ordered = frame.sort_values([_ARRIVAL, "station_id"], kind="stable")
    return ordered.reset_index(drop=True), injected


def arrival_order(rows: pd.DataFrame) -> pd.DataFrame:
    """Clean rows as the service receives them: hour by hour, stations in name order."""
    ordered = rows.assign(**{_ARRIVAL: rows["window_start"]})
    return ordered.sort_values([_ARRIVAL, "station_id"], kind="stable").reset_index(drop=True)


@dataclass
class StreamForecasts:
    """The p50 forecasts of one stream: ``(station, issued_at) -> p50 per lead``."""

    p50: dict[tuple[str, datetime], np.ndarray]
    flagged_messages: int = 0
    skipped_messages: int = 0
    imputed_messages: int = 0
    anomalies: int = 0


def run_stream(
    model: ForecastingModel,
    rows: pd.DataFrame,
    stage: QualityStage | None,
    *,
    gap_tolerance_h: int = 1,
) -> StreamForecasts:
    """Forecast every full window of ``rows`` (arrival order, column ``arrival_hour``)
    as the service would, with ``stage`` in front of the windows (``None``: no stage)."""
    messages = messages_from_frame(rows)
    arrival = rows.loc[_publishable(rows), _ARRIVAL].to_numpy()
    windows: dict[str, StationWindow] = {}
    out = StreamForecasts({})
    first = 0
    while first < len(messages):
        last = first
        while last < len(messages) and arrival[last] == arrival[first]:
            last += 1
        _run_hour(model, messages[first:last], stage, windows, gap_tolerance_h, out)
        first = last
    return out


def _publishable(rows: pd.DataFrame) -> np.ndarray:
    from wxstream.messages import publishable_mask

    return np.asarray(publishable_mask(rows), dtype=bool)


def _run_hour(  # noqa: PLR0917 - one arrival hour and the stream's state
    model: ForecastingModel,
    arrived: Sequence[FeatureMessage],
    stage: QualityStage | None,
    windows: dict[str, StationWindow],
    gap_tolerance_h: int,
    out: StreamForecasts,
) -> None:
    kept: list[FeatureMessage] = []
    for msg in arrived:
        if stage is None:
            kept.append(msg)
            continue
        screened = stage.screen(msg)
        out.anomalies += len(screened.anomalies)
        out.flagged_messages += screened.flagged
        if screened.message is None:
            out.skipped_messages += 1
            continue
        out.imputed_messages += screened.message is not msg
        kept.append(screened.message)
    if not kept:
        return
    inputs = model.adapter.to_inputs(kept)
    completed: list[tuple[FeatureMessage, StationWindow]] = []
    for k, msg in enumerate(kept):
        event = feed(
            windows,
            msg.station_id,
            WindowEntry(msg.window_start, inputs[k]),
            model.lookback,
            gap_tolerance_h,
        )
        if event.window is not None:
            completed.append((msg, event.window))
    if not completed:
        return
    q = model.predict(stack_windows([w for _, w in completed])).astype(np.float64)
    for k, (msg, _) in enumerate(completed):
        out.p50[(msg.station_id, msg.window_end)] = q[k, :, P50]
        if stage is not None:
            p10, p50, p90 = (float(q[k, 0, i]) for i in (P10, P50, P90))
            stage.remember_forecast(msg.station_id, msg.window_end, p10, p50, p90)


def forecast_mae(
    forecasts: StreamForecasts,
    truth: dict[tuple[str, datetime], float],
    leads_h: Sequence[int],
    only: Collection[tuple[str, datetime]] | None = None,
) -> dict[str, Any]:
    """MAE (degC) per lead against the clean observations, and how many forecasts
    (``only``: just the forecasts with these ``(station, issued_at)`` keys)."""
    kept = {k: v for k, v in forecasts.p50.items() if only is None or k in only}
    mae: dict[str, float | None] = {}
    for lead in leads_h:
        errors = [
            abs(p50[lead - 1] - observed)
            for (station, issued), p50 in kept.items()
            if (observed := truth.get((station, issued + (lead - 1) * _HOUR))) is not None
        ]
        mae[f"{lead}h"] = round(float(np.mean(errors)), 4) if errors else None
    return {"forecasts": len(kept), "mae_c": mae}


def clean_truth(rows: pd.DataFrame) -> dict[tuple[str, datetime], float]:
    """``(station, hour) -> avg_temperature`` of the clean rows."""
    starts = pd.to_datetime(rows["window_start"], utc=True).dt.to_pydatetime()
    return {
        (str(s), h): float(t)
        for s, h, t in zip(rows["station_id"], starts, rows["avg_temperature"], strict=True)
    }


def evaluate_policies(
    model: ForecastingModel,
    thresholds: QcThresholds,
    test: pd.DataFrame,
    *,
    every_days: int,
    seed: int,
    policies: Sequence[QcPolicy] = POLICIES,
    ignored_checks: frozenset[str] = IGNORED_CHECKS,
) -> dict[str, Any]:
    """The clean stream's and each policy's faulted-stream MAE (see the module docstring)."""
    began = time.perf_counter()
    leads = [lead for lead in REPORTED_LEADS_H if lead in model.leads_h]
    truth = clean_truth(test)
    diff_std = thresholds.variables["temperature"].diff_std
    faulted, injected = fault_stream(test, every_days=every_days, seed=seed, diff_std=diff_std)
    clean_run = run_stream(model, arrival_order(test), None)
    clean = forecast_mae(clean_run, truth, leads)
    runs: dict[str, Any] = {}
    for policy in policies:
        result = run_stream(
            model, faulted, QualityStage(thresholds, policy, ignored_checks=ignored_checks)
        )
        runs[policy] = {
            **forecast_mae(result, truth, leads),
            "flagged_messages": result.flagged_messages,
            "skipped_messages": result.skipped_messages,
            "imputed_messages": result.imputed_messages,
            "anomalies": result.anomalies,
            # The clean stream's MAE over the same forecasts (same station and hour
            # issued): a policy that forecasts less is not credited for what it left out.
            "clean_same_forecasts": forecast_mae(clean_run, truth, leads, result.p50.keys()),
        }
        for lead, value in runs[policy]["mae_c"].items():
            base = clean["mae_c"][lead]
            runs[policy].setdefault("ratio_to_clean", {})[lead] = (
                None if value is None or not base else round(value / base, 4)
            )
    counts: dict[str, int] = {}
    for fault in injected:
        counts[fault.label] = counts.get(fault.label, 0) + 1
    return {
        "every_days": every_days,
        "ignored_checks": sorted(ignored_checks),
        "seed": seed,
        "leads_h": leads,
        "faults": len(injected),
        "fault_types": dict(sorted(counts.items())),
        "clean": clean,
        "policies": runs,
        "wall_time_s": round(time.perf_counter() - began, 1),
    }


def run_policies(settings: AnomalyEvaluationSettings) -> dict[str, Any]:
    """``wxstream anomalies policies`` end to end: the model and the limits stored with it
    (as the service loads them), the source's test period, :func:`evaluate_policies`."""
    from wxstream.anomalies.evaluation_run import load_features, split_features
    from wxstream.anomalies.thresholds_file import read_qc_thresholds
    from wxstream.models.model_loader import load_model

    if settings.model_dir is None:
        raise ConfigError(
            "the policy evaluation needs a model", fix="pass --model-dir DIR of a trained model"
        )
    thresholds = read_qc_thresholds(settings.model_dir)
    if thresholds is None:
        raise ConfigError(
            f"{settings.model_dir} holds no quality limits",
            fix="run wxstream anomalies evaluate --model-dir DIR --write-thresholds first",
        )
    _, _, test = split_features(load_features(settings), settings)
    if test.empty:
        raise DataError("the split leaves no test rows", fix="use a source that covers them")
    model = load_model(settings.model_dir, device="cpu")
    report = evaluate_policies(
        model, thresholds, test, every_days=settings.fault_every_days, seed=settings.seed
    )
    name = settings.source if settings.csv_path is None else str(settings.csv_path)
    return {
        "source": name,
        "test": [str(test["window_start"].min()), str(test["window_start"].max())],
        "model": {"name": model.name, "path": str(model.path)},
        **report,
    }


def format_policies(report: dict[str, Any]) -> str:
    """The report as a table: one line for the clean stream, one per policy."""
    leads = [f"{lead}h" for lead in report["leads_h"]]
    head = "stream            forecasts  " + "  ".join(f"MAE {lead:>4}" for lead in leads)
    lines = [head + "  ratio to clean (same forecasts' clean MAE)"]

    def mae(values: dict[str, float | None]) -> str:
        return "  ".join("    -   " if values[k] is None else f"{values[k]:8.3f}" for k in leads)

    clean = report["clean"]
    lines.append(f"{'clean':<16}{clean['forecasts']:>11}  {mae(clean['mae_c'])}")
    for policy, run in report["policies"].items():
        ratios = " ".join(
            "-" if run["ratio_to_clean"][k] is None else f"{run['ratio_to_clean'][k]:.3f}"
            for k in leads
        )
        same = " ".join(
            "-" if v is None else f"{v:.3f}" for v in run["clean_same_forecasts"]["mae_c"].values()
        )
        lines.append(
            f"{'faulted, ' + policy:<16}{run['forecasts']:>11}  {mae(run['mae_c'])}  "
            f"{ratios} ({same})"
        )
    return "\n".join(lines)
