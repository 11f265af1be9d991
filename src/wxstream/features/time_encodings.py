"""Cyclic time inputs of the feature adapter: UTC ones, and station-aware ones.

* ``hour_of_day_*``, ``day_of_year_*``: the UTC hour and day of year of ``window_start``.
  A model learns its training stations' local offset implicitly, so it is led astray
  at a station in another time zone.
* ``solar_hour_*``: local mean solar time, ``UTC hour + longitude / 15`` (fractional,
  modulo 24), so noon is when the sun is highest wherever the station is.
* ``season_*``: the day of year shifted by half a year where ``latitude < 0``, so the
  same angle means the same season in both hemispheres.

A station without a longitude (or latitude) gets ``sin = cos = 0`` for the solar hour
(or season): the centre of the circle, which no real time takes. We do not fall back to
UTC there: UTC presented as local time is exactly what misleads a model at a station
in another time zone; ``(0, 0)`` says "unknown" and the model leans on its other inputs.
A model meant for stations without coordinates can choose the UTC encodings as well.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np

_TWO_PI: Final = 2.0 * math.pi
_DAYS_PER_YEAR: Final = 365.25

UTC_ENCODINGS: Final[tuple[str, ...]] = (
    "hour_of_day_sin",
    "hour_of_day_cos",
    "day_of_year_sin",
    "day_of_year_cos",
)
STATION_ENCODINGS: Final[tuple[str, ...]] = (
    "solar_hour_sin",
    "solar_hour_cos",
    "season_sin",
    "season_cos",
)
ENCODINGS: Final[tuple[str, ...]] = UTC_ENCODINGS + STATION_ENCODINGS
"""Every time encoding an adapter input may name."""


def _day_of_year(epoch_s: np.ndarray) -> np.ndarray:
    days = epoch_s // 86400
    year_start = days.astype("datetime64[D]").astype("datetime64[Y]").astype("datetime64[D]")
    return (days - year_start.astype(np.int64)).astype(np.float64)  # 0-based


def utc_encodings(epoch_s: np.ndarray) -> dict[str, np.ndarray]:
    """Cyclic encodings of UTC hour of day and day of year from int64 epoch seconds."""
    hour = ((epoch_s // 3600) % 24).astype(np.float64)
    hour_angle = hour * (_TWO_PI / 24.0)
    day_angle = _day_of_year(epoch_s) * (_TWO_PI / _DAYS_PER_YEAR)
    return {
        "hour_of_day_sin": np.sin(hour_angle),
        "hour_of_day_cos": np.cos(hour_angle),
        "day_of_year_sin": np.sin(day_angle),
        "day_of_year_cos": np.cos(day_angle),
    }


def station_encodings(
    epoch_s: np.ndarray, latitude: np.ndarray, longitude: np.ndarray
) -> dict[str, np.ndarray]:
    """Local solar hour and hemisphere-aware season; ``(0, 0)`` where the coordinate
    they need is NaN (see the module's docstring)."""
    utc_hour = (epoch_s % 86400).astype(np.float64) / 3600.0
    with np.errstate(invalid="ignore"):
        solar_hour = np.mod(utc_hour + longitude / 15.0, 24.0)
        shift = np.where(latitude < 0.0, _DAYS_PER_YEAR / 2.0, 0.0)
    hour_angle = solar_hour * (_TWO_PI / 24.0)
    day_angle = (_day_of_year(epoch_s) + shift) * (_TWO_PI / _DAYS_PER_YEAR)
    no_lon = np.isnan(longitude)
    no_lat = np.isnan(latitude)
    return {
        "solar_hour_sin": np.where(no_lon, 0.0, np.sin(hour_angle)),
        "solar_hour_cos": np.where(no_lon, 0.0, np.cos(hour_angle)),
        "season_sin": np.where(no_lat, 0.0, np.sin(day_angle)),
        "season_cos": np.where(no_lat, 0.0, np.cos(day_angle)),
    }
