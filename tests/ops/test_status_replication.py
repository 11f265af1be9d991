"""``wxstream status`` warns about topics replicated less than the cluster allows and
about a min.insync.replicas that cannot be met (pure: reports in, warnings out)."""

from __future__ import annotations

from wxstream.ops.status import BrokerReport, StatusReport, TopicReport, assess

BROKERS_3 = ("1@a:9092", "2@b:9092", "3@c:9092")


def _topic(replicas: int, in_sync: int | None = None, min_isr: int | None = None) -> TopicReport:
    return TopicReport(
        "weather-predictions",
        "predictions",
        True,
        {0: 5},
        replicas=replicas,
        in_sync_replicas=replicas if in_sync is None else in_sync,
        min_insync_replicas=min_isr,
    )


def _warnings(topic: TopicReport, brokers: tuple[str, ...] = BROKERS_3) -> list[str]:
    report = StatusReport(BrokerReport("a:9092", True, brokers=brokers), topics=(topic,))
    return [w for w in assess(report).warnings if "weather-predictions" in w]


def test_single_replica_on_three_brokers_is_a_warning_naming_the_fix() -> None:
    (warning,) = _warnings(_topic(1))
    assert "1 replica(s) on a cluster of 3 brokers" in warning
    assert "--replication-factor 3" in warning


def test_fully_replicated_topic_gives_no_warning() -> None:
    assert _warnings(_topic(3, min_isr=2)) == []


def test_one_broker_asks_for_no_more_than_one_replica() -> None:
    assert _warnings(_topic(1, min_isr=1), ("1@a:9092",)) == []


def test_min_isr_above_the_replicas_cannot_be_met() -> None:
    (warning,) = _warnings(_topic(3, min_isr=4))
    assert "min.insync.replicas 4 cannot be met" in warning


def test_too_few_in_sync_replicas_warn_that_writes_fail() -> None:
    (warning,) = _warnings(_topic(3, in_sync=1, min_isr=2))
    assert "only 1 replica(s) in sync" in warning


def test_unknown_replication_gives_no_warning() -> None:
    topic = TopicReport("weather-predictions", "predictions", True, {0: 5})
    assert _warnings(topic) == []
