"""The feature adapter: which message field feeds which model input, in which unit.

Stored as JSON in the model directory (data, not code), e.g.::

    {"version": 1,
     "inputs": [{"name": "temperature", "field": "avg_temperature", "unit": "degC"},
                {"name": "wind_speed", "field": "avg_wind_speed", "unit": "m/s"},
                {"name": "dewpoint", "field": "avg_dewpoint", "unit": "degC"},
                {"name": "hour_sin", "encoding": "hour_of_day_sin"}, ...],
     "target": {"name": "temperature", "field": "avg_temperature", "unit": "degC"}}

``unit`` is the unit the field carries in the incoming messages; the adapter converts it
to the model's unit (degC for temperatures, m/s for wind). A deployment whose messages
carry degF edits ``"unit": "degF"`` and keeps the model.

Time encodings (:mod:`wxstream.features.time_encodings`) use ``window_start``: in UTC
(hour of day, day of year; the model learns its stations' local offset implicitly), or
station-aware from the message's ``longitude``/``latitude`` (local solar hour,
hemisphere-aware season; ``(0, 0)`` for a station without them).

The optional message fields (pressure, humidity, wind vector, precipitation, station
coordinates) are inputs like the others, with their units; a message without one gives
NaN for that input. An adapter that names none of them reads messages exactly as before.

Training (:meth:`FeatureAdapter.to_inputs_from_frame`) and streaming
(:meth:`FeatureAdapter.to_inputs`, :meth:`FeatureAdapter.windows_to_array`) share one
float64 assembly step, so both paths give bit-identical float32 inputs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from itertools import chain
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from wxstream.errors import DataError, ModelFormatError
from wxstream.features.time_encodings import (
    ENCODINGS,
    STATION_ENCODINGS,
    station_encodings,
    utc_encodings,
)
from wxstream.features.units import FIELD_QUANTITY, UNITS, from_model_unit, to_model_unit
from wxstream.messages.features import FeatureMessage
from wxstream.messages.optional_fields import OPTIONAL_FIELDS

__all__ = [
    "ADAPTER_FILENAME",
    "ADAPTER_VERSION",
    "FIELD_QUANTITY",
    "UNITS",
    "FeatureAdapter",
    "InputSpec",
    "default_adapter",
    "from_model_unit",
    "input_catalogue",
    "to_model_unit",
]

ADAPTER_VERSION: Final = 1
ADAPTER_FILENAME: Final = "feature_adapter.json"

_COORDINATES: Final = ("latitude", "longitude")
_OPTIONAL: Final = frozenset(OPTIONAL_FIELDS)


@dataclass(frozen=True)
class InputSpec:
    """One model input: a message field (with its unit) or a time encoding."""

    name: str
    field: str | None = None
    unit: str | None = None
    encoding: str | None = None

    def field_and_unit(self) -> tuple[str, str]:
        """``(field, unit)`` of a field input; :class:`ModelFormatError` for an encoding."""
        if self.field is None or self.unit is None:
            raise ModelFormatError(f"input {self.name!r} is not a message field")
        return self.field, self.unit

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this input."""
        if self.encoding is not None:
            return {"name": self.name, "encoding": self.encoding}
        return {"name": self.name, "field": self.field, "unit": self.unit}


def _parse_spec(obj: Any, where: str, *, target: bool) -> InputSpec:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be an object")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}: 'name' must be a non-empty string")
    field, unit, encoding = obj.get("field"), obj.get("unit"), obj.get("encoding")
    if encoding is not None:
        if target:
            raise ValueError(f"{where}: the target must be a message field, not an encoding")
        if field is not None or unit is not None:
            raise ValueError(f"{where}: give either 'field'+'unit' or 'encoding', not both")
        if encoding not in ENCODINGS:
            raise ValueError(f"{where}: unknown encoding {encoding!r}; known: {list(ENCODINGS)}")
        return InputSpec(name=name, encoding=encoding)
    if field not in FIELD_QUANTITY:
        raise ValueError(f"{where}: unknown field {field!r}; known: {sorted(FIELD_QUANTITY)}")
    quantity = FIELD_QUANTITY[field]
    if unit not in UNITS[quantity]:
        raise ValueError(
            f"{where}: unit {unit!r} does not fit {field} ({quantity}); "
            f"use one of {sorted(UNITS[quantity])}"
        )
    return InputSpec(name=name, field=field, unit=unit)


