"""Units of the feature adapter: which quantity each message field is, and the
conversions from a deployment's units to the model's (the first unit of each table)."""

from __future__ import annotations

from typing import Final

import numpy as np

# Field -> quantity; the model's unit for each quantity is the first in its table.
FIELD_QUANTITY: Final[dict[str, str]] = {
    "avg_temperature": "temperature",
    "avg_dewpoint": "temperature",
    "min_temperature": "temperature",
    "max_temperature": "temperature",
    "avg_wind_speed": "speed",
    "observation_count": "count",
    "avg_pressure_hpa": "pressure",
    "avg_relative_humidity": "humidity",
    "avg_wind_u": "speed",
    "avg_wind_v": "speed",
    "precipitation_mm": "precipitation",
    "latitude": "angle",
    "longitude": "angle",
    "elevation_m": "height",
}

_TEMPERATURE_TO_C: Final[dict[str, tuple[float, float]]] = {
    # unit -> (offset, scale): model value = (value + offset) * scale
    "degC": (0.0, 1.0),
    "degF": (-32.0, 5.0 / 9.0),
    "K": (-273.15, 1.0),
}
_SPEED_TO_MS: Final[dict[str, tuple[float, float]]] = {
    "m/s": (0.0, 1.0),
    "km/h": (0.0, 1.0 / 3.6),
    "mph": (0.0, 0.44704),
    "knots": (0.0, 1852.0 / 3600.0),
}
UNITS: Final[dict[str, dict[str, tuple[float, float]]]] = {
    "temperature": _TEMPERATURE_TO_C,
    "speed": _SPEED_TO_MS,
    "count": {"1": (0.0, 1.0)},
    "pressure": {"hPa": (0.0, 1.0), "kPa": (0.0, 10.0), "Pa": (0.0, 0.01), "inHg": (0.0, 33.8639)},
    "humidity": {"%": (0.0, 1.0), "1": (0.0, 100.0)},
    "precipitation": {"mm": (0.0, 1.0), "in": (0.0, 25.4)},
    "angle": {"deg": (0.0, 1.0)},
    "height": {"m": (0.0, 1.0), "ft": (0.0, 0.3048)},
}
"""Quantity -> unit -> (offset, scale) to the model's unit."""


def to_model_unit(values: np.ndarray, quantity: str, unit: str) -> np.ndarray:
    """Convert float64 ``values`` from ``unit`` to the model's unit of ``quantity``."""
    offset, scale = UNITS[quantity][unit]
    if offset == 0.0 and scale == 1.0:
        return values
    return (values + offset) * scale


def from_model_unit(values: np.ndarray, quantity: str, unit: str) -> np.ndarray:
    """Inverse of :func:`to_model_unit` (e.g. a forecast in degC back to degF)."""
    offset, scale = UNITS[quantity][unit]
    if offset == 0.0 and scale == 1.0:
        return values
    return values / scale - offset
