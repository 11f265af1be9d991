"""The service's forecasts, computed offline: feature rows in, forecasts out.

Runs the same steps as ``wxstream serve`` without Kafka or Ray: publishable feature
messages, per-station windows (:func:`wxstream.streaming.core.windows.feed` with the
service's gap tolerance), the adapter's input rows, one model call per batch. Given
the same messages, it yields the numbers the service publishes, so a period of real
data can be pictured (``wxstream plot --from-model``) without running the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from wxstream.messages import FeatureMessage, messages_from_frame
from wxstream.messages.predictions import P10, P50, P90
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.streaming.core.windows import StationWindow, WindowEntry, feed, stack_windows

DEFAULT_BATCH = 4096


@dataclass(frozen=True, slots=True)
class OfflineForecast:
    """One forecast, shaped like a decoded ``weather-predictions`` message."""

    station_id: str
    issued_at: datetime
    leads_h: tuple[int, ...]
    temperature_c: tuple[float, ...]
    temperature_p10_c: tuple[float, ...]
    temperature_p90_c: tuple[float, ...]


def station_windows(
    messages: list[FeatureMessage],
    model: ForecastingModel,
    gap_tolerance_h: int = 1,
) -> tuple[list[StationWindow], list[FeatureMessage]]:
    """Every full window the service would forecast, and the newest message of each.

    ``messages`` may mix stations; each station's messages are taken in time order.
    """
    rows = model.adapter.to_inputs(messages)
    order = sorted(range(len(messages)), key=lambda i: (messages[i].station_id, i))
    states: dict[str, StationWindow] = {}
    windows: list[StationWindow] = []
    newest: list[FeatureMessage] = []
    for i in order:
        msg = messages[i]
        entry = WindowEntry(msg.window_start, rows[i])
        event = feed(states, msg.station_id, entry, model.lookback, gap_tolerance_h)
        if event.window is not None:
            windows.append(event.window)
            newest.append(msg)
    return windows, newest


def offline_forecasts(
    model: ForecastingModel,
    feature_rows: pd.DataFrame,
    *,
    gap_tolerance_h: int = 1,
    batch: int = DEFAULT_BATCH,
) -> list[OfflineForecast]:
    """Forecast every full window of ``feature_rows`` as the service would.

    Args:
        model: the loaded model.
        feature_rows: hourly feature rows (``aggregate_hourly`` output), any stations.
        gap_tolerance_h: the service's ``--gap-tolerance-h``.
        batch: windows per model call.
    """
    ordered = feature_rows.sort_values(["station_id", "window_start"], kind="stable")
    windows, newest = station_windows(messages_from_frame(ordered), model, gap_tolerance_h)
    out: list[OfflineForecast] = []
    leads = tuple(model.leads_h)
    for lo in range(0, len(windows), batch):
        q = model.predict(stack_windows(windows[lo : lo + batch])).astype(np.float64)
        for k, msg in enumerate(newest[lo : lo + batch]):
            out.append(
                OfflineForecast(
                    station_id=msg.station_id,
                    issued_at=msg.window_end,
                    leads_h=leads,
                    temperature_c=tuple(q[k, :, P50].tolist()),
                    temperature_p10_c=tuple(q[k, :, P10].tolist()),
                    temperature_p90_c=tuple(q[k, :, P90].tolist()),
                )
            )
    return out
