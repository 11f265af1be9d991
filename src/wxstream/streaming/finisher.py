"""What happens to a batch once its forecasts are back: the quality stage gets the
forecasts it scores later observations against, and the batch becomes what goes to
Kafka (:func:`~.core.outgoing.build_outgoing`: forecasts routed by version, shadow
forecasts, dead letters, findings).

Kept out of the loop so that the loop only moves data: this holds the encoder (one per
served version), the router between them and, with online interval calibration, the
:class:`~.served_intervals.ServedIntervals` that recalibrates each forecast's interval
(batches are finished in release order, the order the calibration learns in).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import numpy as np

from wxstream.messages.predictions import PredictionEncoder
from wxstream.settings import ServeSettings
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.outgoing import Outgoing, build_outgoing
from wxstream.streaming.core.versions import ServedVersion, VersionRouter
from wxstream.streaming.core.work_batch import WorkBatch
from wxstream.streaming.ports import ServedModel
from wxstream.streaming.served_intervals import IntervalHistory, ServedIntervals

logger = logging.getLogger(__name__)


class BatchFinisher:
    """Turns finished batches into :class:`Outgoing` records.

    Args:
        settings: the service settings (input topic; the experiment and its fraction).
        model: the champion's metadata and adapter.
        assembler: whose quality stage gets the forecasts back.
        champion_version: the champion's registry version id (``None``: the model's).
        challenger: a second version served beside the champion.
        interval_history: where the online interval calibration reads a restored
            partition's history; with ``settings.online_calibration`` it recalibrates
            every forecast's interval (not while a challenger is served: the two
            versions' intervals would teach one calibrator).
        intervals: the calibration of the finisher this one replaces (a live swap of
            the served version: the learnt scales carry over, and go on adapting).
    """

    def __init__(
        self,
        settings: ServeSettings,
        model: ServedModel,
        assembler: BatchAssembler,
        *,
        champion_version: str | None = None,
        challenger: ServedVersion | None = None,
        interval_history: IntervalHistory | None = None,
        intervals: ServedIntervals | None = None,
    ) -> None:
        self.settings = settings
        self.assembler = assembler
        self.encoder = PredictionEncoder(model, version=champion_version)
        self.router: VersionRouter | None = None
        if challenger is not None:
            self.router = VersionRouter(
                ServedVersion(model, self.encoder.model_version),
                challenger,
                experiment=settings.experiment or model.name,
                challenger_fraction=settings.challenger_fraction,
                shadow=settings.shadow,
            )
        leads = tuple(model.leads_h)
        self.intervals = intervals
        if intervals is None and settings.online_calibration and interval_history is not None:
            self.intervals = ServedIntervals(
                leads, (self.encoder.model_name, self.encoder.model_version), interval_history
            )
            assembler.observe = True
            assembler.followers.append(self.intervals)
        if self.intervals is not None and challenger is not None:
            logger.warning("online interval calibration is off while a challenger is served")
            assembler.observe = False
            assembler.followers.remove(self.intervals)
            self.intervals = None
        # The residual check scores an observation against the 1 h forecast issued
        # for its hour (a model without a 1 h lead gives it nothing to score).
        self._next_hour_lead = leads.index(1) if 1 in leads else None

    @property
    def horizon(self) -> int:
        """Leads per forecast."""
        return self.encoder.horizon

    def finish(
        self, batch: WorkBatch, forecasts: np.ndarray, challenger: np.ndarray | None = None
    ) -> Outgoing:
        """The batch's records for Kafka (non-finite forecasts become dead letters,
        counted in ``batch.counts`` at the commit)."""
        if self._next_hour_lead is not None and self.assembler.quality.enabled:
            # The champion's forecast scores every station's next hour, whatever its
            # arm: the residual check's limits were learnt on the champion.
            self.assembler.remember_forecasts(batch, forecasts, self._next_hour_lead)
        scales = None
        if self.intervals is not None:
            recalibrated = self.intervals.recalibrate(batch, forecasts)
            forecasts, scales = recalibrated.forecasts, recalibrated.scales
        outgoing, _non_finite = build_outgoing(
            batch,
            forecasts,
            self.encoder,
            source_topic=self.settings.kafka.features_topic,
            produced_at=datetime.now(UTC),
            error_ts_ms=int(time.time() * 1000),
            challenger=challenger,
            router=self.router,
            scales=scales,
        )
        return outgoing
