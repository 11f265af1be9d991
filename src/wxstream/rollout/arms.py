"""Sticky A/B by station: which arm of an experiment a station's forecasts go to.

The arm is a pure function of ``(experiment, station_id)`` and the challenger's share:
a station keeps its arm across restarts, rebalances, replays and machines, because
nothing but those values decides it. The hash is BLAKE2b, never Python's ``hash()``
(salted per process for strings).

Raising the challenger fraction only moves stations from champion to challenger: a
station is a challenger when its point in ``[0, 1)`` lies below the fraction, so every
station below the old fraction stays below the new one.
"""

from __future__ import annotations

import hashlib
from typing import Final, Literal

CHAMPION: Final = "champion"
CHALLENGER: Final = "challenger"
Arm = Literal["champion", "challenger"]

_DIGEST_BYTES: Final = 8
_SCALE: Final = float(2 ** (8 * _DIGEST_BYTES))


def station_point(station_id: str, experiment: str) -> float:
    """The station's place in ``[0, 1)`` for ``experiment``: the first 8 bytes of
    BLAKE2b over ``experiment + NUL + station_id`` (UTF-8), big-endian, over 2**64.

    The NUL keeps ``("ab", "c")`` and ``("a", "bc")`` apart.
    """
    digest = hashlib.blake2b(
        f"{experiment}\0{station_id}".encode(), digest_size=_DIGEST_BYTES
    ).digest()
    return int.from_bytes(digest, "big") / _SCALE


def arm_of(station_id: str, experiment: str, challenger_fraction: float) -> Arm:
    """The arm of ``station_id`` in ``experiment``.

    Args:
        station_id: the station (the record key).
        experiment: names the experiment; a new name reshuffles the stations.
        challenger_fraction: share of stations sent to the challenger, in ``[0, 1]``:
            0 sends none, 1 sends all.

    Raises:
        ValueError: the fraction lies outside ``[0, 1]`` (or is NaN).
    """
    if not 0.0 <= challenger_fraction <= 1.0:
        raise ValueError(f"challenger_fraction must lie in [0, 1], got {challenger_fraction!r}")
    if station_point(station_id, experiment) < challenger_fraction:
        return CHALLENGER
    return CHAMPION
