"""The tidy observations table shared by every loader, and where the data lives.

Contract (see docs/architecture.md): a pandas ``DataFrame`` sorted by
``station_id, timestamp`` with

* ``station_id``: str
* ``timestamp``: ``datetime64[ns, UTC]``
* ``temperature_c``, ``dewpoint_c``, ``wind_speed_ms``: float64, NaN where missing
* ``weather_group``: str, the weather series a station reads (its own id unless
  several stations share one series, as some Beijing sites do)
* optional extras, float64, NaN where missing: ``pressure_hpa``, ``relative_humidity``
  (%), ``wind_u_ms``/``wind_v_ms`` (the wind vector, see :func:`wind_vector`),
  ``precipitation_mm`` (in the reading's hour), and the station's ``latitude``,
  ``longitude`` (degrees) and ``elevation_m`` (see :mod:`wxstream.data.stations`)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from wxstream.errors import DataError

logger = logging.getLogger(__name__)

STATION_ID = "station_id"
TIMESTAMP = "timestamp"
TEMPERATURE_C = "temperature_c"
DEWPOINT_C = "dewpoint_c"
WIND_SPEED_MS = "wind_speed_ms"
WEATHER_GROUP = "weather_group"
PRESSURE_HPA = "pressure_hpa"
RELATIVE_HUMIDITY = "relative_humidity"
WIND_U_MS = "wind_u_ms"
WIND_V_MS = "wind_v_ms"
PRECIPITATION_MM = "precipitation_mm"
LATITUDE = "latitude"
LONGITUDE = "longitude"
ELEVATION_M = "elevation_m"

MEASUREMENT_COLUMNS: tuple[str, ...] = (TEMPERATURE_C, DEWPOINT_C, WIND_SPEED_MS)
"""The three measurements every source provides (NaN where missing)."""

REQUIRED_COLUMNS: tuple[str, ...] = (STATION_ID, TIMESTAMP, *MEASUREMENT_COLUMNS, WEATHER_GROUP)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    PRESSURE_HPA,
    RELATIVE_HUMIDITY,
    WIND_U_MS,
    WIND_V_MS,
    PRECIPITATION_MM,
    LATITUDE,
    LONGITUDE,
    ELEVATION_M,
)

DEFAULT_DATA_DIR = Path("..") / "shared" / "data"
_DATA_DIR_FIX = (
    "pass --data-dir PATH or set WXSTREAM_DATA_DIR to the folder holding the shared data"
)

# Physical plausibility limits applied by every loader: values outside become NaN.
TEMPERATURE_RANGE_C = (-90.0, 60.0)
WIND_SPEED_RANGE_MS = (0.0, 75.0)
PRESSURE_RANGE_HPA = (300.0, 1100.0)
HUMIDITY_RANGE_PCT = (0.0, 100.0)
PRECIPITATION_RANGE_MM = (0.0, 500.0)
_OPTIONAL_LIMITS: dict[str, tuple[float, float]] = {
    PRESSURE_HPA: PRESSURE_RANGE_HPA,
    RELATIVE_HUMIDITY: HUMIDITY_RANGE_PCT,
    PRECIPITATION_MM: PRECIPITATION_RANGE_MM,
}


def resolve_data_dir(arg: Path | None) -> Path:
    """Return the folder with the shared observation data.

    Args:
        arg: the folder given by ``--data-dir`` / ``WXSTREAM_DATA_DIR``, or ``None`` for
            the default ``../shared/data`` relative to the current directory.

    Raises:
        DataError: the folder does not exist (the message names the path and the fix).
    """
    path = DEFAULT_DATA_DIR if arg is None else Path(arg)
    if not path.is_dir():
        raise DataError(f"data folder not found: {path.resolve()}", fix=_DATA_DIR_FIX)
    return path


def require_file(path: Path) -> Path:
    """Return ``path`` or raise :class:`DataError` naming it when it is not a file."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}", fix=_DATA_DIR_FIX)
    return path


def require_columns(path: Path, present: Iterable[str], needed: Iterable[str]) -> None:
    """Raise :class:`DataError` naming the file and the columns it lacks."""
    missing = sorted(set(needed) - set(present))
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}",
            fix="check that the file is the expected source, unmodified",
        )


