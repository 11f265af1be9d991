"""Replay real observations onto ``weather-features``, as the streaming job would publish them.

Observations are aggregated into hourly feature rows first (the Spark-style
aggregation of :func:`wxstream.features.aggregate_hourly`), then published in time
order across stations, keyed by ``station_id``, as fast as possible or at a simulated
pace. Windows with a null average cannot feed the model and are skipped and counted.

The planning (:func:`select_features`, :func:`plan_schedule`) is pure; :func:`replay`
is the thin producing loop around it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd
from confluent_kafka import KafkaError as ConfluentKafkaError
from confluent_kafka import Producer
from tqdm import tqdm

from wxstream.data import ColumnMapping, load_csv, load_source
from wxstream.errors import ConfigError, DataError, KafkaError
from wxstream.features import aggregate_hourly
from wxstream.kafka.admin import require_topics
from wxstream.kafka.clients import kafka_errors, make_producer
from wxstream.messages import encode_frame, publishable_mask
from wxstream.messages.optional_fields import OPTIONAL_FIELDS
from wxstream.settings import KafkaSettings, ReplaySettings
from wxstream.tools.replay_faults import (
    InjectedFault,
    encode_rows,
    inject_faults,
    parse_fault_spec,
)

logger = logging.getLogger(__name__)

COPY_SEPARATOR = "#"
_HOUR = pd.Timedelta(hours=1)
_POLL_EVERY = 1000
_FLUSH_TIMEOUT_S = 60.0
_CONNECT_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class FeatureSelection:
    """The feature rows a replay publishes, in publishing order.

    Attributes:
        rows: publishable feature rows, sorted by ``window_start`` then station.
        skipped_null: windows in the selection left out for a null (or invalid) value.
        stations: distinct station ids published (after copies).
    """

    rows: pd.DataFrame
    skipped_null: int
    stations: int


@dataclass(frozen=True)
class ReplaySummary:
    """What :func:`replay` published."""

    published: int
    skipped_null: int
    stations: int
    first_window: datetime | None
    last_window: datetime | None
    elapsed_s: float
    stopped: bool  # True: a stop request ended the replay early
    injected: tuple[InjectedFault, ...] = ()  # faults put into the series (--inject-faults)

    @property
    def rate_per_s(self) -> float:
        """Messages delivered per wall-clock second."""
        return self.published / self.elapsed_s if self.elapsed_s > 0 else 0.0


def copy_station_id(station_id: str, copy: int) -> str:
    """The id of copy ``copy`` (1-based) of a real station: ``EWR#17``."""
    return f"{station_id}{COPY_SEPARATOR}{copy}"


def real_station_id(station_id: str) -> str:
    """The real station behind a copy id (``EWR#17`` -> ``EWR``); other ids unchanged."""
    return station_id.split(COPY_SEPARATOR, 1)[0]


def load_observations(settings: ReplaySettings) -> pd.DataFrame:
    """The observations ``settings`` names: a CSV with its mapping, or a named source."""
    if settings.csv_path is not None:
        if settings.mapping_path is None:
            raise ConfigError(
                "--csv needs a column mapping",
                fix="pass --mapping PATH to a JSON file naming the timestamp, temperature, "
                "dewpoint and wind_speed columns with their units",
            )
        return load_csv(settings.csv_path, ColumnMapping.load(settings.mapping_path))
    return load_source(settings.source, settings.data_dir)


