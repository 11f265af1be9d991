"""Observations from any CSV, given a column mapping with units."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.data.observations import (
    DEWPOINT_C,
    ELEVATION_M,
    LATITUDE,
    LONGITUDE,
    PRECIPITATION_MM,
    PRESSURE_HPA,
    RELATIVE_HUMIDITY,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WIND_SPEED_MS,
    WIND_U_MS,
    WIND_V_MS,
    finish_observations,
    read_header,
    require_columns,
    require_file,
    wind_vector,
)
from wxstream.errors import DataError
from wxstream.features.units import UNITS, to_model_unit

logger = logging.getLogger(__name__)

QUANTITY: dict[str, str] = {
    "temperature": "temperature",
    "dewpoint": "temperature",
    "wind_speed": "speed",
    "pressure": "pressure",
    "relative_humidity": "humidity",
    "wind_direction": "angle",
    "precipitation": "precipitation",
    "latitude": "angle",
    "longitude": "angle",
    "elevation": "height",
}
"""Mapping entry -> its quantity in :data:`wxstream.features.units.UNITS`, whose units
and conversions a mapping accepts (ours are the model's: degC, m/s, hPa, %, degrees,
mm, m)."""
OPTIONAL_ENTRIES: tuple[str, ...] = (
    "pressure",
    "relative_humidity",
    "wind_direction",
    "precipitation",
    "latitude",
    "longitude",
    "elevation",
)


def _units(name: str) -> dict[str, tuple[float, float]]:
    """The units a mapping entry may name."""
    return UNITS[QUANTITY[name]]


def _in_our_unit(values: pd.Series, name: str, unit: str) -> npt.NDArray[np.float64]:
    """A float64 CSV column of mapping entry ``name`` in our unit."""
    return to_model_unit(values.to_numpy(dtype=np.float64), QUANTITY[name], unit)


_OPTIONAL_TARGET: dict[str, str] = {
    "pressure": PRESSURE_HPA,
    "relative_humidity": RELATIVE_HUMIDITY,
    "precipitation": PRECIPITATION_MM,
    "latitude": LATITUDE,
    "longitude": LONGITUDE,
    "elevation": ELEVATION_M,
}
_STATION_METADATA = ("latitude", "longitude", "elevation")

OptionalEntry = tuple[str, str] | float
"""``(source column, unit)``, or for station metadata a fixed value in our unit."""


@dataclass(frozen=True)
class ColumnMapping:
    """Where our columns come from in a CSV, and in which units.

    Attributes:
        timestamp: the timestamp column (parsed by pandas; ISO-8601 recommended).
        timezone: the IANA zone of naive timestamps (``UTC`` when they already are);
            timestamps with an explicit offset are converted from that offset instead.
        temperature: (source column, unit), unit one of ``degC``, ``degF``, ``K``.
        dewpoint: (source column, unit), same units as temperature.
        wind_speed: (source column, unit), unit one of ``m/s``, ``km/h``, ``mph``, ``knots``.
        station_column: the station id column, or ``None`` to use ``station_id``.
        station_id: the fixed station id when there is no station column.
        optional: the optional columns, each ``(source column, unit)``: ``pressure``
            (hPa, kPa, Pa, inHg), ``relative_humidity`` (``%`` or ``1`` for a fraction),
            ``wind_direction`` (``deg``, where the wind blows from; with the wind speed
            it makes the wind vector, speed 0 being calm), ``precipitation`` (mm, in;
            the amount since the previous reading: the hour sums them), and the station's
            ``latitude``, ``longitude`` (deg), ``elevation`` (m, ft), which may instead be
            a fixed number (degrees, metres) for a one-station file.
    """

    timestamp: str
    temperature: tuple[str, str]
    dewpoint: tuple[str, str]
    wind_speed: tuple[str, str]
    timezone: str = "UTC"
    station_column: str | None = None
    station_id: str | None = None
    optional: tuple[tuple[str, OptionalEntry], ...] = ()

    def __post_init__(self) -> None:
        for name, entry in self.optional:
            if name not in OPTIONAL_ENTRIES:
                raise DataError(
                    f"unknown optional mapping entry {name!r}",
                    fix=f"use {sorted(OPTIONAL_ENTRIES)}",
                )
            if isinstance(entry, float):
                if name not in _STATION_METADATA:
                    raise DataError(
                        f"{name} needs [column, unit]",
                        fix="only latitude, longitude, elevation may be fixed numbers",
                    )
            elif entry[1] not in _units(name):
                raise DataError(
                    f"unknown {name} unit {entry[1]!r}",
                    fix=f"use one of {sorted(_units(name))}",
                )
        for name, (_, unit) in (("temperature", self.temperature), ("dewpoint", self.dewpoint)):
            if unit not in _units(name):
                raise DataError(
                    f"unknown {name} unit {unit!r}", fix=f"use one of {sorted(_units(name))}"
                )
        if self.wind_speed[1] not in _units("wind_speed"):
            raise DataError(
                f"unknown wind speed unit {self.wind_speed[1]!r}",
                fix=f"use one of {sorted(_units('wind_speed'))}",
            )
        if (self.station_column is None) == (self.station_id is None):
            raise DataError(
                "a column mapping needs exactly one of station_column and station_id",
                fix="name the CSV's station column, or give a fixed station_id",
            )

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> ColumnMapping:
        """Build from a JSON object (or its text), e.g. ``{"timestamp": "time",
        "temperature": ["t", "degF"], ..., "station_id": "KSEA"}``."""
        try:
            obj = json.loads(data) if isinstance(data, str) else data
            return cls(
                timestamp=str(obj["timestamp"]),
                temperature=_pair(obj["temperature"]),
                dewpoint=_pair(obj["dewpoint"]),
                wind_speed=_pair(obj["wind_speed"]),
                timezone=str(obj.get("timezone", "UTC")),
                station_column=obj.get("station_column"),
                station_id=obj.get("station_id"),
                optional=tuple(
                    (name, _optional_entry(obj[name])) for name in OPTIONAL_ENTRIES if name in obj
                ),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"invalid column mapping: {exc!r}",
                fix="give timestamp, temperature, dewpoint, wind_speed ([column, unit] pairs)",
            ) from exc

    @classmethod
    def load(cls, path: Path) -> ColumnMapping:
        """Read a mapping from a JSON file."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise DataError(f"cannot read column mapping {path}: {exc}") from exc
        return cls.from_json(text)

    def to_json(self) -> dict[str, Any]:
        """The JSON object :meth:`from_json` reads."""
        out: dict[str, Any] = {
            "timestamp": self.timestamp,
            "timezone": self.timezone,
            "temperature": list(self.temperature),
            "dewpoint": list(self.dewpoint),
            "wind_speed": list(self.wind_speed),
        }
        if self.station_column is not None:
            out["station_column"] = self.station_column
        if self.station_id is not None:
            out["station_id"] = self.station_id
        for name, entry in self.optional:
            out[name] = entry if isinstance(entry, float) else list(entry)
        return out


