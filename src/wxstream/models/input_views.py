"""How the network sees an input: as measured, or relative to its own window.

A station's climate shows in the levels of its inputs: a subtropical city's temperature
and dew point sit 15 degC above a northern one's, and station pressure falls by about
12 hPa per 100 m of elevation. A network that learnt those levels on the stations it
trained on extrapolates on a station whose levels it never saw. A *view* takes the level
out of an input and keeps its shape, so one model serves stations unlike its training
ones (measured in docs/evaluation.md, "Out of distribution: stations the model never
saw"):

- ``change``: the input minus its value in the window's newest hour (a pressure
  tendency, a temperature's course over the last two days);
- ``below_target``: the target minus the input, hour by hour (for dew point: the dew
  point depression, which says how near the air is to saturation in any climate).

Views are applied to the raw (unscaled) window, the same way in training and in
:meth:`~wxstream.models.forecasting_model.ForecastingModel.predict`; the input scaler is
fitted on the viewed values. ``below_target`` reads the target as measured, before any
``change`` view of the target itself. A residual model still adds the measured newest
target to its forecast, so the forecast keeps its level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import ConfigError

F32 = npt.NDArray[np.float32]

CHANGE = "change"
BELOW_TARGET = "below_target"
VIEWS: tuple[str, ...] = (CHANGE, BELOW_TARGET)

InputViews = tuple[tuple[str, str], ...]
"""``((input name, view), ...)``: the frozen, hashable form a configuration holds."""


def parse_input_views(
    obj: Mapping[str, Any] | Sequence[Sequence[str]] | None,
    inputs: Sequence[str],
    target: str,
    *,
    where: str = "input views",
) -> InputViews:
    """Check ``{input: view}`` (or pairs) against the inputs; the frozen form, in input
    order.

    Raises:
        ConfigError: an unknown view, an input the model does not have, or
            ``below_target`` on the target itself.
    """
    if not obj:
        return ()
    pairs = list(obj.items()) if isinstance(obj, Mapping) else [tuple(p) for p in obj]
    views: dict[str, str] = {}
    for pair in pairs:
        if len(pair) != 2:
            raise ConfigError(f"{where}: {pair!r} is not an (input, view) pair")
        name, view = str(pair[0]), str(pair[1])
        if view not in VIEWS:
            raise ConfigError(
                f"{where}: unknown view {view!r} of input {name!r}",
                fix=f"use one of {list(VIEWS)}",
            )
        if name not in inputs:
            raise ConfigError(
                f"{where}: {name!r} is not one of the model's inputs {list(inputs)}",
                fix="give views only to inputs the model reads",
            )
        if view == BELOW_TARGET and name == target:
            raise ConfigError(
                f"{where}: the target {target!r} cannot be viewed below itself",
                fix=f"give the target the {CHANGE!r} view, or none",
            )
        views[name] = view
    return tuple((name, views[name]) for name in inputs if name in views)


def apply_input_views(
    x: npt.ArrayLike, inputs: Sequence[str], target: str, views: InputViews
) -> F32:
    """Windows ``(B, lookback, F)`` of raw inputs as the network sees them (a new array;
    ``x`` itself when there are no views)."""
    arr = np.asarray(x, dtype=np.float32)
    if not views:
        return arr
    out = np.array(arr, dtype=np.float32, copy=True)
    index = {name: i for i, name in enumerate(inputs)}
    t = index[target]
    for name, view in views:
        if view == BELOW_TARGET:
            i = index[name]
            out[..., i] = arr[..., t] - arr[..., i]
    for name, view in views:
        if view == CHANGE:
            i = index[name]
            out[..., i] = out[..., i] - out[:, -1:, i]
    return out
