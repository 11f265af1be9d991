"""The Kafka loop of ``wxstream serve`` (:class:`InferenceService`); see
:mod:`wxstream.streaming.service` for the flow and :func:`run_service` for set-up."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from confluent_kafka import Consumer, Message

from wxstream.kafka.clients import kafka_errors
from wxstream.kafka.consumer import consume_records, poll_only, set_paused
from wxstream.messages.predictions import PredictionEncoder
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.settings import ServeSettings
from wxstream.streaming.core.assembly import BatchAssembler, IngestCounts, WorkBatch
from wxstream.streaming.core.batching import ReleaseQueue, complete, merge_positions, should_flush
from wxstream.streaming.core.outgoing import NON_FINITE_REASON, Outgoing, build_outgoing
from wxstream.streaming.delivery_thread import BackgroundDelivery, InlineDelivery, Sender
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.partitions import (
    RestorePolicy,
    RestoreProgress,
    partition_lag,
    restore_span_ms,
)
from wxstream.streaming.ports import Completed, Delivery, Forecaster
from wxstream.streaming.rebalance import DRAIN_TIMEOUT_S, RebalanceHandling

logger = logging.getLogger(__name__)

_LAG_EVERY_S = 1.0


class InferenceService(RebalanceHandling):
    """The Kafka loop around the actors (see the module docstring).

    Args:
        settings: the service settings.
        model: the model's metadata and adapter (the actors hold the network).
        forecaster: the actors (an :class:`ActorPool`).
        consumer: a consumer in ``settings.group_id`` (not yet subscribed).
        delivery: produces released batches and commits offsets.
        metrics: where counts go.
    """

    def __init__(
        self,
        settings: ServeSettings,
        *,
        model: ForecastingModel,
        forecaster: Forecaster,
        consumer: Consumer,
        delivery: Delivery,
        metrics: ServiceMetrics,
    ) -> None:
        self.settings = settings
        self.kafka = settings.kafka
        self.forecaster = forecaster
        self.consumer = consumer
        self.delivery = delivery
        self._background: Sender | None = None
        self.metrics = metrics
        self.encoder = PredictionEncoder(model)
        self.assembler = BatchAssembler(
            topic=settings.kafka.features_topic,
            lookback=model.lookback,
            gap_tolerance_h=settings.gap_tolerance_h,
            to_rows=model.adapter.to_inputs,
            max_ahead_h=settings.max_ahead_h,
            max_jump_h=settings.max_jump_h,
        )
        self.in_flight: dict[int, WorkBatch] = {}
        self.release: ReleaseQueue[tuple[WorkBatch, Outgoing]] = ReleaseQueue()
        self.ready: list[tuple[WorkBatch, Outgoing]] = []
        self.totals = IngestCounts()
        """What committed records did (plus every restored record)."""
        self._input_pending = 0
        self.forecasts_out = 0
        self.batches = 0
        self._idle_since = time.monotonic()
        self._in_group = False  # between an assignment (even empty) and its revocation
        self._paused = False
        self._full_since: float | None = None
        self._lag_at = 0.0
        self._closing = False
        self._retries_seen = 0
        self._failures_seen = 0
        self._delivered_at = time.monotonic()
        self.first_input_at: float | None = None
        """``time.monotonic()`` when the first input record arrived."""
        margin_h = settings.restore_margin_h
        self.restore_policy = RestorePolicy(
            span_ms=None
            if margin_h is None
            else restore_span_ms(model.lookback, settings.gap_tolerance_h, margin_h),
            floor_messages=settings.restore_rewind_messages,
        )
        self.restores = RestoreProgress()

    # -- the loop --------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> str:
        """Consume until stopped, ``max_messages`` inputs, or ``idle_exit_s`` of silence.

        Returns:
            why it stopped: ``stopped``, ``max_messages`` or ``idle``.
        """
        topic = self.kafka.features_topic
        with kafka_errors(self.kafka.bootstrap_servers, f"subscribing to {topic}"):
            self.consumer.subscribe(
                [topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
            )
        reason = "stopped"
        self._background = (
            BackgroundDelivery(
                self.delivery, stall_timeout_s=self.settings.delivery_stall_timeout_s
            )
            if self.delivery.thread_safe
            else InlineDelivery(self.delivery)
        )
        try:
            while True:
                if stop is not None and stop.is_set():
                    break
                if self._quota_reached():
                    reason = "max_messages"
                    break
                if self._idle_for_long():
                    reason = "idle"
                    break
                self.step()
            self.drain(keep_polling=True)
        finally:
            # Closing leaves the group; the revoke it triggers must not drain again.
            self._closing = True
            try:
                self._background.close()
            finally:
                self.consumer.close()
        return reason

    def step(self) -> None:
        """One turn: consume, gather, maybe submit, collect finished batches, deliver.

        With ``max_in_flight_batches`` calls outstanding the loop takes no records;
        after ``pause_after_ms`` of that the assigned partitions are paused but still
        polled: the consumer stays in its group (``max.poll.interval``) however long
        the actors take, and fetches nothing new meanwhile.
        """
        # Finished batches held back by an earlier one count too: memory stays bounded.
        outstanding = len(self.in_flight) + len(self.release.done)
        full = outstanding >= self.settings.max_in_flight_batches
        if full:
            now = time.monotonic()
            if self._full_since is None:
                self._full_since = now
            # A short stall only stops taking records: pausing would throw away
            # librdkafka's pre-fetched records, and a resumed partition fetches again
            # only about a second later. A long one pauses, to keep polling safely.
            overdue = (now - self._full_since) * 1000.0 >= self.settings.pause_after_ms
            if overdue and not self._paused:
                self._pause(True)
            if self._paused:
                # Records fetched before the pause still come back: gather them too.
                records, _ = self._consume(timeout_s=0.0)
                self._gather(records, input_idle=False)
            self._collect(timeout_s=0.05)
            self._deliver_ready()
            self._reap()
            return
        self._full_since = None
        if self._paused:
            self._pause(False)
        records, drained = self._consume()
        self._gather(records, input_idle=drained)
        waiting = self.forecaster.in_flight > 0 and not records
        self._collect(timeout_s=0.005 if waiting else 0.0)
        self._deliver_ready()
        self._reap()
        self._update_lag()

    def drain(self, *, keep_polling: bool = False) -> None:
        """Seal what was gathered, wait for every call in flight, deliver everything.

        With ``keep_polling`` (not inside a rebalance callback) the paused consumer is
        polled while the actors finish, so that it stays in its group; records it
        still returns are left for the next run (nothing past them is committed).
        """
        self._submit(self.assembler.seal())
        if keep_polling and self.forecaster.in_flight and not self._paused:
            self._pause(True)
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while self.forecaster.in_flight and time.monotonic() < deadline:
            self._collect(timeout_s=0.1)
            if keep_polling:
                self._poll_only()
        self._deliver_ready(force=True)
        if self._background is not None:
            self._background.wait_idle(DRAIN_TIMEOUT_S)
        self._reap()
        if self.forecaster.in_flight:
            # Not committed: the next run forecasts these records again.
            logger.warning(
                "%d batches still in flight after %.0f s; leaving them uncommitted",
                self.forecaster.in_flight,
                DRAIN_TIMEOUT_S,
            )

    def _input_taken(self) -> int:
        """Input records committed plus those read and not yet committed."""
        return self.totals.records + self._input_pending

    def _quota_reached(self) -> bool:
        limit = self.settings.max_messages
        return limit is not None and self._input_taken() >= limit

    def _idle_for_long(self) -> bool:
        limit = self.settings.idle_exit_s
        if limit is None or self.forecaster.in_flight or self.ready:
            return False
        if self._background is not None and not self._background.idle:
            return False
        # Waiting to join the group (a dead member's session still running) is not idle.
        if not self._in_group:
            return False
        return time.monotonic() - self._idle_since >= limit

    def _poll_only(self) -> None:
        poll_only(self.consumer, self.settings.batch_size, self.kafka.bootstrap_servers)

    def _pause(self, paused: bool) -> None:
        set_paused(self.consumer, paused, self.kafka.bootstrap_servers)
        self._paused = paused

    def _consume(self, timeout_s: float | None = None) -> tuple[list[Message], bool]:
        """Up to ``batch_size`` records, and whether the input ran dry (fewer came back
        than were asked for: waiting for a fuller batch would only add latency)."""
        wanted = self.settings.batch_size
        if self.settings.max_messages is not None:
            wanted = min(wanted, self.settings.max_messages - self._input_taken())
        timeout = self.settings.poll_timeout_s if timeout_s is None else timeout_s
        if self.forecaster.in_flight:
            timeout = 0.0
        elif self.assembler.pending_records:
            left_ms = self.settings.max_wait_ms - self.assembler.oldest_age_ms()
            timeout = min(timeout, max(0.0, left_ms / 1000.0))
        records, returned = consume_records(
            self.consumer, wanted, timeout, self.kafka.bootstrap_servers
        )
        if self.restores.pending:
            self.restores.seen(records)
        if records:
            self._idle_since = time.monotonic()
            if self.first_input_at is None:
                self.first_input_at = self._idle_since
        return records, returned < wanted

    def _gather(self, records: Sequence[Message], *, input_idle: bool) -> None:
        settings = self.settings
        assembler = self.assembler
        start = 0
        while True:
            room = settings.batch_size - assembler.pending_forecasts
            chunk = records[start : start + room]
            start += len(chunk)
            if chunk:
                self._count(assembler.ingest(chunk))
            if should_flush(
                assembler.pending_forecasts,
                assembler.pending_records,
                assembler.oldest_age_ms(),
                batch_size=settings.batch_size,
                max_wait_ms=settings.max_wait_ms,
                input_idle=input_idle and start >= len(records),
            ):
                self._submit(assembler.seal())
            if start >= len(records):
                return

    def _count(self, counts: IngestCounts) -> None:
        self.totals.restored += counts.restored
        self._input_pending += counts.records
        self.metrics.record_ingest(counts)

    # -- batches ---------------------------------------------------------------------

    def _submit(self, batch: WorkBatch | None) -> None:
        if batch is None:
            return
        self.batches += 1
        if not batch.requests:
            self._completed(batch, np.empty((0, self.encoder.horizon, 3), np.float32))
            return
        self.metrics.batch_size.observe(len(batch.requests))
        self.in_flight[batch.seq] = batch
        self.forecaster.submit(batch.seq, batch.inputs())
        self.metrics.in_flight_batches.set(self.forecaster.in_flight)

    def _collect(self, timeout_s: float) -> None:
        done: list[Completed] = self.forecaster.poll(timeout_s)
        for item in done:
            batch = self.in_flight.pop(item.batch_id, None)
            if batch is None:
                continue  # from before a rewind: no longer wanted
            self.metrics.inference_latency.observe(item.latency_s)
            self._completed(batch, item.forecasts)
        forecaster, metrics = self.forecaster, self.metrics
        metrics.in_flight_batches.set(forecaster.in_flight)
        if forecaster.retries > self._retries_seen:
            metrics.actor_retries.inc(forecaster.retries - self._retries_seen)
            self._retries_seen = forecaster.retries
        if forecaster.actor_failures > self._failures_seen:
            metrics.actor_restarts.inc(forecaster.actor_failures - self._failures_seen)
            self._failures_seen = forecaster.actor_failures

    def _completed(self, batch: WorkBatch, forecasts: np.ndarray) -> None:
        outgoing, non_finite = build_outgoing(
            batch,
            forecasts,
            self.encoder,
            source_topic=self.kafka.features_topic,
            produced_at=datetime.now(UTC),
            error_ts_ms=int(time.time() * 1000),
        )
        if non_finite:
            self.metrics.dead_lettered.labels(reason=NON_FINITE_REASON).inc(non_finite)
        self.release, released = complete(self.release, batch.seq, (batch, outgoing))
        self.ready.extend(released)

    def _deliver_ready(self, *, force: bool = False) -> None:
        """Deliver the released batches once the previous delivery is done, at most
        every ``commit_interval_ms`` (each delivery is a transaction, or a flush and a
        synchronous commit); at once when ``force``d or when many batches wait."""
        if not self.ready:
            return
        if self._background is None:
            raise RuntimeError("deliveries start with run()")
        now = time.monotonic()
        # Group commit: while a delivery runs, finished batches gather for the next
        # one, so a busy broker gets fewer, larger transactions and an idle one sees
        # each batch at once; the interval only caps the transaction rate.
        due = (
            self._background.idle
            and (now - self._delivered_at) * 1000.0 >= self.settings.commit_interval_ms
        )
        if not (force or due or len(self.ready) >= self.settings.max_in_flight_batches * 4):
            return
        self._delivered_at = now
        ready, self.ready = self.ready, []
        positions = merge_positions(batch.positions for batch, _ in ready)
        counts = IngestCounts()
        for batch, _ in ready:
            counts.add(batch.counts)
        # Taken here, on the consumer's thread (see Delivery.deliver).
        metadata = self.consumer.consumer_group_metadata() if positions else None
        self._background.submit([out for _, out in ready], positions, metadata, counts)

    def _reap(self) -> None:
        """Count committed deliveries; rewind after a failed one."""
        background = self._background
        if background is None:
            return
        # The delivery watchdog: a job stuck in librdkafka ends the service here.
        background.check_stalled()
        observe = self.metrics.end_to_end_latency.observe
        for report in background.reports():
            now_ms = report.committed_at_s * 1000.0
            for ts in report.timestamps_ms:
                observe(max(0.0, (now_ms - ts) / 1000.0))
            self.forecasts_out += report.forecasts
            self.metrics.forecasts_out.inc(report.forecasts)
            committed: IngestCounts = report.tag
            self.totals.add(committed)
            self._input_pending -= committed.records
        if background.failed:
            background.wait_idle(DRAIN_TIMEOUT_S)
            self.metrics.transactions_aborted.inc()
            self.rewind()
            background.clear_failure()

    def _update_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < _LAG_EVERY_S:
            return
        self._lag_at = now
        gauge = self.metrics.consumer_lag
        for partition, lag in partition_lag(self.consumer).items():
            gauge.labels(partition=str(partition)).set(lag)
