"""``wxstream status``: the pure verdict on synthetic reports, the assembly with fake
probes, and the real probes against the session broker and a local Ray."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Message, TopicPartition

from wxstream.commands.status_cmd import render_text, report_to_json
from wxstream.kafka import make_consumer, make_producer
from wxstream.messages.anomalies import (
    Anomaly,
    AnomalyMessage,
    AnomalySource,
    decode_anomaly,
    encode_anomaly,
)
from wxstream.messages.dead_letters import dead_letter
from wxstream.ops import (
    EXIT_GROUP_INACTIVE,
    EXIT_KAFKA_UNREACHABLE,
    EXIT_LAG_GROWING,
    EXIT_NO_ACTORS,
    EXIT_OK,
    EXIT_RAY_UNAVAILABLE,
    EXIT_TOPIC_MISSING,
    ActorReport,
    AnomalyReport,
    BrokerReport,
    DeadLetterReport,
    GroupAnswer,
    GroupReport,
    KafkaAdminProbe,
    MemberReport,
    PartitionLag,
    RayReport,
    RayStateProbe,
    StatusReport,
    TopicReport,
    assess,
    count_anomalies,
    gather_status,
    parse_actor_repr,
)
from wxstream.settings import KafkaSettings, StatusSettings

# -- synthetic reports -------------------------------------------------------------------


def _healthy() -> StatusReport:
    topics = (
        TopicReport("weather-features", "features", True, {0: 100, 1: 80}),
        TopicReport("weather-predictions", "predictions", True, {0: 60, 1: 50}),
        TopicReport("weather-features.dlq", "dead letters", True, {0: 0}),
    )
    group = GroupReport(
        group_id="ray-ml-inference",
        state="STABLE",
        members=(MemberReport("m-1", "wxstream-serve", "/10.0.0.5", ("weather-features[0]",)),),
        partitions=(PartitionLag(0, 98, 100), PartitionLag(1, 80, 80)),
        first_lag_total=5,
        sample_interval_s=2.0,
    )
    ray = RayReport(
        "connected",
        "10.0.0.2:6379",
        cpus=8,
        gpus=1,
        actors=(ActorReport("a" * 32, "ALIVE", 0, 1234, None, "lstm-nyc", "1", "cuda"),),
    )
    return StatusReport(
        broker=BrokerReport("127.0.0.1:9092", True, "abc", 1, ("1@127.0.0.1:9092",)),
        topics=topics,
        group=group,
        ray=ray,
        dead_letters=DeadLetterReport("weather-features.dlq", 0),
    )


def test_a_healthy_report_exits_zero_and_shows_every_part() -> None:
    report = _healthy()
    health = assess(report)
    assert health.ok
    assert health.exit_code == EXIT_OK
    text = render_text(report, health)
    assert "weather-features (features): 2 partitions, end offsets 0:100 1:80" in text
    assert "ray-ml-inference: STABLE, 1 member(s), lag 2 (was 5 2 s earlier)" in text
    assert "partition 0: committed 98, end 100, lag 2" in text
    assert "1/1 inference actors alive" in text
    assert "cuda, model lstm-nyc v1" in text
    assert text.endswith("healthy (exit code 0)")


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        (lambda r: replace(r, broker=replace(r.broker, reachable=False)), 3, "not reachable"),
        (
            lambda r: replace(r, topics=(*r.topics[:2], replace(r.topics[2], exists=False))),
            4,
            "weather-features.dlq",
        ),
        (lambda r: replace(r, ray=RayReport("unreachable", "10.0.0.9:6379")), 5, "ray status"),
        (lambda r: replace(r, ray=RayReport("not running")), 5, "not running"),
        (lambda r: replace(r, ray=RayReport("ambiguous", error="a:1, b:2")), 5, "several"),
        (lambda r: replace(r, ray=replace(r.ray, actors=())), 6, "no live InferenceActor"),
        (lambda r: replace(r, group=replace(r.group, members=(), state="EMPTY")), 7, "serve"),
        (lambda r: replace(r, group=replace(r.group, first_lag_total=1)), 8, "lag grew"),
    ],
)
def test_each_problem_has_its_exit_code_and_a_fix(change: Any, code: int, words: str) -> None:
    health = assess(change(_healthy()))
    assert health.exit_code == code
    [problem] = health.problems
    assert problem.fix
    assert words in problem.message + problem.fix


def test_the_most_fundamental_problem_decides_the_exit_code() -> None:
    report = _healthy()
    assert report.group is not None
    report = replace(
        report,
        group=replace(report.group, members=(), first_lag_total=0),
        ray=RayReport("not running"),
    )
    health = assess(report)
    assert [p.exit_code for p in health.problems] == [
        EXIT_RAY_UNAVAILABLE,
        EXIT_GROUP_INACTIVE,
        EXIT_LAG_GROWING,
    ]
    assert health.exit_code == EXIT_RAY_UNAVAILABLE


def test_lag_growth_within_the_tolerance_is_healthy() -> None:
    report = _healthy()
    assert report.group is not None
    grown = replace(report, group=replace(report.group, first_lag_total=0))
    assert assess(grown).exit_code == EXIT_LAG_GROWING
    assert assess(grown, lag_growth_tolerance=2).ok


def test_dead_letters_and_actor_restarts_warn_without_failing() -> None:
    report = _healthy()
    ray = report.ray
    assert ray is not None
    report = replace(
        report,
        dead_letters=DeadLetterReport("weather-features.dlq", 3, {"invalid_json": 3}),
        ray=replace(ray, actors=(replace(ray.actors[0], restarts=2),)),
    )
    health = assess(report)
    assert health.ok
    assert any("3 record(s)" in w for w in health.warnings)
    assert any("restarted 2 time(s)" in w for w in health.warnings)


def test_an_unreachable_broker_skips_the_kafka_details() -> None:
    report = StatusReport(BrokerReport("127.0.0.1:1", False, error="no answer within 1 s"))
    health = assess(report)
    assert health.exit_code == EXIT_KAFKA_UNREACHABLE
    assert "wxstream kafka start" in health.problems[0].fix
    assert "NOT REACHABLE" in render_text(report, health)


def test_json_report_round_trips() -> None:
    report = _healthy()
    out = json.loads(json.dumps(report_to_json(report, assess(report))))
    assert out["healthy"] is True
    assert out["consumer_group"]["lag_total"] == 2
    assert out["consumer_group"]["partitions"][0] == {
        "partition": 0,
        "committed": 98,
        "end_offset": 100,
        "lag": 2,
    }
    assert out["ray"]["alive_actors"] == 1
    assert out["topics"][0]["end_offsets"] == {"0": 100, "1": 80}


def test_actor_repr_is_parsed_into_model_and_device() -> None:
    parsed = parse_actor_repr("InferenceActor(model=LSTM_20261126, version=3, device=cpu)")
    assert parsed == {"model": "LSTM_20261126", "version": "3", "device": "cpu"}
    assert parse_actor_repr("InferenceActor(loading)") == {}


# -- assembly with a fake Kafka probe ----------------------------------------------------


def _encoded_finding(station: str, check: str, severity: str, offset: int) -> bytes:
    # A synthetic finding: the wire format only.
    anomaly = Anomaly(station, _HOUR, "temperature", check, 1.5, severity)  # type: ignore[arg-type]
    return encode_anomaly(
        anomaly, value=20.0, source=AnomalySource("weather-features", 0, offset), detected_at=_HOUR
    )


_HOUR = datetime(2013, 11, 1, 5, tzinfo=UTC)
_DECODED = decode_anomaly(_encoded_finding("EWR", "spike", "bad", 0))
assert isinstance(_DECODED, AnomalyMessage)
_FINDING: AnomalyMessage = _DECODED


class _FakeKafka:
    """A KafkaProbe whose features topic grows by ``step`` records per look and whose
    group commits ``progress`` more records per look."""

    def __init__(self, step: int, progress: int = 0, *, features_exist: bool = True) -> None:
        self.step = step
        self.progress = progress
        self.looks = 0
        self.group_looks = 0
        self.features_exist = features_exist

    def broker(self) -> BrokerReport:
        return BrokerReport("fake:9092", True)

    def topic(self, name: str, role: str) -> TopicReport:
        if role == "features":
            self.looks += 1
            if not self.features_exist:
                return TopicReport(name, role, False)
            return TopicReport(name, role, True, {0: 10 + self.step * self.looks, 1: 10})
        return TopicReport(name, role, True, {0: 0})

    def group(self, group_id: str, topic: str) -> GroupAnswer:
        self.group_looks += 1
        return (
            "STABLE",
            (MemberReport("m", "c", "h"),),
            {0: 10 + self.progress * self.group_looks, 1: None},
        )

    def dead_letters(self, topic: str) -> DeadLetterReport:
        return DeadLetterReport(topic, 0)

    def anomalies(self, topic: str) -> AnomalyReport | None:
        return count_anomalies(topic, [_FINDING, _FINDING])


def test_status_shows_the_anomaly_count_per_check() -> None:
    settings = StatusSettings(sample_interval_s=0.0, check_ray=False)
    report = gather_status(settings, _FakeKafka(step=0), None, sleep=lambda _s: None)
    assert report.anomalies == AnomalyReport(
        settings.kafka.anomalies_topic, 2, {"spike": 2}, {"bad": 2}
    )
    health = assess(report)
    assert "anomalies weather-anomalies: 2 finding(s); by check: spike 2; by severity: bad 2" in (
        render_text(report, health)
    )
    out = json.loads(json.dumps(report_to_json(report, health)))
    assert out["anomalies"]["by_check"] == {"spike": 2}
    assert health.ok  # findings are the stage doing its work, not a pipeline problem


def test_gather_samples_the_lag_twice_an_interval_apart() -> None:
    slept: list[float] = []
    settings = StatusSettings(sample_interval_s=3.0, check_ray=False)
    report = gather_status(settings, _FakeKafka(step=5), None, sleep=slept.append)
    assert len(slept) == 1
    assert 2.5 < slept[0] <= 3.0
    group = report.group
    assert group is not None
    # partition 1 has no committed offset: all 10 records count as lag
    assert group.first_lag_total == 5 + 10
    assert group.lag_total == 10 + 10
    assert assess(report).exit_code == EXIT_LAG_GROWING
    keeping_up = gather_status(settings, _FakeKafka(step=5, progress=5), None, sleep=slept.append)
    assert keeping_up.group is not None
    assert keeping_up.group.lag_growth == 0
    assert assess(keeping_up).ok


def test_a_group_that_commits_nothing_while_records_wait_is_stalled() -> None:
    settings = StatusSettings(sample_interval_s=1.0, check_ray=False)
    report = gather_status(settings, _FakeKafka(step=0), None, sleep=lambda _s: None)
    assert report.group is not None
    assert report.group.stalled
    health = assess(report)
    assert health.exit_code == EXIT_LAG_GROWING
    assert "stalled" in health.problems[0].message


def test_gather_without_the_features_topic_reports_it_missing() -> None:
    report = gather_status(
        StatusSettings(check_ray=False),
        _FakeKafka(step=0, features_exist=False),
        None,
        sleep=lambda _s: None,
    )
    assert report.group is None
    assert assess(report).exit_code == EXIT_TOPIC_MISSING


# -- the real probes ----------------------------------------------------------------------


def _produce(settings: KafkaSettings, topic: str, count: int, partition: int) -> None:
    producer = make_producer(settings)
    for i in range(count):
        producer.produce(topic, value=f"record {i}".encode(), partition=partition)
    assert producer.flush(10) == 0


@pytest.fixture
def group_member(kafka_settings: KafkaSettings) -> Iterator[tuple[str, Consumer]]:
    """A real consumer of a fresh group that read and committed 6 of 10 records of
    partition 0 of the features topic, still a member of its group."""
    group_id = f"status-{uuid.uuid4().hex[:8]}"
    _produce(kafka_settings, kafka_settings.features_topic, 10, partition=0)
    consumer = make_consumer(kafka_settings, group_id)
    consumer.subscribe([kafka_settings.features_topic])
    read: list[Message] = []
    deadline = time.monotonic() + 30
    while len(read) < 6 and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            read.append(message)
    assert len(read) >= 6
    consumer.commit(message=read[5], asynchronous=False)
    try:
        yield group_id, consumer
    finally:
        # The test may have closed it already (the service stopped).
        with contextlib.suppress(RuntimeError):
            consumer.close()


@pytest.mark.kafka
def test_status_sees_the_group_members_committed_offsets_and_lag(
    kafka_settings: KafkaSettings, group_member: tuple[str, Consumer]
) -> None:
    group_id, consumer = group_member
    settings = StatusSettings(kafka_settings, group_id, check_ray=False, sample_interval_s=0.5)
    probe = KafkaAdminProbe(kafka_settings, timeout_s=5.0, dlq_scan_limit=1000)
    report = gather_status(settings, probe, None)
    assert report.broker.reachable
    assert report.broker.cluster_id
    assert [t.partitions for t in report.topics] == [4, 4, 1]
    group = report.group
    assert group is not None
    assert len(group.members) == 1
    assert group.state == "STABLE"
    by_partition = {p.partition: p for p in group.partitions}
    assert by_partition[0].committed == 6
    assert by_partition[0].end_offset == 10
    assert group.lag_total == 4
    assert group.lag_growth == 0
    # 4 records wait and the member committed nothing between the samples
    assert group.stalled
    assert assess(report).exit_code == EXIT_LAG_GROWING
    consumer.commit(
        offsets=[TopicPartition(kafka_settings.features_topic, 0, 10)], asynchronous=False
    )
    caught_up = gather_status(settings, probe, None)
    assert caught_up.group is not None
    assert caught_up.group.lag_total == 0
    assert assess(caught_up).ok
    # The service stops: the group keeps its offsets but has no members.
    consumer.close()
    stopped = gather_status(settings, probe, None)
    assert stopped.group is not None
    assert stopped.group.members == ()
    assert stopped.group.partitions[0].committed == 10
    assert assess(stopped).exit_code == EXIT_GROUP_INACTIVE


@pytest.mark.kafka
def test_status_counts_dead_letters_by_reason(kafka_settings: KafkaSettings) -> None:
    producer = make_producer(kafka_settings)
    for i, reason in enumerate(["invalid_json", "invalid_json", "missing_field"]):
        record = dead_letter(
            key=b"EWR",
            value=b"{not json",
            reason=reason,
            detail="test",
            source_topic=kafka_settings.features_topic,
            source_partition=0,
            source_offset=i,
            error_ts_ms=1_700_000_000_000,
        )
        producer.produce(
            kafka_settings.dlq_topic, value=record.value, key=record.key, headers=record.headers
        )
    assert producer.flush(10) == 0
    probe = KafkaAdminProbe(kafka_settings, timeout_s=10.0, dlq_scan_limit=1000)
    dead = probe.dead_letters(kafka_settings.dlq_topic)
    assert dead.complete
    assert dead.records == 3
    assert dead.by_reason == {"invalid_json": 2, "missing_field": 1}


@pytest.mark.kafka
def test_status_counts_anomalies_by_check_and_severity(kafka_settings: KafkaSettings) -> None:
    producer = make_producer(kafka_settings)
    published = [("EWR", "spike", "bad"), ("JFK", "spike", "suspect"), ("LGA", "flat_line", "bad")]
    for i, (station, check, severity) in enumerate(published):
        value = _encoded_finding(station, check, severity, i)
        producer.produce(kafka_settings.anomalies_topic, value=value, key=station.encode())
    assert producer.flush(10) == 0
    probe = KafkaAdminProbe(kafka_settings, timeout_s=10.0, dlq_scan_limit=1000)
    found = probe.anomalies(kafka_settings.anomalies_topic)
    assert found is not None
    assert found.complete
    assert (found.records, found.undecodable) == (3, 0)
    assert found.by_check == {"flat_line": 1, "spike": 2}
    assert found.by_severity == {"bad": 2, "suspect": 1}
    assert probe.anomalies(f"missing-{uuid.uuid4().hex[:8]}") is None


def _status_cli(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxstream", "status", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.mark.kafka
def test_status_cli_json_with_the_service_stopped_exits_7(
    kafka_settings: KafkaSettings,
) -> None:
    result = _status_cli(
        "--json",
        "--no-ray",
        "--sample-interval-s=0.2",
        f"--bootstrap-servers={kafka_settings.bootstrap_servers}",
        f"--features-topic={kafka_settings.features_topic}",
        f"--predictions-topic={kafka_settings.predictions_topic}",
        f"--dlq-topic={kafka_settings.dlq_topic}",
        f"--group-id=nobody-{uuid.uuid4().hex[:8]}",
    )
    assert result.returncode == EXIT_GROUP_INACTIVE, result.stderr
    out = json.loads(result.stdout)
    assert out["broker"]["reachable"] is True
    assert [t["exists"] for t in out["topics"]] == [True, True, True]
    assert out["consumer_group"]["members"] == []
    assert out["problems"][0]["exit_code"] == EXIT_GROUP_INACTIVE


def test_status_cli_with_the_broker_stopped_fails_fast(unused_port: int) -> None:
    began = time.monotonic()
    result = _status_cli(
        "--no-ray", "--timeout-s=1", f"--bootstrap-servers=127.0.0.1:{unused_port}"
    )
    elapsed_s = time.monotonic() - began
    assert result.returncode == EXIT_KAFKA_UNREACHABLE
    assert f"127.0.0.1:{unused_port}: NOT REACHABLE" in result.stdout
    assert "wxstream kafka start" in result.stdout
    assert elapsed_s < 15


def test_status_cli_with_an_unreachable_ray_address_reports_it(unused_port: int) -> None:
    result = _status_cli(
        "--json",
        "--timeout-s=1",
        f"--ray-address=127.0.0.1:{unused_port}",
        f"--bootstrap-servers=127.0.0.1:{unused_port}",
    )
    out = json.loads(result.stdout)
    assert out["ray"]["state"] == "unreachable"
    assert [p["exit_code"] for p in out["problems"]] == [
        EXIT_KAFKA_UNREACHABLE,
        EXIT_RAY_UNAVAILABLE,
    ]


@pytest.mark.ray
def test_ray_probe_sees_live_inference_actors_with_model_and_device(
    ray_local: None, serve_model_dir: Path
) -> None:
    import ray

    from wxstream.streaming.actor import actor_options, spawn_actors

    placement = actor_options(cluster_gpus=0, use_gpu=True, gpu_fraction=0.25, num_cpus=0.25)
    actors = spawn_actors(2, serve_model_dir, placement, ready_timeout_s=120)
    try:
        report = RayStateProbe(timeout_s=5.0)(None)
        assert report.state == "connected"
        assert report.cpus == 2
        mine = [a for a in report.actors if a.alive]
        assert len(mine) >= 2
        assert {a.device for a in mine} == {"cpu"}
        assert {a.model_name for a in mine} == {"serve-test"}
        health = assess(StatusReport(BrokerReport("x", True), ray=report))
        assert health.exit_code == EXIT_OK
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    after = RayStateProbe(timeout_s=5.0)(None)
    dead = {a.actor_id: a for a in after.actors}
    assert all(not dead[a.actor_id].alive for a in mine)
    if after.alive_actors == 0:
        assert assess(StatusReport(BrokerReport("x", True), ray=after)).exit_code == (
            EXIT_NO_ACTORS
        )


@pytest.mark.kafka
@pytest.mark.ray
@pytest.mark.slow
def test_status_of_a_running_service_is_healthy_and_not_after_it_stops(
    kafka_settings: KafkaSettings,
    ray_local: None,
    serve_model_dir: Path,
    nyc_features: object,
) -> None:
    import signal

    import pandas as pd
    import ray

    from wxstream.messages import encode_frame

    assert isinstance(nyc_features, pd.DataFrame)
    rows = nyc_features.loc[nyc_features["station_id"] == "EWR"].iloc[:40]
    producer = make_producer(kafka_settings)
    for key, value in encode_frame(rows):
        producer.produce(kafka_settings.features_topic, key=key, value=value)
    assert producer.flush(10) == 0
    address = str(ray.get_runtime_context().gcs_address)
    group_id = f"status-e2e-{uuid.uuid4().hex[:8]}"
    topics = [
        f"--bootstrap-servers={kafka_settings.bootstrap_servers}",
        f"--features-topic={kafka_settings.features_topic}",
        f"--predictions-topic={kafka_settings.predictions_topic}",
        f"--dlq-topic={kafka_settings.dlq_topic}",
        f"--anomalies-topic={kafka_settings.anomalies_topic}",
        f"--group-id={group_id}",
        f"--ray-address={address}",
    ]
    service = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wxstream",
            "serve",
            *topics,
            f"--model-storage-path={serve_model_dir.parents[2]}",
            "--num-actors=1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        result = _status_cli("--json", "--sample-interval-s=1", *topics)
        while result.returncode != EXIT_OK and time.monotonic() < deadline:
            assert service.poll() is None, service.communicate()[1]
            time.sleep(2)
            result = _status_cli("--json", "--sample-interval-s=1", *topics)
        out = json.loads(result.stdout)
        assert result.returncode == EXIT_OK, out["problems"]
        assert len(out["consumer_group"]["members"]) == 1
        committed = [p["committed"] for p in out["consumer_group"]["partitions"]]
        assert sum(c or 0 for c in committed) == len(rows)
        assert out["consumer_group"]["lag_total"] == 0
        assert out["ray"]["state"] == "connected"
        live = [a for a in out["ray"]["actors"] if a["state"] == "ALIVE"]
        assert [(a["model_name"], a["device"]) for a in live] == [("serve-test", "cpu")]
    finally:
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=60)
    stopped = _status_cli("--json", "--sample-interval-s=0", *topics)
    assert stopped.returncode in (EXIT_NO_ACTORS, EXIT_GROUP_INACTIVE)
    assert json.loads(stopped.stdout)["consumer_group"]["members"] == []
