"""``wxstream tail``: forecasts as they arrive, verified against what was then observed.

The core is pure: :class:`~wxstream.ops.verification.Verifier` pairs forecasts
with the observations that later arrive on ``weather-features`` and keeps a running
mean absolute error per lead; :class:`RowLimiter` and the ``format_*`` functions shape
the table. :class:`Tail` is the thin consume loop around them (``read_committed``,
assigned partitions, no group commits: a tail never moves anyone's offsets).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Message, TopicPartition

from wxstream.errors import ConfigError
from wxstream.kafka.admin import require_topics
from wxstream.kafka.clients import kafka_errors, make_consumer
from wxstream.kafka.consumer import consume_records
from wxstream.messages import FeatureMessage, decode_feature
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.ops.verification import Forecast, VerifiedPair, Verifier
from wxstream.settings import TailSettings

_BATCH = 1000
_POLL_S = 0.2

StartOffsets = Mapping[str, Mapping[int, int]]
"""Topic -> partition -> offset to start reading at."""


class RowLimiter:
    """Lets at most ``max_per_s`` rows through per second; counts the rest.

    Args:
        max_per_s: the limit (``None``: no limit).
        clock: seconds, monotonic (injected for tests).
    """

    def __init__(
        self, max_per_s: float | None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_per_s = max_per_s
        self.clock = clock
        self.suppressed = 0
        self._window_start = clock()
        self._in_window = 0

    def allow(self) -> bool:
        """Whether the next row may be printed."""
        if self.max_per_s is None:
            return True
        now = self.clock()
        if now - self._window_start >= 1.0:
            self._window_start = now
            self._in_window = 0
        if self._in_window < self.max_per_s:
            self._in_window += 1
            return True
        self.suppressed += 1
        return False


def _interval(p10: float, p50: float, p90: float) -> str:
    return f"{p50:6.1f} [{p10:5.1f},{p90:5.1f}]"


_CELL = 20


def format_header(leads_shown_h: Sequence[int]) -> str:
    """The table header: station, issue time, one column per shown lead."""
    cells = "".join(f"{f'+{lead} h p50 [p10,p90]':>{_CELL}}  " for lead in leads_shown_h)
    return f"{'station':<10} {'issued_at (UTC)':<16}  {cells}".rstrip()


def format_forecast(forecast: Forecast, leads_shown_h: Sequence[int]) -> str:
    """One table row: the median and the p10-p90 interval at each shown lead (degC)."""
    position = {lead: i for i, lead in enumerate(forecast.leads_h)}
    cells = []
    for lead in leads_shown_h:
        i = position.get(lead)
        cell = (
            "-"
            if i is None
            else _interval(
                forecast.temperature_p10_c[i],
                forecast.temperature_c[i],
                forecast.temperature_p90_c[i],
            )
        )
        cells.append(f"{cell:>{_CELL}}  ")
    return (
        f"{forecast.station_id:<10} {forecast.issued_at:%Y-%m-%d %H:%M}  {''.join(cells)}".rstrip()
    )


def format_verified(pair: VerifiedPair) -> str:
    """A verification row: what was forecast for a lead, and what was observed."""
    inside = "inside" if pair.covered else "outside"
    return (
        f"  {pair.station_id:<8} {pair.issued_at:%Y-%m-%d %H:%M} +{pair.lead_h:<2} h "
        f"forecast {_interval(pair.p10_c, pair.p50_c, pair.p90_c)}  "
        f"observed {pair.observed_c:6.1f}  error {pair.error_c:+5.1f} ({inside} p10-p90)"
    )


def format_mae(verifier: Verifier, leads_h: Sequence[int] | None = None) -> str:
    """Running MAE per lead, e.g. ``MAE +1 h 0.61 (n=120) | +6 h 1.40 (n=98)``."""
    leads = sorted(verifier.scores) if leads_h is None else list(leads_h)
    parts = []
    for lead in leads:
        score = verifier.scores.get(lead)
        if score is not None and score.count:
            parts.append(f"+{lead} h {score.mae_c:.2f} (n={score.count})")
    return "  MAE degC  " + (" | ".join(parts) if parts else "no forecast verified yet")


@dataclass
class TailProgress:
    """Counters of a running :class:`Tail` (read from other threads; ints only grow)."""

    forecasts: int = 0
    flagged: int = 0  # forecasts whose input window held values the quality stage flagged
    flag_seen: int = 0  # forecasts that said either way (older services do not)
    observations: int = 0
    invalid: int = 0
    rows_suppressed: int = 0
    positions: dict[tuple[str, int], int] = field(default_factory=dict)


class Tail:
    """The consume loop of ``wxstream tail``: reads, verifies, and emits table rows.

    Args:
        settings: topics, options and limits.
        emit: receives each line of output (the command passes ``click.echo``).
        start_offsets: exact offsets to start at per topic and partition (the demo
            takes them before it publishes anything); default: the newest offsets, or
            the oldest with ``settings.from_beginning``.
        excluded: verified pairs left out of the running MAE (see :class:`Verifier`).
    """

    def __init__(
        self,
        settings: TailSettings,
        emit: Callable[[str], None],
        start_offsets: StartOffsets | None = None,
        excluded: Callable[[VerifiedPair], bool] | None = None,
    ) -> None:
        if settings.max_rows_per_s is not None and settings.max_rows_per_s <= 0:
            raise ConfigError("--max-rows-per-s must be positive")
        self.settings = settings
        self.emit = emit
        self.start_offsets = start_offsets
        self.verifier = Verifier(excluded=excluded)
        self.progress = TailProgress()
        self.limiter = RowLimiter(settings.max_rows_per_s)

    def _assignment(self) -> list[TopicPartition]:
        kafka = self.settings.kafka
        topics = [kafka.predictions_topic]
        if self.settings.verify:
            topics.append(kafka.features_topic)
        partitions = require_topics(kafka, topics)
        default = OFFSET_BEGINNING if self.settings.from_beginning else OFFSET_END
        assignment = []
        for topic in topics:
            given = (self.start_offsets or {}).get(topic, {})
            for p in range(partitions[topic]):
                assignment.append(TopicPartition(topic, p, given.get(p, default)))
        return assignment

    def _handle(self, message: Message) -> None:
        kafka = self.settings.kafka
        shown = self.settings.leads_shown_h
        verified = []
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        if topic is not None and partition is not None and offset is not None:
            self.progress.positions[(topic, partition)] = offset + 1
        if topic == kafka.predictions_topic:
            decoded = decode_prediction(message.value())
            if not isinstance(decoded, PredictionMessage):
                self.progress.invalid += 1
                return
            self.progress.forecasts += 1
            # Forecasts carry input_flagged once the service runs the quality stage.
            flagged = getattr(decoded, "input_flagged", None)
            if flagged is not None:
                self.progress.flag_seen += 1
                self.progress.flagged += bool(flagged)
            if self.limiter.allow():
                self.emit(format_forecast(decoded, shown))
            if self.settings.verify:
                verified = self.verifier.add_forecast(decoded)
        else:
            feature = decode_feature(message.value())
            if not isinstance(feature, FeatureMessage):
                self.progress.invalid += 1
                return
            self.progress.observations += 1
            verified = self.verifier.add_feature(feature)
        for pair in verified:
            if pair.lead_h in shown and self.limiter.allow():
                self.emit(format_verified(pair))

    def run(self, stop: threading.Event | None = None) -> TailProgress:
        """Read until ``stop`` is set or a limit of the settings is reached."""
        settings = self.settings
        kafka = settings.kafka
        assignment = self._assignment()
        consumer = make_consumer(
            kafka, f"wxstream-tail-{uuid.uuid4().hex[:12]}", isolation_level="read_committed"
        )
        started = last_message = last_mae = time.monotonic()
        last_verified = 0
        self.emit(format_header(settings.leads_shown_h))
        try:
            with kafka_errors(kafka.bootstrap_servers, "tailing forecasts"):
                consumer.assign(assignment)
                while stop is None or not stop.is_set():
                    messages, _ = consume_records(
                        consumer, _BATCH, _POLL_S, kafka.bootstrap_servers
                    )
                    now = time.monotonic()
                    for message in messages:
                        self._handle(message)
                        if (
                            settings.max_messages is not None
                            and self.progress.forecasts >= settings.max_messages
                        ):
                            return self._finish()
                    if messages:
                        last_message = now
                    verified = self.verifier.verified_count()
                    if settings.verify and now - last_mae >= 5.0 and verified != last_verified:
                        self.emit(format_mae(self.verifier, settings.leads_shown_h))
                        last_mae, last_verified = now, verified
                    if settings.timeout_s is not None and now - started >= settings.timeout_s:
                        break
                    if (
                        settings.idle_timeout_s is not None
                        and now - last_message >= settings.idle_timeout_s
                    ):
                        break
        finally:
            consumer.close()
        return self._finish()

    def _finish(self) -> TailProgress:
        self.progress.rows_suppressed = self.limiter.suppressed
        if self.limiter.suppressed:
            self.emit(f"  ({self.limiter.suppressed} rows not shown: --max-rows-per-s)")
        if self.settings.verify:
            self.emit(format_mae(self.verifier, self.settings.leads_shown_h))
        return self.progress
