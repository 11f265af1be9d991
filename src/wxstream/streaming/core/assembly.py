"""From input records to sealed work batches: decode, window, gather (no Kafka, no Ray).

:class:`BatchAssembler` is the state of the Kafka loop that is not IO: the station
windows of every assigned partition and the batch being gathered. The loop feeds it
records (anything with the :class:`InputRecord` methods, e.g. a confluent-kafka
``Message``) and seals a :class:`WorkBatch` when :func:`~.batching.should_flush` says
so. A sealed batch carries everything its release needs: the forecasts to compute,
the dead letters, and the positions (next offsets) of every record gathered into it.

Records below a partition's *restore mark* only rebuild windows: they were processed
before (a restart, a rebalance, a rewind after an aborted transaction), so they emit
nothing, dead-letter nothing and move no offset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from wxstream.messages import FeatureMessage, InvalidRecord, decode_record
from wxstream.messages.dead_letters import DeadLetter, dead_letter
from wxstream.messages.features import DEFAULT_MAX_AHEAD_H
from wxstream.messages.predictions import ForecastInput
from wxstream.streaming.core.windows import (
    StationWindow,
    WindowEntry,
    WindowOutcome,
    feed,
    stack_windows,
)

logger = logging.getLogger(__name__)

RowsFn = Callable[[Sequence[FeatureMessage]], npt.NDArray[np.float32]]


class InputRecord(Protocol):
    """The parts of a Kafka record the assembler reads (confluent-kafka ``Message``)."""

    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...


@dataclass(frozen=True, slots=True)
class ForecastRequest:
    """One full window waiting for the model, and where it came from."""

    source: ForecastInput
    window: StationWindow
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


@dataclass
class IngestCounts:
    """What records did: per :meth:`BatchAssembler.ingest` call (metrics), per batch
    (:attr:`WorkBatch.counts`), or summed over committed batches (the run's totals)."""

    records: int = 0
    restored: int = 0
    forecasts: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    resets: int = 0
    dead_letters: dict[str, int] = field(default_factory=dict)

    def add(self, other: IngestCounts) -> None:
        """Add ``other``'s counts to these."""
        self.records += other.records
        self.restored += other.restored
        self.forecasts += other.forecasts
        self.duplicates += other.duplicates
        self.out_of_order += other.out_of_order
        self.resets += other.resets
        for reason, n in other.dead_letters.items():
            self.dead_letters[reason] = self.dead_letters.get(reason, 0) + n


@dataclass(frozen=True)
class WorkBatch:
    """A sealed batch: forecasts to compute plus everything its release carries.

    Attributes:
        seq: release order (batches are released strictly by ``seq``).
        requests: full windows, in input order.
        dead_letters: rejected records gathered into this batch, in input order.
        positions: partition -> next offset, covering every record of the batch.
        sealed_at: ``time.monotonic()`` when sealed.
        counts: what the batch's records did (restored records excluded).
    """

    seq: int
    requests: tuple[ForecastRequest, ...]
    dead_letters: tuple[DeadLetter, ...]
    positions: dict[int, int]
    sealed_at: float
    counts: IngestCounts = field(default_factory=IngestCounts)

    def inputs(self) -> npt.NDArray[np.float32]:
        """The ``(B, lookback, F)`` model input of the batch."""
        return stack_windows([r.window for r in self.requests])


class BatchAssembler:
    """Station windows per partition plus the batch being gathered.

    Args:
        topic: the input topic (named in dead-letter headers).
        lookback: rows per model window.
        gap_tolerance_h: longest step that continues a station's window.
        to_rows: the feature adapter's ``to_inputs`` (messages -> ``(N, F)`` rows).
        clock_ms: wall clock in epoch milliseconds (dead-letter timestamps, and the
            bound on how far ahead a window may start).
        max_ahead_h: how far a window may start ahead of its record's timestamp and of
            the wall clock (further: dead-lettered as ``window_in_future``).
        max_jump_h: how far a window may start ahead of its station's newest before a
            second record must confirm it (see :func:`~.windows.update`).
        clock: monotonic seconds (how long records wait; a fake one in tests).
    """

    def __init__(
        self,
        *,
        topic: str,
        lookback: int,
        gap_tolerance_h: float,
        to_rows: RowsFn,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        clock: Callable[[], float] = time.monotonic,
        max_ahead_h: float = DEFAULT_MAX_AHEAD_H,
        max_jump_h: float | None = None,
    ) -> None:
        self.max_ahead_ms = int(max_ahead_h * 3_600_000)
        self.max_jump_h = max_jump_h
        self.topic = topic
        self.lookback = lookback
        self.gap_tolerance_h = gap_tolerance_h
        self._to_rows = to_rows
        self._clock_ms = clock_ms
        self._clock = clock
        self.windows: dict[int, dict[str, StationWindow]] = {}
        self.restore_marks: dict[int, int] = {}
        self._requests: list[ForecastRequest] = []
        self._dead: list[DeadLetter] = []
        self._positions: dict[int, int] = {}
        self._first_at: float | None = None
        self._gathered = IngestCounts()
        self._next_seq = 0

    # -- partitions ------------------------------------------------------------------

    def restore_from(self, partition: int, mark: int) -> None:
        """Records of ``partition`` below offset ``mark`` only rebuild windows."""
        self.restore_marks[partition] = mark

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the windows and restore marks of partitions no longer assigned."""
        for partition in partitions:
            self.windows.pop(partition, None)
            self.restore_marks.pop(partition, None)

    def reset(self) -> None:
        """Forget every window and the batch being gathered (after a rewind)."""
        self.windows.clear()
        self.restore_marks.clear()
        self._requests.clear()
        self._dead.clear()
        self._positions.clear()
        self._first_at = None
        self._gathered = IngestCounts()

    # -- records ---------------------------------------------------------------------

    def ingest(self, records: Sequence[InputRecord]) -> IngestCounts:
        """Decode and window ``records`` (in consumption order); gather their outputs."""
        counts = IngestCounts()
        valid: list[tuple[InputRecord, int, int, bool, bytes | None, FeatureMessage]] = []
        marks, positions = self.restore_marks, self._positions
        now_ms, max_ahead_ms = self._clock_ms(), self.max_ahead_ms
        for record in records:
            partition = record.partition() or 0
            offset = record.offset() or 0
            restoring = offset < marks.get(partition, -1)
            if restoring:
                counts.restored += 1
            else:
                counts.records += 1
                positions[partition] = offset + 1
                if self._first_at is None:
                    self._first_at = self._clock()
            value = record.value()
            decoded = decode_record(
                value, record.key(), record.timestamp()[1], now_ms, max_ahead_ms
            )
            if isinstance(decoded, InvalidRecord):
                if not restoring:
                    self._reject(record, partition, offset, decoded, counts)
                continue
            valid.append((record, partition, offset, restoring, value, decoded))
        if valid:
            self._window(valid, counts)
        # The batch counts what it will commit; restored records commit nothing.
        self._gathered.add(replace(counts, restored=0))
        return counts

    def _window(
        self,
        valid: list[tuple[InputRecord, int, int, bool, bytes | None, FeatureMessage]],
        counts: IngestCounts,
    ) -> None:
        rows = self._to_rows([item[5] for item in valid])
        lookback, tolerance = self.lookback, self.gap_tolerance_h
        windows, requests = self.windows, self._requests
        accepted = WindowOutcome.ACCEPTED
        for (record, partition, offset, restoring, value, msg), row in zip(
            valid, rows, strict=True
        ):
            stations = windows.get(partition)
            if stations is None:
                stations = windows[partition] = {}
            station = msg.station_id
            event = feed(
                stations,
                station,
                WindowEntry(msg.window_start, row),
                lookback,
                tolerance,
                max_jump_h=self.max_jump_h,
            )
            if event.outcome is not accepted:
                if event.outcome is WindowOutcome.JUMPED:
                    if not restoring:
                        jump = f"{event.gap_h:g} h ahead of the station's newest window"
                        invalid = InvalidRecord("window_jump", jump)
                        self._reject(record, partition, offset, invalid, counts)
                    continue
                if not restoring:
                    if event.outcome is WindowOutcome.DUPLICATE:
                        counts.duplicates += 1
                    else:
                        counts.out_of_order += 1
                continue
            if event.reset and not restoring:
                counts.resets += 1
                logger.debug(
                    "station %s: %.1f h gap before %s, window restarted",
                    station,
                    event.gap_h,
                    msg.window_start.isoformat(),
                )
            window = event.window
            if window is None or restoring:
                continue
            counts.forecasts += 1
            requests.append(
                ForecastRequest(
                    ForecastInput(station, msg.window_end, window.first_start, msg.window_start),
                    window,
                    partition,
                    offset,
                    record.timestamp()[1],
                    record.key(),
                    value,
                )
            )

    def _reject(
        self,
        record: InputRecord,
        partition: int,
        offset: int,
        invalid: InvalidRecord,
        counts: IngestCounts,
    ) -> None:
        self._dead.append(
            dead_letter(
                key=record.key(),
                value=record.value(),
                reason=invalid.reason,
                detail=invalid.detail,
                source_topic=self.topic,
                source_partition=partition,
                source_offset=offset,
                error_ts_ms=self._clock_ms(),
            )
        )
        counts.dead_letters[invalid.reason] = counts.dead_letters.get(invalid.reason, 0) + 1

    # -- batches ---------------------------------------------------------------------

    @property
    def pending_forecasts(self) -> int:
        """Full windows gathered and not yet sealed."""
        return len(self._requests)

    @property
    def pending_records(self) -> int:
        """Non-zero while gathered records (forecasts, dead letters, records that only
        filled a window) wait to be sealed."""
        return len(self._positions) + len(self._dead) + len(self._requests)

    @property
    def next_seq(self) -> int:
        """Sequence number the next sealed batch gets."""
        return self._next_seq

    def oldest_age_ms(self, now: float | None = None) -> float:
        """How long the oldest gathered record has waited (0 when nothing waits)."""
        if self._first_at is None:
            return 0.0
        return ((self._clock() if now is None else now) - self._first_at) * 1000.0

    def seal(self) -> WorkBatch | None:
        """The gathered records as a batch (``None`` when nothing was gathered).

        Callers keep a batch within its size by ingesting at most
        ``batch_size - pending_forecasts`` records between seals.
        """
        if not self._positions and not self._dead and not self._requests:
            return None
        batch = WorkBatch(
            self._next_seq,
            tuple(self._requests),
            tuple(self._dead),
            dict(self._positions),
            self._clock(),
            self._gathered,
        )
        self._requests.clear()
        self._dead.clear()
        self._positions.clear()
        self._first_at = None
        self._gathered = IngestCounts()
        self._next_seq += 1
        return batch
