"""The ``weather-predictions`` message: one forecast of one station, JSON, key = station id.

Wire format (one compact UTF-8 JSON object per record, fields in this order)::

    {"station_id":"EWR","issued_at":"2013-01-03T01:00:00Z","model_name":"lstm-nyc",
     "model_version":"3f0a9c41d2b7","arm":"champion","leads_h":[1,2,...],"temperature_c":[...p50...],
     "temperature_p10_c":[...],"temperature_p90_c":[...],
     "short_term":{"leads_h":[1,...,6],"temperature_c":[...]},
     "long_term":{"leads_h":[1,...,24],"temperature_c":[...]},
     "input_window":{"first_window_start":"...","last_window_start":"..."},
     "input_flagged":false,"produced_at":"2026-11-26T16:00:00.123Z"}

* ``issued_at`` is the ``window_end`` of the newest input window: the forecast for
  lead ``h`` is valid at ``issued_at + h`` hours.
* Temperatures are degC, written with 9 significant digits: enough to read back the
  model's float32 output bit for bit.
* ``short_term`` / ``long_term`` are the model's own lead subsets of the median.
* ``model_version`` is the registry's version id of the model that made the forecast
  (``docs/model-versions.md``; the metadata's version for a model directory outside
  the registry); ``arm`` is that version's role, ``champion`` or ``challenger``. On
  ``weather-predictions`` the arm is the station's (``rollout.arm_of``); on
  ``weather-predictions.shadow`` it is the other version's. Readers of records
  written before arms existed take ``champion`` (only the champion was served).
* ``input_flagged`` says whether the quality stage flagged a value in the input
  window (see ``weather-anomalies``); readers of older records take it as ``false``.
* ``interval_scale`` (optional, after ``input_flagged``): where the service
  recalibrated the interval online, the scale applied per lead to each side,
  ``{"lower":[...],"upper":[...]}``; the model's own interval is
  ``p50 - (p50 - p10) / lower`` .. ``p50 + (p90 - p50) / upper``. Absent: the interval
  is the model's own (readers of older records get ``None``).

:func:`PredictionEncoder` builds one format template per model version and arm, so that encoding a
forecast is a single ``%`` operation on a flat row of floats (the Kafka loop encodes
tens of thousands per second). :func:`decode_prediction` never raises.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt

from wxstream.messages.features import InvalidRecord, format_timestamp
from wxstream.messages.json_codec import load_object, read_schema, schema_file, utc_field

SCHEMA_RESOURCE: Final = "schemas/weather-predictions.schema.json"
FLOAT_FORMAT: Final = "%.9g"
"""9 significant digits: every float32 survives the text round trip exactly."""
P10, P50, P90 = 0, 1, 2
"""Quantile positions in the model output."""
CHAMPION_ARM: Final = "champion"
CHALLENGER_ARM: Final = "challenger"
ARMS: Final = (CHAMPION_ARM, CHALLENGER_ARM)


class ForecastModelInfo(Protocol):
    """What the encoder needs to know about the model (a ``ForecastingModel`` fits)."""

    # Read-only properties: the encoder never sets them, so a frozen dataclass fits.
    @property
    def name(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def leads_h(self) -> tuple[int, ...]: ...
    @property
    def short_term_leads(self) -> tuple[int, ...]: ...
    @property
    def long_term_leads(self) -> tuple[int, ...]: ...


@dataclass(frozen=True, slots=True)
class ForecastInput:
    """Where one forecast comes from.

    Attributes:
        station_id: the station (also the record key).
        issued_at: ``window_end`` of the newest input window.
        first_window_start: ``window_start`` of the oldest input window.
        last_window_start: ``window_start`` of the newest input window.
        input_flagged: the quality stage flagged a value in the input window.
    """

    station_id: str
    issued_at: datetime
    first_window_start: datetime
    last_window_start: datetime
    input_flagged: bool = False


@dataclass(frozen=True, slots=True)
class LeadView:
    """A subset of leads with their median forecast."""

    leads_h: tuple[int, ...]
    temperature_c: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class PredictionMessage:
    """A decoded ``weather-predictions`` record."""

    station_id: str
    issued_at: datetime
    model_name: str
    model_version: str
    leads_h: tuple[int, ...]
    temperature_c: tuple[float, ...]
    temperature_p10_c: tuple[float, ...]
    temperature_p90_c: tuple[float, ...]
    short_term: LeadView
    long_term: LeadView
    first_window_start: datetime
    last_window_start: datetime
    produced_at: datetime
    input_flagged: bool = False
    arm: str = CHAMPION_ARM
    interval_scale: tuple[tuple[float, ...], tuple[float, ...]] | None = None
    """Per lead the lower and upper scale of an online-recalibrated interval."""


def _floats(count: int) -> str:
    return ",".join([FLOAT_FORMAT] * count)


def _ints(values: Sequence[int]) -> str:
    return ",".join(str(int(v)) for v in values)


def _literal(value: str) -> str:
    """A JSON string literal safe to embed in a ``%`` template."""
    return json.dumps(value).replace("%", "%%")


_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class _View:
    """How to write one lead subset of the median: a prefix of the median's text
    (``prefix`` leads), or its own format over ``positions``."""

    leads: tuple[int, ...]
    prefix: int | None
    positions: tuple[int, ...]
    fmt: str


def _view_plan(view_leads: Sequence[int], leads: tuple[int, ...]) -> _View:
    position = {lead: i for i, lead in enumerate(leads)}
    chosen = tuple(int(lead) for lead in view_leads)
    positions = tuple(position[lead] for lead in chosen)
    is_prefix = positions == tuple(range(len(positions))) and len(positions) > 0
    return _View(chosen, len(positions) if is_prefix else None, positions, _floats(len(chosen)))


class PredictionEncoder:
    """Encodes forecasts of one model version into ``weather-predictions`` values.

    Args:
        model: the model's name, leads and lead views.
        version: the version id written (``None``: ``model.version``).
        arm: the version's role, ``champion`` or ``challenger``.

    Each quantile row is written with one ``%`` operation; the lead views reuse the
    median's text when they are a prefix of the leads (they are for the shipped
    models); timestamps and quoted station ids are cached.
    """

    def __init__(
        self, model: ForecastModelInfo, *, version: str | None = None, arm: str = CHAMPION_ARM
    ) -> None:
        if arm not in ARMS:
            raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
        leads = tuple(int(lead) for lead in model.leads_h)
        horizon = len(leads)
        self.horizon = horizon
        self.model_name = model.name
        self.model_version = model.version if version is None else version
        self.arm = arm
        self._row_format = _floats(horizon)
        self._short = _view_plan(model.short_term_leads, leads)
        self._long = _view_plan(model.long_term_leads, leads)
        self._template = (
            '{"station_id":%s,"issued_at":"%s",'
            f'"model_name":{_literal(model.name)},'
            f'"model_version":{_literal(self.model_version)},"arm":{_literal(arm)},'
            f'"leads_h":[{_ints(leads)}],"temperature_c":[%s],'
            '"temperature_p10_c":[%s],"temperature_p90_c":[%s],'
            f'"short_term":{{"leads_h":[{_ints(self._short.leads)}],"temperature_c":[%s]}},'
            f'"long_term":{{"leads_h":[{_ints(self._long.leads)}],"temperature_c":[%s]}},'
            '"input_window":{"first_window_start":"%s","last_window_start":"%s"},'
            '"input_flagged":%s%s,"produced_at":"%s"}'
        )
        self._stamps: dict[datetime, str] = {}
        self._stations: dict[str, str] = {}

    def _stamp(self, value: datetime) -> str:
        text = self._stamps.get(value)
        if text is None:
            if len(self._stamps) >= _CACHE_LIMIT:
                self._stamps.clear()
            text = self._stamps[value] = format_timestamp(value)
        return text

    def _quoted(self, station_id: str) -> str:
        text = self._stations.get(station_id)
        if text is None:
            if len(self._stations) >= _CACHE_LIMIT:
                self._stations.clear()
            text = self._stations[station_id] = json.dumps(station_id)
        return text

    def _view(self, view: _View, p50_text: str, p50: list[float]) -> str:
        if view.prefix is not None:
            if view.prefix == self.horizon:
                return p50_text
            return ",".join(p50_text.split(",", view.prefix)[: view.prefix])
        return view.fmt % tuple(p50[i] for i in view.positions)

    def encode(
        self,
        inputs: Sequence[ForecastInput],
        quantiles: npt.NDArray[np.float32],
        produced_at: datetime,
        scales: npt.NDArray[np.float32] | None = None,
    ) -> list[bytes]:
        """Values for a batch of forecasts.

        Args:
            inputs: one per forecast, in batch order.
            quantiles: ``(B, horizon, 3)`` degC, p10/p50/p90 (``ForecastingModel.predict``).
            produced_at: when the batch was produced (one stamp for the batch).
            scales: ``(B, horizon, 2)`` the online scales applied to the interval
                (written as ``interval_scale``; ``None``: none applied).

        Raises:
            ValueError: shapes disagree, or a forecast is not finite (JSON has no NaN;
                callers check :func:`finite_rows` first).
        """
        if quantiles.ndim != 3 or quantiles.shape[0] != len(inputs):
            raise ValueError(f"expected ({len(inputs)}, {self.horizon}, 3), got {quantiles.shape}")
        if quantiles.shape[1] != self.horizon:
            raise ValueError(f"expected horizon {self.horizon}, got {quantiles.shape[1]}")
        if not np.isfinite(quantiles).all():
            raise ValueError("forecasts must be finite to be encoded")
        # (B, 3, H): per forecast the p10, p50 and p90 rows, as Python floats.
        rows = quantiles.transpose(0, 2, 1).astype(np.float64).tolist()
        produced = format_timestamp(produced_at)
        template, row_format = self._template, self._row_format
        stamp, quoted, view = self._stamp, self._quoted, self._view
        short, long = self._short, self._long
        if scales is not None and scales.shape != (len(inputs), self.horizon, 2):
            raise ValueError(f"expected scales ({len(inputs)}, {self.horizon}, 2)")
        scale_texts = [""] * len(inputs) if scales is None else self._scale_texts(scales)
        out: list[bytes] = []
        append = out.append
        for item, (p10, p50, p90), scale_text in zip(inputs, rows, scale_texts, strict=True):
            p50_text = row_format % tuple(p50)
            append(
                (
                    template
                    % (
                        quoted(item.station_id),
                        stamp(item.issued_at),
                        p50_text,
                        row_format % tuple(p10),
                        row_format % tuple(p90),
                        view(short, p50_text, p50),
                        view(long, p50_text, p50),
                        stamp(item.first_window_start),
                        stamp(item.last_window_start),
                        "true" if item.input_flagged else "false",
                        scale_text,
                        produced,
                    )
                ).encode()
            )
        return out

    def _scale_texts(self, scales: npt.NDArray[np.float32]) -> list[str]:
        row_format = self._row_format
        return [
            f',"interval_scale":{{"lower":[{row_format % tuple(lo)}],'
            f'"upper":[{row_format % tuple(hi)}]}}'
            for lo, hi in scales.transpose(0, 2, 1).astype(np.float64).tolist()
        ]


def finite_rows(quantiles: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    """Per forecast of a ``(B, horizon, 3)`` batch: whether every value is finite."""
    return np.asarray(np.isfinite(quantiles).all(axis=(1, 2)), dtype=np.bool_)


def _float_list(value: Any, name: str, length: int) -> tuple[float, ...]:
    if type(value) is not list or len(value) != length:
        raise ValueError(f"{name} must be a list of {length} numbers")
    if not all(type(v) in (int, float) for v in value):
        raise ValueError(f"{name} must hold numbers only")
    return tuple(float(v) for v in value)


def _int_list(value: Any, name: str) -> tuple[int, ...]:
    if type(value) is not list or not all(type(v) is int for v in value):
        raise ValueError(f"{name} must be a list of integers")
    return tuple(value)


def _view(value: Any, name: str) -> LeadView:
    if type(value) is not dict:
        raise ValueError(f"{name} must be an object")
    leads = _int_list(value.get("leads_h"), f"{name}.leads_h")
    temps = _float_list(value.get("temperature_c"), f"{name}.temperature_c", len(leads))
    return LeadView(leads, temps)


def _flag(value: Any, name: str) -> bool:
    if type(value) is not bool:
        raise ValueError(f"{name} must be true or false")
    return value


def _scale(value: Any, length: int) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise ValueError("interval_scale must be an object")
    return (
        _float_list(value.get("lower"), "interval_scale.lower", length),
        _float_list(value.get("upper"), "interval_scale.upper", length),
    )


def _arm(value: Any) -> str:
    if value not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}")
    return str(value)


def _text(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if type(value) is not str:
        raise ValueError(f"{name} must be a string")
    return value


def decode_prediction(
    raw: bytes | bytearray | memoryview | None,
) -> PredictionMessage | InvalidRecord:
    """Decode one ``weather-predictions`` value; never raises.

    Returns:
        the message, or an :class:`InvalidRecord` (``undecodable``, ``not_an_object`` or
        ``wrong_type``) naming the problem.
    """
    obj = load_object(raw)
    if isinstance(obj, InvalidRecord):
        return obj
    try:
        leads = _int_list(obj.get("leads_h"), "leads_h")
        window = obj.get("input_window")
        if type(window) is not dict:
            raise ValueError("input_window must be an object")
        return PredictionMessage(
            station_id=_text(obj, "station_id"),
            issued_at=utc_field(obj.get("issued_at"), "issued_at"),
            model_name=_text(obj, "model_name"),
            model_version=_text(obj, "model_version"),
            leads_h=leads,
            temperature_c=_float_list(obj.get("temperature_c"), "temperature_c", len(leads)),
            temperature_p10_c=_float_list(
                obj.get("temperature_p10_c"), "temperature_p10_c", len(leads)
            ),
            temperature_p90_c=_float_list(
                obj.get("temperature_p90_c"), "temperature_p90_c", len(leads)
            ),
            short_term=_view(obj.get("short_term"), "short_term"),
            long_term=_view(obj.get("long_term"), "long_term"),
            first_window_start=utc_field(window.get("first_window_start"), "first_window_start"),
            last_window_start=utc_field(window.get("last_window_start"), "last_window_start"),
            produced_at=utc_field(obj.get("produced_at"), "produced_at"),
            input_flagged=_flag(obj.get("input_flagged", False), "input_flagged"),
            arm=_arm(obj.get("arm", CHAMPION_ARM)),
            interval_scale=_scale(obj.get("interval_scale"), len(leads)),
        )
    except (ValueError, TypeError) as exc:
        return InvalidRecord("wrong_type", str(exc)[:200])


def quantile_array(msg: PredictionMessage) -> npt.NDArray[np.float32]:
    """The message's forecast as ``(horizon, 3)`` float32 (p10, p50, p90): the model's
    output for its window, bit for bit."""
    return np.array(
        [msg.temperature_p10_c, msg.temperature_c, msg.temperature_p90_c], dtype=np.float32
    ).T.copy()


def schema_path() -> Path:
    """Path of the JSON Schema (draft 2020-12) shipped as package data."""
    return schema_file(SCHEMA_RESOURCE)


def load_json_schema() -> dict[str, Any]:
    """The message's JSON Schema as a dict."""
    return read_schema(SCHEMA_RESOURCE)
