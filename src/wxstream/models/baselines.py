"""Reference forecasts the model is measured against: persistence, diurnal persistence,
climatology.

Everything here works on an :class:`HourlyGrid`: one dense ``(station, hour)`` array
per measurement, NaN where an hour is missing. A forecast *sample* is a station and an
*issue index* ``i``, the grid column of the last observed hour; lead ``h`` targets
column ``i + h``. All functions are pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.errors import DataError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

DIURNAL_PERIOD_H = 24

# Feature-row columns the grid reads (the ``weather-features`` message fields).
_ROW_STATION = "station_id"
_ROW_START = "window_start"
_ROW_TEMPERATURE = "avg_temperature"
_ROW_DEWPOINT = "avg_dewpoint"
_ROW_WIND = "avg_wind_speed"


@dataclass(frozen=True)
class HourlyGrid:
    """Hourly measurements of several stations on one common UTC hour axis.

    Attributes:
        station_ids: station of each row.
        start: the UTC hour of column 0.
        temperature: ``(stations, hours)`` degC, NaN where missing.
        dewpoint: same shape, degC.
        wind_speed: same shape, m/s.
    """

    station_ids: tuple[str, ...]
    start: pd.Timestamp
    temperature: FloatArray
    dewpoint: FloatArray
    wind_speed: FloatArray

    @property
    def n_hours(self) -> int:
        """Number of hourly columns."""
        return int(self.temperature.shape[1])

    def times(self, index: IntArray) -> pd.DatetimeIndex:
        """UTC timestamps of grid columns ``index``."""
        return pd.DatetimeIndex(self.start + pd.to_timedelta(np.asarray(index), unit="h"))

    def index_of(self, when: pd.Timestamp) -> int:
        """Column of the hour ``when`` (floored to the hour; may lie outside the grid)."""
        delta = pd.Timestamp(when).floor("h") - self.start
        return int(delta // pd.Timedelta(hours=1))


def grid_from_feature_rows(rows: pd.DataFrame) -> HourlyGrid:
    """Build an :class:`HourlyGrid` from hourly feature rows.

    Args:
        rows: the output of ``aggregate_hourly``: ``station_id``, ``window_start`` (UTC
            hour), ``avg_temperature``, ``avg_dewpoint``, ``avg_wind_speed``.

    Raises:
        DataError: a column is missing or there are no rows.
    """
    needed = (_ROW_STATION, _ROW_START, _ROW_TEMPERATURE, _ROW_DEWPOINT, _ROW_WIND)
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise DataError(f"feature rows lack column(s) {', '.join(missing)}")
    if rows.empty:
        raise DataError("no feature rows to evaluate on", fix="check the source and its split")
    starts = pd.to_datetime(rows[_ROW_START], utc=True).dt.floor("h")
    origin = starts.min()
    col = ((starts - origin) // pd.Timedelta(hours=1)).to_numpy(dtype=np.int64)
    station_ids = tuple(sorted(rows[_ROW_STATION].astype(str).unique()))
    lookup = {s: k for k, s in enumerate(station_ids)}
    row = rows[_ROW_STATION].astype(str).map(lookup).to_numpy(dtype=np.int64)
    shape = (len(station_ids), int(col.max()) + 1)

    def dense(column: str) -> FloatArray:
        out = np.full(shape, np.nan)
        out[row, col] = rows[column].to_numpy(dtype=np.float64)
        return out

    return HourlyGrid(
        station_ids=station_ids,
        start=pd.Timestamp(origin),
        temperature=dense(_ROW_TEMPERATURE),
        dewpoint=dense(_ROW_DEWPOINT),
        wind_speed=dense(_ROW_WIND),
    )


def lead_offsets(leads: Sequence[int]) -> IntArray:
    """Leads as a validated int array (each >= 1)."""
    arr = np.asarray(leads, dtype=np.int64)
    if arr.ndim != 1 or arr.size == 0 or (arr < 1).any():
        raise ValueError(f"leads must be a non-empty list of positive hours, got {leads!r}")
    return arr


def _take(values: FloatArray, station: IntArray, column: IntArray) -> FloatArray:
    """``values[station, column]`` with NaN where ``column`` falls outside the grid."""
    inside = (column >= 0) & (column < values.shape[1])
    out = np.full(column.shape, np.nan)
    clipped = np.clip(column, 0, values.shape[1] - 1)
    out[inside] = values[np.broadcast_to(station, column.shape)[inside], clipped[inside]]
    return out


def targets(
    grid: HourlyGrid, station: IntArray, issue: IntArray, leads: Sequence[int]
) -> FloatArray:
    """Observed temperature at ``issue + h`` for every lead: shape ``(samples, leads)``."""
    offsets = lead_offsets(leads)
    return _take(grid.temperature, station[:, None], issue[:, None] + offsets[None, :])


def persistence(
    grid: HourlyGrid, station: IntArray, issue: IntArray, leads: Sequence[int]
) -> FloatArray:
    """Forecast = the last observed temperature, for every lead."""
    offsets = lead_offsets(leads)
    last = _take(grid.temperature, station, issue)
    return np.repeat(last[:, None], offsets.size, axis=1)


def diurnal_persistence(
    grid: HourlyGrid, station: IntArray, issue: IntArray, leads: Sequence[int]
) -> FloatArray:
    """Forecast = the temperature one day before the target hour.

    For lead ``h`` that is column ``issue + h - 24``; leads beyond a day go back as many
    whole days as needed so the value is always already observed at issue time.
    """
    offsets = lead_offsets(leads)
    days_back = -(-offsets // DIURNAL_PERIOD_H)
    column = issue[:, None] + offsets[None, :] - DIURNAL_PERIOD_H * days_back[None, :]
    return _take(grid.temperature, station[:, None], column)


@dataclass(frozen=True)
class Climatology:
    """Mean temperature per station, calendar month and UTC hour of day.

    Attributes:
        station_ids: station of each row of ``mean_c``.
        mean_c: ``(stations, 12, 24)`` degC; cells never observed in the fitting period
            hold the station's mean for that hour of day over all months (then the
            station mean), so a station seen in training always gets a value.
    """

    station_ids: tuple[str, ...]
    mean_c: FloatArray


def fit_climatology(grid: HourlyGrid, end: int) -> Climatology:
    """Fit the climatology on columns ``[0, end)`` of ``grid`` (the training part).

    Args:
        grid: the hourly grid.
        end: first column not used (the start of the validation period).
    """
    stop = max(0, min(end, grid.n_hours))
    hours = grid.times(np.arange(stop, dtype=np.int64))
    month = hours.month.to_numpy() - 1
    hour = hours.hour.to_numpy()
    n = len(grid.station_ids)
    mean_c = np.full((n, 12, 24), np.nan)
    for s in range(n):
        values = grid.temperature[s, :stop]
        ok = ~np.isnan(values)
        sums = np.zeros((12, 24))
        counts = np.zeros((12, 24))
        np.add.at(sums, (month[ok], hour[ok]), values[ok])
        np.add.at(counts, (month[ok], hour[ok]), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            cell = sums / counts
            by_hour = sums.sum(axis=0) / counts.sum(axis=0)
        overall = float(values[ok].mean()) if ok.any() else np.nan
        by_hour = np.where(np.isnan(by_hour), overall, by_hour)
        mean_c[s] = np.where(np.isnan(cell), by_hour[None, :], cell)
    return Climatology(station_ids=grid.station_ids, mean_c=mean_c)


def climatology_forecast(
    clim: Climatology, grid: HourlyGrid, station: IntArray, issue: IntArray, leads: Sequence[int]
) -> FloatArray:
    """Forecast = the climatological mean of the target hour's station, month and hour."""
    offsets = lead_offsets(leads)
    remap = np.array(
        [clim.station_ids.index(s) if s in clim.station_ids else -1 for s in grid.station_ids],
        dtype=np.int64,
    )
    rows = remap[station]
    when = grid.times((issue[:, None] + offsets[None, :]).ravel())
    month = (when.month.to_numpy() - 1).reshape(issue.size, offsets.size)
    hour = when.hour.to_numpy().reshape(issue.size, offsets.size)
    out = np.asarray(clim.mean_c[np.maximum(rows, 0)[:, None], month, hour], dtype=np.float64)
    out[rows < 0] = np.nan
    return out
