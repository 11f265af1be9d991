"""The LightGBM direct baseline: one gradient-boosted model per lead.

Inputs are the ones the model it is compared with sees (:func:`model_input_grid`): the
last ``lookback`` hours of each measured input (temperature, dew point, wind speed and
whichever optional fields the model reads), the value at issue time of its time
encodings and station constants (coordinates, elevation), and the station as a
categorical feature. Without a model (:func:`legacy_input_grid`) they are the original
three measurements plus the UTC hour of day and day of year. Each lead's model predicts
the change from the last observed temperature (a residual target: trees extrapolate
badly, differences they fit well) and stops early on the validation period, so the
baseline is tuned as fairly as the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.models.baselines import FloatArray, HourlyGrid, IntArray, lead_offsets, targets

if TYPE_CHECKING:
    from wxstream.features.adapter import FeatureAdapter

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LightGBMSettings:
    """Hyper-parameters of the LightGBM baseline (moderate: two shared cores suffice)."""

    lookback: int = 24
    learning_rate: float = 0.1
    num_leaves: int = 63
    min_data_in_leaf: int = 100
    feature_fraction: float = 0.8
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_rounds: int = 2000
    early_stopping_rounds: int = 50
    train_stride: int = 1  # use every n-th issue hour for training (neighbours correlate)
    num_threads: int = 1  # one thread: spinning OpenMP workers stall on a busy shared CPU
    seed: int = 0
    # Off where the scored stations were never trained on (evaluate --leave-out): an
    # unseen category would only send them down whichever branch the trees chose.
    station_feature: bool = True


@dataclass
class LightGBMDirect:
    """Fitted per-lead boosters and the settings they were trained with."""

    settings: LightGBMSettings
    station_ids: tuple[str, ...]
    leads: tuple[int, ...]
    boosters: dict[int, Any] = field(default_factory=dict)
    best_rounds: dict[int, int] = field(default_factory=dict)


_CONSTANT_FIELDS = frozenset({"latitude", "longitude", "elevation_m"})
"""Station constants: their value at issue time says all a window would."""


@dataclass(frozen=True)
class InputGrid:
    """The baseline's inputs on the hourly grid.

    Attributes:
        names: input names (the model's, in its order).
        values: ``(inputs, stations, hours)``, NaN where missing.
        windowed: per input, true to take its last ``lookback`` hours, false to take
            only the issue hour (time encodings, station constants).
    """

    names: tuple[str, ...]
    values: FloatArray
    windowed: tuple[bool, ...]


def legacy_input_grid(grid: HourlyGrid) -> InputGrid:
    """The original inputs: temperature, dew point, wind speed, UTC hour and day of year."""
    when = grid.times(np.arange(grid.n_hours, dtype=np.int64))
    shape = grid.temperature.shape
    hour = np.broadcast_to(when.hour.to_numpy(dtype=np.float64), shape)
    doy = np.broadcast_to(when.day_of_year.to_numpy(dtype=np.float64), shape)
    return InputGrid(
        names=("temperature", "dewpoint", "wind_speed", "hour_utc", "day_of_year_utc"),
        values=np.stack([grid.temperature, grid.dewpoint, grid.wind_speed, hour, doy]),
        windowed=(True, True, True, False, False),
    )


def model_input_grid(adapter: FeatureAdapter, rows: pd.DataFrame, grid: HourlyGrid) -> InputGrid:
    """The model's own inputs (``adapter``, in its units) from feature rows, on ``grid``."""
    raw = np.asarray(adapter.to_inputs_from_frame(rows), dtype=np.float64)
    starts = pd.to_datetime(rows["window_start"], utc=True).dt.floor("h")
    col = ((starts - grid.start) // pd.Timedelta(hours=1)).to_numpy(dtype=np.int64)
    lookup = {s: k for k, s in enumerate(grid.station_ids)}
    row = rows["station_id"].astype(str).map(lookup).to_numpy(dtype=np.int64)
    values = np.full((raw.shape[1], *grid.temperature.shape), np.nan)
    values[:, row, col] = raw.T
    windowed = tuple(
        spec.encoding is None and spec.field not in _CONSTANT_FIELDS for spec in adapter.inputs
    )
    return InputGrid(names=tuple(adapter.input_names), values=values, windowed=windowed)


def lightgbm_features(
    grid: HourlyGrid,
    station: IntArray,
    issue: IntArray,
    lookback: int,
    inputs: InputGrid | None = None,
    *,
    station_feature: bool = True,
) -> npt.NDArray[np.float32]:
    """Feature matrix ``(samples, columns)``.

    Columns: each windowed input over the lookback window (oldest first), each other
    input at the issue hour, then the station code unless ``station_feature`` is false
    (``inputs`` default: :func:`legacy_input_grid`).
    """
    inputs = inputs if inputs is not None else legacy_input_grid(grid)
    offsets = np.arange(-lookback + 1, 1, dtype=np.int64)
    columns = issue[:, None] + offsets[None, :]
    inside = (columns >= 0) & (columns < grid.n_hours)
    safe = np.clip(columns, 0, grid.n_hours - 1)
    parts: list[FloatArray] = []
    for values, windowed in zip(inputs.values, inputs.windowed, strict=True):
        if windowed:
            parts.append(np.where(inside, values[station[:, None], safe], np.nan))
        else:
            parts.append(values[station, issue][:, None])
    if station_feature:
        parts.append(station.astype(np.float64)[:, None])
    return np.concatenate(parts, axis=1).astype(np.float32)


def _params(settings: LightGBMSettings) -> dict[str, Any]:
    return {
        "objective": "regression",
        "metric": "l1",
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_data_in_leaf": settings.min_data_in_leaf,
        "feature_fraction": settings.feature_fraction,
        "bagging_fraction": settings.bagging_fraction,
        "bagging_freq": 1,
        "lambda_l2": settings.lambda_l2,
        "num_threads": settings.num_threads,
        "seed": settings.seed,
        "deterministic": True,
        "force_row_wise": True,
        "verbosity": -1,
    }


def fit_lightgbm_direct(
    grid: HourlyGrid,
    train: tuple[IntArray, IntArray],
    validation: tuple[IntArray, IntArray],
    leads: Sequence[int],
    settings: LightGBMSettings,
    *,
    inputs: InputGrid | None = None,
) -> LightGBMDirect:
    """Train one booster per lead, early-stopped on the validation samples.

    Args:
        grid: the hourly grid holding every period.
        train: ``(station, issue)`` index arrays of the training samples.
        validation: the same for the validation samples.
        leads: the leads to fit, hours.
        settings: hyper-parameters.
        inputs: the inputs (default: :func:`legacy_input_grid`); pass the same to
            :func:`predict_lightgbm_direct`.
    """
    import lightgbm as lgb

    stride = max(1, settings.train_stride)
    tr_station, tr_issue = train[0][::stride], train[1][::stride]
    va_station, va_issue = validation
    lookback = settings.lookback
    with_station = settings.station_feature
    x_train = lightgbm_features(
        grid, tr_station, tr_issue, lookback, inputs, station_feature=with_station
    )
    x_val = lightgbm_features(
        grid, va_station, va_issue, lookback, inputs, station_feature=with_station
    )
    last_train = grid.temperature[tr_station, tr_issue]
    last_val = grid.temperature[va_station, va_issue]
    y_train = targets(grid, tr_station, tr_issue, leads) - last_train[:, None]
    y_val = targets(grid, va_station, va_issue, leads) - last_val[:, None]
    categorical = [x_train.shape[1] - 1] if with_station else []
    model = LightGBMDirect(
        settings=settings, station_ids=grid.station_ids, leads=tuple(int(h) for h in leads)
    )
    for k, lead in enumerate(lead_offsets(leads).tolist()):
        ok_tr = ~np.isnan(y_train[:, k])
        ok_va = ~np.isnan(y_val[:, k])
        dtrain = lgb.Dataset(
            x_train[ok_tr], y_train[ok_tr, k], categorical_feature=categorical, free_raw_data=True
        )
        dval = lgb.Dataset(x_val[ok_va], y_val[ok_va, k], reference=dtrain)
        booster = lgb.train(
            _params(settings),
            dtrain,
            num_boost_round=settings.max_rounds,
            valid_sets=[dval],
            callbacks=[lgb.early_stopping(settings.early_stopping_rounds, verbose=False)],
        )
        model.boosters[lead] = booster
        model.best_rounds[lead] = int(booster.best_iteration)
        logger.info(
            "lightgbm lead %d h: %d rounds, validation MAE %.3f",
            lead,
            booster.best_iteration,
            booster.best_score["valid_0"]["l1"],
        )
    return model


def predict_lightgbm_direct(
    model: LightGBMDirect,
    grid: HourlyGrid,
    station: IntArray,
    issue: IntArray,
    *,
    inputs: InputGrid | None = None,
) -> FloatArray:
    """Forecasts ``(samples, leads)`` degC for the given samples (``inputs`` as fitted)."""
    lookback = model.settings.lookback
    x = lightgbm_features(
        grid, station, issue, lookback, inputs, station_feature=model.settings.station_feature
    )
    last = grid.temperature[station, issue]
    out = np.empty((issue.size, len(model.leads)))
    for k, lead in enumerate(model.leads):
        booster = model.boosters[lead]
        out[:, k] = last + booster.predict(x, num_iteration=booster.best_iteration)
    return out