def select_features(observations: pd.DataFrame, settings: ReplaySettings) -> FeatureSelection:
    """Aggregate, filter, copy and order the feature rows a replay publishes.

    Station and date filters apply to the real series; copies repeat each selected
    series unchanged under ``station_copies`` ids; the limit cuts the time-ordered
    publishable rows. Pure: no IO.
    """
    if settings.station_copies < 1:
        raise ConfigError("--station-copies must be at least 1")
    obs = observations
    if settings.stations:
        known = set(obs["station_id"].unique())
        unknown = sorted(set(settings.stations) - known)
        if unknown:
            raise DataError(
                f"unknown station(s) {', '.join(unknown)}",
                fix=f"choose among {', '.join(sorted(known))}",
            )
        obs = obs.loc[obs["station_id"].isin(settings.stations)]
    # Cut observations a window wide of the bounds first (cheap), exactly on windows below.
    if settings.start is not None:
        obs = obs.loc[obs["timestamp"] >= pd.Timestamp(settings.start).floor("h")]
    if settings.end is not None:
        obs = obs.loc[obs["timestamp"] < pd.Timestamp(settings.end).ceil("h") + _HOUR]
    features = _published_columns(aggregate_hourly(obs.reset_index(drop=True)), settings)
    if settings.start is not None:
        features = features.loc[features["window_start"] >= pd.Timestamp(settings.start)]
    if settings.end is not None:
        features = features.loc[features["window_start"] < pd.Timestamp(settings.end)]
    features = features.reset_index(drop=True)
    if settings.station_copies > 1:
        features = _station_copies(features, settings.station_copies)
    features = features.sort_values(["window_start", "station_id"], kind="stable")
    features = features.reset_index(drop=True)
    ok = publishable_mask(features)
    positions = np.flatnonzero(ok)
    if settings.limit is not None and len(positions) > settings.limit:
        cut = int(positions[settings.limit - 1]) + 1 if settings.limit > 0 else 0
        features, ok = features.iloc[:cut], ok[:cut]
    skipped = int(len(ok) - ok.sum())
    rows = features.loc[ok].reset_index(drop=True)
    return FeatureSelection(rows, skipped, int(rows["station_id"].nunique()))


def _published_columns(features: pd.DataFrame, settings: ReplaySettings) -> pd.DataFrame:
    if settings.optional_fields:
        return features
    return features.drop(columns=[c for c in OPTIONAL_FIELDS if c in features.columns])


def _station_copies(features: pd.DataFrame, copies: int) -> pd.DataFrame:
    frames = []
    for copy in range(1, copies + 1):
        frame = features.copy()
        frame["station_id"] = features["station_id"].astype(str) + f"{COPY_SEPARATOR}{copy}"
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def plan_schedule(
    window_starts: pd.Series, speed_h_per_s: float | None, rate_per_s: float | None
) -> npt.NDArray[np.float64] | None:
    """Seconds after the start at which each message is due (``None``: no pacing).

    With ``speed_h_per_s``, a window is due when its simulated hour comes up: all
    stations' windows of one hour leave together. With ``rate_per_s``, messages leave
    evenly spaced. Pure.
    """
    if speed_h_per_s is not None and rate_per_s is not None:
        raise ConfigError("--speed and --rate are alternatives", fix="give only one of them")
    if speed_h_per_s is not None:
        if speed_h_per_s <= 0:
            raise ConfigError("--speed must be positive (simulated hours per second)")
        if window_starts.empty:
            return np.zeros(0)
        hours = (window_starts - window_starts.iloc[0]) / _HOUR
        return np.asarray(hours.to_numpy(dtype=np.float64) / speed_h_per_s)
    if rate_per_s is not None:
        if rate_per_s <= 0:
            raise ConfigError("--rate must be positive (messages per second)")
        return np.arange(len(window_starts), dtype=np.float64) / rate_per_s
    return None


class _Deliveries:
    """Counts delivery reports; keeps the first error for the report."""

    def __init__(self) -> None:
        self.delivered = 0
        self.failed = 0
        self.first_error: ConfluentKafkaError | None = None

    def __call__(self, err: ConfluentKafkaError | None, _msg: object) -> None:
        if err is None:
            self.delivered += 1
            return
        self.failed += 1
        if self.first_error is None:
            self.first_error = err


def produce_all(
    producer: Producer,
    topic: str,
    pairs: Sequence[tuple[bytes, bytes]],
    due_s: npt.NDArray[np.float64] | None,
    *,
    on_progress: Callable[[int], object],
    stop: threading.Event | None = None,
) -> tuple[int, bool]:
    """Produce ``pairs`` in order, waiting for each one's due time when paced.

    Returns the number handed to the producer and whether ``stop`` ended it early.
    A full local queue is drained (``poll``) and the record retried, never dropped.
    """
    started = time.monotonic()
    pending_progress = 0
    for index, (key, value) in enumerate(pairs):
        if stop is not None and stop.is_set():
            on_progress(pending_progress)
            return index, True
        if due_s is not None:
            wait = started + float(due_s[index]) - time.monotonic()
            if wait > 0:
                producer.poll(0)
                on_progress(pending_progress)
                pending_progress = 0
                if stop is not None:
                    if stop.wait(wait):
                        return index, True
                else:
                    time.sleep(wait)
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.05)
        pending_progress += 1
        if pending_progress >= _POLL_EVERY:
            producer.poll(0)
            on_progress(pending_progress)
            pending_progress = 0
    on_progress(pending_progress)
    return len(pairs), False


