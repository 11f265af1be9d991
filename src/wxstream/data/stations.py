"""Station coordinates of our sources, package data with their origin.

``stations/<source>.csv`` holds ``station_id, latitude, longitude, elevation_m, origin``:
degrees north/east, metres above sea level (empty where the origin has none). The files
were written by ``scripts/make_station_coordinates.py``, which names where each value
comes from; read that script's docstring for the precision (the Chinese stations are
district or city centres, not the monitoring sites).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from wxstream.data.observations import ELEVATION_M, LATITUDE, LONGITUDE, STATION_ID
from wxstream.errors import DataError

COORDINATE_COLUMNS: tuple[str, ...] = (LATITUDE, LONGITUDE, ELEVATION_M)


def station_coordinates(source: str) -> pd.DataFrame:
    """The coordinates of a source's stations: ``station_id``, ``latitude``, ``longitude``,
    ``elevation_m`` (float64, NaN where unknown) and ``origin``."""
    resource = resources.files("wxstream.data").joinpath("stations", f"{source}.csv")
    if not resource.is_file():
        raise DataError(
            f"no station coordinates for source {source!r}",
            fix="reinstall wxstream: stations/*.csv is package data",
        )
    with resource.open("r", encoding="utf-8") as fh:
        return pd.read_csv(
            fh,
            dtype={STATION_ID: str, "origin": str} | dict.fromkeys(COORDINATE_COLUMNS, "float64"),
        )


def attach_coordinates(observations: pd.DataFrame, source: str) -> pd.DataFrame:
    """``observations`` with the station coordinate columns of ``source`` (NaN for a
    station the file does not list)."""
    table = station_coordinates(source).set_index(STATION_ID)
    out = observations.copy()
    stations = out[STATION_ID].astype(str)
    for col in COORDINATE_COLUMNS:
        out[col] = stations.map(table[col]).to_numpy(dtype=np.float64, na_value=np.nan)
    return out
