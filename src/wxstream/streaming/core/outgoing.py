"""From a finished batch to what goes to Kafka (pure): encoded forecasts, dead letters
(including one for every window whose forecast is not finite), the quality stage's
findings and, with two versions served, the shadow forecasts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from wxstream.messages import SkillRecord
from wxstream.messages.dead_letters import DeadLetter, dead_letter
from wxstream.messages.predictions import ForecastInput, PredictionEncoder, finite_rows
from wxstream.streaming.core.versions import VersionRouter
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
        shadow: ``(key, value)`` records for ``weather-predictions.shadow`` (the other
            version's forecast of each window of ``predictions``), in input order.
        verification: ``(key, value)`` records for ``weather-verification`` (the
            forecasts this batch paired with their observations, see
            :mod:`wxstream.rollout.live`).
        skill: the same pairs as values, for whoever else consumes paired records.
    """

    predictions: list[tuple[bytes | None, bytes]]
    dead_letters: Sequence[DeadLetter]
    timestamps_ms: list[int]
    anomalies: Sequence[tuple[bytes, bytes]] = ()
    shadow: Sequence[tuple[bytes, bytes]] = ()
    verification: Sequence[tuple[bytes, bytes]] = ()
    skill: Sequence[SkillRecord] = ()


def build_outgoing(
    batch: WorkBatch,
    forecasts: npt.NDArray[np.float32],
    encoder: PredictionEncoder,
    *,
    source_topic: str,
    produced_at: datetime,
    error_ts_ms: int,
    challenger: npt.NDArray[np.float32] | None = None,
    router: VersionRouter | None = None,
    scales: npt.NDArray[np.float32] | None = None,
) -> tuple[Outgoing, int]:
    """The batch's records for Kafka, and how many forecasts were not finite.

    With a ``router`` and the ``challenger``'s forecasts of the same windows, each
    window's main forecast is its station's arm's and the other version's goes to the
    shadow topic (:mod:`~.versions`); else ``encoder`` writes the champion's.

    A window whose main forecast holds NaN or infinity (a broken model: JSON cannot
    carry it) is dead-lettered with reason :data:`NON_FINITE_REASON`; ``batch.counts``
    is updated to match. A non-finite shadow forecast is left out (it is no reason to
    withhold the main one).
    """
    requests = batch.requests
    routed = None
    if router is not None and challenger is not None:
        routed = router.route([r.source for r in requests], forecasts, challenger)
        forecasts = routed.main
    ok = finite_rows(forecasts)
    bad = int(len(ok) - ok.sum())
    dead = list(batch.dead_letters)
    if bad:
        dead.extend(_non_finite(batch, ok, source_topic, error_ts_ms))
        requests = tuple(r for r, good in zip(requests, ok.tolist(), strict=True) if good)
        forecasts = forecasts[ok]
        scales = None if scales is None else scales[ok]
    inputs = [r.source for r in requests]
    shadow: list[tuple[bytes, bytes]] = []
    if routed is None or router is None:
        values = encoder.encode(inputs, forecasts, produced_at, scales)
    else:
        rows = routed.challenger_rows[ok] if bad else routed.challenger_rows
        values = router.encode(inputs, forecasts, rows, produced_at)
        if routed.shadow is not None:
            shadow = _shadow(
                router, inputs, routed.shadow[ok] if bad else routed.shadow, rows, produced_at
            )
    outgoing = Outgoing(
        # Forecasts are keyed by the station they are for, whatever key the input had.
        predictions=[
            (r.source.station_id.encode("utf-8"), v) for r, v in zip(requests, values, strict=True)
        ],
        dead_letters=dead,
        timestamps_ms=[r.timestamp_ms for r in requests],
        anomalies=batch.anomalies,
        shadow=shadow,
    )
    return outgoing, bad


def _non_finite(
    batch: WorkBatch, ok: npt.NDArray[np.bool_], source_topic: str, error_ts_ms: int
) -> list[DeadLetter]:
    """A dead letter for every window whose forecast is not finite; counted in the batch."""
    dead = [
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
        for request, good in zip(batch.requests, ok.tolist(), strict=True)
        if not good
    ]
    counts = batch.counts
    counts.forecasts -= len(dead)
    counts.dead_letters[NON_FINITE_REASON] = counts.dead_letters.get(NON_FINITE_REASON, 0) + len(
        dead
    )
    return dead


def _shadow(
    router: VersionRouter,
    inputs: list[ForecastInput],
    quantiles: npt.NDArray[np.float32],
    challenger_rows: npt.NDArray[np.bool_],
    produced_at: datetime,
) -> list[tuple[bytes, bytes]]:
    """The shadow topic's records: the other version's finite forecasts, input order."""
    ok = finite_rows(quantiles)
    if not ok.all():
        inputs = [item for item, good in zip(inputs, ok.tolist(), strict=True) if good]
        quantiles, challenger_rows = quantiles[ok], challenger_rows[ok]
    values = router.encode(inputs, quantiles, challenger_rows, produced_at, shadow=True)
    return [
        (item.station_id.encode("utf-8"), value) for item, value in zip(inputs, values, strict=True)
    ]
