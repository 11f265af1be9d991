"""From a finished batch to what goes to Kafka (pure): encoded forecasts, dead letters
(including one for every window whose forecast is not finite) and the quality stage's
findings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from wxstream.messages.dead_letters import DeadLetter, dead_letter
from wxstream.messages.predictions import PredictionEncoder, finite_rows
from wxstream.streaming.core.work_batch import WorkBatch

NON_FINITE_REASON = "non_finite_forecast"


@dataclass(frozen=True)
class Outgoing:
    """A released batch, encoded and ready for Kafka.

    Attributes:
        predictions: ``(key, value)`` forecast records, in input order.
        dead_letters: rejected input records, in input order.
        timestamps_ms: Kafka timestamps of the inputs behind each forecast.
        anomalies: ``(key, value)`` records for ``weather-anomalies``, in input order.
    """

    predictions: list[tuple[bytes | None, bytes]]
    dead_letters: Sequence[DeadLetter]
    timestamps_ms: list[int]
    anomalies: Sequence[tuple[bytes, bytes]] = ()


def build_outgoing(
    batch: WorkBatch,
    forecasts: npt.NDArray[np.float32],
    encoder: PredictionEncoder,
    *,
    source_topic: str,
    produced_at: datetime,
    error_ts_ms: int,
) -> tuple[Outgoing, int]:
    """The batch's records for Kafka, and how many forecasts were not finite.

    A window whose forecast holds NaN or infinity (a broken model: JSON cannot carry
    it) is dead-lettered with reason :data:`NON_FINITE_REASON`; ``batch.counts`` is
    updated to match.
    """
    requests = batch.requests
    dead = list(batch.dead_letters)
    ok = finite_rows(forecasts)
    bad = int(len(ok) - ok.sum())
    if bad:
        flags = ok.tolist()
        for request, good in zip(requests, flags, strict=True):
            if good:
                continue
            dead.append(
                dead_letter(
                    key=request.key,
                    value=request.value,
                    reason=NON_FINITE_REASON,
                    detail="the model returned a non-finite forecast for this window",
                    source_topic=source_topic,
                    source_partition=request.partition,
                    source_offset=request.offset,
                    error_ts_ms=error_ts_ms,
                )
            )
        requests = tuple(r for r, good in zip(requests, flags, strict=True) if good)
        forecasts = forecasts[ok]
        counts = batch.counts
        counts.forecasts -= bad
        counts.dead_letters[NON_FINITE_REASON] = counts.dead_letters.get(NON_FINITE_REASON, 0) + bad
    values = encoder.encode([r.source for r in requests], forecasts, produced_at)
    outgoing = Outgoing(
        # Forecasts are keyed by the station they are for, whatever key the input had.
        predictions=[
            (r.source.station_id.encode("utf-8"), v) for r, v in zip(requests, values, strict=True)
        ],
        dead_letters=dead,
        timestamps_ms=[r.timestamp_ms for r in requests],
        anomalies=batch.anomalies,
    )
    return outgoing, bad