# Column extraction shared by both paths: field name -> float64 column.
Columns = dict[str, np.ndarray]


@dataclass(frozen=True)
class FeatureAdapter:
    """Maps feature messages / feature rows to the model's raw (unscaled) input matrix."""

    inputs: tuple[InputSpec, ...]
    target: InputSpec
    version: int = ADAPTER_VERSION
    # Derived once: the message fields read, a getter for them, whether time is needed.
    _fields: tuple[str, ...] = dataclass_field(init=False, repr=False, compare=False)
    _getter: Callable[[FeatureMessage], Any] | None = dataclass_field(
        init=False, repr=False, compare=False
    )
    _needs_time: bool = dataclass_field(init=False, repr=False, compare=False)
    _needs_station: bool = dataclass_field(init=False, repr=False, compare=False)
    _has_optional: bool = dataclass_field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [spec.name for spec in self.inputs]
        if not names:
            raise ModelFormatError("a feature adapter needs at least one input")
        if len(set(names)) != len(names):
            raise ModelFormatError(f"feature adapter input names repeat: {names}")
        fields = tuple(dict.fromkeys(s.field for s in self.inputs if s.field is not None))
        needs_station = any(s.encoding in STATION_ENCODINGS for s in self.inputs)
        if needs_station:  # read the coordinates too (not inputs unless named as such)
            fields = tuple(dict.fromkeys((*fields, *_COORDINATES)))
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_getter", attrgetter(*fields) if fields else None)
        object.__setattr__(self, "_needs_time", any(s.encoding is not None for s in self.inputs))
        object.__setattr__(self, "_needs_station", needs_station)
        object.__setattr__(self, "_has_optional", any(f in _OPTIONAL for f in fields))

    # -- serialisation -------------------------------------------------------------------

    @classmethod
    def from_json(
        cls, data: dict[str, Any] | str, source: str = "<feature adapter>"
    ) -> FeatureAdapter:
        """Build from the JSON object (or its text); ``source`` names the file in errors."""
        try:
            obj = json.loads(data) if isinstance(data, str) else data
            if not isinstance(obj, dict):
                raise ValueError("the top level must be an object")
            if obj.get("version") != ADAPTER_VERSION:
                raise ValueError(f"unsupported version {obj.get('version')!r}, expected 1")
            raw_inputs = obj.get("inputs")
            if not isinstance(raw_inputs, list) or not raw_inputs:
                raise ValueError("'inputs' must be a non-empty list")
            inputs = tuple(
                _parse_spec(item, f"inputs[{i}]", target=False) for i, item in enumerate(raw_inputs)
            )
            target = _parse_spec(obj.get("target"), "target", target=True)
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise ModelFormatError(
                f"{source}: invalid feature adapter: {exc}",
                fix="fix the JSON (see docs/data.md, 'Feature adapter') or retrain the model",
            ) from exc
        try:
            return cls(inputs=inputs, target=target, version=ADAPTER_VERSION)
        except ModelFormatError as exc:
            raise ModelFormatError(f"{source}: {exc.message}", fix=exc.fix) from exc

    def to_json(self) -> dict[str, Any]:
        """The JSON object :meth:`from_json` reads."""
        return {
            "version": self.version,
            "inputs": [spec.to_json() for spec in self.inputs],
            "target": self.target.to_json(),
        }

    @classmethod
    def load(cls, path: Path) -> FeatureAdapter:
        """Read an adapter file; :class:`ModelFormatError` naming the file when unusable."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelFormatError(
                f"cannot read feature adapter {path}: {exc.strerror or exc}",
                fix="the model directory is incomplete: retrain or copy it again",
            ) from exc
        return cls.from_json(text, source=str(path))

    def save(self, path: Path) -> None:
        """Write the adapter as indented JSON."""
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")

    # -- shape ---------------------------------------------------------------------------

    @property
    def optional_input_columns(self) -> tuple[int, ...]:
        """Positions of the inputs read from optional message fields: the ones
        :func:`wxstream.features.gaps.fill_window_gaps` fills within a window."""
        return tuple(
            j
            for j, spec in enumerate(self.inputs)
            if spec.field is not None and spec.field in _OPTIONAL
        )

    @property
    def input_names(self) -> tuple[str, ...]:
        """Model input names, in column order."""
        return tuple(spec.name for spec in self.inputs)

    @property
    def n_inputs(self) -> int:
        """Number of model inputs (the last axis of the input matrix)."""
        return len(self.inputs)

    # -- the shared assembly step --------------------------------------------------------

    def _assemble(self, columns: Columns, epoch_s: np.ndarray | None, out: np.ndarray) -> None:
        encodings = utc_encodings(epoch_s) if epoch_s is not None else {}
        if self._needs_station and epoch_s is not None:
            lat, lon = (columns[name] for name in _COORDINATES)
            encodings |= station_encodings(epoch_s, lat, lon)
        for j, spec in enumerate(self.inputs):
            if spec.encoding is not None:
                out[:, j] = encodings[spec.encoding]
            else:
                name, unit = spec.field_and_unit()
                out[:, j] = to_model_unit(columns[name], FIELD_QUANTITY[name], unit)

    def _message_columns(
        self, messages: Sequence[FeatureMessage]
    ) -> tuple[Columns, np.ndarray | None]:
        fields = self._fields
        getter = self._getter
        columns: Columns = {}
        n = len(messages)
        # np.fromiter over generators: no intermediate lists on the streaming hot path.
        if getter is not None and len(fields) > 1:
            flat: Iterable[Any] = chain.from_iterable(getter(m) for m in messages)
            if self._has_optional:  # an absent optional field is None: NaN for the model
                flat = (math.nan if v is None else v for v in flat)
            values = np.fromiter(flat, dtype=np.float64, count=n * len(fields))
            values = values.reshape(n, len(fields))
            columns = {name: values[:, k] for k, name in enumerate(fields)}
        elif getter is not None:
            single: Iterable[Any] = map(getter, messages)
            if self._has_optional:
                single = (math.nan if v is None else v for v in single)
            columns = {fields[0]: np.fromiter(single, dtype=np.float64, count=n)}
        epoch_s = None
        if self._needs_time:
            seconds = (m.window_start.timestamp() for m in messages)
            epoch_s = np.floor(np.fromiter(seconds, dtype=np.float64, count=n)).astype(np.int64)
        return columns, epoch_s

    # -- training path -------------------------------------------------------------------

    def to_inputs_from_frame(self, rows: pd.DataFrame) -> np.ndarray:
        """``(N, F)`` float32 raw inputs from feature rows (vectorised; NaN stays NaN)."""
        fields = self._fields
        # Coordinates read only for station-aware time may be absent: NaN, i.e. (0, 0).
        implicit = [f for f in _COORDINATES if self._needs_station and f not in rows.columns]
        implicit = [f for f in implicit if f not in {s.field for s in self.inputs}]
        missing = [f for f in fields if f not in rows.columns and f not in implicit]
        if self._needs_time and "window_start" not in rows.columns:
            missing.append("window_start")
        if missing:
            raise DataError(f"feature rows lack column(s) {', '.join(missing)}")
        columns = {
            f: rows[f].to_numpy(dtype=np.float64, na_value=np.nan)
            if f in rows.columns
            else np.full(len(rows), np.nan)
            for f in fields
        }
        epoch_s = None
        if self._needs_time:
            stamps = pd.to_datetime(rows["window_start"], utc=True)
            epoch_s = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64) // 1_000_000_000
        out = np.empty((len(rows), self.n_inputs), dtype=np.float32)
        self._assemble(columns, epoch_s, out)
        return out

    def target_from_frame(self, rows: pd.DataFrame) -> np.ndarray:
        """``(N,)`` float64 target values in the model's unit (degC for temperature)."""
        name, unit = self.target.field_and_unit()
        if name not in rows.columns:
            raise DataError(f"feature rows lack the target column {name}")
        values = rows[name].to_numpy(dtype=np.float64, na_value=np.nan)
        return to_model_unit(values, FIELD_QUANTITY[name], unit)

    # -- streaming path ------------------------------------------------------------------

    def to_inputs(self, messages: Sequence[FeatureMessage]) -> np.ndarray:
        """``(len(messages), F)`` float32 raw inputs from decoded messages."""
        out = np.empty((len(messages), self.n_inputs), dtype=np.float32)
        if messages:
            columns, epoch_s = self._message_columns(messages)
            self._assemble(columns, epoch_s, out)
        return out

    def windows_to_array(self, windows: Sequence[Sequence[FeatureMessage]]) -> np.ndarray:
        """``(B, L, F)`` float32 raw inputs for a batch of equally long windows.

        One preallocated array, one pass over all ``B * L`` messages.
        """
        batch = len(windows)
        length = len(windows[0]) if batch else 0
        if any(len(w) != length for w in windows):
            raise DataError("windows_to_array needs windows of equal length")
        out = np.empty((batch, length, self.n_inputs), dtype=np.float32)
        if batch and length:
            flat = [m for window in windows for m in window]
            columns, epoch_s = self._message_columns(flat)
            self._assemble(columns, epoch_s, out.reshape(batch * length, self.n_inputs))
        return out

    def target_values(self, messages: Sequence[FeatureMessage]) -> np.ndarray:
        """``(len(messages),)`` float64 target values in the model's unit."""
        name, unit = self.target.field_and_unit()
        values = np.array([getattr(m, name) for m in messages], dtype=np.float64)
        return to_model_unit(values, FIELD_QUANTITY[name], unit)


