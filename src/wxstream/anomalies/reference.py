"""Two reference detectors a user could write in an afternoon, to measure ours against.

* a rolling z-score per station: each variable against the mean and standard deviation
  of the station's previous ``window_h`` rows;
* scikit-learn's ``IsolationForest`` on the same inputs: the three measurements, their
  change since the previous row, the temperature-dew point spread and min-max range.

Both see the rows that pass the decoder, in arrival order, and both are given the same
false-alarm budget: their threshold is the ``1 - flag_rate`` quantile of their scores
on the training period.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from wxstream.anomalies.anomaly import VARIABLES

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
_COLUMNS = tuple(VARIABLES.values())
_MAX_FIT_ROWS = 50_000


def rolling_z_scores(frame: pd.DataFrame, window_h: int, floors: dict[str, float]) -> FloatArray:
    """Per row, the largest ``|x - mean| / std`` over the variables, against the stream's
    previous ``window_h`` rows (std at least ``floors[column]``; NaN while warming up)."""
    scores = np.full(len(frame), np.nan)
    for _, rows in frame.groupby("station_id", sort=False):
        best = np.zeros(len(rows))
        for column in _COLUMNS:
            x = rows[column].astype(np.float64)
            past = x.shift(1).rolling(window_h, min_periods=window_h // 2)
            std = np.maximum(past.std().to_numpy(dtype=np.float64), floors[column])
            z = np.abs(x.to_numpy() - past.mean().to_numpy(dtype=np.float64)) / std
            best = np.fmax(best, z)
        warm = np.arange(len(rows)) >= window_h // 2
        scores[rows.index.to_numpy()] = np.where(warm, best, np.nan)
    return scores


def forest_inputs(frame: pd.DataFrame) -> npt.NDArray[np.float64]:
    """The IsolationForest's inputs per row (changes are 0 on a stream's first row)."""
    values = frame[list(_COLUMNS)].to_numpy(dtype=np.float64)
    changes = frame.groupby("station_id", sort=False)[list(_COLUMNS)].diff().fillna(0.0)
    spread = (frame["avg_temperature"] - frame["avg_dewpoint"]).to_numpy(dtype=np.float64)
    width = (frame["max_temperature"] - frame["min_temperature"]).to_numpy(dtype=np.float64)
    return np.column_stack([values, changes.to_numpy(dtype=np.float64), spread, width])


@dataclass(frozen=True)
class ReferenceDetectors:
    """Both reference detectors, fitted on training rows.

    Attributes:
        window_h: rows of the rolling z-score.
        floors: per column, the smallest standard deviation the z-score divides by.
        z_limit: the rolling z-score's threshold.
        forest: the fitted ``IsolationForest``.
        forest_limit: threshold of ``-score_samples``.
    """

    window_h: int
    floors: dict[str, float]
    z_limit: float
    forest: Any
    forest_limit: float

    @classmethod
    def fit(
        cls, train: pd.DataFrame, *, flag_rate: float, window_h: int, seed: int
    ) -> ReferenceDetectors:
        """Fit on training rows (``station_id`` = stream, arrival order, index 0..n-1)."""
        from sklearn.ensemble import IsolationForest

        floors = {}
        for column in _COLUMNS:
            change = train.groupby("station_id", sort=False)[column].diff().to_numpy()
            # A tenth of the hourly change: a flat day must not divide by zero.
            floors[column] = 0.1 * float(np.nanstd(change))
        z = rolling_z_scores(train, window_h, floors)
        z_limit = float(np.nanquantile(z, 1.0 - flag_rate))
        inputs = forest_inputs(train)
        rng = np.random.default_rng(seed)
        fit_rows = (
            inputs[rng.choice(len(inputs), _MAX_FIT_ROWS, replace=False)]
            if len(inputs) > _MAX_FIT_ROWS
            else inputs
        )
        forest = IsolationForest(n_estimators=100, random_state=seed).fit(fit_rows)
        forest_limit = float(np.quantile(-forest.score_samples(inputs), 1.0 - flag_rate))
        return cls(window_h, floors, z_limit, forest, forest_limit)

    def rolling_z_flags(self, frame: pd.DataFrame) -> BoolArray:
        """Rows whose rolling z-score passes the threshold."""
        with np.errstate(invalid="ignore"):
            return np.asarray(rolling_z_scores(frame, self.window_h, self.floors) > self.z_limit)

    def forest_flags(self, frame: pd.DataFrame) -> BoolArray:
        """Rows the IsolationForest scores past the threshold."""
        if frame.empty:
            return np.zeros(0, dtype=bool)
        scores = -self.forest.score_samples(forest_inputs(frame))
        return np.asarray(scores > self.forest_limit, dtype=bool)
