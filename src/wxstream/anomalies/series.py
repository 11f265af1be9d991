"""Per-station hourly series of a feature frame, as numpy arrays (shared by learning,
the vectorised detectors and the evaluation)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.anomalies.anomaly import VARIABLES

NS_PER_HOUR = 3_600_000_000_000


@dataclass(frozen=True)
class StationSeries:
    """One station's rows in time order.

    Attributes:
        station_id: the station.
        hours: ``window_start`` as integer hours since the epoch (UTC).
        values: variable name -> float64 values, aligned with ``hours``.
        frame: the station's feature rows (index reset), aligned with ``hours``.
    """

    station_id: str
    hours: npt.NDArray[np.int64]
    values: dict[str, npt.NDArray[np.float64]]
    frame: pd.DataFrame

    @property
    def consecutive(self) -> npt.NDArray[np.bool_]:
        """``consecutive[i]``: row ``i + 1`` is the hour right after row ``i``."""
        return np.asarray(np.diff(self.hours) == 1, dtype=bool)


def epoch_hours(stamps: pd.Series) -> npt.NDArray[np.int64]:
    """UTC timestamps -> integer hours since the epoch (floored)."""
    ns = pd.to_datetime(stamps, utc=True).astype("datetime64[ns, UTC]").astype("int64")
    return np.asarray(ns.to_numpy() // NS_PER_HOUR, dtype=np.int64)


def station_series(features: pd.DataFrame) -> Iterator[StationSeries]:
    """Each station's rows of a feature frame, sorted by ``window_start``."""
    ordered = features.sort_values(["station_id", "window_start"], kind="stable")
    for station, rows in ordered.groupby("station_id", sort=True):
        frame = rows.reset_index(drop=True)
        yield StationSeries(
            station_id=str(station),
            hours=epoch_hours(frame["window_start"]),
            values={
                name: frame[column].to_numpy(dtype=np.float64) for name, column in VARIABLES.items()
            },
            frame=frame,
        )


def spike_statistic(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """For each inner point: ``min(|x - prev|, |x - next|)`` when both changes point the
    same way (a peak or a dip), else 0. Length ``len(values) - 2``."""
    into = values[1:-1] - values[:-2]
    out_of = values[1:-1] - values[2:]
    same = np.sign(into) == np.sign(out_of)
    return np.where(same, np.minimum(np.abs(into), np.abs(out_of)), 0.0)


def run_lengths(values: npt.NDArray[np.float64], consecutive: npt.NDArray[np.bool_]) -> list[int]:
    """Lengths of the runs of one repeated value over consecutive hours."""
    runs: list[int] = []
    run = 1
    for i in range(1, len(values)):
        if consecutive[i - 1] and values[i] == values[i - 1]:
            run += 1
        else:
            runs.append(run)
            run = 1
    if len(values):
        runs.append(run)
    return runs
