"""The Kafka loop of ``wxstream serve`` (:class:`InferenceService`); see
:mod:`wxstream.streaming.service` for the flow and :func:`run_service` for set-up.

The loop only moves data; its decisions are the rule objects of
:mod:`wxstream.streaming.core` (back-pressure, group commit, stopping, restoring) and
its IO goes through the ports (:class:`~.ports.RecordSource`, :class:`~.ports.Forecaster`,
:class:`~.ports.Delivery`), so that :mod:`wxstream.streaming.testing` can drive it in
memory with a fake clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from wxstream.anomalies.stage import QualityStage
from wxstream.settings import ServeSettings
from wxstream.streaming.core.assembly import BatchAssembler, InputRecord
from wxstream.streaming.core.backpressure import BackPressure
from wxstream.streaming.core.batching import ReleaseQueue, complete, merge_positions, should_flush
from wxstream.streaming.core.commit import CommitRule
from wxstream.streaming.core.counts import IngestCounts
from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.core.restore import RestorePolicy
from wxstream.streaming.core.stopping import StopRule
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.core.work_batch import WorkBatch
from wxstream.streaming.delivery_thread import DeliveryReport, Sender, sender_for
from wxstream.streaming.finisher import BatchFinisher
from wxstream.streaming.live_skill import ServiceSkill
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.ports import Completed, Delivery, Forecaster, RecordSource, ServedModel
from wxstream.streaming.rebalance import Rebalance
from wxstream.streaming.served_intervals import IntervalHistory
from wxstream.streaming.version_swap import VersionSwapper

logger = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 120.0
Finished = tuple[WorkBatch, np.ndarray, np.ndarray | None]
_LAG_EVERY_S = 1.0


class InferenceService:
    """The Kafka loop around the actors (see the module docstring).

    Args:
        settings: the service settings.
        model: the model's metadata and adapter (the actors hold the network).
        forecaster: the actors (an :class:`ActorPool`).
        delivery: produces released batches (and commits offsets, in a transaction).
        metrics: where counts go.
        source: where records come from (a
            :class:`~wxstream.streaming.record_source.KafkaRecordSource`).
        clock: monotonic seconds of every rule (a fake one in tests).
        quality: the quality stage in front of the windows (``None``: off).
        champion_version: the champion's registry version id (``None``: the model's).
        challenger: a second version served beside the champion (the forecaster then
            returns both versions' forecasts; see :mod:`~.core.versions`).
        skill: the live skill (``None``: off): pairs released batches' forecasts with
            observations, rebuilt after dropped work (:mod:`~.live_skill`).
        swaps: follows alias moves and swaps versions between transactions
            (:mod:`~.version_swap`; ``None``: the versions of the start serve throughout).
        interval_history: where the online interval calibration rebuilds from.
    """

    def __init__(
        self,
        settings: ServeSettings,
        *,
        model: ServedModel,
        forecaster: Forecaster,
        delivery: Delivery,
        metrics: ServiceMetrics,
        source: RecordSource,
        clock: Callable[[], float] = time.monotonic,
        quality: QualityStage | None = None,
        champion_version: str | None = None,
        challenger: ServedVersion | None = None,
        skill: ServiceSkill | None = None,
        swaps: VersionSwapper | None = None,
        interval_history: IntervalHistory | None = None,
    ) -> None:
        self.settings = settings
        self._skill: ServiceSkill | None = None
        self.swaps = swaps
        self.forecaster = forecaster
        self.source = source
        self.delivery = delivery
        self.metrics = metrics
        self.clock = clock
        self.assembler = BatchAssembler(
            topic=settings.kafka.features_topic,
            lookback=model.lookback,
            gap_tolerance_h=settings.gap_tolerance_h,
            to_rows=model.adapter.to_inputs,
            max_ahead_h=settings.max_ahead_h,
            max_jump_h=settings.max_jump_h,
            clock=clock,
            quality=quality,
            # a FeatureAdapter names them; a stand-in adapter reads no optional field
            optional_columns=getattr(model.adapter, "optional_input_columns", ()),
        )
        self.finisher = BatchFinisher(
            settings,
            model,
            self.assembler,
            champion_version=champion_version,
            challenger=challenger,
            interval_history=interval_history,
        )
        self.skill = skill
        self.pressure = BackPressure(settings.max_in_flight_batches, settings.pause_after_ms)
        self.commits = CommitRule(
            settings.commit_interval_ms, settings.max_in_flight_batches * 4, clock()
        )
        self.stopping = StopRule(settings.max_messages, settings.idle_exit_s)
        self.rebalance = Rebalance(
            source,
            self.assembler,
            RestorePolicy.for_model(
                model.lookback,
                settings.gap_tolerance_h,
                settings.restore_margin_h,
                settings.restore_rewind_messages,
            ),
            clock,
            drain=self.drain,
            settle=self._settle_lost,
            discard=self._discard,
        )
        self.sealed: deque[WorkBatch] = deque()
        """Sealed batches waiting for a free slot (``max_in_flight_batches``)."""
        self.in_flight: dict[int, WorkBatch] = {}
        self.release: ReleaseQueue[Finished] = ReleaseQueue()
        self.ready: list[tuple[WorkBatch, Outgoing]] = []
        self.totals = IngestCounts()
        """What committed records did (plus every restored record)."""
        self._input_pending = 0
        self.forecasts_out = 0
        self.shadow_forecasts_out = 0
        self.batches = 0
        self._record_at = clock()
        self._lag_at = 0.0
        self.sender: Sender | None = None
        self.first_input_at: float | None = None
        """Clock seconds when the first input record arrived."""

    # -- the loop --------------------------------------------------------------------

    @property
    def skill(self) -> ServiceSkill | None:
        """The live skill (``None``: off)."""
        return self._skill

    @skill.setter
    def skill(self, skill: ServiceSkill | None) -> None:
        self._skill = skill
        if skill is not None:  # its join needs the batches' observations
            self.assembler.observe = True

    def run(self, stop: threading.Event | None = None) -> str:
        """Consume until stopped, ``max_messages`` inputs, or ``idle_exit_s`` of silence.

        Returns:
            why it stopped: ``stopped``, ``max_messages`` or ``idle``.
        """
        self.open()
        reason = "stopped"
        try:
            while stop is None or not stop.is_set():
                why = self._stop_reason()
                if why is not None:
                    reason = why
                    break
                self.step()
            self.drain(keep_polling=True)
        finally:
            self.close()
        return reason

    def open(self) -> None:
        """Subscribe and start the delivery sender (:meth:`run` does this)."""
        rebalance = self.rebalance
        self.source.subscribe(self._on_assign, rebalance.on_revoke, rebalance.on_lost)
        self.sender = sender_for(self.delivery, self.settings.delivery_stall_timeout_s, self.clock)

    def close(self) -> None:
        """Stop the sender and leave the group (:meth:`run` does this)."""
        # Closing leaves the group; the revoke it triggers must not drain again.
        self.rebalance.closing = True
        try:
            if self.sender is not None:
                self.sender.close()
        finally:
            self.source.close()

    def step(self) -> None:
        """One turn: consume, gather, maybe submit, collect finished batches, deliver.

        :class:`~.core.backpressure.BackPressure` decides whether records are taken
        and when the partitions pause: paused partitions are still polled, and the
        records they fetched before the pause are gathered too.
        """
        source = self.source
        pressure = self.pressure.update(self._outstanding(), self.clock(), paused=source.paused)
        if pressure.paused != source.paused:
            source.set_paused(pressure.paused)
        if pressure.take:
            records, drained = self._consume()
            self._gather(records, input_idle=drained)
            waiting = self.forecaster.in_flight > 0 and not records
            self._collect(timeout_s=0.005 if waiting else 0.0)
        else:
            if source.paused:
                records, _ = self._consume(timeout_s=0.0)
                self._gather(records, input_idle=False)
            self._collect(timeout_s=0.05)
        self._deliver_ready()
        self._reap()
        if pressure.take:
            self._update_lag()
        if self.swaps is not None:
            self.swaps.step(self)

    def drain(self, *, keep_polling: bool = False) -> None:
        """Seal what was gathered, wait for every call in flight, deliver everything.

        With ``keep_polling`` (not inside a rebalance callback) the paused source is
        polled while the actors finish, so that it stays in its group; records it
        still returns are left for the next run (nothing past them is committed).
        """
        self._submit(self.assembler.seal())
        if keep_polling and self._forecasting() and not self.source.paused:
            self.source.set_paused(True)
        deadline = self.clock() + DRAIN_TIMEOUT_S
        while self._forecasting() and self.clock() < deadline:
            self._collect(timeout_s=0.1)
            if keep_polling:
                self.source.poll_only(self.settings.batch_size)
        self._deliver_ready(force=True)
        if self.sender is not None:
            self.sender.wait_idle(DRAIN_TIMEOUT_S)
        self._reap()
        if self._forecasting():
            # Not committed: the next run forecasts these records again.
            logger.warning(
                "%d batches still in flight after %.0f s; leaving them uncommitted",
                self.forecaster.in_flight + len(self.sealed),
                DRAIN_TIMEOUT_S,
            )

    def _forecasting(self) -> bool:
        return bool(self.forecaster.in_flight or self.sealed)

    def _outstanding(self) -> int:
        # Finished batches held back by an earlier one count too: memory stays bounded.
        return len(self.in_flight) + len(self.release.done) + len(self.sealed)

    def _input_taken(self) -> int:
        """Input records committed plus those read and not yet committed."""
        return self.totals.records + self._input_pending

    def _stop_reason(self) -> str | None:
        sender = self.sender
        busy = bool(self._forecasting() or self.ready or (sender is not None and not sender.idle))
        return self.stopping.reason(
            taken=self._input_taken(),
            now_s=self.clock(),
            idle_since=max(self._record_at, self.rebalance.joined_at),
            in_group=self.rebalance.in_group,
            busy=busy,
        )

    def _consume(self, timeout_s: float | None = None) -> tuple[Sequence[InputRecord], bool]:
        """Up to ``batch_size`` records, and whether the input ran dry (fewer came back
        than were asked for: waiting for a fuller batch would only add latency)."""
        wanted = self.stopping.wanted(self.settings.batch_size, self._input_taken())
        if wanted <= 0:
            return [], True
        timeout = self.settings.poll_timeout_s if timeout_s is None else timeout_s
        if self.forecaster.in_flight:
            timeout = 0.0
        elif self.assembler.pending_records:
            left_ms = self.settings.max_wait_ms - self.assembler.oldest_age_ms()
            timeout = min(timeout, max(0.0, left_ms / 1000.0))
        records, drained = self.source.consume(wanted, timeout)
        restores = self.rebalance.restores
        if restores.pending:
            restores.seen(records)
        if records:
            self._record_at = self.clock()
            if self.first_input_at is None:
                self.first_input_at = self._record_at
        return records, drained

    def _gather(self, records: Sequence[InputRecord], *, input_idle: bool) -> None:
        settings = self.settings
        assembler = self.assembler
        start = 0
        while True:
            room = settings.batch_size - assembler.pending_forecasts
            chunk = records[start : start + room]
            start += len(chunk)
            if chunk:
                counts = assembler.ingest(chunk)
                self.totals.restored += counts.restored
                self._input_pending += counts.records
                self.metrics.record_restored(counts.restored)
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

    # -- batches ---------------------------------------------------------------------

    def _submit(self, batch: WorkBatch | None) -> None:
        """Queue a sealed batch; it goes to the forecaster once a slot is free."""
        if batch is None:
            return
        self.batches += 1
        if not batch.requests:
            self._completed(batch, np.empty((0, self.finisher.horizon, 3), np.float32))
            return
        self.metrics.batch_size.observe(len(batch.requests))
        self.sealed.append(batch)
        self._submit_sealed()

    def _submit_sealed(self) -> None:
        """Submit waiting batches while fewer than ``max_in_flight_batches`` are out."""
        while self.sealed and self.pressure.has_room(len(self.in_flight) + len(self.release.done)):
            batch = self.sealed.popleft()
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
            self._completed(batch, item.forecasts, item.challenger)
        forecaster = self.forecaster
        self.metrics.record_actors(
            forecaster.in_flight, forecaster.retries, forecaster.actor_failures
        )
        self._submit_sealed()

    def _completed(
        self, batch: WorkBatch, forecasts: np.ndarray, challenger: np.ndarray | None = None
    ) -> None:
        self.release, released = complete(self.release, batch.seq, (batch, forecasts, challenger))
        # Finished in release order: the online calibration learns in the input's order.
        finished = [(b, self.finisher.finish(b, f, c)) for b, f, c in released]
        if self.skill is not None and finished:
            finished = self.skill.attach(finished)
        self.ready.extend(finished)

    def _deliver_ready(self, *, force: bool = False) -> None:
        """Deliver the released batches when :class:`~.core.commit.CommitRule` says so."""
        if not self.ready:
            return
        sender = self.sender
        if sender is None:
            raise RuntimeError("deliveries start with run()")
        now = self.clock()
        if not self.commits.due(
            now, waiting=len(self.ready), previous_done=sender.idle, force=force
        ):
            return
        self.commits.left(now)
        ready, self.ready = self.ready, []
        positions = merge_positions(batch.positions for batch, _ in ready)
        counts = IngestCounts()
        for batch, _ in ready:
            counts.add(batch.counts)
        # Taken here, on the consumer's thread (see Delivery.deliver).
        metadata = (
            self.source.group_metadata() if positions and self.delivery.commits_offsets else None
        )
        sender.submit([out for _, out in ready], positions, metadata, counts)

    def _reap(self) -> None:
        """Count committed deliveries; rewind after a failed one."""
        sender = self.sender
        if sender is None:
            return
        # The delivery watchdog: a job stuck in librdkafka ends the service here.
        sender.check_stalled()
        self._committed(sender.reports())
        if sender.failed:
            sender.wait_idle(DRAIN_TIMEOUT_S)
            # Deliveries that finished before the failed one are done: commit and
            # count them before rewinding to the committed offsets.
            self._committed(sender.reports())
            self.metrics.transactions_aborted.inc()
            self.rebalance.rewind()
            sender.clear_failure()

    def _committed(self, reports: list[DeliveryReport]) -> None:
        """Commit (where the delivery does not) and count delivered jobs."""
        observe = self.metrics.end_to_end_latency.observe
        for report in reports:
            committed_at_s = report.committed_at_s
            if not self.delivery.commits_offsets and report.positions:
                # On the consumer's thread: the consumer stays single-threaded.
                self.source.commit(report.positions)
                committed_at_s = time.time()
            now_ms = committed_at_s * 1000.0
            for ts in report.timestamps_ms:
                observe(max(0.0, (now_ms - ts) / 1000.0))
            self.forecasts_out += report.forecasts
            self.metrics.forecasts_out.inc(report.forecasts)
            if report.shadow_forecasts:
                self.shadow_forecasts_out += report.shadow_forecasts
                self.metrics.shadow_forecasts_out.inc(report.shadow_forecasts)
            counts: IngestCounts = report.tag
            self.totals.add(counts)
            self._input_pending -= counts.records
            self.metrics.record_committed(counts)

    def _update_lag(self) -> None:
        now = self.clock()
        if now - self._lag_at < _LAG_EVERY_S:
            return
        self._lag_at = now
        gauge = self.metrics.consumer_lag
        for partition, lag in self.source.lag().items():
            gauge.labels(partition=str(partition)).set(lag)

    # -- the group (see Rebalance) -------------------------------------------------

    def _on_assign(self, partitions: Sequence[int]) -> None:
        if self.skill is not None:
            self.skill.forget()  # other stations now: rebuilt from the topics
        self.rebalance.on_assign(partitions)

    def _discard(self) -> None:
        """Drop every call in flight, every undelivered batch and every window."""
        if self.skill is not None:
            self.skill.forget()
        self.forecaster.cancel_all()
        self.sealed.clear()
        self.in_flight.clear()
        self.ready.clear()
        self._input_pending = 0
        self.assembler.reset()
        self.release = ReleaseQueue(next_seq=self.assembler.next_seq)

    def _settle_lost(self) -> None:
        """Wait for running deliveries after a loss: a transaction's commit counts; an
        at-least-once delivery's offsets can no longer be committed (they repeat)."""
        sender = self.sender
        if sender is None:
            return
        sender.wait_idle(DRAIN_TIMEOUT_S)
        reports = sender.reports()
        if self.delivery.commits_offsets:
            self._committed(reports)
        elif reports:
            logger.warning("%d deliveries left uncommitted; they repeat", len(reports))
