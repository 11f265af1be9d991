"""The optional fields of a ``weather-features`` message: names, units, ranges, rules.

An upstream job adds them where it has them; a message without them is valid and
decodes exactly as before (every optional attribute ``None``). ``null`` counts as
absent, so a job that writes every column may send ``null`` for a missing value.

=========================  =====  ===============  ==========================================
field                      unit   range            meaning
=========================  =====  ===============  ==========================================
``avg_pressure_hpa``       hPa    300..1100        mean pressure (sea-level or station; 300
                                                   admits stations up to about 9 km)
``avg_relative_humidity``  %      0..100           mean relative humidity
``avg_wind_u``             m/s    -120..120        mean wind vector, eastward component
``avg_wind_v``             m/s    -120..120        mean wind vector, northward component
``precipitation_mm``       mm     0..500           precipitation in the hour (a sum)
``latitude``               deg    -90..90          station latitude, north positive
``longitude``              deg    -180..180        station longitude, east positive
``elevation_m``            m      -500..9000       station elevation above sea level
=========================  =====  ===============  ==========================================

The wind vector is where the air goes: a wind *from* direction ``d`` (degrees clockwise
from north) at speed ``s`` is ``u = -s sin d``, ``v = -s cos d``. The hour's vector is the
mean of its readings' vectors, so each reading weighs by its speed; a calm reading
(speed 0, or a source's "calm/variable" label) is the zero vector and still counts in the
mean. ``hypot(u, v) <= avg_wind_speed``: the two are equal only when the wind kept one
direction all hour.

Rules: the same as the required measurements (a finite JSON number, booleans are not
numbers, inside the range) and the same reason codes (``wrong_type``, ``non_finite``,
``out_of_range``); nothing is checked across optional fields.
"""

from __future__ import annotations

import math
from typing import Any, Final, NamedTuple

OPTIONAL_RANGES: Final[dict[str, tuple[float, float]]] = {
    "avg_pressure_hpa": (300.0, 1100.0),
    "avg_relative_humidity": (0.0, 100.0),
    "avg_wind_u": (-120.0, 120.0),
    "avg_wind_v": (-120.0, 120.0),
    "precipitation_mm": (0.0, 500.0),
    "latitude": (-90.0, 90.0),
    "longitude": (-180.0, 180.0),
    "elevation_m": (-500.0, 9000.0),
}
"""Optional field -> inclusive range, in wire order."""

OPTIONAL_FIELDS: Final = tuple(OPTIONAL_RANGES)
"""The optional fields, in wire order (after the required ones)."""

OPTIONAL_UNITS: Final[dict[str, str]] = {
    "avg_pressure_hpa": "hPa",
    "avg_relative_humidity": "%",
    "avg_wind_u": "m/s",
    "avg_wind_v": "m/s",
    "precipitation_mm": "mm",
    "latitude": "deg",
    "longitude": "deg",
    "elevation_m": "m",
}
"""Optional field -> its unit on the wire."""


class BadOptional(NamedTuple):
    """The first invalid optional field: a reason code of the codec and a detail."""

    reason: str
    detail: str


def check_optional(obj: dict[str, Any]) -> tuple[float | None, ...] | BadOptional:
    """The optional values of a decoded JSON object, in :data:`OPTIONAL_FIELDS` order.

    Returns:
        a tuple of floats/``None`` (one per optional field), or :class:`BadOptional` for
        the first invalid one.
    """
    values: list[float | None] = []
    for name, (low, high) in OPTIONAL_RANGES.items():
        value = obj.get(name)
        if value is None:
            values.append(None)
            continue
        kind = type(value)
        if kind is not float and kind is not int:
            return BadOptional(
                "wrong_type", f"{name} must be a number or null, got {kind.__name__}"
            )
        if kind is float and not math.isfinite(value):
            return BadOptional("non_finite", f"{name} is {value}")
        if not low <= value <= high:
            return BadOptional("out_of_range", f"{name}={value!r} outside {low}..{high}")
        values.append(float(value))
    return tuple(values)


def encode_optional(values: tuple[float | None, ...]) -> str:
    """The JSON members (``,"name":value`` each) of the values that are present."""
    return "".join(
        f',"{name}":{float(value)!r}'
        for name, value in zip(OPTIONAL_FIELDS, values, strict=True)
        if value is not None
    )
