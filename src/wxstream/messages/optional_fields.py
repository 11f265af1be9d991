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
from collections.abc import Sequence
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


class OptionalFields(NamedTuple):
    """A message's optional values (``None`` where absent), in wire order.

    One value held by :class:`~wxstream.messages.features.FeatureMessage` (``None`` when
    the message has none): decoding a message without optional fields then costs one
    attribute, not eight, on the decoder's fast path.
    """

    avg_pressure_hpa: float | None = None
    avg_relative_humidity: float | None = None
    avg_wind_u: float | None = None
    avg_wind_v: float | None = None
    precipitation_mm: float | None = None
    latitude: float | None = None
    longitude: float | None = None
    elevation_m: float | None = None


def optional_or_none(values: Sequence[float | None]) -> OptionalFields | None:
    """:class:`OptionalFields` of ``values``, or ``None`` when every one is absent (so a
    message with only ``null`` optional fields equals one without them)."""
    if all(v is None for v in values):
        return None
    return OptionalFields(*values)


class OptionalFieldAccess:
    """The optional fields as attributes of a message (``None`` where absent)."""

    __slots__ = ()
    optional: OptionalFields | None

    @property
    def avg_pressure_hpa(self) -> float | None:
        """Mean pressure, hPa."""
        return None if self.optional is None else self.optional.avg_pressure_hpa

    @property
    def avg_relative_humidity(self) -> float | None:
        """Mean relative humidity, %."""
        return None if self.optional is None else self.optional.avg_relative_humidity

    @property
    def avg_wind_u(self) -> float | None:
        """Mean wind vector, eastward component, m/s."""
        return None if self.optional is None else self.optional.avg_wind_u

    @property
    def avg_wind_v(self) -> float | None:
        """Mean wind vector, northward component, m/s."""
        return None if self.optional is None else self.optional.avg_wind_v

    @property
    def precipitation_mm(self) -> float | None:
        """Precipitation in the window, mm."""
        return None if self.optional is None else self.optional.precipitation_mm

    @property
    def latitude(self) -> float | None:
        """Station latitude, degrees north."""
        return None if self.optional is None else self.optional.latitude

    @property
    def longitude(self) -> float | None:
        """Station longitude, degrees east."""
        return None if self.optional is None else self.optional.longitude

    @property
    def elevation_m(self) -> float | None:
        """Station elevation, m."""
        return None if self.optional is None else self.optional.elevation_m

    def optional_values(self) -> tuple[float | None, ...]:
        """The optional values in wire order (all ``None`` for a message without them)."""
        return _NONE if self.optional is None else tuple(self.optional)


_NONE: Final = (None,) * len(OPTIONAL_FIELDS)

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


def check_optional(obj: dict[str, Any]) -> OptionalFields | BadOptional | None:
    """The optional values of a decoded JSON object.

    Returns:
        :class:`OptionalFields`, ``None`` when the object has none (or only ``null``
        ones), or :class:`BadOptional` for the first invalid one.
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
    return optional_or_none(values)


def encode_optional(values: Sequence[float | None]) -> str:
    """The JSON members (``,"name":value`` each) of the values that are present."""
    return "".join(
        f',"{name}":{float(value)!r}'
        for name, value in zip(OPTIONAL_FIELDS, values, strict=True)
        if value is not None
    )
