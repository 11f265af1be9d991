"""From records to sealed batches without Kafka or Ray: positions, dead letters,
restore marks, counts, and the non-finite forecast rule."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from wxstream.messages import FeatureMessage, encode_feature
from wxstream.messages.dead_letters import read_headers
from wxstream.messages.predictions import PredictionEncoder, PredictionMessage, decode_prediction
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.outgoing import NON_FINITE_REASON, build_outgoing
from wxstream.streaming.testing import MemoryRecord

T0 = datetime(2013, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
LOOKBACK = 3


def feature(station: str, hour: int, temp: float = 5.0) -> bytes:
    """A synthetic, valid feature message (unit test of pure code)."""
    return encode_feature(
        FeatureMessage(
            station, T0 + hour * HOUR, T0 + (hour + 1) * HOUR, temp, 1.0, 2.0, temp, temp, 1
        )
    )


def rows(messages: object) -> np.ndarray:
    """Stand-in adapter: one row (temperature, hour) per message."""
    assert isinstance(messages, list)
    return np.array(
        [[m.avg_temperature, (m.window_start - T0) / HOUR] for m in messages], dtype=np.float32
    )


def assembler() -> BatchAssembler:
    return BatchAssembler(
        topic="features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=rows,
        clock_ms=lambda: 1_790_000_000_000,  # 2026: the 2013 windows are in the past
    )


def test_a_batch_covers_every_record_it_gathered() -> None:
    asm = assembler()
    records = [MemoryRecord(0, k, b"A", feature("A", k)) for k in range(4)]
    records.insert(2, MemoryRecord(1, 7, b"B", b"not json"))
    counts = asm.ingest(records)
    assert counts.records == 5
    assert counts.forecasts == 2
    assert counts.dead_letters == {"undecodable": 1}
    batch = asm.seal()
    assert batch is not None
    assert batch.positions == {0: 4, 1: 8}
    assert [r.offset for r in batch.requests] == [2, 3]
    assert batch.inputs().shape == (2, LOOKBACK, 2)
    np.testing.assert_array_equal(batch.inputs()[1, :, 1], [1.0, 2.0, 3.0])
    assert batch.counts.records == 5
    (dead,) = batch.dead_letters
    assert dead.value == b"not json"
    assert read_headers(dead.headers)["wx.source.offset"] == "7"
    assert asm.seal() is None


def test_records_below_the_restore_mark_only_rebuild_windows() -> None:
    asm = assembler()
    asm.restore_from(0, 3)
    counts = asm.ingest(
        [MemoryRecord(0, k, b"A", feature("A", k)) for k in range(3)]
        + [MemoryRecord(0, 1, b"A", b"garbage")]  # already dead-lettered before the restart
        + [MemoryRecord(0, 3, b"A", feature("A", 3))]
    )
    assert counts.restored == 4
    assert counts.records == 1
    batch = asm.seal()
    assert batch is not None
    assert batch.dead_letters == ()
    assert batch.positions == {0: 4}
    # The window rebuilt from offsets 0..2 completes with offset 3: one forecast.
    (request,) = batch.requests
    assert request.offset == 3
    assert request.source.first_window_start == T0 + HOUR
    assert batch.counts.restored == 0


def test_duplicates_and_out_of_order_are_counted_not_forecast() -> None:
    asm = assembler()
    counts = asm.ingest(
        [MemoryRecord(0, k, b"A", feature("A", h)) for k, h in enumerate([0, 1, 2, 2, 1, 3])]
    )
    assert counts.duplicates == 2
    assert counts.out_of_order == 0
    assert counts.forecasts == 2
    counts = asm.ingest([MemoryRecord(0, 6, b"A", feature("A", -5))])
    assert counts.out_of_order == 1


def test_dropping_a_partition_forgets_its_stations() -> None:
    asm = assembler()
    asm.ingest([MemoryRecord(2, k, b"A", feature("A", k)) for k in range(2)])
    asm.drop_partitions([2])
    asm.ingest([MemoryRecord(2, 2, b"A", feature("A", 2))])
    batch = asm.seal()
    assert batch is not None
    assert batch.requests == ()


@dataclass(frozen=True)
class Info:
    name: str = "m"
    version: str = "1"
    leads_h: tuple[int, ...] = (1, 2)
    short_term_leads: tuple[int, ...] = (1,)
    long_term_leads: tuple[int, ...] = (1, 2)


def test_a_non_finite_forecast_is_dead_lettered_not_published() -> None:
    asm = assembler()
    asm.ingest([MemoryRecord(0, k, b"A", feature("A", k)) for k in range(5)])
    batch = asm.seal()
    assert batch is not None
    assert len(batch.requests) == 3
    forecasts = np.ones((3, 2, 3), dtype=np.float32)
    forecasts[1, 0, 2] = np.inf
    outgoing, bad = build_outgoing(
        batch,
        forecasts,
        PredictionEncoder(Info()),
        source_topic="features",
        produced_at=datetime.now(UTC),
        error_ts_ms=0,
    )
    assert bad == 1
    assert len(outgoing.predictions) == 2
    for key, value in outgoing.predictions:
        assert key == b"A"
        assert isinstance(decode_prediction(value), PredictionMessage)
    (dead,) = outgoing.dead_letters
    assert dead.reason == NON_FINITE_REASON
    assert dead.value == batch.requests[1].value
    assert batch.counts.forecasts == 2
    assert batch.counts.dead_letters == {NON_FINITE_REASON: 1}


@pytest.mark.parametrize("lookback", [1, 2, 5])
def test_sequence_numbers_increase_by_one_per_sealed_batch(lookback: int) -> None:
    asm = BatchAssembler(topic="t", lookback=lookback, gap_tolerance_h=1, to_rows=rows)
    seqs = []
    for k in range(4):
        asm.ingest([MemoryRecord(0, k, b"A", feature("A", k))])
        batch = asm.seal()
        assert batch is not None
        seqs.append(batch.seq)
    assert seqs == [0, 1, 2, 3]