def publish(
    kafka: KafkaSettings,
    pairs: Sequence[tuple[bytes, bytes]],
    due_s: npt.NDArray[np.float64] | None,
    *,
    linger_ms: int,
    progress: bool,
    stop: threading.Event | None = None,
) -> tuple[int, bool, float, int]:
    """Produce ``pairs`` to the features topic (paced by ``due_s``) and wait for delivery.

    Returns:
        records produced, whether ``stop`` ended it early, seconds taken, records delivered.

    Raises:
        KafkaError: records could not be delivered (the first error is named).
    """
    deliveries = _Deliveries()
    producer = make_producer(
        kafka,
        linger_ms=linger_ms,
        batch_num_messages=10_000,
        queue_buffering_max_messages=200_000,
        on_delivery=deliveries,
    )
    # Connect and fetch the topic's metadata before the clock starts: the first paced
    # records would otherwise wait in the producer for its connection, stamped already.
    with kafka_errors(kafka.bootstrap_servers, "connecting the producer"):
        producer.list_topics(kafka.features_topic, timeout=_CONNECT_TIMEOUT_S)
    started = time.monotonic()
    with (
        tqdm(
            total=len(pairs), unit="msg", desc="replay", disable=not progress, dynamic_ncols=True
        ) as bar,
        kafka_errors(kafka.bootstrap_servers, "producing feature messages"),
    ):
        produced, stopped = produce_all(
            producer, kafka.features_topic, pairs, due_s, on_progress=bar.update, stop=stop
        )
        remaining = producer.flush(_FLUSH_TIMEOUT_S)
    elapsed = time.monotonic() - started
    if remaining:
        raise KafkaError(
            f"{remaining} feature message(s) still undelivered after {_FLUSH_TIMEOUT_S:.0f} s",
            fix="check that the broker is up: `wxstream kafka status`",
        )
    if deliveries.failed:
        first = deliveries.first_error
        raise KafkaError(
            f"{deliveries.failed} of {produced} feature message(s) were not delivered "
            f"(first error: {first.name() if first else '?'}: {first.str() if first else ''})",
            fix="check the broker log and that the topic exists: `wxstream topics list`",
        )
    return produced, stopped, elapsed, deliveries.delivered


def replay(
    settings: ReplaySettings,
    *,
    observations: pd.DataFrame | None = None,
    stop: threading.Event | None = None,
) -> ReplaySummary:
    """Publish the selected observations to the features topic and wait for delivery.

    Args:
        settings: what to replay, where to, and how fast.
        observations: tidy observations to use instead of loading ``settings``' source
            (the benchmark loads once and replays several times).
        stop: set it to end the replay early (what was produced is still flushed).

    Raises:
        TopicMissingError: the features topic does not exist.
        KafkaError: records could not be delivered (the first error is named).
    """
    kafka = settings.kafka
    require_topics(kafka, [kafka.features_topic])
    obs = load_observations(settings) if observations is None else observations
    selection = select_features(obs, settings)
    rows = selection.rows
    injected: tuple[InjectedFault, ...] = ()
    if settings.inject_faults:
        requests = parse_fault_spec(settings.inject_faults)
        rows, injected = inject_faults(rows, requests, seed=settings.fault_seed)
        for fault in injected:
            logger.info("injected %s", fault.describe())
    pairs = encode_rows(rows) if injected else encode_frame(rows)
    due = plan_schedule(rows["window_start"], settings.speed_h_per_s, settings.rate_per_s)
    logger.info(
        "replaying %d windows of %d stations to %s (%d skipped for null values)",
        len(pairs),
        selection.stations,
        kafka.features_topic,
        selection.skipped_null,
    )
    produced, stopped, elapsed, delivered = publish(
        kafka,
        pairs,
        due,
        linger_ms=settings.linger_ms,
        progress=settings.progress,
        stop=stop,
    )
    published_rows = rows.iloc[:produced]
    return ReplaySummary(
        published=delivered,
        skipped_null=selection.skipped_null,
        stations=selection.stations,
        first_window=_instant(published_rows["window_start"].min()) if produced else None,
        last_window=_instant(published_rows["window_start"].max()) if produced else None,
        elapsed_s=elapsed,
        stopped=stopped,
        injected=injected,
    )


def _instant(value: object) -> datetime:
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    result: datetime = stamp.to_pydatetime()
    return result
