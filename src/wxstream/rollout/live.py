"""Live skill inside the service: the join and the table, fed batch by batch, and
rebuilt from what the topics hold after a restart, a rebalance or an aborted
transaction.

:class:`LiveSkill` pairs each released batch's observations and forecasts
(:meth:`LiveSkill.pair`) and returns the newly paired
:class:`~wxstream.messages.SkillRecord` s as one value per batch: they go to
``weather-verification`` in the batch's transaction, and any other consumer of paired
records (online interval calibration, say) takes the same value.

State is rebuilt, never checkpointed (:meth:`LiveSkill.rebuild`), from a
:class:`SkillHistory` read back from the topics (``read_committed``):

- the table: every verification record already committed (each pair was published
  exactly once, in the transaction of the later of its forecast and observation);
- the join: the committed forecasts that have no verification record yet and the
  observations, replayed in time order (:func:`~wxstream.rollout.replayed.replay_join`).
  A forecast that pairs during the rebuild was never published (its observation is
  past the last commit, or live skill was off when both came), so the pair is *owed*
  and leads the next batch's records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter

from wxstream.messages import FeatureMessage, PredictionMessage, SkillRecord
from wxstream.messages.features import decode_feature
from wxstream.messages.predictions import decode_prediction
from wxstream.messages.verification import decode_verification
from wxstream.rollout.lead_join import (
    LeadJoin,
    Pair,
    PendingForecast,
    entries_of,
    epoch_hour,
    score_pairs,
)
from wxstream.rollout.replayed import replay_lead_join
from wxstream.rollout.skill import (
    Forecast,
    Observation,
    SkillTable,
    forecasts_of,
    observation_of,
)

_hour = attrgetter("hour")
_issued_at = attrgetter("issued_at")

PairKey = tuple[str, datetime, int, str, str]
"""``(station_id, issued_at, lead_h, model_name, model_version)``: one forecast lead."""


def forecast_key(forecast: Forecast) -> PairKey:
    """The key of a forecast lead."""
    return (
        forecast.station_id,
        forecast.issued_at,
        forecast.lead_h,
        forecast.model_name,
        forecast.model_version,
    )


def record_key(record: SkillRecord) -> PairKey:
    """The key of the forecast lead a verification record paired."""
    return (
        record.station_id,
        record.issued_at,
        record.lead_h,
        record.model_name,
        record.model_version,
    )


@dataclass(frozen=True)
class SkillHistory:
    """What the topics hold, read back for a rebuild (``read_committed``, in order).

    Attributes:
        verification: committed verification records.
        forecasts: committed forecast leads (main and shadow topics).
        observations: observations from the input topic.
    """

    verification: Sequence[SkillRecord] = ()
    forecasts: Sequence[Forecast] = ()
    observations: Sequence[Observation] = ()


Raw = bytes | bytearray | memoryview | None


def history_of_values(
    features: Iterable[Raw], forecasts: Iterable[Raw], verification: Iterable[Raw]
) -> SkillHistory:
    """A :class:`SkillHistory` of the stations of ``features`` from the record values of
    the input, forecast (main and shadow) and verification topics; undecodable values
    are skipped (the service dead-lettered them or never wrote them)."""
    observations: list[Observation] = []
    stations: set[str] = set()
    for raw in features:
        message = decode_feature(raw)
        if isinstance(message, FeatureMessage):
            stations.add(message.station_id)
            observations.append(observation_of(message))
    leads: list[Forecast] = []
    for raw in forecasts:
        prediction = decode_prediction(raw)
        if isinstance(prediction, PredictionMessage) and prediction.station_id in stations:
            leads.extend(forecasts_of(prediction))
    paired: list[SkillRecord] = []
    for raw in verification:
        record = decode_verification(raw)
        if isinstance(record, SkillRecord) and record.station_id in stations:
            paired.append(record)
    return SkillHistory(paired, leads, observations)


@dataclass
class LiveSkill:
    """The live join and table of one service instance.

    Args:
        max_lead_h: the longest lead served.
        slack_h: how late an observation may come (see
            :class:`~wxstream.rollout.pairing.ForecastJoin`).
        keep_records: also keep every record (the promotion test needs the pairs, not
            only their sums).
    """

    max_lead_h: int
    slack_h: int = 6
    keep_records: bool = False
    table: SkillTable = field(default_factory=SkillTable)
    records: list[SkillRecord] = field(default_factory=list)
    """Every record counted, when ``keep_records``."""
    owed: list[SkillRecord] = field(default_factory=list)
    """Pairs found by a rebuild, published with the next batch."""

    def __post_init__(self) -> None:
        self.join = LeadJoin(self.max_lead_h, self.slack_h)

    def pair(
        self, observations: Iterable[Observation], forecasts: Iterable[Forecast]
    ) -> tuple[SkillRecord, ...]:
        """:meth:`pair_forecasts` for forecasts given lead by lead."""
        return self.pair_forecasts(observations, entries_of(forecasts))

    def pair_forecasts(
        self, observations: Iterable[Observation], forecasts: Iterable[PendingForecast]
    ) -> tuple[SkillRecord, ...]:
        """One batch (every forecast with all its leads); the newly paired records (owed
        ones first), already counted in :attr:`table`.

        The batch is fed in time order, each hour's observations before the forecasts
        issued at that hour (as :func:`~wxstream.rollout.replayed.replay_join` does): a
        batch gathered from a backlog may span more hours of one station than the
        join's horizon, and its observations all fed first would push its own forecasts
        out. The sort is stable, so records of one time keep their input order.
        """
        owed = self.owed
        self.owed = []
        join = self.join
        pairs: list[Pair] = []
        # A merge of the two sorted streams: the order of a stable sort on (time, kind)
        # with observations kind 0, without a tuple per event.
        held = sorted(observations, key=_hour)
        n_held = len(held)
        i = 0
        for forecast in sorted(forecasts, key=_issued_at):
            issued_at = forecast.issued_at
            while i < n_held and held[i].hour <= issued_at:
                o = held[i]
                pairs.extend(join.observe(o.station_id, epoch_hour(o.hour), o.temperature_c))
                i += 1
            pairs.extend(join.add(forecast))
        for o in held[i:]:
            pairs.extend(join.observe(o.station_id, epoch_hour(o.hour), o.temperature_c))
        out = owed + score_pairs(pairs)
        self._count(out)
        return tuple(out)

    def _count(self, records: Sequence[SkillRecord]) -> None:
        self.table.add_all(records)
        if self.keep_records:
            self.records.extend(records)

    def rebuild(self, history: SkillHistory) -> None:
        """Forget everything and start again from what the topics hold."""
        self.table = SkillTable()
        self.records = []
        self._count(history.verification)
        self.join = LeadJoin(self.max_lead_h, self.slack_h)
        # A published pair is not paired again; a forecast read twice (at-least-once
        # delivery repeats records) is joined once.
        seen = {record_key(r) for r in history.verification}
        unpublished: list[Forecast] = []
        for forecast in history.forecasts:
            key = forecast_key(forecast)
            if key not in seen:
                seen.add(key)
                unpublished.append(forecast)
        replayed = replay_lead_join(entries_of(unpublished), history.observations, self.join)
        # Forecasts too old to pair were not lost here: they never had an observation.
        self.join.evicted = 0
        self.owed = score_pairs(replayed)
