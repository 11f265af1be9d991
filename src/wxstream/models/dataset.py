"""Windowed training / evaluation samples cut from hourly feature rows.

A sample is one station and one issue time: ``lookback`` consecutive hourly rows of
raw adapter inputs, and the target at each lead ``1..horizon`` hours after the newest
row. Windows are cut per station on the full hourly grid (``window_start``), so a gap
in the data never joins hours that are not adjacent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from wxstream.errors import DataError
from wxstream.features.adapter import FeatureAdapter
from wxstream.features.gaps import fill_window_gaps

F32 = npt.NDArray[np.float32]
_HOUR_NS = 3_600_000_000_000


@dataclass(frozen=True)
class WindowedSamples:
    """Samples for training or evaluation.

    Attributes:
        x: ``(N, lookback, F)`` float32 raw adapter inputs, oldest row first.
        y: ``(N, horizon)`` float32 target (degC) at leads ``1..horizon`` hours.
        station_id: ``(N,)`` object, the station of each sample.
        issued_at: ``(N,)`` ``datetime64[ns]`` UTC, ``window_end`` of the newest input row.
        last_target: ``(N,)`` float32 target value of the newest input row.
    """

    x: F32
    y: F32
    station_id: npt.NDArray[np.object_]
    issued_at: npt.NDArray[np.datetime64]
    last_target: F32

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def take(self, index: npt.ArrayLike) -> WindowedSamples:
        """The samples at ``index`` (integer positions or a boolean mask)."""
        idx = np.asarray(index)
        return WindowedSamples(
            x=self.x[idx],
            y=self.y[idx],
            station_id=self.station_id[idx],
            issued_at=self.issued_at[idx],
            last_target=self.last_target[idx],
        )


def empty_samples(lookback: int, horizon: int, n_inputs: int) -> WindowedSamples:
    """No samples, with the right trailing shapes."""
    return WindowedSamples(
        x=np.empty((0, lookback, n_inputs), np.float32),
        y=np.empty((0, horizon), np.float32),
        station_id=np.empty(0, dtype=object),
        issued_at=np.empty(0, dtype="datetime64[ns]"),
        last_target=np.empty(0, np.float32),
    )


def _valid_runs(ok: npt.NDArray[np.bool_], length: int) -> npt.NDArray[np.bool_]:
    """``out[i]``: ``ok[i : i + length]`` is all true (``len(ok) - length + 1`` items)."""
    if len(ok) < length:
        return np.zeros(0, dtype=bool)
    csum = np.concatenate(([0], np.cumsum(ok, dtype=np.int64)))
    return np.asarray((csum[length:] - csum[:-length]) == length)


def build_samples(
    feature_rows: pd.DataFrame,
    adapter: FeatureAdapter,
    lookback: int,
    horizon: int,
    *,
    stride: int = 1,
) -> WindowedSamples:
    """Cut every complete window from ``feature_rows``.

    A window ending at hour ``t`` of a station is kept when its ``lookback`` rows are
    consecutive hours with every required input finite (an optional input's missing
    hours are filled within the window: :mod:`wxstream.features.gaps`), and the target exists at
    ``t + 1 .. t + horizon`` hours (the rows whose ``window_start`` is that many hours
    after the newest input's). Samples come station by station, in time order.

    Args:
        feature_rows: hourly feature rows (``station_id``, ``window_start``,
            ``window_end`` and the fields the adapter reads).
        adapter: turns rows into raw model inputs and names the target.
        lookback: input rows per window.
        horizon: leads per sample.
        stride: keep every ``stride``-th issue hour of each station's grid.

    Raises:
        DataError: a station has two rows for one hour, or a required column is missing.
    """
    if lookback < 1 or horizon < 1 or stride < 1:
        raise ValueError("lookback, horizon and stride must be >= 1")
    n_inputs = len(adapter.input_names)
    if len(feature_rows) == 0:
        return empty_samples(lookback, horizon, n_inputs)
    for col in ("station_id", "window_start", "window_end"):
        if col not in feature_rows.columns:
            raise DataError(f"feature rows lack column {col!r}")
    rows = feature_rows.sort_values(["station_id", "window_start"], kind="stable")
    rows = rows.reset_index(drop=True)
    inputs = np.asarray(adapter.to_inputs_from_frame(rows), dtype=np.float32)
    target = target_values(rows, adapter)
    start_ns = _utc_ns(rows["window_start"])
    end_ns = _utc_ns(rows["window_end"])
    stations = rows["station_id"].astype(str).to_numpy()
    # Row ranges of each station (rows are sorted by station).
    bounds = np.flatnonzero(stations[1:] != stations[:-1]) + 1
    starts = np.concatenate(([0], bounds))
    stops = np.concatenate((bounds, [len(rows)]))

    parts: list[WindowedSamples] = []
    for lo, hi in zip(starts, stops, strict=True):
        part = _station_samples(
            inputs[lo:hi],
            target[lo:hi],
            start_ns[lo:hi],
            end_ns[lo:hi],
            str(stations[lo]),
            lookback,
            horizon,
            stride,
            adapter.optional_input_columns,
        )
        if len(part):
            parts.append(part)
    if not parts:
        return empty_samples(lookback, horizon, n_inputs)
    return WindowedSamples(
        x=np.concatenate([p.x for p in parts]),
        y=np.concatenate([p.y for p in parts]),
        station_id=np.concatenate([p.station_id for p in parts]),
        issued_at=np.concatenate([p.issued_at for p in parts]),
        last_target=np.concatenate([p.last_target for p in parts]),
    )


def _utc_ns(col: pd.Series) -> npt.NDArray[np.int64]:
    ts = pd.to_datetime(col, utc=True).astype("datetime64[ns, UTC]")
    return np.asarray(ts.dt.tz_localize(None).to_numpy().astype("datetime64[ns]").view(np.int64))


def target_values(rows: pd.DataFrame, adapter: FeatureAdapter) -> F32:
    """The adapter's target (degC) for each row, float32, NaN where missing."""
    return np.asarray(adapter.target_from_frame(rows), dtype=np.float32)


def _station_samples(  # noqa: PLR0917 - private, called once with named meaning
    inputs: F32,
    target: F32,
    start_ns: npt.NDArray[np.int64],
    end_ns: npt.NDArray[np.int64],
    station: str,
    lookback: int,
    horizon: int,
    stride: int,
    optional: tuple[int, ...],
) -> WindowedSamples:
    hour = (start_ns - start_ns[0]) // _HOUR_NS
    if np.any(np.diff(hour) <= 0):
        raise DataError(
            f"station {station}: feature rows are not one per hour (duplicate or unsorted "
            "window_start)",
            fix="aggregate observations with wxstream.features.aggregate_hourly",
        )
    size = int(hour[-1]) + 1
    n_inputs = inputs.shape[1]
    grid_x = np.full((size, n_inputs), np.nan, np.float32)
    grid_y = np.full(size, np.nan, np.float32)
    grid_end = np.zeros(size, np.int64)
    grid_x[hour] = inputs
    grid_y[hour] = target
    grid_end[hour] = end_ns
    if size < lookback + horizon:
        return empty_samples(lookback, horizon, n_inputs)

    required = [j for j in range(n_inputs) if j not in optional]
    inputs_ok = np.isfinite(grid_x[:, required]).all(axis=1) & np.isfinite(grid_y)
    # Window k covers grid rows k .. k + lookback - 1 and targets the next `horizon` rows.
    n_windows = size - lookback - horizon + 1
    ok = _valid_runs(inputs_ok, lookback)[:n_windows]
    for j in optional:  # an optional input needs one value in the window (features.gaps)
        seen = np.concatenate(([0], np.cumsum(np.isfinite(grid_x[:, j]), dtype=np.int64)))
        ok &= (seen[lookback:] - seen[:-lookback])[:n_windows] > 0
    ok &= _valid_runs(np.isfinite(grid_y[lookback:]), horizon)[:n_windows]
    if stride > 1:
        ok &= np.arange(n_windows) % stride == 0
    k = np.flatnonzero(ok)
    newest = k + lookback - 1
    x = sliding_window_view(grid_x, lookback, axis=0)[k].transpose(0, 2, 1)
    x, _ = fill_window_gaps(np.ascontiguousarray(x, dtype=np.float32), optional)
    y = sliding_window_view(grid_y[lookback:], horizon)[k]
    return WindowedSamples(
        x=np.ascontiguousarray(x, dtype=np.float32),
        y=np.ascontiguousarray(y, dtype=np.float32),
        station_id=np.full(len(k), station, dtype=object),
        issued_at=grid_end[newest].astype("datetime64[ns]"),
        last_target=grid_y[newest].astype(np.float32),
    )
