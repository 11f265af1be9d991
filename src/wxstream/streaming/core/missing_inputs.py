"""The rule for an optional input a message lacks (pressure, humidity, wind u/v,
precipitation, latitude, longitude, elevation: :mod:`wxstream.messages.optional_fields`),
applied where a decoded row enters its station's window.

The adapter gives NaN for an absent optional field; a window holding NaN makes the
model's forecast NaN. Instead, per station and input:

- the station's last value of that input is carried forward: static station facts
  (latitude, longitude, elevation) for as long as the station lives, a measured
  quantity for at most :data:`MAX_CARRY_H` hours after it was last observed (a missing
  hour of pressure is still the weather; a day-old one is not);
- a row with an input still missing (none seen yet, or the last one too old) is kept
  out of its window and counted (``missing_inputs``): the window restarts after the
  gap, as after a skipped flagged hour, and no NaN forecast is ever made. The record
  is not dead-lettered: it is valid, the model just cannot use it.

A model that reads no optional field never gets here (nothing to fill). The state is
rebuilt with the windows: restored records pass the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

MAX_CARRY_H = 3.0
"""Hours a measured optional input is carried forward past its last observation."""
STATIC_FIELDS = frozenset({"latitude", "longitude", "elevation_m"})
"""Optional fields that describe the station, not the weather: carried without limit."""


def optional_columns(adapter: Any) -> dict[int, str]:
    """Input column -> optional field it reads, of a feature adapter (none for an
    adapter without optional inputs)."""
    columns = getattr(adapter, "optional_columns", None)
    return dict(columns) if columns else {}


class MissingInputs:
    """Carries each station's last optional inputs forward (see the module docstring).

    Args:
        columns: input column -> optional field it reads.
        max_carry_h: how long a measured input is carried.
    """

    def __init__(self, columns: Mapping[int, str], max_carry_h: float = MAX_CARRY_H) -> None:
        ordered = sorted(columns)
        self.columns = np.array(ordered, dtype=np.intp)
        self.limit_h = np.array(
            [math.inf if columns[c] in STATIC_FIELDS else max_carry_h for c in ordered]
        )
        self._last: dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = {}

    @property
    def enabled(self) -> bool:
        """Whether the model reads any optional input."""
        return len(self.columns) > 0

    def fill(
        self, station: str, row: npt.NDArray[np.float32], hour: float
    ) -> tuple[bool, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        """Fill ``row``'s missing optional inputs in place from ``station``'s last values.

        Args:
            hour: the row's time in hours (any one axis: ``window_start`` in epoch hours).

        Returns:
            whether the row is complete now, and the station's state after it (pass it
            to :meth:`keep` once the row was accepted into its window).
        """
        cols = self.columns
        values = row[cols].astype(np.float64)
        present = np.isfinite(values)
        last = self._last.get(station)
        if last is None:
            last_values = np.full(len(cols), np.nan)
            seen_at = np.full(len(cols), -math.inf)
        else:
            last_values, seen_at = last
        carried = ~present & np.isfinite(last_values) & (hour - seen_at <= self.limit_h)
        if carried.any():
            row[cols[carried]] = last_values[carried]
        state = (np.where(present, values, last_values), np.where(present, hour, seen_at))
        return bool((present | carried).all()), state

    def keep(
        self, station: str, state: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]
    ) -> None:
        """Remember ``station``'s state after an accepted row."""
        self._last[station] = state

    def forget(self, stations: Iterable[str]) -> None:
        """Forget ``stations`` (their partition was revoked)."""
        for station in stations:
            self._last.pop(station, None)

    def reset(self) -> None:
        """Forget every station."""
        self._last.clear()
