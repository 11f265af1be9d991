"""Prometheus metrics of ``wxstream serve``, in a registry private to one service.

A private :class:`~prometheus_client.CollectorRegistry` per service instance keeps
tests and several services in one process (demo, bench) apart. :meth:`ServiceMetrics.serve`
exposes it over HTTP when a port is configured.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from wxstream.errors import ConfigError
from wxstream.rollout.skill import LeadSkill, SkillKey
from wxstream.streaming.core.counts import IngestCounts

logger = logging.getLogger(__name__)

_LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class ServiceMetrics:
    """Every metric of the inference service (names prefixed ``wxstream_``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._skill: tuple[Gauge, Gauge, Gauge, Gauge] | None = None
        r = self.registry
        self.messages_in = Counter(
            "wxstream_messages_in",
            "Input records processed (each counted once, when its offset is committed).",
            registry=r,
        )
        self.forecasts_out = Counter(
            "wxstream_forecasts_out", "Forecasts delivered to the predictions topic.", registry=r
        )
        self.shadow_forecasts_out = Counter(
            "wxstream_shadow_forecasts_out",
            "Forecasts of the second version delivered to the shadow topic.",
            registry=r,
        )
        self.dead_lettered = Counter(
            "wxstream_dead_lettered",
            "Records sent to the dead-letter topic, by reason code.",
            ["reason"],
            registry=r,
        )
        self.windows_reset = Counter(
            "wxstream_windows_reset",
            "Station windows restarted because of a gap longer than the tolerance.",
            registry=r,
        )
        self.out_of_order = Counter(
            "wxstream_out_of_order_dropped",
            "Feature windows dropped because an older window arrived after a newer one.",
            registry=r,
        )
        self.duplicates = Counter(
            "wxstream_duplicates_ignored",
            "Feature windows ignored because the station already had that window.",
            registry=r,
        )
        self.anomalies = Counter(
            "wxstream_anomalies",
            "Findings of the quality stage written to the anomalies topic, by check and severity.",
            ["check", "severity"],
            registry=r,
        )
        self.qc_skipped = Counter(
            "wxstream_qc_skipped",
            "Flagged hours kept out of their station's window (policy skip).",
            registry=r,
        )
        self.qc_imputed = Counter(
            "wxstream_qc_imputed",
            "Flagged hours whose values were replaced in the window (policy impute).",
            registry=r,
        )
        self.served_version = Gauge(
            "wxstream_served_model_version",
            "1 for each model version served now, by model name and role (champion or "
            "challenger); 0 for one served before a swap.",
            ["name", "role", "version"],
            registry=r,
        )
        self.model_swaps = Counter(
            "wxstream_model_swaps",
            "Live swaps of the served versions after an alias move, by outcome "
            "(done, or refused: incompatible, failed to load or failed the warm-up check).",
            ["outcome"],
            registry=r,
        )
        self.missing_inputs = Counter(
            "wxstream_missing_inputs",
            "Full windows not forecast: an optional input the model reads has no value in "
            "any hour of the window (missing hours are filled within the window otherwise).",
            registry=r,
        )
        self.batch_size = Histogram(
            "wxstream_batch_size", "Forecasts per actor call.", buckets=_BATCH_BUCKETS, registry=r
        )
        self.inference_latency = Histogram(
            "wxstream_inference_latency_seconds",
            "From submitting a batch to an actor until its forecasts came back.",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.end_to_end_latency = Histogram(
            "wxstream_end_to_end_latency_seconds",
            "From the feature record's Kafka timestamp until its forecast was delivered.",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "wxstream_consumer_lag",
            "Records between the consumer position and the end of the partition.",
            ["partition"],
            registry=r,
        )
        self.actor_retries = Counter(
            "wxstream_actor_retries",
            "Actor calls re-submitted because the actor died or failed.",
            registry=r,
        )
        self.actor_restarts = Counter(
            "wxstream_actor_restarts",
            "Inference actors seen dead (Ray restarts them).",
            registry=r,
        )
        self.transactions_aborted = Counter(
            "wxstream_transactions_aborted",
            "Kafka transactions aborted; the service rewound to the committed offsets.",
            registry=r,
        )
        self.restored_records = Counter(
            "wxstream_restored_records",
            "Records read back (without emitting) to rebuild station windows.",
            registry=r,
        )
        self.in_flight_batches = Gauge(
            "wxstream_in_flight_batches", "Actor calls outstanding.", registry=r
        )
        self._server: Any = None
        self._retries_seen = 0
        self._failures_seen = 0

    def record_skill(self, figures: Mapping[SkillKey, LeadSkill]) -> None:
        """Set the live skill gauges (created on first use: off without live skill)."""
        if self._skill is None:
            labels = ["model_version", "lead_h"]
            r = self.registry
            self._skill = (
                Gauge("wxstream_skill_pairs", "Paired forecasts (live skill).", labels, registry=r),
                Gauge("wxstream_skill_mae_c", "MAE of the median, degC.", labels, registry=r),
                Gauge(
                    "wxstream_skill_pinball_c",
                    "Mean pinball loss of p10/p50/p90, degC.",
                    labels,
                    registry=r,
                ),
                Gauge(
                    "wxstream_skill_coverage",
                    "Share of observations inside [p10, p90].",
                    labels,
                    registry=r,
                ),
            )
        pairs, mae, pinball, coverage = self._skill
        for key, lead in figures.items():
            labels_of = {"model_version": key.model_version, "lead_h": str(key.lead_h)}
            pairs.labels(**labels_of).set(lead.count)
            mae.labels(**labels_of).set(lead.mae_c)
            pinball.labels(**labels_of).set(lead.pinball_c)
            coverage.labels(**labels_of).set(lead.coverage)

    def record_committed(self, counts: IngestCounts) -> None:
        """Count what the input records of a committed delivery did.

        Counted at the commit, not when read: records read again after a rewind (an
        aborted delivery) or a rebalance are counted once, by the delivery that
        committed them. Restored records are counted by :meth:`record_restored`.
        """
        self.messages_in.inc(counts.records)
        if counts.duplicates:
            self.duplicates.inc(counts.duplicates)
        if counts.out_of_order:
            self.out_of_order.inc(counts.out_of_order)
        if counts.resets:
            self.windows_reset.inc(counts.resets)
        for reason, n in counts.dead_letters.items():
            self.dead_lettered.labels(reason=reason).inc(n)
        for (check, severity), n in counts.anomalies.items():
            self.anomalies.labels(check=check, severity=severity).inc(n)
        if counts.qc_skipped:
            self.qc_skipped.inc(counts.qc_skipped)
        if counts.qc_imputed:
            self.qc_imputed.inc(counts.qc_imputed)
        if counts.missing_inputs:
            self.missing_inputs.inc(counts.missing_inputs)

    def record_restored(self, records: int) -> None:
        """Count records read back to rebuild windows (each read back counts)."""
        if records:
            self.restored_records.inc(records)

    def record_actors(self, in_flight: int, retries: int, actor_failures: int) -> None:
        """The forecaster's calls in flight, and its running totals of retries and
        actor failures (only the increase since the last call is counted)."""
        self.in_flight_batches.set(in_flight)
        if retries > self._retries_seen:
            self.actor_retries.inc(retries - self._retries_seen)
            self._retries_seen = retries
        if actor_failures > self._failures_seen:
            self.actor_restarts.inc(actor_failures - self._failures_seen)
            self._failures_seen = actor_failures

    def serve(self, port: int | None, host: str = "127.0.0.1") -> None:
        """Expose the registry on ``http://<host>:<port>/metrics``; ``None`` or 0: off.

        Loopback by default: nothing the service opens is reachable from the network
        unless asked for (``--metrics-host 0.0.0.0``, as the container does).

        Raises:
            ConfigError: the port cannot be bound.
        """
        if not port:
            return
        try:
            self._server = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve metrics on {host}:{port}: {exc}",
                fix="choose a free --metrics-port (WXSTREAM_METRICS_PORT), or 0 to disable, "
                "and an address of this host as --metrics-host (WXSTREAM_METRICS_HOST)",
            ) from exc
        logger.info("metrics on http://%s:%d/metrics", host, port)

    def close(self) -> None:
        """Stop the HTTP server, if one runs."""
        server = self._server
        self._server = None
        if server is None:
            return
        # start_http_server returns (server, thread) in current prometheus_client.
        httpd = server[0] if isinstance(server, tuple) else server
        httpd.shutdown()
        httpd.server_close()

    def value(self, name: str, labels: dict[str, str] | None = None) -> float:
        """Current value of a sample (e.g. ``wxstream_forecasts_out_total``); 0.0 if absent."""
        found = self.registry.get_sample_value(name, labels or {})
        return 0.0 if found is None else float(found)
