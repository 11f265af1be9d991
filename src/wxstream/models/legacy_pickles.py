"""What the pickles of the original model format hold, and their wxstream equivalents.

``feature_adapter.pkl`` holds a dict (or a list of input column names) describing the
inputs; :func:`parse_legacy_adapter` reads it into :class:`LegacyAdapter` and
:func:`build_adapter` turns that into a :class:`~wxstream.features.adapter.FeatureAdapter`.
``scaler_X.pkl`` / ``scaler_y.pkl`` hold scikit-learn scalers; :func:`affine_from_pickled`
turns them into :class:`~wxstream.models.scalers.AffineScaler`. The pickles themselves are
read by :mod:`wxstream.models.safe_unpickle`; nothing here imports scikit-learn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wxstream.errors import ModelFormatError
from wxstream.features.adapter import FeatureAdapter, InputSpec
from wxstream.models.safe_unpickle import PickledObject, is_pickled_scaler
from wxstream.models.scalers import AffineScaler

logger = logging.getLogger(__name__)

# Original input name -> (message field, unit) for the names the original format used.
KNOWN_INPUTS: dict[str, tuple[str, str]] = {
    "temperature": ("avg_temperature", "degC"),
    "temp": ("avg_temperature", "degC"),
    "temperature_c": ("avg_temperature", "degC"),
    "avg_temperature": ("avg_temperature", "degC"),
    "wind_speed": ("avg_wind_speed", "m/s"),
    "windspeed": ("avg_wind_speed", "m/s"),
    "wind_speed_ms": ("avg_wind_speed", "m/s"),
    "avg_wind_speed": ("avg_wind_speed", "m/s"),
    "dewpoint": ("avg_dewpoint", "degC"),
    "dew_point": ("avg_dewpoint", "degC"),
    "dewpoint_c": ("avg_dewpoint", "degC"),
    "avg_dewpoint": ("avg_dewpoint", "degC"),
}

# Accepted spellings of each key of feature_adapter.pkl, first match wins.
_FEATURE_KEYS = ("feature_columns", "features", "input_columns", "feature_names", "inputs")
_TARGET_KEYS = ("target_column", "target", "target_name")
LOOKBACK_KEYS = ("lookback", "sequence_length", "window_size", "timesteps", "n_steps")
HORIZON_KEYS = ("horizon", "forecast_horizon", "n_future", "output_steps")
DEFAULT_FEATURES: tuple[str, ...] = ("temperature", "wind_speed", "dewpoint")
DEFAULT_TARGET = "temperature"


@dataclass(frozen=True)
class LegacyAdapter:
    """The content of ``feature_adapter.pkl`` in a documented shape.

    Attributes:
        features: input column names in model input order.
        target: the forecast column (one of ``features``).
        lookback: input steps, when the file says.
        horizon: forecast leads, when the file says.
        fields: input name -> (message field, unit) given by the file (``fields`` key).
    """

    features: tuple[str, ...] = DEFAULT_FEATURES
    target: str = DEFAULT_TARGET
    lookback: int | None = None
    horizon: int | None = None
    fields: dict[str, tuple[str, str]] = field(default_factory=dict)


def first_of(data: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` present in ``data``, else ``None``."""
    return next((data[k] for k in keys if k in data), None)


def positive_int(value: Any, what: str, source: str) -> int | None:
    """``value`` as a positive ``int`` (``None`` stays ``None``); :class:`ModelFormatError` else."""
    if value is None:
        return None
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise ModelFormatError(f"{source}: {what} is {value!r}, not an integer") from exc
    if number != value or number < 1:
        raise ModelFormatError(f"{source}: {what} must be a positive integer, got {value!r}")
    return number


