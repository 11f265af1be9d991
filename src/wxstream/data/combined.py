"""Several sources at once: named sources and users' CSVs, each with its own time split.

Rows of every source are concatenated; each station keeps the split of the source it
came from, so a test period never leaks into another source's training. Station ids
stay as the source writes them (a model trained on several sources then serves the
stations under their real ids), except where two sources share an id: those ids are
prefixed with their source's name (``<source>/<id>``), in every source that has them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from wxstream.data.generic_csv import ColumnMapping, load_csv
from wxstream.data.observations import STATION_ID, TIMESTAMP, WEATHER_GROUP
from wxstream.data.sources import load_source
from wxstream.data.splits import Split, get_split, select_range
from wxstream.errors import DataError

CSV_VALIDATION_FRACTION = 0.1
CSV_TEST_FRACTION = 0.2
"""A CSV's split: the last fifth of its time span is test, the tenth before validation."""

StationSplits = Mapping[str, Split]
"""Station id -> the split of its source."""


@dataclass(frozen=True)
class SourceData:
    """One source's observations and its time split."""

    name: str
    observations: pd.DataFrame
    split: Split


def csv_split(observations: pd.DataFrame) -> Split:
    """A user's CSV split by time: train, then validation, then test (whole UTC days).

    Raises:
        DataError: the file spans less than ten days (no room for three periods).
    """
    times = pd.to_datetime(observations[TIMESTAMP], utc=True)
    first, last = times.min().floor("D"), times.max().ceil("D")
    span_days = (last - first) // pd.Timedelta(days=1)
    if span_days < 10:
        raise DataError(
            f"a CSV of {span_days} day(s) is too short to split into train/validation/test",
            fix="give at least ten days of observations (weeks to months to train)",
        )
    test_start = last - pd.Timedelta(days=max(1, round(span_days * CSV_TEST_FRACTION)))
    val_start = test_start - pd.Timedelta(days=max(1, round(span_days * CSV_VALIDATION_FRACTION)))
    return Split(
        train=(first, val_start), validation=(val_start, test_start), test=(test_start, last)
    )


def csv_source_name(path: Path) -> str:
    """A CSV's source name: its file name without the extension."""
    return Path(path).stem


def load_sources(
    names: Sequence[str],
    csvs: Sequence[tuple[Path, Path]] = (),
    data_dir: Path | None = None,
) -> list[SourceData]:
    """Load the named sources (their standard splits) and each ``(csv, mapping)`` pair.

    Raises:
        DataError: no source at all, or one name given twice.
    """
    out = [SourceData(name, load_source(name, data_dir), get_split(name)) for name in names]
    for csv, mapping in csvs:
        obs = load_csv(csv, ColumnMapping.load(mapping))
        out.append(SourceData(csv_source_name(csv), obs, csv_split(obs)))
    seen = [s.name for s in out]
    if not out:
        raise DataError("no source given", fix="pass --source NAME or --csv FILE --mapping FILE")
    if len(set(seen)) != len(seen):
        raise DataError(f"a source is given twice: {seen}", fix="give each source once")
    return out


def combine(sources: Sequence[SourceData]) -> tuple[pd.DataFrame, dict[str, Split]]:
    """All observations in one table, and each station's split.

    Ids found in two sources become ``<source>/<id>`` (weather groups alike).
    """
    owners: dict[str, set[str]] = {}
    for source in sources:
        for station in source.observations[STATION_ID].astype(str).unique():
            owners.setdefault(station, set()).add(source.name)
    shared = {s for s, names in owners.items() if len(names) > 1}
    frames: list[pd.DataFrame] = []
    splits: dict[str, Split] = {}
    for source in sources:
        obs = source.observations.copy()
        if shared:
            rename = {s: f"{source.name}/{s}" for s in shared}
            obs[STATION_ID] = obs[STATION_ID].astype(str).replace(rename)
            if WEATHER_GROUP in obs.columns:
                obs[WEATHER_GROUP] = obs[WEATHER_GROUP].astype(str).replace(rename)
        for station in obs[STATION_ID].astype(str).unique():
            splits[station] = source.split
        frames.append(obs)
    combined = pd.concat(frames, ignore_index=True, sort=False)
    if len(sources) > 1 and WEATHER_GROUP in combined.columns:
        # Sources without weather groups: each station is its own group.
        combined[WEATHER_GROUP] = combined[WEATHER_GROUP].fillna(combined[STATION_ID])
    return combined, splits


def split_by_station(
    rows: pd.DataFrame, splits: StationSplits, period: str, column: str = "window_start"
) -> pd.DataFrame:
    """Rows of each station inside its own split's ``period`` (train, validation, test).

    Stations absent from ``splits`` are dropped.
    """
    station = rows[STATION_ID].astype(str)
    parts = [
        select_range(rows.loc[station == s], split.ranges()[period], column)
        for s, split in splits.items()
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return rows.iloc[0:0].reset_index(drop=True)
    return pd.concat(parts, ignore_index=True)


def select_stations(
    splits: StationSplits, leave_out: Sequence[str], sources: Sequence[SourceData]
) -> tuple[dict[str, Split], dict[str, Split]]:
    """``(kept, left_out)`` station splits: ``leave_out`` names stations or whole sources.

    Raises:
        DataError: a name is neither a station nor a source, or nothing would be left.
    """
    by_source = {s.name: s for s in sources}
    out: set[str] = set()
    for name in leave_out:
        if name in by_source:
            stations = by_source[name].observations[STATION_ID].astype(str).unique()
            found = {s for s in splits if s in set(stations) or s.startswith(f"{name}/")}
            out |= found
        elif name in splits:
            out.add(name)
        else:
            raise DataError(
                f"--leave-out {name!r} is neither a station nor a source",
                fix=f"use a source ({sorted(by_source)}) or a station ({sorted(splits)})",
            )
    kept = {s: v for s, v in splits.items() if s not in out}
    left = {s: v for s, v in splits.items() if s in out}
    if not kept or not left:
        raise DataError(
            "leaving out those stations leaves nothing to train on or nothing to score",
            fix="leave out some stations or sources, not all and not none",
        )
    return kept, left
