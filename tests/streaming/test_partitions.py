"""Window restore by time on the real broker (the pure decision is tested in
``tests/streaming/core/test_restore.py``): the timestamps and offsets it reads, and a
restart of the loop on a partition holding many stations, where a fixed record count
falls short."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
from confluent_kafka import Consumer, TopicPartition

from tests.support.serve_support import (
    ReversingForecaster,
    august_rows,
    check_forecasts,
    expected_windows,
    fake_service,
    read_all,
    serve_settings,
)
from wxstream.kafka.clients import make_consumer, make_producer
from wxstream.messages import encode_frame, messages_from_frame
from wxstream.models.model_loader import load_model
from wxstream.settings import KafkaSettings
from wxstream.streaming.core.restore import HOUR_MS, RestorePolicy, restore_span_ms
from wxstream.streaming.partitions import plan_starts, read_timestamps
from wxstream.tools.replay import copy_station_id

LOOKBACK = 12
"""Lookback of the session's test model (``serve_model_dir``)."""
COPIES = 30
"""Copies of each real series: 90 stations on one partition."""
HOURS = 48
COMMIT_HOUR = 30
"""The group has processed every record of the hours before this one."""
FLOOR = 10
"""A fixed record count far too short for 90 stations."""


# -- the real broker -------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """What a test published to partition 0 of the features topic."""

    records: list[tuple[bytes, bytes]]
    rows: pd.DataFrame
    stamps_ms: list[int]
    hours: list[int]
    stations: list[str]

    def committed_at(self, hour: int) -> int:
        """Offset of the first record of ``hour`` (offsets are list positions)."""
        return self.hours.index(hour)

    def needed_from(self, committed: int, lookback: int) -> int:
        """Lowest offset holding a row of any station's last ``lookback`` hourly rows
        before ``committed``: what a restore must read to rebuild every window."""
        newest_hour = self.hours[committed - 1]
        return self.hours.index(newest_hour - lookback + 1)


@pytest.fixture(scope="module")
def many_stations(nyc_features: pd.DataFrame) -> pd.DataFrame:
    """``HOURS`` hours of August 2013 of each real station under ``COPIES`` copy ids,
    in replay order (hour by hour, stations interleaved)."""
    rows = august_rows(nyc_features)
    rows = rows.loc[rows["window_start"] < rows["window_start"].min() + pd.Timedelta(hours=HOURS)]
    copies = []
    for copy in range(1, COPIES + 1):
        frame = rows.copy()
        frame["station_id"] = [copy_station_id(str(s), copy) for s in rows["station_id"]]
        copies.append(frame)
    every = pd.concat(copies, ignore_index=True)
    ordered: pd.DataFrame = every.sort_values(["window_start", "station_id"], kind="stable")
    return ordered.reset_index(drop=True)


def publish_live(kafka: KafkaSettings, rows: pd.DataFrame) -> Published:
    """Produce ``rows`` to partition 0 as a live feed would have: each hour's records
    stamped (CreateTime) an hour after the previous hour's, the last hour ending now."""
    records = encode_frame(rows)
    first = rows["window_start"].min()
    hours = [int((ts - first) / pd.Timedelta(hours=1)) for ts in rows["window_start"]]
    now_ms = int(time.time() * 1000)
    last_hour = max(hours)
    # Records of one hour leave a millisecond apart, in replay order.
    stamps = [
        now_ms - (last_hour - hour) * HOUR_MS + i - hours.index(hour)
        for i, hour in enumerate(hours)
    ]
    producer = make_producer(kafka)
    for (key, value), stamp in zip(records, stamps, strict=True):
        producer.produce(kafka.features_topic, value, key, partition=0, timestamp=stamp)
    assert producer.flush(30) == 0
    return Published(records, rows, stamps, hours, [str(s) for s in rows["station_id"]])


def commit(kafka: KafkaSettings, group_id: str, offset: int) -> Consumer:
    """Commit ``offset`` on partition 0 for ``group_id``; the (unsubscribed) consumer."""
    consumer = make_consumer(kafka, group_id)
    consumer.commit(offsets=[TopicPartition(kafka.features_topic, 0, offset)], asynchronous=False)
    return consumer


@pytest.fixture
def published(kafka_settings: KafkaSettings, many_stations: pd.DataFrame) -> Published:
    return publish_live(kafka_settings, many_stations)


def all_partitions(kafka: KafkaSettings) -> list[TopicPartition]:
    return [TopicPartition(kafka.features_topic, p) for p in range(kafka.partitions)]


@pytest.mark.kafka
def test_timestamps_are_read_at_the_exact_offsets(
    kafka_settings: KafkaSettings, published: Published
) -> None:
    topic = kafka_settings.features_topic
    wanted = [TopicPartition(topic, 0, 2000)]
    assert read_timestamps(kafka_settings, "probe", wanted, 10.0) == {0: published.stamps_ms[2000]}
    # Past the end: nothing, and quickly (end of partition, not the timeout).
    began = time.monotonic()
    past = [TopicPartition(topic, 0, len(published.records) + 5)]
    assert read_timestamps(kafka_settings, "probe", past, 10.0) == {}
    assert time.monotonic() - began < 5.0