def input_catalogue() -> tuple[InputSpec, ...]:
    """Every input a model configuration may choose, by name: the default adapter's, the
    optional message fields in their wire units, and the station-aware time encodings."""
    return (
        *default_adapter(with_time_encodings=True).inputs,
        InputSpec("pressure", field="avg_pressure_hpa", unit="hPa"),
        InputSpec("humidity", field="avg_relative_humidity", unit="%"),
        InputSpec("wind_u", field="avg_wind_u", unit="m/s"),
        InputSpec("wind_v", field="avg_wind_v", unit="m/s"),
        InputSpec("precipitation", field="precipitation_mm", unit="mm"),
        InputSpec("latitude", field="latitude", unit="deg"),
        InputSpec("longitude", field="longitude", unit="deg"),
        InputSpec("elevation", field="elevation_m", unit="m"),
        InputSpec("solar_hour_sin", encoding="solar_hour_sin"),
        InputSpec("solar_hour_cos", encoding="solar_hour_cos"),
        InputSpec("season_sin", encoding="season_sin"),
        InputSpec("season_cos", encoding="season_cos"),
    )


def default_adapter(with_time_encodings: bool = True) -> FeatureAdapter:
    """The standard adapter: temperature, wind speed, dewpoint (degC, m/s), plus the four
    UTC time encodings when ``with_time_encodings``; target ``avg_temperature`` degC."""
    inputs = [
        InputSpec("temperature", field="avg_temperature", unit="degC"),
        InputSpec("wind_speed", field="avg_wind_speed", unit="m/s"),
        InputSpec("dewpoint", field="avg_dewpoint", unit="degC"),
    ]
    if with_time_encodings:
        inputs += [
            InputSpec("hour_sin", encoding="hour_of_day_sin"),
            InputSpec("hour_cos", encoding="hour_of_day_cos"),
            InputSpec("doy_sin", encoding="day_of_year_sin"),
            InputSpec("doy_cos", encoding="day_of_year_cos"),
        ]
    target = InputSpec("temperature", field="avg_temperature", unit="degC")
    return FeatureAdapter(inputs=tuple(inputs), target=target)
