"""Observation loaders returning one tidy table, and train/validation/test splits."""

from __future__ import annotations

from wxstream.data.generic_csv import ColumnMapping, load_csv
from wxstream.data.nycflights import load_nycflights13
from wxstream.data.observations import (
    DEWPOINT_C,
    MEASUREMENT_COLUMNS,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WEATHER_GROUP,
    WIND_SPEED_MS,
    resolve_data_dir,
    validate_observations,
)
from wxstream.data.sources import SOURCE_NAMES, load_source
from wxstream.data.splits import SPLITS, Split, get_split, split_frame
from wxstream.data.uci import load_beijing_multisite, load_five_cities

__all__ = [
    "DEWPOINT_C",
    "MEASUREMENT_COLUMNS",
    "SOURCE_NAMES",
    "SPLITS",
    "STATION_ID",
    "TEMPERATURE_C",
    "TIMESTAMP",
    "WEATHER_GROUP",
    "WIND_SPEED_MS",
    "ColumnMapping",
    "Split",
    "get_split",
    "load_beijing_multisite",
    "load_csv",
    "load_five_cities",
    "load_nycflights13",
    "load_source",
    "resolve_data_dir",
    "split_frame",
    "validate_observations",
]
