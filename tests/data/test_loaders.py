"""Observation loaders on the real data: units, NA handling, time zones, Iws, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.data import (
    ColumnMapping,
    load_beijing_multisite,
    load_csv,
    load_five_cities,
    load_nycflights13,
    load_source,
    resolve_data_dir,
    validate_observations,
)
from wxstream.data.observations import REQUIRED_COLUMNS
from wxstream.data.uci import BEIJING_SITES, beijing_multisite_path, decumulate_iws
from wxstream.errors import DataError


@pytest.fixture(scope="module")
def nyc() -> pd.DataFrame:
    return load_nycflights13()


@pytest.fixture(scope="module")
def beijing(data_dir: Path) -> pd.DataFrame:
    return load_beijing_multisite(data_dir)


@pytest.fixture(scope="module")
def five(data_dir: Path) -> pd.DataFrame:
    return load_five_cities(data_dir)


def _row(df: pd.DataFrame, station: str, utc: str) -> pd.Series:
    hit = df[(df["station_id"] == station) & (df["timestamp"] == pd.Timestamp(utc, tz="UTC"))]
    assert len(hit) == 1
    return hit.iloc[0]


def _assert_contract(df: pd.DataFrame) -> None:
    validate_observations(df)
    assert set(REQUIRED_COLUMNS) <= set(df.columns)
    assert str(df["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert pd.api.types.is_string_dtype(df["station_id"])
    assert not df.duplicated(["station_id", "timestamp"]).any()


def test_nycflights13_units_and_contract(nyc: pd.DataFrame) -> None:
    _assert_contract(nyc)
    assert len(nyc) == 26115
    assert sorted(nyc["station_id"].unique()) == ["EWR", "JFK", "LGA"]
    assert (nyc["weather_group"] == nyc["station_id"]).all()
    first = _row(nyc, "EWR", "2013-01-01 06:00")  # 39.02 degF, 26.06 degF, 10.35702 mph
    assert first["temperature_c"] == pytest.approx(3.9, abs=1e-4)
    assert first["dewpoint_c"] == pytest.approx(-3.3, abs=1e-4)
    assert first["wind_speed_ms"] == pytest.approx(10.35702 * 0.44704, abs=1e-4)
    assert first["pressure_hpa"] == pytest.approx(1012.0)


def test_nycflights13_impossible_wind_removed(nyc: pd.DataFrame) -> None:
    spike = _row(nyc, "EWR", "2013-02-12 08:00")  # 1048.36 mph in the source
    assert np.isnan(spike["wind_speed_ms"])
    assert spike["temperature_c"] == pytest.approx((39.02 - 32) * 5 / 9, abs=1e-4)
    assert nyc["wind_speed_ms"].max() < 75.0


def test_beijing_local_time_to_utc_and_values(beijing: pd.DataFrame) -> None:
    _assert_contract(beijing)
    assert len(beijing) == 12 * 35064
    # First source row: local 2013-03-01 00:00 (UTC+8), TEMP -0.7, DEWP -18.8, WSPM 4.4.
    row = _row(beijing, "Aotizhongxin", "2013-02-28 16:00")
    assert (row["temperature_c"], row["dewpoint_c"], row["wind_speed_ms"]) == (-0.7, -18.8, 4.4)
    assert row["pressure_hpa"] == 1023.0
    last = beijing[beijing["station_id"] == "Wanshouxigong"]["timestamp"].max()
    assert last == pd.Timestamp("2017-02-28 15:00", tz="UTC")  # local 23:00
    hours = beijing.groupby("station_id")["timestamp"].diff().dropna()
    assert (hours == pd.Timedelta(hours=1)).all()  # no gaps, no DST jumps


def test_beijing_na_becomes_nan(beijing: pd.DataFrame, data_dir: Path) -> None:
    path = beijing_multisite_path(data_dir, "Dongsi")
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for source, ours in (
        ("TEMP", "temperature_c"),
        ("DEWP", "dewpoint_c"),
        ("WSPM", "wind_speed_ms"),
    ):
        expected = sum(r[source] == "NA" for r in rows)
        assert expected > 0
        assert beijing.loc[beijing["station_id"] == "Dongsi", ours].isna().sum() == expected


def test_beijing_weather_groups(beijing: pd.DataFrame) -> None:
    groups = beijing.groupby("station_id")["weather_group"].unique().map(list)
    assert all(len(g) == 1 for g in groups)
    group = {site: g[0] for site, g in groups.items()}
    assert group["Aotizhongxin"] == group["Guanyuan"]
    assert group["Changping"] == group["Dingling"]
    assert group["Dongsi"] == group["Nongzhanguan"] == group["Tiantan"]
    assert len(set(group.values())) == 8
    assert set(group) == set(BEIJING_SITES)
    for site in ("Gucheng", "Huairou", "Shunyi", "Wanliu", "Wanshouxigong"):
        assert group[site] == site


def test_five_cities_time_zone_and_iws(five: pd.DataFrame) -> None:
    _assert_contract(five)
    assert sorted(five["station_id"].unique()) == [
        "Beijing",
        "Chengdu",
        "Guangzhou",
        "Shanghai",
        "Shenyang",
    ]
    assert len(five) == 5 * 43824
    first = _row(five, "Beijing", "2009-12-31 16:00")  # local 2010-01-01 00:00
    assert (first["temperature_c"], first["dewpoint_c"], first["relative_humidity"]) == (
        -11.0,
        -21.0,
        43.0,
    )
    # Source Iws (local hours 00..02, 14..17): NW 1.79, 4.92, 6.71 ... NW 43.82, cv 0.89,
    # NW 1.79, NW 2.68.
    assert _row(five, "Beijing", "2009-12-31 16:00")["wind_speed_ms"] == pytest.approx(1.79)
    assert _row(five, "Beijing", "2009-12-31 17:00")["wind_speed_ms"] == pytest.approx(3.13)
    assert _row(five, "Beijing", "2009-12-31 18:00")["wind_speed_ms"] == pytest.approx(1.79)
    assert _row(five, "Beijing", "2010-01-01 06:00")["wind_speed_ms"] == pytest.approx(3.13)
    assert _row(five, "Beijing", "2010-01-01 07:00")["wind_speed_ms"] == pytest.approx(0.89)
    assert _row(five, "Beijing", "2010-01-01 08:00")["wind_speed_ms"] == pytest.approx(1.79)
    assert _row(five, "Beijing", "2010-01-01 09:00")["wind_speed_ms"] == pytest.approx(0.89)
    # Guangzhou is plain hourly speed: 0.8, 0.5 in the first two source rows.
    assert _row(five, "Guangzhou", "2009-12-31 16:00")["wind_speed_ms"] == pytest.approx(0.8)
    assert _row(five, "Guangzhou", "2009-12-31 17:00")["wind_speed_ms"] == pytest.approx(0.5)
    assert five["wind_speed_ms"].min() >= 0.0


def test_decumulate_iws_rules() -> None:
    iws = np.array([1.0, 3.0, 6.0, 2.0, 5.0, np.nan, 4.0, 9.0])
    cbwd = np.array(["NW", "NW", "NW", "SE", "SE", "SE", "SE", "SE"], dtype=object)
    hours = np.array([0, 1, 2, 3, 5, 6, 7, 8])  # a gap between 3 and 5
    out = decumulate_iws(iws, cbwd, hours)
    np.testing.assert_allclose(out, [1.0, 2.0, 3.0, 2.0, 5.0, np.nan, np.nan, 5.0])


def test_load_source_names(nyc: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(load_source("nycflights13"), nyc)
    with pytest.raises(DataError, match="unknown data source"):
        load_source("nowhere")


def test_missing_folder_names_path_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(DataError) as info:
        resolve_data_dir(missing)
    assert str(missing) in info.value.message
    assert info.value.fix is not None
    assert "--data-dir" in info.value.fix
    assert "WXSTREAM_DATA_DIR" in info.value.fix
    with pytest.raises(DataError, match="data file not found"):
        load_source("five-cities", tmp_path)


def test_missing_column_is_a_data_error(tmp_path: Path) -> None:
    folder = tmp_path / "beijing-multisite"
    folder.mkdir()
    beijing_multisite_path(tmp_path, "Gucheng").write_text(
        "No,year,month,day,hour,TEMP,PRES\n1,2013,3,1,0,1.0,1000\n"
    )
    with pytest.raises(DataError, match=r"missing column\(s\) DEWP, RAIN, WSPM, wd"):
        load_beijing_multisite(tmp_path, sites=("Gucheng",))


def test_generic_csv_units_and_time_zone(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text(
        "time,site,t,td,ff\n"
        "2024-07-01 12:00,KSEA,68.0,50.0,10\n"
        "2024-07-01 13:00,KSEA,NA,50.0,20\n"
        "2024-07-01 12:00,KPDX,32.0,14.0,0\n"
    )
    mapping = ColumnMapping(
        timestamp="time",
        timezone="America/Los_Angeles",
        temperature=("t", "degF"),
        dewpoint=("td", "degF"),
        wind_speed=("ff", "knots"),
        station_column="site",
    )
    df = load_csv(path, mapping)
    _assert_contract(df)
    assert list(df["station_id"]) == ["KPDX", "KSEA", "KSEA"]
    assert df["timestamp"].iloc[1] == pd.Timestamp("2024-07-01 19:00", tz="UTC")  # PDT = UTC-7
    assert df["temperature_c"].iloc[0] == pytest.approx(0.0)
    assert df["temperature_c"].iloc[1] == pytest.approx(20.0)
    assert np.isnan(df["temperature_c"].iloc[2])
    assert df["dewpoint_c"].iloc[1] == pytest.approx(10.0)
    assert df["wind_speed_ms"].iloc[1] == pytest.approx(10 * 1852 / 3600)


def test_generic_csv_fixed_station_kelvin_kmh(tmp_path: Path) -> None:
    path = tmp_path / "obs.csv"
    path.write_text("when,temp_k,dew_k,wind_kmh\n2024-01-01T00:00:00Z,273.15,263.15,36\n")
    mapping = ColumnMapping.from_json(
        json.dumps(
            {
                "timestamp": "when",
                "temperature": ["temp_k", "K"],
                "dewpoint": ["dew_k", "K"],
                "wind_speed": ["wind_kmh", "km/h"],
                "station_id": "X1",
            }
        )
    )
    assert ColumnMapping.from_json(mapping.to_json()) == mapping
    df = load_csv(path, mapping)
    assert df.loc[0, "station_id"] == "X1"
    assert df.loc[0, "temperature_c"] == pytest.approx(0.0)
    assert df.loc[0, "dewpoint_c"] == pytest.approx(-10.0)
    assert df.loc[0, "wind_speed_ms"] == pytest.approx(10.0)


def test_column_mapping_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown wind speed unit"):
        ColumnMapping("t", ("a", "degC"), ("b", "degC"), ("c", "furlongs"), station_id="x")
    with pytest.raises(DataError, match="exactly one of station_column and station_id"):
        ColumnMapping("t", ("a", "degC"), ("b", "degC"), ("c", "m/s"))
    with pytest.raises(DataError, match="invalid column mapping"):
        ColumnMapping.from_json('{"timestamp": "t"}')
    path = tmp_path / "obs.csv"
    path.write_text("t,a,b\n2024-01-01T00:00:00Z,1,2\n")
    mapping = ColumnMapping("t", ("a", "degC"), ("b", "degC"), ("c", "m/s"), station_id="x")
    with pytest.raises(DataError, match=r"missing column\(s\) c"):
        load_csv(path, mapping)
