"""Live skill in the loop: each released batch's pairs, as records for
``weather-verification`` in the batch's own transaction (see :mod:`wxstream.rollout.live`
for the join and the rebuild).

The loop calls :meth:`ServiceSkill.attach` on batches in release order (the order they
are delivered in, so the join sees the stream as the topics will hold it) and
:meth:`ServiceSkill.forget` whenever uncommitted work is dropped (a rewind after an
aborted transaction, a rebalance): the next :meth:`~ServiceSkill.attach` then rebuilds
the join and the table from what the topics hold, through the ``history`` port. The
table counts pairs when they are attached, ahead of their commit; an abort discards
them with the rebuild, so the figures after a rebuild are exactly the committed ones.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from wxstream.messages import PredictionMessage, SkillRecord
from wxstream.messages.json_codec import utc_field
from wxstream.messages.predictions import decode_prediction
from wxstream.messages.verification import encode_verifications
from wxstream.rollout.lead_join import PendingForecast, entries_of, epoch_hour
from wxstream.rollout.live import LiveSkill, SkillHistory
from wxstream.rollout.skill import Observation, forecasts_of
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.core.work_batch import WorkBatch
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.ports import RecordSource

logger = logging.getLogger(__name__)

HistoryFn = Callable[[Mapping[int, int]], SkillHistory]
"""Reads the history back from the topics, given the assigned partitions' committed
positions (partition -> next offset; 0 where nothing was committed): observations
only below them, since what lies beyond is read again live and joins then."""


def committed_positions(source: RecordSource, assembler: BatchAssembler) -> dict[int, int]:
    """The committed positions of the assigned partitions: the restore marks the last
    assignment or rewind set (no mark: nothing committed, 0)."""
    return {p: assembler.restore_marks.get(p, 0) for p in source.assignment()}


B = TypeVar("B", bound=WorkBatch)


def batch_observations(batch: WorkBatch) -> list[Observation]:
    """The observations of a batch's input messages, in input order."""
    return [Observation(o.station_id, o.hour, o.temperature_c) for o in batch.observations]


def outgoing_forecasts(outgoing: Outgoing) -> list[PendingForecast]:
    """Every forecast a batch sends (main topic, then shadow) as the join takes it, as
    the topics hold them: read back from the encoded values, so the live join scores
    exactly the numbers an offline reader of the topics gets (JSON floats parse to the
    same doubles)."""
    out: list[PendingForecast] = []
    issue_times: dict[str, tuple[datetime, int]] = {}
    for _key, value in (*outgoing.predictions, *outgoing.shadow):
        out.extend(_forecast(value, issue_times))
    return out


def _forecast(value: bytes, issue_times: dict[str, tuple[datetime, int]]) -> list[PendingForecast]:
    """One encoded forecast (none if it does not parse). Only the fields the skill needs
    are read: the service encoded the value a moment ago (full validation,
    :func:`decode_prediction`, costs three times as much and is kept for a value that
    does not parse so). A batch's forecasts share few issue times (the main and shadow
    forecast of a window always), so each is parsed once (``issue_times``)."""
    try:
        obj = json.loads(value)
        station, name, version = obj["station_id"], obj["model_name"], obj["model_version"]
        text = obj["issued_at"]
        issued = issue_times.get(text) if isinstance(text, str) else None
        if issued is None:
            issued_at = utc_field(text, "issued_at")
            issued = issue_times[text] = (issued_at, epoch_hour(issued_at))
        leads = obj["leads_h"]
        quantiles = (obj["temperature_p10_c"], obj["temperature_c"], obj["temperature_p90_c"])
        if not all(isinstance(q, list) and len(q) == len(leads) for q in quantiles):
            raise ValueError("leads and quantiles differ in length")
        return [PendingForecast(station, *issued, leads, quantiles, model=(name, version))]
    except (KeyError, TypeError, ValueError):
        message = decode_prediction(value)
        return entries_of(forecasts_of(message)) if isinstance(message, PredictionMessage) else []


def verification_records(records: Sequence[SkillRecord]) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` records for ``weather-verification``, keyed by station (values
    byte for byte :func:`~wxstream.messages.encode_verification`'s)."""
    keys: dict[str, bytes] = {}
    out: list[tuple[bytes, bytes]] = []
    for record, value in zip(records, encode_verifications(records), strict=True):
        key = keys.get(record.station_id)
        if key is None:
            key = keys[record.station_id] = record.station_id.encode("utf-8")
        out.append((key, value))
    return out


class ServiceSkill:
    """The loop's live skill (see the module docstring).

    Args:
        live: the join and table.
        metrics: gets the per-version, per-lead gauges.
        history: reads the topics back for a rebuild (``None``: start empty, e.g. when
            nothing was written before).
        positions: the committed positions of the assigned partitions now (what
            ``history`` reads; e.g. :func:`committed_positions`).
        on_pairs: called with every batch's new records once counted (the
            auto-promotion check; later, online calibration).
    """

    def __init__(
        self,
        live: LiveSkill,
        metrics: ServiceMetrics,
        *,
        history: HistoryFn | None = None,
        positions: Callable[[], Mapping[int, int]] = dict,
        on_pairs: Callable[[Sequence[SkillRecord]], object] | None = None,
    ) -> None:
        self.live = live
        self.metrics = metrics
        self.history = history
        self.positions = positions
        self.on_pairs = on_pairs
        self.stale = True
        self.rebuilds = 0
        self.published = 0
        """Verification records attached to outgoing batches (aborted ones included)."""

    def forget(self) -> None:
        """Uncommitted work was dropped: rebuild before the next batch."""
        self.stale = True

    def rebuild(self) -> None:
        """The join and the table from what the topics hold now."""
        history = SkillHistory() if self.history is None else self.history(self.positions())
        self.live.rebuild(history)
        self.stale = False
        self.rebuilds += 1
        logger.info(
            "live skill rebuilt: %d verification records, %d forecasts pending, %d owed",
            len(history.verification),
            self.live.join.pending,
            len(self.live.owed),
        )

    def attach(self, released: Sequence[tuple[B, Outgoing]]) -> list[tuple[B, Outgoing]]:
        """The released batches with their verification records added."""
        if self.stale:
            self.rebuild()
        out: list[tuple[B, Outgoing]] = []
        fresh: list[SkillRecord] = []
        for batch, outgoing in released:
            records = self.live.pair_forecasts(
                batch_observations(batch), outgoing_forecasts(outgoing)
            )
            if records:
                fresh.extend(records)
                out.append(
                    (
                        batch,
                        replace(
                            outgoing, verification=verification_records(records), skill=records
                        ),
                    )
                )
            else:
                out.append((batch, outgoing))
        if fresh:
            self.published += len(fresh)
            self.metrics.record_skill(self.live.table.figures())
            if self.on_pairs is not None:
                self.on_pairs(fresh)
        return out