def _str_list(value: Any, what: str, source: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    items = list(value) if isinstance(value, list | tuple | np.ndarray) else None
    if not items or not all(isinstance(v, str) for v in items):
        raise ModelFormatError(f"{source}: {what} must be a non-empty list of column names")
    return tuple(str(v) for v in items)


def parse_legacy_adapter(value: Any, source: str) -> LegacyAdapter:
    """Read the unpickled ``feature_adapter.pkl`` content.

    Accepted: a list of input column names, or a dict with ``feature_columns`` (also
    ``features``, ``input_columns``, ``feature_names``, ``inputs``), ``target_column``
    (or ``target``, ``target_name``; default ``temperature``), ``lookback`` (or
    ``sequence_length``, ``window_size``, ``timesteps``, ``n_steps``), ``horizon`` (or
    ``forecast_horizon``, ``n_future``, ``output_steps``) and optionally ``fields``:
    ``{input name: [message field, unit]}``. Other keys are ignored.

    Raises:
        ModelFormatError: the content has another shape.
    """
    if isinstance(value, list | tuple):
        value = {"feature_columns": list(value)}
    if not isinstance(value, Mapping):
        raise ModelFormatError(
            f"{source}: expected a dict or a list of column names, found {type(value).__name__}",
            fix="see docs/migration.md for the accepted feature_adapter.pkl shapes",
        )
    raw_features = first_of(value, _FEATURE_KEYS)
    features = (
        DEFAULT_FEATURES if raw_features is None else _str_list(raw_features, "features", source)
    )
    raw_target = first_of(value, _TARGET_KEYS)
    if raw_target is None:
        target = DEFAULT_TARGET
    else:
        targets = _str_list(raw_target, "target", source)
        if len(targets) != 1:
            raise ModelFormatError(f"{source}: one target column expected, found {targets}")
        target = targets[0]
    if target not in features:
        raise ModelFormatError(
            f"{source}: target {target!r} is not among the inputs {list(features)}",
            fix="the forecaster reads the target from its inputs; only such models import",
        )
    fields: dict[str, tuple[str, str]] = {}
    raw_fields = value.get("fields", {})
    if not isinstance(raw_fields, Mapping):
        raise ModelFormatError(f"{source}: 'fields' must map input names to [field, unit]")
    for name, pair in raw_fields.items():
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ModelFormatError(f"{source}: fields[{name!r}] must be [message field, unit]")
        fields[str(name)] = (str(pair[0]), str(pair[1]))
    return LegacyAdapter(
        features=features,
        target=target,
        lookback=positive_int(first_of(value, LOOKBACK_KEYS), "lookback", source),
        horizon=positive_int(first_of(value, HORIZON_KEYS), "horizon", source),
        fields=fields,
    )


def build_adapter(
    legacy: LegacyAdapter, overrides: Mapping[str, tuple[str, str]]
) -> FeatureAdapter:
    """Our feature adapter for the original inputs: ``overrides``, then the file's
    ``fields``, then :data:`KNOWN_INPUTS` decide each input's message field and unit."""
    specs: list[InputSpec] = []
    for name in legacy.features:
        pair = overrides.get(name) or legacy.fields.get(name) or KNOWN_INPUTS.get(name.lower())
        if pair is None:
            raise ModelFormatError(
                f"input {name!r} has no known message field",
                fix=f"map it with --input {name}=FIELD:UNIT (e.g. avg_temperature:degC)",
            )
        specs.append(InputSpec(name=name, field=pair[0], unit=pair[1]))
    adapter_json = {
        "version": 1,
        "inputs": [s.to_json() for s in specs],
        "target": specs[legacy.features.index(legacy.target)].to_json(),
    }
    # Through from_json so that unknown fields and units are checked like any adapter file.
    return FeatureAdapter.from_json(adapter_json, source="imported feature adapter")


def _array(state: Mapping[str, Any], key: str, source: str) -> np.ndarray:
    value = state.get(key)
    if value is None:
        raise ModelFormatError(f"{source}: the scaler has no {key} (was it fitted?)")
    return np.atleast_1d(np.asarray(value, dtype=np.float64))


def _affine_terms(
    kind: str, state: Mapping[str, Any], source: str
) -> tuple[np.ndarray, np.ndarray]:
    """``(center, scale)`` of ``z = (x - center) / scale`` for a fitted scaler's state."""
    if kind == "MinMaxScaler":
        mult, offset = _array(state, "scale_", source), _array(state, "min_", source)
        if np.any(mult == 0):
            raise ModelFormatError(f"{source}: MinMaxScaler.scale_ has a zero")
        if state.get("clip"):
            logger.warning("%s: MinMaxScaler(clip=True): clipping is not reproduced", source)
        return -offset / mult, 1.0 / mult
    present = [np.atleast_1d(v) for v in state.values() if isinstance(v, np.ndarray)]
    width = int(state.get("n_features_in_") or (len(present[0]) if present else 1))
    center_key = {"StandardScaler": "mean_", "RobustScaler": "center_"}.get(kind)
    centered = bool(state.get("with_mean", state.get("with_centering", False)))
    center = _array(state, center_key, source) if center_key and centered else np.zeros(width)
    scaled = state.get("scale_") is not None
    return center, (_array(state, "scale_", source) if scaled else np.ones(width))


def affine_from_pickled(obj: object, names: tuple[str, ...], source: str) -> AffineScaler:
    """Convert an unpickled scikit-learn scaler into the equivalent :class:`AffineScaler`.

    ``MinMaxScaler`` (``x * scale_ + min_``), ``StandardScaler`` (``(x - mean_) / scale_``),
    ``RobustScaler`` (``(x - center_) / scale_``) and ``MaxAbsScaler`` (``x / scale_``).
    A one-column scaler is repeated for every name (a target scaler fitted on the
    target series and applied to every lead).

    Raises:
        ModelFormatError: not a scaler, not fitted, or the column count does not fit.
    """
    if not is_pickled_scaler(obj):
        raise ModelFormatError(f"{source}: expected a scikit-learn scaler, found {obj!r}")
    assert isinstance(obj, PickledObject)
    kind = obj.class_name
    fitted_names = obj.state.get("feature_names_in_")
    if fitted_names is not None:
        fitted = [str(n) for n in np.atleast_1d(fitted_names).tolist()]
        # A scaler fitted on a DataFrame knows its column order; a different order of
        # the same columns would scale each input with another input's numbers.
        if sorted(fitted) == sorted(names) and fitted != list(names):
            raise ModelFormatError(
                f"{source}: fitted on columns {fitted}, but the inputs are {list(names)}",
                fix="list the inputs in feature_adapter.pkl in the scaler's column order",
            )
    center, scale = _affine_terms(kind, obj.state, source)
    if len(scale) == 1 and len(names) > 1:
        scale, center = np.repeat(scale, len(names)), np.repeat(center, len(names))
    if len(scale) != len(names):
        raise ModelFormatError(
            f"{source}: {kind} has {len(scale)} columns, expected {len(names)} ({list(names)})"
        )
    try:
        return AffineScaler(
            names=names,
            center=tuple(float(c) for c in center),
            scale=tuple(float(s) for s in scale),
            kind="minmax" if kind == "MinMaxScaler" else "standard",
        )
    except ValueError as exc:
        raise ModelFormatError(f"{source}: unusable {kind}: {exc}") from exc
