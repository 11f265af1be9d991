"""Time splits: boundaries, partitioning, and the real sources."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from wxstream.data import SPLITS, Split, get_split, load_beijing_multisite, load_nycflights13
from wxstream.data.splits import split_frame
from wxstream.errors import DataError


def _utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_boundaries_are_local_midnight_in_utc() -> None:
    beijing = SPLITS["beijing-multisite"]
    assert beijing.train == (_utc("2013-02-28 16:00"), _utc("2015-02-28 16:00"))
    assert beijing.validation[1] == _utc("2016-02-29 16:00")
    assert beijing.test[1] == _utc("2017-02-28 16:00")
    five = SPLITS["five-cities"]
    assert five.validation == (_utc("2012-12-31 16:00"), _utc("2013-12-31 16:00"))
    nyc = SPLITS["nycflights13"]
    assert nyc.train == (_utc("2013-01-01 05:00"), _utc("2013-09-01 04:00"))  # EST, then EDT
    assert nyc.test[0] == _utc("2013-11-01 04:00")
    demo = SPLITS["nycflights13-demo"]
    assert demo.train[1] == demo.test[0] == _utc("2013-11-01 04:00")


def test_beijing_split_keeps_every_row_once(data_dir: Path) -> None:
    obs = load_beijing_multisite(data_dir, sites=("Dongsi", "Tiantan"))
    train, validation, test = split_frame(obs, SPLITS["beijing-multisite"])
    assert len(train) + len(validation) + len(test) == len(obs)
    assert train["timestamp"].max() < validation["timestamp"].min()
    assert validation["timestamp"].max() < test["timestamp"].min()
    # Two years, one year (2016 is a leap year), one year of hours per site.
    assert len(train) == 2 * 730 * 24
    assert len(validation) == 2 * 366 * 24
    assert len(test) == 2 * 365 * 24


def test_nycflights13_splits_cover_the_year() -> None:
    obs = load_nycflights13()
    parts = split_frame(obs, SPLITS["nycflights13"])
    assert sum(len(p) for p in parts) == len(obs)
    train, _, replay = split_frame(obs, get_split("nycflights13-demo"))
    assert len(train) + len(replay) == len(obs)
    local = replay["timestamp"].dt.tz_convert("America/New_York")
    assert set(local.dt.month) == {11, 12}


def test_split_by_other_column() -> None:
    frame = pd.DataFrame({"window_start": [_utc("2013-05-01"), _utc("2013-12-01")]})
    train, validation, test = split_frame(frame, SPLITS["nycflights13"], column="window_start")
    assert (len(train), len(validation), len(test)) == (1, 0, 1)
    with pytest.raises(DataError, match="no column"):
        split_frame(frame, SPLITS["nycflights13"])


def test_invalid_splits_and_names() -> None:
    with pytest.raises(DataError, match="overlap"):
        Split(
            train=(_utc("2020-01-01"), _utc("2021-01-01")),
            validation=(_utc("2020-06-01"), _utc("2021-06-01")),
            test=(_utc("2022-01-01"), _utc("2023-01-01")),
        )
    naive = pd.Timestamp("2020-01-01")
    with pytest.raises(DataError, match="timezone-aware"):
        Split(train=(naive, naive), validation=(naive, naive), test=(naive, naive))
    with pytest.raises(DataError, match="unknown split"):
        get_split("nope")


@given(st.lists(st.integers(min_value=0, max_value=400 * 24), max_size=200))
def test_split_frame_partitions_in_order(hours: list[int]) -> None:
    stamps = [_utc("2012-12-01") + pd.Timedelta(hours=h) for h in hours]
    frame = pd.DataFrame({"timestamp": pd.Series(stamps, dtype="datetime64[ns, UTC]")})
    split = SPLITS["nycflights13"]
    parts = split_frame(frame, split)
    inside = sum(split.train[0] <= ts < split.test[1] for ts in stamps)
    assert sum(len(p) for p in parts) == inside
    for part, (start, end) in zip(parts, split.ranges().values(), strict=True):
        assert ((part["timestamp"] >= start) & (part["timestamp"] < end)).all()
