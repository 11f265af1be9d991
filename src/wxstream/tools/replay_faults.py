"""Named faults injected into a replay (``wxstream replay --inject-faults``): a few
seeded runs of the evaluation's catalogue (:data:`wxstream.anomalies.FAULTS`) put into
the real series before they are published, so the quality stage has something to find.

A spec is ``KIND[:SIZE]@STATION`` entries joined by commas, e.g.
``spike:8sd@EWR,stuck:12h@JFK,degF@LGA``; without a size the catalogue's first size of
that kind is used. Where each fault starts (and a spike's sign) is drawn from the seed
and the entry's position, after a clean stretch that fills the model's windows. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from wxstream.anomalies.faults import FAULTS, FaultSpec, fault_label, inject
from wxstream.errors import ConfigError
from wxstream.messages import FeatureMessage, encode_feature, publishable_mask
from wxstream.messages.features import MEASUREMENT_FIELDS

# Clean hours a fault leaves before it (the model's windows and the stage's history fill
# first) and after it (the stage sees the series come back).
CLEAN_BEFORE_H = 72
CLEAN_AFTER_H = 24
_KINDS = sorted({spec.kind for spec in FAULTS if spec.kind != "time_shift"})


@dataclass(frozen=True)
class FaultRequest:
    """One entry of a spec: the fault and the station it goes into."""

    spec: FaultSpec
    station: str


@dataclass(frozen=True)
class InjectedFault:
    """Where a fault went: its rows are ``station``'s hours ``first_hour`` ..
    ``last_hour`` (window starts, UTC); ``refused`` of them the service's decoder will
    refuse (out of range) and send to the dead-letter topic."""

    label: str
    station: str
    first_hour: datetime
    last_hour: datetime
    hours: int
    refused: int

    def describe(self) -> str:
        """``spike 8sd on EWR: 2013-11-20 04:00 .. 2013-11-20 04:00 (1 h)``."""
        refused = f", {self.refused} refused by the decoder" if self.refused else ""
        return (
            f"{self.label} on {self.station}: {self.first_hour:%Y-%m-%d %H:%M} .. "
            f"{self.last_hour:%Y-%m-%d %H:%M} UTC ({self.hours} h{refused})"
        )

    def covers(self, station_id: str, first: datetime, last: datetime) -> bool:
        """Whether the hours ``first`` .. ``last`` of ``station_id`` overlap the fault."""
        return station_id == self.station and first <= self.last_hour and last >= self.first_hour


def parse_fault_spec(text: str) -> tuple[FaultRequest, ...]:
    """The entries of a spec (empty text: none).

    Raises:
        ConfigError: an entry names no station, an unknown kind or size.
    """
    requests = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        fault, _, station = entry.partition("@")
        kind, _, size = fault.partition(":")
        if not station:
            raise ConfigError(f"fault {entry!r} names no station", fix="write KIND[:SIZE]@STATION")
        sizes = [s for s in FAULTS if s.kind == kind and (not size or s.size == size)]
        if kind not in _KINDS or not sizes:
            known = ", ".join(fault_label(s).replace(" ", ":") for s in FAULTS if s.kind in _KINDS)
            raise ConfigError(f"unknown fault {fault!r}", fix=f"use one of {known}")
        requests.append(FaultRequest(sizes[0], station))
    return tuple(requests)


def inject_faults(
    rows: pd.DataFrame, requests: tuple[FaultRequest, ...], *, seed: int
) -> tuple[pd.DataFrame, tuple[InjectedFault, ...]]:
    """``rows`` (a replay's selection, any order) with the requested faults applied in
    place of the clean values, and where each went.

    Raises:
        ConfigError: a station is not in the rows, or has too few hours for its fault.
    """
    out = rows.copy()
    injected = []
    for index, request in enumerate(requests):
        mine = np.flatnonzero(out["station_id"].astype(str).to_numpy() == request.station)
        if len(mine) == 0:
            raise ConfigError(
                f"station {request.station!r} of the fault spec is not replayed",
                fix="name a station of the replayed rows",
            )
        order = mine[np.argsort(out["window_start"].to_numpy()[mine], kind="stable")]
        series = out.iloc[order].reset_index(drop=True)
        rng = np.random.default_rng([seed, index])
        spec = request.spec
        length = int(rng.integers(spec.min_hours, spec.max_hours + 1))
        last_start = len(series) - length - CLEAN_AFTER_H
        if last_start <= CLEAN_BEFORE_H:
            raise ConfigError(
                f"{request.station} has {len(series)} hours: too few for {fault_label(spec)}",
                fix="replay a longer period or drop that fault",
            )
        start = int(rng.integers(CLEAN_BEFORE_H, last_start))
        sign = 1.0 if rng.random() < 0.5 else -1.0
        temperature = series["avg_temperature"].to_numpy(dtype=np.float64)
        diff_std = float(np.nanstd(np.diff(temperature)))
        faulty = inject(series, spec, start, length, sign=sign, diff_std=diff_std)
        faulty.index = out.index[order]
        out.loc[faulty.index, faulty.columns] = faulty
        part = faulty.iloc[start : start + length]
        injected.append(
            InjectedFault(
                label=fault_label(spec),
                station=request.station,
                first_hour=pd.Timestamp(part["window_start"].iloc[0]).to_pydatetime(),
                last_hour=pd.Timestamp(part["window_start"].iloc[-1]).to_pydatetime(),
                hours=length,
                refused=int((~publishable_mask(part)).sum()),
            )
        )
    return out, tuple(injected)


def encode_rows(rows: pd.DataFrame) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` of every row, in order, out-of-range injected values included:
    a broken sensor's record is still sent, and the service's decoder refuses it into
    the dead-letter topic (:func:`~wxstream.messages.encode_frame` would leave it out)."""
    starts = pd.to_datetime(rows["window_start"], utc=True).dt.to_pydatetime()
    ends = pd.to_datetime(rows["window_end"], utc=True).dt.to_pydatetime()
    avg_t, avg_d, avg_w, min_t, max_t = (
        rows[name].to_numpy(dtype=np.float64).tolist() for name in MEASUREMENT_FIELDS
    )
    counts = rows["observation_count"].to_numpy(dtype=np.int64).tolist()
    stations = rows["station_id"].astype(str).tolist()
    pairs = []
    for i, station in enumerate(stations):
        message = FeatureMessage(
            station, starts[i], ends[i], avg_t[i], avg_d[i], avg_w[i], min_t[i], max_t[i], counts[i]
        )
        pairs.append((station.encode(), encode_feature(message)))
    return pairs
