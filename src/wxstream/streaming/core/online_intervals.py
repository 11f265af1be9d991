"""Online interval calibration in the service (pure, clock-free): every emitted forecast's
p10..p90 recalibrated by :mod:`wxstream.models.online_calibration`, learning from the
pairs of the service's earlier forecasts with the observations it consumed since.

The order, per input partition and in the partition's record order (what makes the
served intervals a function of the partition's records alone, so that a restart, a
rewind or a rebalance serves the same intervals as an uninterrupted run):

1. the record's observation joins :class:`~.live_pairs.LivePairs`; the pairs it
   completes teach the partition's calibrator;
2. the forecast the record's window made (if any) is recalibrated with the
   calibrator's scales for its station and leads;
3. that recalibrated forecast joins :class:`~.live_pairs.LivePairs` in turn.

The calibrator learns from the misses of what it served (the recalibrated bounds), as
adaptive conformal inference does and as ``wxstream evaluate``'s online replay does; the
scales applied are written into each prediction (``interval_scale``), so the interval
before recalibration can be recovered from the topic. Scales always multiply the
model's own (offline-calibrated) interval, never one already recalibrated.

A partition's state is rebuilt (:func:`rebuild_partition`) from its feature records
below the committed offset and the forecasts that were emitted for them (read back
from ``weather-predictions``), replaying steps 1 and 3 in the same order: no model call.

One calibrator per partition: the pooled per-lead scale learns from the partition's
stations (a topic with one partition pools every station, as ``evaluate`` does). Within
a partition a station's forecast uses whatever other stations' observations were
consumed before it, not only those up to its issue hour: in a live service they are
past all the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from wxstream.messages.predictions import finite_rows
from wxstream.models.online_calibration import (
    CalibrationState,
    LiveCalibration,
    OnlineCalibrationSettings,
    Pair,
)
from wxstream.rollout.lead_join import Pair as JoinedPair
from wxstream.rollout.lead_join import PendingForecast
from wxstream.rollout.skill import Forecast
from wxstream.streaming.core.live_pairs import LivePairs, Observed, epoch_hour
from wxstream.streaming.core.work_batch import WorkBatch

F32 = npt.NDArray[np.float32]
__all__ = ["epoch_hour"]  # re-exported: the calibrator's hourly axis is the join's


def pair_of(pair: JoinedPair) -> Pair:
    """A paired forecast lead as the calibrator learns from it."""
    forecast, j, observed_c = pair
    return Pair(
        forecast.station_id,
        forecast.leads_h[j],
        forecast.issued_hour,
        forecast.p10_c[j],
        forecast.p90_c[j],
        observed_c,
    )


class OnlineIntervals:
    """Calibration states per partition, fed the pairs of :class:`LivePairs`.

    Each partition's state is a :class:`~wxstream.models.online_calibration.LiveCalibration`:
    the state of :func:`~wxstream.models.online_calibration.update` over the partition's
    pair sequence, kept in place (a pair moves two scales and copies nothing).

    Args:
        leads_h: the model's leads (the columns of its forecasts).
        settings: how the calibrator learns.
    """

    def __init__(
        self, leads_h: Sequence[int], settings: OnlineCalibrationSettings | None = None
    ) -> None:
        self.leads_h = tuple(int(lead) for lead in leads_h)
        self.settings = settings or OnlineCalibrationSettings()
        self._states: dict[int, LiveCalibration] = {}

    def _live(self, partition: int) -> LiveCalibration:
        found = self._states.get(partition)
        if found is None:
            found = self._states[partition] = LiveCalibration(self.settings)
        return found

    def state(self, partition: int) -> CalibrationState:
        """What ``partition``'s calibrator has learnt (a copy; empty before any pair)."""
        return self._live(partition).state()

    def learn(self, partition: int, pairs: Sequence[JoinedPair]) -> None:
        """Learn from the join's unscored ``pairs`` of ``partition``, in order."""
        if not pairs:
            return
        self._live(partition).learn(
            (f.station_id, f.leads_h[j], f.issued_hour, f.p10_c[j], f.p90_c[j], observed)
            for f, j, observed in pairs
        )

    def scales(self, partition: int, station_id: str) -> npt.NDArray[np.float64]:
        """``(leads, 2)``: the lower and upper scale served to ``station_id`` now."""
        return np.array(self._live(partition).scales(station_id, self.leads_h))

    def drop(self, partitions: Iterable[int]) -> None:
        """Forget the states of ``partitions``."""
        for partition in partitions:
            self._states.pop(partition, None)

    def reset(self) -> None:
        """Forget every state."""
        self._states.clear()


