"""The service's Prometheus metrics: a private registry per service, served over HTTP."""

from __future__ import annotations

import urllib.request

import pytest

from wxstream.errors import ConfigError
from wxstream.streaming import ServiceMetrics
from wxstream.streaming.core.counts import IngestCounts

NAMES = (
    "wxstream_messages_in_total",
    "wxstream_forecasts_out_total",
    "wxstream_dead_lettered_total",
    "wxstream_windows_reset_total",
    "wxstream_out_of_order_dropped_total",
    "wxstream_duplicates_ignored_total",
    "wxstream_batch_size",
    "wxstream_inference_latency_seconds",
    "wxstream_end_to_end_latency_seconds",
    "wxstream_consumer_lag",
    "wxstream_actor_retries_total",
    "wxstream_actor_restarts_total",
)


def test_two_services_count_apart() -> None:
    one, two = ServiceMetrics(), ServiceMetrics()
    one.record_committed(
        IngestCounts(records=5, duplicates=1, out_of_order=2, resets=1, dead_letters={"x": 2})
    )
    assert one.value("wxstream_messages_in_total") == 5
    assert one.value("wxstream_dead_lettered_total", {"reason": "x"}) == 2
    assert one.value("wxstream_out_of_order_dropped_total") == 2
    assert two.value("wxstream_messages_in_total") == 0


def test_metrics_are_served_over_http(unused_port: int) -> None:
    metrics = ServiceMetrics()
    metrics.forecasts_out.inc(3)
    metrics.consumer_lag.labels(partition="0").set(7)
    metrics.end_to_end_latency.observe(0.2)
    metrics.serve(unused_port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{unused_port}/metrics", timeout=5) as r:
            text = r.read().decode()
    finally:
        metrics.close()
    for name in NAMES:
        assert name in text
    assert "wxstream_forecasts_out_total 3.0" in text
    assert 'wxstream_consumer_lag{partition="0"} 7.0' in text


def test_port_zero_serves_nothing_and_a_taken_port_is_a_config_error(unused_port: int) -> None:
    ServiceMetrics().serve(0)
    first = ServiceMetrics()
    first.serve(unused_port)
    try:
        with pytest.raises(ConfigError, match="metrics"):
            ServiceMetrics().serve(unused_port)
    finally:
        first.close()
