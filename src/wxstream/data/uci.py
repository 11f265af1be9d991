"""The two UCI air-quality data sets whose weather columns we use.

* Beijing multi-site (Zhang et al. 2017): 12 sites, hourly, 2013-03-01 to 2017-02-28.
* Five Chinese cities (Liang et al. 2016): 5 cities, hourly, 2010-01-01 to 2014-12-31.

Both are in local time, Asia/Shanghai. China has had no daylight saving time since 1991,
so a fixed UTC+8 offset converts them to UTC exactly.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from wxstream.data.observations import (
    DEWPOINT_C,
    PRECIPITATION_MM,
    PRESSURE_HPA,
    RELATIVE_HUMIDITY,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WEATHER_GROUP,
    WIND_SPEED_MS,
    WIND_SPEED_RANGE_MS,
    WIND_U_MS,
    WIND_V_MS,
    clip_to_nan,
    finish_observations,
    local_to_utc,
    read_header,
    require_columns,
    wind_vector,
)
from wxstream.data.stations import attach_coordinates
from wxstream.errors import DataError

logger = logging.getLogger(__name__)

CHINA_UTC_OFFSET_H = 8
BEIJING_MULTISITE_DIR = "beijing-multisite"
FIVE_CITIES_DIR = "five-cities"

BEIJING_SITES: tuple[str, ...] = (
    "Aotizhongxin",
    "Changping",
    "Dingling",
    "Dongsi",
    "Guanyuan",
    "Gucheng",
    "Huairou",
    "Nongzhanguan",
    "Shunyi",
    "Tiantan",
    "Wanliu",
    "Wanshouxigong",
)

# Sites whose weather columns came from the same official station (>= 99.8 % identical
# TEMP). The group is named after its alphabetically first site.
_SHARED_WEATHER: tuple[tuple[str, ...], ...] = (
    ("Aotizhongxin", "Guanyuan"),
    ("Changping", "Dingling"),
    ("Dongsi", "Nongzhanguan", "Tiantan"),
)
BEIJING_WEATHER_GROUPS: dict[str, str] = {site: site for site in BEIJING_SITES} | {
    site: group[0] for group in _SHARED_WEATHER for site in group
}

FIVE_CITIES: tuple[str, ...] = ("Beijing", "Chengdu", "Guangzhou", "Shanghai", "Shenyang")
CUMULATIVE_IWS_CITIES: frozenset[str] = frozenset({"Beijing", "Chengdu", "Shanghai", "Shenyang"})

_CALENDAR = ["year", "month", "day", "hour"]
_BEIJING_COLUMNS = [*_CALENDAR, "TEMP", "DEWP", "WSPM", "PRES", "RAIN", "wd"]
_FIVE_CITIES_COLUMNS = [
    *_CALENDAR,
    "TEMP",
    "DEWP",
    "HUMI",
    "PRES",
    "cbwd",
    "Iws",
    "precipitation",
]

_SIXTEEN_POINTS = [
    "N",
    "NNE",
    "NE",
    "ENE",
    "E",
    "ESE",
    "SE",
    "SSE",
    "S",
    "SSW",
    "SW",
    "WSW",
    "W",
    "WNW",
    "NW",
    "NNW",
]
COMPASS_DEG: dict[str, float] = {name: 22.5 * i for i, name in enumerate(_SIXTEEN_POINTS)}
"""16-point compass label -> the direction the wind blows from, degrees from north."""
FIVE_CITIES_CALM = "cv"
"""``cbwd`` label of calm and variable wind: no prevailing direction, the zero vector."""


def _read(path: Path, columns: list[str], strings: tuple[str, ...] = ()) -> pd.DataFrame:
    if not path.is_file():
        raise DataError(
            f"data file not found: {path}",
            fix="pass --data-dir PATH (or set WXSTREAM_DATA_DIR) to the shared data folder",
        )
    require_columns(path, read_header(path), columns)
    dtypes = {c: ("str" if c in strings else "float64") for c in columns}
    for c in _CALENDAR:
        dtypes[c] = "int64"
    try:
        return pd.read_csv(
            path, usecols=columns, dtype=dtypes, engine="c", na_values=["NA"], keep_default_na=True
        )
    except (ValueError, OSError) as exc:
        raise DataError(f"{path}: cannot parse: {exc}") from exc


def _utc(raw: pd.DataFrame) -> pd.Series:
    return local_to_utc(raw["year"], raw["month"], raw["day"], raw["hour"], CHINA_UTC_OFFSET_H)


def _directions(labels: pd.Series) -> np.ndarray:
    """Compass labels -> degrees (from); unknown labels and NA -> NaN."""
    return labels.map(COMPASS_DEG).to_numpy(dtype=np.float64, na_value=np.nan)


def beijing_multisite_path(data_dir: Path, site: str) -> Path:
    """The CSV of one Beijing site."""
    return data_dir / BEIJING_MULTISITE_DIR / f"PRSA_Data_{site}_20130301-20170228.csv"


def load_beijing_multisite(data_dir: Path, sites: tuple[str, ...] = BEIJING_SITES) -> pd.DataFrame:
    """Load the Beijing multi-site weather columns as tidy observations.

    ``TEMP``/``DEWP`` degC, ``WSPM`` m/s, ``PRES`` hPa, ``RAIN`` mm, ``wd`` (16-point
    compass) with ``WSPM`` -> the wind vector (speed 0 is calm); ``NA`` -> NaN; local
    time -> UTC. No relative humidity: the source has none, and one derived from
    ``TEMP`` and ``DEWP`` (Magnus) would add no information the model lacks. Station
    coordinates from ``stations/beijing-multisite.csv`` (district or city centres).
    ``weather_group`` names the weather series a site reads: sites that share one series
    get the same group, so splits across stations can keep them together.

    Args:
        data_dir: the shared data folder (holding ``beijing-multisite/``).
        sites: which sites to load; default all twelve.
    """
    frames = []
    for site in sites:
        if site not in BEIJING_WEATHER_GROUPS:
            raise DataError(f"unknown Beijing site {site!r}", fix=f"use one of {BEIJING_SITES}")
        raw = _read(beijing_multisite_path(data_dir, site), _BEIJING_COLUMNS, strings=("wd",))
        speed = clip_to_nan(raw["WSPM"], *WIND_SPEED_RANGE_MS).to_numpy()
        wind_u, wind_v = wind_vector(speed, _directions(raw["wd"]))
        frames.append(
            pd.DataFrame(
                {
                    STATION_ID: site,
                    TIMESTAMP: _utc(raw),
                    TEMPERATURE_C: raw["TEMP"],
                    DEWPOINT_C: raw["DEWP"],
                    WIND_SPEED_MS: raw["WSPM"],
                    PRESSURE_HPA: raw["PRES"],
                    WIND_U_MS: wind_u.round(4),
                    WIND_V_MS: wind_v.round(4),
                    PRECIPITATION_MM: raw["RAIN"],
                    WEATHER_GROUP: BEIJING_WEATHER_GROUPS[site],
                }
            )
        )
    joined = attach_coordinates(pd.concat(frames, ignore_index=True), "beijing-multisite")
    out = finish_observations(joined)
    logger.debug("loaded %d Beijing multi-site observations", len(out))
    return out


def five_cities_path(data_dir: Path, city: str) -> Path:
    """The CSV of one of the five cities."""
    return data_dir / FIVE_CITIES_DIR / f"{city}PM20100101_20141231.csv"


def decumulate_iws(iws: np.ndarray, cbwd: np.ndarray, hours: np.ndarray) -> np.ndarray:
    """Hourly wind speed from the cumulated ``Iws`` column.

    ``Iws`` sums the hourly speed while the combined wind direction ``cbwd`` stays the
    same; the hourly speed is ``Iws - previous Iws`` when ``cbwd`` is unchanged and the
    previous row is the previous hour, else ``Iws`` itself. A missing previous value
    (or a missing direction) leaves the difference unknown: NaN.

    Args:
        iws: cumulated speed, float64.
        cbwd: direction labels (object or str array; missing as NaN/None).
        hours: row times as int64 hours (any epoch), same length.
    """
    speed = iws.astype(np.float64, copy=True)
    if len(speed) < 2:
        return speed
    labels = pd.Series(cbwd, dtype=object)
    same_dir = (labels.to_numpy()[1:] == labels.to_numpy()[:-1]) & labels.notna().to_numpy()[1:]
    consecutive = np.diff(hours) == 1
    continues = same_dir & consecutive
    diff = iws[1:] - iws[:-1]
    tail = speed[1:]
    tail[continues] = diff[continues]
    return speed


def load_five_cities(data_dir: Path, cities: tuple[str, ...] = FIVE_CITIES) -> pd.DataFrame:
    """Load the five-cities weather columns as tidy observations.

    ``TEMP``/``DEWP`` degC, ``HUMI`` % -> ``relative_humidity``, ``PRES`` hPa,
    ``precipitation`` mm in the hour; ``NA`` -> NaN; local time -> UTC; station id = city
    name. ``Iws`` is de-cumulated into hourly speed (m/s) for every city but Guangzhou,
    where it is already hourly. ``cbwd`` (NE, NW, SE, ``cv``) with that speed -> the wind
    vector; ``cv`` (calm and variable) is the zero vector. Station coordinates from
    ``stations/five-cities.csv`` (city centres).

    Args:
        data_dir: the shared data folder (holding ``five-cities/``).
        cities: which cities to load; default all five.
    """
    frames = []
    for city in cities:
        if city not in FIVE_CITIES:
            raise DataError(f"unknown city {city!r}", fix=f"use one of {FIVE_CITIES}")
        raw = _read(five_cities_path(data_dir, city), _FIVE_CITIES_COLUMNS, strings=("cbwd",))
        timestamp = _utc(raw)
        iws = raw["Iws"].to_numpy(dtype=np.float64)
        if city in CUMULATIVE_IWS_CITIES:
            naive = timestamp.dt.tz_localize(None).to_numpy()
            hours = naive.astype("datetime64[h]").astype(np.int64)
            wind = decumulate_iws(iws, raw["cbwd"].to_numpy(dtype=object), hours)
        else:
            wind = iws
        wind = clip_to_nan(pd.Series(wind), *WIND_SPEED_RANGE_MS).to_numpy()
        labels = raw["cbwd"]
        wind_u, wind_v = wind_vector(
            wind, _directions(labels), calm=(labels == FIVE_CITIES_CALM).to_numpy()
        )
        frames.append(
            pd.DataFrame(
                {
                    STATION_ID: city,
                    TIMESTAMP: timestamp,
                    TEMPERATURE_C: raw["TEMP"],
                    DEWPOINT_C: raw["DEWP"],
                    WIND_SPEED_MS: wind,
                    PRESSURE_HPA: raw["PRES"],
                    RELATIVE_HUMIDITY: raw["HUMI"],
                    WIND_U_MS: wind_u.round(4),
                    WIND_V_MS: wind_v.round(4),
                    PRECIPITATION_MM: raw["precipitation"],
                }
            )
        )
    out = finish_observations(
        attach_coordinates(pd.concat(frames, ignore_index=True), "five-cities")
    )
    logger.debug("loaded %d five-cities observations", len(out))
    return out
