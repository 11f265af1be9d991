"""From input records to sealed work batches: decode, window, gather (no Kafka, no Ray).

:class:`BatchAssembler` is the state of the Kafka loop that is not IO: the station
windows of every assigned partition and the batch being gathered. The loop feeds it
records (anything with the :class:`InputRecord` methods, e.g. a confluent-kafka
``Message``) and seals a :class:`WorkBatch` when :func:`~.batching.should_flush` says
so. A sealed batch carries everything its release needs: the forecasts to compute,
the dead letters, and the positions (next offsets) of every record gathered into it.

Every decoded message passes the quality stage
(:class:`~wxstream.anomalies.stage.QualityStage`) before its window: its findings are
encoded for ``weather-anomalies`` and travel in the batch (the same transaction as the
forecasts), and its policy may keep a flagged hour out of the window or replace its
values.

Records below a partition's *restore mark* only rebuild windows (and the quality
stage's state): they were processed before (a restart, a rebalance, a rewind after an
aborted transaction), so they emit nothing, dead-letter nothing and move no offset.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from wxstream.anomalies.stage import QualityStage, Screened
from wxstream.features.gaps import fill_window_gaps
from wxstream.messages import FeatureMessage, InvalidRecord, decode_record
from wxstream.messages.anomalies import AnomalySource, anomaly_key, encode_anomaly
from wxstream.messages.dead_letters import DeadLetter, dead_letter
from wxstream.messages.features import DEFAULT_MAX_AHEAD_H
from wxstream.messages.predictions import ForecastInput, finite_rows
from wxstream.streaming.core.counts import IngestCounts
from wxstream.streaming.core.live_pairs import Observed
from wxstream.streaming.core.windows import (
    StationWindow,
    WindowEntry,
    WindowEvent,
    WindowOutcome,
    feed,
)
from wxstream.streaming.core.work_batch import ForecastRequest, WorkBatch

logger = logging.getLogger(__name__)

RowsFn = Callable[[Sequence[FeatureMessage]], npt.NDArray[np.float32]]


class InputRecord(Protocol):
    """The parts of a Kafka record the assembler reads (confluent-kafka ``Message``)."""

    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def timestamp(self) -> tuple[int, int]: ...


class PartitionFollower(Protocol):
    """State kept per partition beside the windows, restored, dropped and reset with
    them (the online interval calibration)."""

    def restored(self, partition: int, mark: int) -> None: ...
    def dropped(self, partitions: Iterable[int]) -> None: ...
    def reset(self) -> None: ...


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
        quality: the quality stage in front of the windows (``None``: off).
        observe: gather every decoded record's observation into its batch (the online
            interval calibration learns from them).
        optional_columns: the input columns read from optional message fields: their
            missing hours are filled within each window as training fills them
            (:func:`~wxstream.features.gaps.fill_window_gaps`); a full window with no
            value at all of one of them is not forecast (counted as ``missing_inputs``).
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
        quality: QualityStage | None = None,
        observe: bool = False,
        optional_columns: Sequence[int] = (),
    ) -> None:
        self.optional_columns = tuple(optional_columns)
        self.observe = observe
        self.followers: list[PartitionFollower] = []
        """Told when a partition is restored or dropped and on a reset."""
        self._observed: list[Observed] = []
        self.quality = QualityStage(None) if quality is None else quality
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
        self._anomalies: list[tuple[bytes, bytes]] = []
        self._positions: dict[int, int] = {}
        self._first_at: float | None = None
        self._gathered = IngestCounts()
        self._next_seq = 0

    # -- partitions ------------------------------------------------------------------

    def restore_from(self, partition: int, mark: int) -> None:
        """Records of ``partition`` below offset ``mark`` only rebuild windows."""
        self.restore_marks[partition] = mark
        for follower in self.followers:
            follower.restored(partition, mark)

    def drop_partitions(self, partitions: Iterable[int]) -> None:
        """Forget the windows, restore marks and station checks of partitions no longer
        assigned."""
        partitions = list(partitions)
        for follower in self.followers:
            follower.dropped(partitions)
        for partition in partitions:
            stations = self.windows.pop(partition, None)
            if stations:
                self.quality.forget(stations)
            self.restore_marks.pop(partition, None)

    def reset(self) -> None:
        """Forget every window and the batch being gathered (after a rewind)."""
        for follower in self.followers:
            follower.reset()
        self.windows.clear()
        self.restore_marks.clear()
        self.quality.reset()
        self._requests.clear()
        self._dead.clear()
        self._anomalies.clear()
        self._observed.clear()
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
            if self.observe and not restoring:
                self._observed.append(
                    Observed(
                        partition,
                        offset,
                        decoded.station_id,
                        decoded.window_end,
                        float(decoded.avg_temperature),
                    )
                )
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
        screening = self.quality.enabled
        for (record, partition, offset, restoring, value, decoded), decoded_row in zip(
            valid, rows, strict=True
        ):
            entry: tuple[FeatureMessage, npt.NDArray[np.float32]] | None = (decoded, decoded_row)
            if screening:
                entry = self._screen(decoded, decoded_row, partition, offset, restoring, counts)
            if entry is not None:
                self._feed(record, partition, offset, restoring, value, *entry, counts)

    def _screen(  # noqa: PLR0917 - one record's place and content
        self,
        msg: FeatureMessage,
        row: npt.NDArray[np.float32],
        partition: int,
        offset: int,
        restoring: bool,
        counts: IngestCounts,
    ) -> tuple[FeatureMessage, npt.NDArray[np.float32]] | None:
        """The quality stage's verdict on one message: what its window gets, if anything."""
        screened = self.quality.screen(msg)
        if screened.anomalies and not restoring:
            self._report(screened, partition, offset, counts)
        kept = screened.message
        if kept is None:
            counts.qc_skipped += 0 if restoring else 1
            return None
        if kept is not msg:
            counts.qc_imputed += 0 if restoring else 1
            return kept, self._to_rows([kept])[0]
        return msg, row

    def _feed(  # noqa: PLR0917 - one record's place and content
        self,
        record: InputRecord,
        partition: int,
        offset: int,
        restoring: bool,
        value: bytes | None,
        msg: FeatureMessage,
        row: npt.NDArray[np.float32],
        counts: IngestCounts,
    ) -> None:
        """Put one message into its station's window; a full window becomes a request."""
        stations = self.windows.get(partition)
        if stations is None:
            stations = self.windows[partition] = {}
        station = msg.station_id
        event = feed(
            stations,
            station,
            WindowEntry(msg.window_start, row),
            self.lookback,
            self.gap_tolerance_h,
            max_jump_h=self.max_jump_h,
        )
        if event.outcome is not WindowOutcome.ACCEPTED:
            if not restoring:
                self._not_accepted(event, record, partition, offset, counts)
            return
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
            return
        columns = self.optional_columns
        if columns and not fill_window_gaps(window.rows[None], columns)[1][0]:
            counts.missing_inputs += 1  # an optional input without any value to fill from
            return
        counts.forecasts += 1
        flagged = self.quality.enabled and self.quality.window_flagged(
            station, window.first_start, msg.window_start
        )
        self._requests.append(
            ForecastRequest(
                ForecastInput(
                    station, msg.window_end, window.first_start, msg.window_start, flagged
                ),
                window,
                partition,
                offset,
                record.timestamp()[1],
                record.key(),
                value,
            )
        )

    def _not_accepted(
        self,
        event: WindowEvent,
        record: InputRecord,
        partition: int,
        offset: int,
        counts: IngestCounts,
    ) -> None:
        """Count (or dead-letter) a record its station's window did not accept."""
        if event.outcome is WindowOutcome.JUMPED:
            jump = f"{event.gap_h:g} h ahead of the station's newest window"
            self._reject(record, partition, offset, InvalidRecord("window_jump", jump), counts)
        elif event.outcome is WindowOutcome.DUPLICATE:
            counts.duplicates += 1
        else:
            counts.out_of_order += 1

    def _report(
        self, screened: Screened, partition: int, offset: int, counts: IngestCounts
    ) -> None:
        """Encode the findings of one record for ``weather-anomalies``."""
        source = AnomalySource(self.topic, partition, offset)
        detected_at = datetime.fromtimestamp(self._clock_ms() / 1000, UTC)
        found = counts.anomalies
        for anomaly, observed in zip(screened.anomalies, screened.values, strict=True):
            value = encode_anomaly(anomaly, value=observed, source=source, detected_at=detected_at)
            self._anomalies.append((anomaly_key(anomaly), value))
            kind = (anomaly.check, anomaly.severity)
            found[kind] = found.get(kind, 0) + 1

    def remember_forecasts(
        self, batch: WorkBatch, forecasts: npt.NDArray[np.float32], lead_index: int
    ) -> None:
        """Give the quality stage each window's forecast for the next hour (``lead_index``:
        the position of the 1 h lead), to score that hour's observation on arrival, and
        the whole forecast from that lead on where the forecast flat line wants it."""
        quality = self.quality
        remember = quality.remember_forecast
        whole = quality.wants_run_forecasts
        finite: list[bool] = finite_rows(forecasts).tolist()
        next_hour = forecasts[:, lead_index, :].tolist()
        for request, quantiles, ok, (p10, p50, p90) in zip(
            batch.requests, forecasts, finite, next_hour, strict=True
        ):
            if not ok:
                continue
            source = request.source
            remember(source.station_id, source.issued_at, p10, p50, p90)
            if whole:
                # A view of the batch output, not a copy (kept only at a run's start).
                quality.remember_run_forecast(
                    source.station_id, source.last_window_start, quantiles[lead_index:]
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
            return None  # restored records gather no observation either
        batch = WorkBatch(
            self._next_seq,
            tuple(self._requests),
            tuple(self._dead),
            dict(self._positions),
            self._clock(),
            self._gathered,
            tuple(self._anomalies),
            tuple(self._observed),
            self.optional_columns,
        )
        self._requests.clear()
        self._dead.clear()
        self._anomalies.clear()
        self._observed.clear()
        self._positions.clear()
        self._first_at = None
        self._gathered = IngestCounts()
        self._next_seq += 1
        return batch