def recalibrate(quantiles: F32, scale: npt.NDArray[np.float64]) -> F32:
    """``(leads, 3)`` p10/p50/p90 with each bound moved away from p50 by its scale."""
    q = quantiles.astype(np.float64)
    out = q.copy()
    out[:, 0] = q[:, 1] - scale[:, 0] * (q[:, 1] - q[:, 0])
    out[:, 2] = q[:, 1] + scale[:, 1] * (q[:, 2] - q[:, 1])
    return out.astype(np.float32)


def forecast_leads(
    station_id: str,
    issued_at: datetime,
    leads_h: Sequence[int],
    quantiles: F32,
    model: tuple[str, str],
) -> list[Forecast]:
    """One emitted forecast ``(leads, 3)`` as the join takes it."""
    name, version = model
    return [
        Forecast(station_id, issued_at, lead, p10, p50, p90, name, version)
        for lead, (p10, p50, p90) in zip(leads_h, quantiles.tolist(), strict=True)
    ]


@dataclass(frozen=True)
class Recalibrated:
    """A batch's forecasts recalibrated, and the scales applied.

    Attributes:
        forecasts: ``(B, leads, 3)`` float32; a non-finite row is left as it was.
        scales: ``(B, leads, 2)`` float32, the lower and upper scale of each lead.
        records: every pair the batch's records completed, in order, unscored (for
            whatever else learns from the live pairs).
    """

    forecasts: F32
    scales: F32
    records: list[JoinedPair]


def recalibrate_batch(
    batch: WorkBatch,
    forecasts: F32,
    pairs: LivePairs,
    intervals: OnlineIntervals,
    model: tuple[str, str],
) -> Recalibrated:
    """Walk ``batch``'s records in order (see the module docstring): learn from what
    each observation pairs, recalibrate each forecast, join it.

    Args:
        model: ``(name, version)`` written into the pairs.
    """
    leads = intervals.leads_h
    out = forecasts.copy()
    applied = np.ones((*forecasts.shape[:2], 2), dtype=np.float32)
    finite: list[bool] = finite_rows(forecasts).tolist()
    made = {(r.partition, r.offset): i for i, r in enumerate(batch.requests)}
    records: list[JoinedPair] = []
    for observed in batch.observations:
        partition = observed.partition
        paired = pairs.observe(observed)
        intervals.learn(partition, paired)
        records.extend(paired)
        index = made.get((partition, observed.offset))
        if index is None or not finite[index]:
            continue
        scale = intervals.scales(partition, observed.station_id)
        out[index] = recalibrate(forecasts[index], scale)
        applied[index] = scale
        source = batch.requests[index].source
        p10, p50, p90 = out[index].T.tolist()  # the float32 values served, as doubles
        joined = PendingForecast(
            source.station_id,
            source.issued_at,
            epoch_hour(source.issued_at),
            leads,
            (p10, p50, p90),
            model=model,
        )
        paired = pairs.emit(partition, joined)
        intervals.learn(partition, paired)
        records.extend(paired)
    return Recalibrated(out, applied, records)


def rebuild_partition(
    partition: int,
    observed: Iterable[Observed],
    emitted: Mapping[tuple[str, datetime], Sequence[Forecast]],
    pairs: LivePairs,
    intervals: OnlineIntervals,
) -> None:
    """Rebuild ``partition``'s join and calibrator from its history.

    Args:
        observed: the partition's observations below its committed offset, in offset
            order.
        emitted: the forecasts emitted (as served) by ``(station, issued_at)``: each
            joins right after the observation of its issue hour, where it was made.
    """
    pairs.drop([partition])
    intervals.drop([partition])
    fed: set[tuple[str, datetime]] = set()
    for item in observed:
        intervals.learn(partition, pairs.observe(item))
        key = (item.station_id, item.hour)
        leads = emitted.get(key)
        if leads is None or key in fed:
            continue
        fed.add(key)
        intervals.learn(partition, pairs.forecast(partition, leads))
