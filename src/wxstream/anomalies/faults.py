"""Known ways a station stream goes wrong, injected reproducibly into real feature rows.

Each fault is applied to a contiguous run of one station's rows (in time order); the
result is the rows as they would arrive, with ``true_hour`` (integer epoch hours of the
real hour) kept beside the possibly shifted ``window_start``. Sizes follow the issue:
spikes of 3/5/8 standard deviations of the hourly change, a stuck value for 3-48 h, a
drift of 2-5 degC over 7-30 days, a +2 degC step, degF or K sent as degC, dew point and
temperature swapped, and a clock shifted by a few hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

_TEMPERATURES: Final = ("avg_temperature", "min_temperature", "max_temperature")
_KELVIN_OFFSET: Final = 273.15


@dataclass(frozen=True)
class FaultSpec:
    """One fault type at one size.

    Attributes:
        kind: ``spike``, ``stuck``, ``drift``, ``step``, ``degF``, ``kelvin``, ``swap`` or
            ``time_shift``.
        size: the label it is reported under (``5sd``, ``6h``, ``3C/14d``, ...).
        magnitude: spike size in standard deviations, total drift or step in degC, or
            shift in hours (0 where the kind has no size).
        min_hours / max_hours: the fault lasts a duration drawn from this range.
    """

    kind: str
    size: str
    magnitude: float
    min_hours: int
    max_hours: int


_DAY: Final = 24
FAULTS: Final[tuple[FaultSpec, ...]] = (
    FaultSpec("spike", "3sd", 3.0, 1, 1),
    FaultSpec("spike", "5sd", 5.0, 1, 1),
    FaultSpec("spike", "8sd", 8.0, 1, 1),
    FaultSpec("stuck", "3h", 0.0, 3, 3),
    FaultSpec("stuck", "6h", 0.0, 6, 6),
    FaultSpec("stuck", "12h", 0.0, 12, 12),
    FaultSpec("stuck", "24h", 0.0, 24, 24),
    FaultSpec("stuck", "48h", 0.0, 48, 48),
    FaultSpec("drift", "2C/7d", 2.0, 7 * _DAY, 7 * _DAY),
    FaultSpec("drift", "3C/14d", 3.0, 14 * _DAY, 14 * _DAY),
    FaultSpec("drift", "5C/30d", 5.0, 30 * _DAY, 30 * _DAY),
    FaultSpec("step", "+2C", 2.0, 7 * _DAY, 7 * _DAY),
    FaultSpec("degF", "6-24h", 0.0, 6, 24),
    FaultSpec("kelvin", "6-24h", 0.0, 6, 24),
    FaultSpec("swap", "6-24h", 0.0, 6, 24),
    FaultSpec("time_shift", "+3h", 3.0, 6, 24),
    FaultSpec("time_shift", "-3h", -3.0, 6, 24),
)
"""Every fault type and size the evaluation injects."""


def fault_label(spec: FaultSpec) -> str:
    """``kind size``, the row name in reports."""
    return f"{spec.kind} {spec.size}"


Columns = dict[str, npt.NDArray[np.float64]]


def _spike(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    for column in _TEMPERATURES:
        c[column][part] += sign * spec.magnitude * diff_std


def _stuck(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    # The sensor keeps reporting its last good reading.
    last_good = float(c["avg_temperature"][max(part.start - 1, 0)])
    for column in _TEMPERATURES:
        c[column][part] = last_good


def _drift(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    length = part.stop - part.start
    ramp = spec.magnitude * np.arange(1, length + 1) / length
    for column in _TEMPERATURES:
        c[column][part] += ramp


def _step(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    for column in _TEMPERATURES:
        c[column][part] += spec.magnitude


def _degf(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    for column in (*_TEMPERATURES, "avg_dewpoint"):
        c[column][part] = c[column][part] * 9.0 / 5.0 + 32.0


def _kelvin(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    for column in (*_TEMPERATURES, "avg_dewpoint"):
        c[column][part] += _KELVIN_OFFSET


def _swap(c: Columns, spec: FaultSpec, part: slice, sign: float, diff_std: float) -> None:
    # The two channels trade places: the temperature fields now follow the dew point.
    temperature = c["avg_temperature"][part].copy()
    shift = c["avg_dewpoint"][part] - temperature
    for column in _TEMPERATURES:
        c[column][part] += shift
    c["avg_dewpoint"][part] = temperature


_APPLY = {
    "spike": _spike,
    "stuck": _stuck,
    "drift": _drift,
    "step": _step,
    "degF": _degf,
    "kelvin": _kelvin,
    "swap": _swap,
}


def inject(
    rows: pd.DataFrame, spec: FaultSpec, start: int, length: int, *, sign: float, diff_std: float
) -> pd.DataFrame:
    """A copy of one station's rows (time order) with ``spec`` applied to rows
    ``start .. start + length - 1``.

    Args:
        rows: the station's clean feature rows.
        spec: the fault.
        start / length: the faulty rows.
        sign: +1 or -1, the direction of a spike.
        diff_std: standard deviation of the hourly temperature change (spike unit).
    """
    out = rows.reset_index(drop=True)
    part = slice(start, start + length)
    if spec.kind == "time_shift":
        delta = pd.Timedelta(hours=spec.magnitude)
        for column in ("window_start", "window_end"):
            stamps = out[column].copy()
            stamps.iloc[part] = stamps.iloc[part] + delta
            out[column] = stamps
        return out
    apply = _APPLY.get(spec.kind)
    if apply is None:
        raise ValueError(f"unknown fault kind {spec.kind!r}")
    columns = {
        column: out[column].to_numpy(dtype=np.float64, copy=True)
        for column in (*_TEMPERATURES, "avg_dewpoint")
    }
    apply(columns, spec, part, sign, diff_std)
    for column, values in columns.items():
        out[column] = values
    return out


@dataclass(frozen=True)
class Trial:
    """One injection: ``spec`` into ``station``'s test rows from row ``start`` for ``length``."""

    spec: FaultSpec
    station: str
    start: int
    length: int
    sign: float


def plan_trials(
    station_lengths: dict[str, int],
    spec: FaultSpec,
    count: int,
    *,
    seed: int,
    context_rows: int,
    grace_rows: int,
) -> list[Trial]:
    """``count`` trials of ``spec``, drawn from ``seed`` and the fault's position in
    :data:`FAULTS` only, so a fault's trials do not change when others are added.

    Each trial leaves ``context_rows`` clean rows before and ``grace_rows`` after the fault.
    """
    index = FAULTS.index(spec) if spec in FAULTS else len(FAULTS)
    rng = np.random.default_rng([seed, index])
    stations = sorted(station_lengths)
    trials: list[Trial] = []
    for k in range(count):
        station = stations[k % len(stations)]
        length = int(rng.integers(spec.min_hours, spec.max_hours + 1))
        first = context_rows
        last = station_lengths[station] - length - grace_rows
        if last <= first:
            continue
        start = int(rng.integers(first, last))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        trials.append(Trial(spec, station, start, length, sign))
    return trials