@pytest.mark.kafka
def test_plan_covers_the_lookback_of_every_station_where_a_count_falls_short(
    kafka_settings: KafkaSettings, published: Published
) -> None:
    group_id = f"restore-{uuid.uuid4().hex[:8]}"
    committed = published.committed_at(COMMIT_HOUR)
    needed = published.needed_from(committed, LOOKBACK)
    assert committed - FLOOR > needed, "the fixed count alone must fall short here"
    consumer = commit(kafka_settings, group_id, committed)
    try:
        began = time.monotonic()
        plans = plan_starts(
            consumer,
            all_partitions(kafka_settings),
            policy=RestorePolicy(restore_span_ms(LOOKBACK, 1, 2.0), FLOOR),
            kafka=kafka_settings,
            group_id=group_id,
            timeout_s=10.0,
        )
        took_s = time.monotonic() - began
        floor_only = plan_starts(
            consumer,
            all_partitions(kafka_settings),
            policy=RestorePolicy(None, FLOOR),
            kafka=kafka_settings,
            group_id=group_id,
            timeout_s=10.0,
        )
    finally:
        consumer.close()
    by_partition = {plan.partition: plan for plan in plans}
    start = by_partition[0].offset
    assert by_partition[0].restore_mark == committed
    # Every station's last 12 rows are read back ...
    assert start <= needed
    # ... and no more than the 14-hour span (12 h lookback, 2 h margin) asks for.
    since = published.stamps_ms[committed - 1] - 14 * HOUR_MS
    assert start == next(i for i, ts in enumerate(published.stamps_ms) if ts >= since)
    assert start > 0
    for partition in (1, 2, 3):  # empty partitions: nothing committed, nothing to restore
        assert by_partition[partition].restore_mark is None
    assert floor_only[0].offset == committed - FLOOR
    assert took_s < 10.0
    print(
        f"\nrestore plan: committed={committed} start={start} "
        f"records={committed - start} needed_from={needed} plan_s={took_s:.2f}"
    )


@pytest.mark.kafka
def test_plan_reads_the_whole_partition_when_the_last_timestamp_is_unreadable(
    kafka_settings: KafkaSettings, published: Published
) -> None:
    group_id = f"restore-{uuid.uuid4().hex[:8]}"
    # A committed offset past the end (set by hand): no record at committed - 1.
    consumer = commit(kafka_settings, group_id, len(published.records) + 10)
    try:
        plans = plan_starts(
            consumer,
            all_partitions(kafka_settings)[:1],
            policy=RestorePolicy(restore_span_ms(LOOKBACK, 1, 2.0), FLOOR),
            kafka=kafka_settings,
            group_id=group_id,
            timeout_s=10.0,
        )
    finally:
        consumer.close()
    assert plans[0].offset == 0


@pytest.mark.kafka
@pytest.mark.slow
@pytest.mark.parametrize(("margin_h", "complete"), [(2.0, True), (None, False)])
def test_a_restart_forecasts_every_window_an_uninterrupted_run_does(
    margin_h: float | None,
    complete: bool,
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    published: Published,
) -> None:
    """Stop the loop at an hour boundary, start it again: with the time-based restore
    the restarted run forecasts every window from its first record on; with only the
    fixed count (``margin_h=None``) it misses the windows of most stations."""
    model = load_model(serve_model_dir, device="cpu")
    assert model.lookback == LOOKBACK
    committed = published.committed_at(COMMIT_HOUR)
    first = serve_settings(
        kafka_settings,
        serve_model_dir,
        batch_size=64,
        max_wait_ms=5,
        max_messages=committed,
        restore_rewind_messages=FLOOR,
        restore_margin_h=margin_h,
    )
    assert fake_service(first, model, ReversingForecaster(model)).run() == "max_messages"
    rest = len(published.records) - committed
    second = fake_service(replace(first, max_messages=rest), model, ReversingForecaster(model))
    assert second.run() == "max_messages"

    finished = second.rebalance.restores.finished
    assert [r.partition for r, _ in finished] == [0]
    restore, took_s = finished[0]
    assert restore.mark == committed
    assert second.totals.restored == committed - restore.start
    expected = expected_windows(messages_from_frame(published.rows), model.lookback)
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    print(
        f"\nrestart (margin_h={margin_h}): restored {committed - restore.start} records "
        f"in {took_s:.2f} s; forecasts {len(predictions)} of {len(expected)}"
    )
    if complete:
        check_forecasts(predictions, expected, model)
    else:
        assert restore.start == committed - FLOOR
        # Each station's next 11 windows after the restart are missing.
        assert len(expected) - len(predictions) >= (LOOKBACK - 1) * (
            len(set(published.stations)) - FLOOR
        )