def _pair(value: Any) -> tuple[str, str]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError(f"expected [column, unit], got {value!r}")
    return str(value[0]), str(value[1])


def _optional_entry(value: Any) -> OptionalEntry:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return _pair(value)


def _optional_columns(raw: pd.DataFrame, mapping: ColumnMapping) -> dict[str, Any]:
    """Our optional observation columns from the mapped CSV columns, in our units."""
    out: dict[str, Any] = {}
    entries = dict(mapping.optional)
    for name, entry in entries.items():
        if name == "wind_direction":
            continue
        if isinstance(entry, float):
            out[_OPTIONAL_TARGET[name]] = entry
        else:
            out[_OPTIONAL_TARGET[name]] = _in_our_unit(raw[entry[0]], name, entry[1])
    direction = entries.get("wind_direction")
    if isinstance(direction, tuple):
        speed_col, speed_unit = mapping.wind_speed
        speed = _in_our_unit(raw[speed_col], "wind_speed", speed_unit)
        out[WIND_U_MS], out[WIND_V_MS] = wind_vector(speed, raw[direction[0]].to_numpy())
    return out


def load_csv(path: Path, mapping: ColumnMapping) -> pd.DataFrame:
    """Load observations from a CSV described by ``mapping`` (units converted to ours)."""
    csv = require_file(Path(path))
    needed = [mapping.timestamp, mapping.temperature[0], mapping.dewpoint[0], mapping.wind_speed[0]]
    if mapping.station_column is not None:
        needed.append(mapping.station_column)
    optional_cols = [e[0] for _, e in mapping.optional if isinstance(e, tuple)]
    needed += optional_cols
    require_columns(csv, read_header(csv), needed)
    numeric = [mapping.temperature[0], mapping.dewpoint[0], mapping.wind_speed[0], *optional_cols]
    try:
        raw = pd.read_csv(
            csv,
            usecols=list(dict.fromkeys(needed)),
            engine="c",
            dtype=dict.fromkeys(numeric, "float64"),
        )
        stamps = pd.to_datetime(raw[mapping.timestamp], format="ISO8601")
        if stamps.dt.tz is None:
            stamps = stamps.dt.tz_localize(mapping.timezone, ambiguous="NaT", nonexistent="NaT")
        stamps = stamps.dt.tz_convert("UTC")
    except (ValueError, TypeError, KeyError) as exc:
        raise DataError(f"{csv}: cannot parse: {exc}") from exc
    if stamps.isna().any():
        raise DataError(
            f"{csv}: {int(stamps.isna().sum())} timestamp(s) missing, ambiguous or nonexistent "
            f"in {mapping.timezone}",
            fix="store timestamps in UTC or with an explicit offset",
        )
    station = (
        raw[mapping.station_column].astype(str)
        if mapping.station_column is not None
        else pd.Series(mapping.station_id, index=raw.index, dtype=str)
    )
    temp_col, temp_unit = mapping.temperature
    dew_col, dew_unit = mapping.dewpoint
    wind_col, wind_unit = mapping.wind_speed
    df = pd.DataFrame(
        {
            STATION_ID: station,
            TIMESTAMP: stamps,
            TEMPERATURE_C: _in_our_unit(raw[temp_col], "temperature", temp_unit),
            DEWPOINT_C: _in_our_unit(raw[dew_col], "dewpoint", dew_unit),
            WIND_SPEED_MS: _in_our_unit(raw[wind_col], "wind_speed", wind_unit),
            **_optional_columns(raw, mapping),
        }
    )
    out = finish_observations(df)
    logger.debug("loaded %d observations from %s", len(out), csv)
    return out