def read_header(path: Path) -> list[str]:
    """The column names of a CSV file, read without parsing the body."""
    try:
        return list(pd.read_csv(path, nrows=0, engine="c").columns)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read CSV header: {exc}", fix=_DATA_DIR_FIX) from exc


def clip_to_nan(values: pd.Series, low: float, high: float) -> pd.Series:
    """Replace values outside ``[low, high]`` by NaN (physically impossible readings)."""
    arr = values.to_numpy(dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        bad = (arr < low) | (arr > high)
    arr[bad] = np.nan
    return pd.Series(arr, index=values.index, name=values.name)


def wind_vector(
    speed_ms: np.ndarray, from_deg: np.ndarray, calm: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The wind vector ``(u, v)`` in m/s of winds blowing *from* ``from_deg``.

    ``u = -speed sin(dir)`` (eastward), ``v = -speed cos(dir)`` (northward). Calm rule: a
    reading of speed 0, or one flagged in ``calm`` (a source's "calm/variable" label: no
    prevailing direction), is the zero vector whatever its direction. Otherwise a missing
    speed or direction gives NaN.
    """
    speed = np.asarray(speed_ms, dtype=np.float64)
    angle = np.deg2rad(np.asarray(from_deg, dtype=np.float64))
    u = -speed * np.sin(angle)
    v = -speed * np.cos(angle)
    zero = speed == 0.0
    if calm is not None:
        zero |= np.asarray(calm, dtype=bool)
    u[zero] = 0.0
    v[zero] = 0.0
    return u, v


def local_to_utc(
    year: pd.Series, month: pd.Series, day: pd.Series, hour: pd.Series, utc_offset_h: int
) -> pd.Series:
    """Build UTC timestamps from local calendar columns at a fixed UTC offset.

    A fixed offset is exact for China (Asia/Shanghai is UTC+8 all year; no daylight
    saving since 1991), and avoids the ambiguity of DST-aware localisation.
    """
    local = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": day, "hour": hour}))
    utc = (local - pd.Timedelta(hours=utc_offset_h)).dt.tz_localize("UTC")
    return utc.astype("datetime64[ns, UTC]")


def finish_observations(df: pd.DataFrame) -> pd.DataFrame:
    """Coerce dtypes, apply plausibility limits, sort; the last step of every loader."""
    out = pd.DataFrame(
        {
            STATION_ID: df[STATION_ID].astype(str),
            TIMESTAMP: pd.to_datetime(df[TIMESTAMP], utc=True).astype("datetime64[ns, UTC]"),
            TEMPERATURE_C: clip_to_nan(df[TEMPERATURE_C].astype(np.float64), *TEMPERATURE_RANGE_C),
            DEWPOINT_C: clip_to_nan(df[DEWPOINT_C].astype(np.float64), *TEMPERATURE_RANGE_C),
            WIND_SPEED_MS: clip_to_nan(df[WIND_SPEED_MS].astype(np.float64), *WIND_SPEED_RANGE_MS),
        }
    )
    group = df[WEATHER_GROUP] if WEATHER_GROUP in df.columns else df[STATION_ID]
    out[WEATHER_GROUP] = group.astype(str).to_numpy()
    for col in OPTIONAL_COLUMNS:
        if col in df.columns:
            values = df[col].astype(np.float64)
            if col in _OPTIONAL_LIMITS:
                values = clip_to_nan(values, *_OPTIONAL_LIMITS[col])
            out[col] = values.to_numpy()
    out = out.sort_values([STATION_ID, TIMESTAMP], kind="stable").reset_index(drop=True)
    validate_observations(out)
    return out


def validate_observations(df: pd.DataFrame) -> None:
    """Check the tidy-table contract; raise :class:`DataError` naming what is wrong."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"observations lack column(s) {', '.join(missing)}")
    if str(df[TIMESTAMP].dtype) != "datetime64[ns, UTC]":
        raise DataError(f"timestamp must be datetime64[ns, UTC], got {df[TIMESTAMP].dtype}")
    for col in MEASUREMENT_COLUMNS:
        if df[col].dtype != np.float64:
            raise DataError(f"{col} must be float64, got {df[col].dtype}")
    if df[TIMESTAMP].isna().any():
        raise DataError("observations contain missing timestamps")
    keys = df[[STATION_ID, TIMESTAMP]]
    if not keys.equals(keys.sort_values([STATION_ID, TIMESTAMP], kind="stable")):
        raise DataError("observations must be sorted by station_id, timestamp")
