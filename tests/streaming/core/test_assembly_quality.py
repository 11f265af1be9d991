"""The quality stage inside the assembler: findings travel with the batch, restored
records rebuild the checks silently, forecasts say whether their window was flagged,
and the 1 h forecast scores the next observation (pure, synthetic values)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tests.anomalies.test_qc import THRESHOLDS
from tests.streaming.core.test_assembly import HOUR, LOOKBACK, T0, rows
from wxstream.anomalies.stage import QualityStage
from wxstream.anomalies.thresholds import ResidualLimits
from wxstream.messages import FeatureMessage, InvalidRecord, decode_anomaly, encode_feature
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.testing import MemoryRecord

SPIKED = [5.0, 5.5, 6.0, 16.0, 6.5, 7.0, 7.5, 8.0]


def assembler(stage: QualityStage) -> BatchAssembler:
    return BatchAssembler(
        topic="features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=rows,
        clock_ms=lambda: 1_790_000_000_000,
        quality=stage,
    )


def feature(station: str, hour: int, temp: float) -> bytes:
    """A synthetic message whose dew point and wind move too (no flat line)."""
    start = T0 + hour * HOUR
    dew, wind = temp - 3.0 + 0.1 * (hour % 2), 2.0 + 0.3 * (hour % 3)
    return encode_feature(
        FeatureMessage(station, start, start + HOUR, temp, dew, wind, temp, temp, 1)
    )


def _records(temps: list[float]) -> list[MemoryRecord]:
    return [MemoryRecord(0, k, b"A", feature("A", k, t)) for k, t in enumerate(temps)]


def test_findings_travel_with_the_batch_and_name_their_record() -> None:
    asm = assembler(QualityStage(THRESHOLDS))
    counts = asm.ingest(_records(SPIKED))
    batch = asm.seal()
    assert batch is not None
    decoded = [decode_anomaly(value) for _, value in batch.anomalies]
    spikes = [
        d
        for d in decoded
        if not isinstance(d, InvalidRecord)
        and d.anomaly.check == "spike"
        and d.anomaly.variable == "temperature"
    ]
    assert len(spikes) == 1
    assert spikes[0].value == 16.0
    assert spikes[0].source.offset == 4  # found when the hour after it arrived
    assert {key for key, _ in batch.anomalies} == {b"A"}
    assert counts.anomalies[("spike", spikes[0].anomaly.severity)] >= 1
    flagged = [r.source.input_flagged for r in batch.requests]
    # Windows of 3 hours ending at hours 2..7: those holding hour 3 are flagged.
    assert flagged == [False, True, True, True, False, False]


def test_restored_records_rebuild_the_checks_without_reporting() -> None:
    asm = assembler(QualityStage(THRESHOLDS))
    asm.restore_from(0, 5)
    asm.ingest(_records(SPIKED))
    batch = asm.seal()
    assert batch is not None
    assert batch.anomalies == ()
    # The restored spike still marks the windows that hold it.
    assert [r.source.input_flagged for r in batch.requests] == [True, False, False]


def test_without_the_stage_nothing_is_checked() -> None:
    asm = assembler(QualityStage(None))
    asm.ingest(_records(SPIKED))
    batch = asm.seal()
    assert batch is not None
    assert batch.anomalies == ()
    assert not any(r.source.input_flagged for r in batch.requests)


def test_the_next_hour_forecast_scores_the_observation_that_follows() -> None:
    limits = ResidualLimits(lead_h=1, z_suspect=4.0, z_bad=8.0)
    asm = assembler(QualityStage(replace(THRESHOLDS, residual=limits)))
    asm.ingest(_records([5.0, 5.2, 5.4]))
    batch = asm.seal()
    assert batch is not None
    # A forecast of 5.6 +- 1 degC for the next hour, then 11.0 arrives: z = 5.4.
    lead1 = np.array([[4.3185, 5.6, 6.8815]], dtype=np.float32)
    asm.remember_forecasts(batch, lead1[:, None, :], lead_index=0)
    asm.ingest([MemoryRecord(0, 3, b"A", feature("A", 3, 11.0))])
    later = asm.seal()
    assert later is not None
    checks = [decode_anomaly(v) for _, v in later.anomalies]
    residual = [
        c
        for c in checks
        if not isinstance(c, InvalidRecord) and c.anomaly.check == "forecast_residual"
    ]
    assert len(residual) == 1
    assert residual[0].value == 11.0
