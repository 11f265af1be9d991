"""The service's detectors run offline over feature rows as they would arrive.

A frame here holds one or more *streams* (``station_id`` is the stream id, unique per
evaluated sequence; ``station`` names the real station for the buddy check), each in
arrival order. Every function returns one value per frame row:

* the decoder (:func:`decode_flags`): rows the service would refuse into the
  dead-letter topic never reach a detector;
* quality control (:func:`qc_flags`): :func:`~.qc.check` message by message;
* the forecast residual (:func:`lead1_residuals`): the model's forecasts issued by the
  service's windows (:func:`wxstream.tools.offline_forecasts.station_windows`), the
  arriving observation scored against the lead-1 forecast made for its hour;
* the buddy check (:func:`neighbour_flags`).
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.anomalies.flat_forecast import run_scores
from wxstream.anomalies.neighbours import NeighbourMedians, neighbour_scores
from wxstream.anomalies.qc import QcRunner
from wxstream.anomalies.residual import standardised_residual
from wxstream.anomalies.series import epoch_hours
from wxstream.anomalies.thresholds import FlatForecastLimits, QcThresholds
from wxstream.messages import messages_from_frame, publishable_mask
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.streaming.core.windows import stack_windows
from wxstream.tools.offline_forecasts import station_windows

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
_BATCH = 4096


def decode_flags(frame: pd.DataFrame) -> BoolArray:
    """Rows the service's decoder refuses (out of range, inconsistent, not finite)."""
    return ~publishable_mask(frame)


def qc_flags(frame: pd.DataFrame, thresholds: QcThresholds) -> tuple[BoolArray, dict[str, int]]:
    """Rows whose arrival raised a QC anomaly, and how many anomalies each check raised."""
    rows = np.flatnonzero(publishable_mask(frame))
    runner = QcRunner.new(thresholds)
    flags = np.zeros(len(frame), dtype=bool)
    counts: dict[str, int] = {}
    for row, msg in zip(rows, messages_from_frame(frame), strict=True):
        found = runner.check(msg)
        if found:
            flags[row] = True
            for anomaly in found:
                counts[anomaly.check] = counts.get(anomaly.check, 0) + 1
    return flags, counts


def issued_forecasts(model: ForecastingModel, frame: pd.DataFrame) -> FloatArray:
    """Per row, the forecast the service issued right after that row arrived: ``(n,
    horizon, 3)`` p10/p50/p90 for leads 1..horizon (NaN: no full window at that row)."""
    rows = np.flatnonzero(publishable_mask(frame))
    messages = messages_from_frame(frame)
    arrival = {id(msg): int(row) for row, msg in zip(rows, messages, strict=True)}
    windows, newest = station_windows(messages, model)
    out = np.full((len(frame), model.horizon, 3), np.nan)
    for lo in range(0, len(windows), _BATCH):
        q = model.predict(stack_windows(windows[lo : lo + _BATCH])).astype(np.float64)
        for k, msg in enumerate(newest[lo : lo + _BATCH]):
            out[arrival[id(msg)]] = q[k]
    return out


def lead1_residuals(
    model: ForecastingModel, frame: pd.DataFrame, issued: FloatArray | None = None
) -> FloatArray:
    """Per row, the standardised residual of its temperature against the lead-1 forecast
    the service issued for its hour before it arrived (NaN: no such forecast).

    ``issued``: :func:`issued_forecasts` of ``frame`` when already computed."""
    if issued is None:
        issued = issued_forecasts(model, frame)
    rows = np.flatnonzero(publishable_mask(frame))
    messages = messages_from_frame(frame)
    by_hour: dict[tuple[str, datetime], int] = {}
    for row, msg in zip(rows, messages, strict=True):
        if np.isfinite(issued[row, 0, 1]):
            by_hour[(msg.station_id, msg.window_end)] = int(row)
    z = np.full(len(frame), np.nan)
    for row, msg in zip(rows, messages, strict=True):
        source = by_hour.get((msg.station_id, msg.window_start))
        if source is not None and source < row:
            p10, p50, p90 = issued[source, 0, :].tolist()
            z[row] = float(standardised_residual(msg.avg_temperature, p10, p50, p90))
    return z


def flat_forecast_scores(
    frame: pd.DataFrame, issued: FloatArray, limits: FlatForecastLimits
) -> FloatArray:
    """Per row, the forecast flat-line score of its stream's run (0 off runs)."""
    scores = np.zeros(len(frame))
    usable = publishable_mask(frame)
    for _, rows in frame.loc[usable].groupby("station_id", sort=False):
        at = frame.index.get_indexer(rows.index)
        scores[at] = run_scores(
            epoch_hours(rows["window_start"]),
            rows["avg_temperature"].to_numpy(dtype=np.float64),
            issued[at],
            limits,
        )
    return scores


def neighbour_flags(
    frame: pd.DataFrame,
    thresholds: QcThresholds,
    reference: NeighbourMedians,
    *,
    min_run_h: int,
) -> BoolArray:
    """Rows the buddy check flags (stations without learnt buddy limits: none)."""
    flags = np.zeros(len(frame), dtype=bool)
    usable = publishable_mask(frame)
    for _, rows in frame.loc[usable].groupby("station_id", sort=False):
        station = str(rows["station"].iloc[0])
        limits = thresholds.neighbours.get(station)
        if limits is None:
            continue
        scores = neighbour_scores(
            rows["avg_temperature"].to_numpy(dtype=np.float64),
            epoch_hours(rows["window_start"]),
            station,
            reference,
            limits,
            thresholds.neighbour_window_h,
            thresholds.neighbour_baseline_h,
            min_run_h,
        )
        flags[frame.index.get_indexer(rows.index)] = scores.flags()
    return flags
