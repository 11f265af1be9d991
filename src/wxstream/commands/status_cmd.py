"""``wxstream status``: is the pipeline up? Broker, topics, consumer group and lag, Ray and
the inference actors, dead letters; the exit code makes it a health check."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from typing import Any

import click

from wxstream import settings
from wxstream.commands.options import (
    anomalies_topic_option,
    bootstrap_servers_option,
    dlq_topic_option,
    features_topic_option,
    group_id_option,
    kafka_client_options,
    predictions_topic_option,
    ray_address_option,
    verification_topic_option,
)
from wxstream.ops import (
    BrokerReport,
    GroupReport,
    Health,
    RayReport,
    StatusReport,
    TopicReport,
    assess,
)
from wxstream.ops.anomalies import anomaly_status_line
from wxstream.ops.skill_status import skill_json, skill_status_lines


def render_text(report: StatusReport, health: Health) -> str:
    """A compact human-readable report (pure)."""
    lines = _broker_lines(report.broker)
    lines.extend(_topic_line(t) for t in report.topics)
    if report.group is not None:
        lines.extend(_group_lines(report.group))
    if report.ray is not None:
        lines.extend(_ray_lines(report.ray))
    d = report.dead_letters
    if d is not None:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(d.by_reason.items())) or "-"
        more = "" if d.complete else "+ (counting stopped early)"
        lines.append(f"dead      {d.topic}: {d.records}{more} record(s); by reason: {reasons}")
    a = report.anomalies
    if a is not None:
        lines.append(anomaly_status_line(a))
    if report.skill is not None:
        lines.extend(skill_status_lines(report.skill))
    lines.append("")
    lines.extend(_verdict_lines(health))
    return "\n".join(lines)


def _broker_lines(b: BrokerReport) -> list[str]:
    if not b.reachable:
        return [f"Kafka     {b.bootstrap_servers}: NOT REACHABLE ({b.error or 'no answer'})"]
    brokers = ", ".join(b.brokers) or "-"
    version = b.version or "not reported by the broker"
    return [
        f"Kafka     {b.bootstrap_servers}: up, cluster {b.cluster_id or '-'}",
        f"          brokers {brokers}; controller {b.controller_id}; version {version}",
    ]


def _topic_line(t: TopicReport) -> str:
    if not t.exists:
        return f"topic     {t.name} ({t.role}): MISSING"
    ends = " ".join(f"{p}:{o}" for p, o in sorted(t.end_offsets.items()))
    replicas = f", {t.replicas} replica(s)" if t.replicas is not None else ""
    return f"topic     {t.name} ({t.role}): {t.partitions} partitions{replicas}, end offsets {ends}"


def _group_lines(g: GroupReport) -> list[str]:
    lines = [
        f"group     {g.group_id}: {g.state}, {len(g.members)} member(s), lag {g.lag_total} "
        f"(was {g.first_lag_total} {g.sample_interval_s:g} s earlier)"
    ]
    lines.extend(
        f"          member {m.client_id}@{m.host}: {', '.join(m.partitions) or '-'}"
        for m in g.members
    )
    for p in g.partitions:
        committed = "-" if p.committed is None else str(p.committed)
        lines.append(
            f"          partition {p.partition}: committed {committed}, "
            f"end {p.end_offset}, lag {p.lag}"
        )
    return lines


def _verdict_lines(health: Health) -> list[str]:
    lines = [
        "healthy (exit code 0)" if health.ok else f"NOT healthy (exit code {health.exit_code})"
    ]
    for problem in health.problems:
        lines.append(f"problem: {problem.message}")
        lines.append(f"  fix: {problem.fix}")
    lines.extend(f"warning: {w}" for w in health.warnings)
    return lines


def report_to_json(report: StatusReport, health: Health) -> dict[str, Any]:
    """The report and the verdict as one JSON-ready dict (stable keys)."""
    out: dict[str, Any] = {
        "healthy": health.ok,
        "exit_code": health.exit_code,
        "problems": [asdict(p) for p in health.problems],
        "warnings": list(health.warnings),
        "broker": asdict(report.broker),
        "topics": [
            {
                "name": t.name,
                "role": t.role,
                "exists": t.exists,
                "partitions": t.partitions,
                "end_offsets": {str(p): o for p, o in sorted(t.end_offsets.items())},
                "replicas": t.replicas,
                "in_sync_replicas": t.in_sync_replicas,
                "min_insync_replicas": t.min_insync_replicas,
            }
            for t in report.topics
        ],
        "consumer_group": None,
        "ray": None,
        "dead_letters": None,
        "anomalies": None,
        "skill": None,
    }
    group = report.group
    if group is not None:
        out["consumer_group"] = {
            "group_id": group.group_id,
            "state": group.state,
            "members": [asdict(m) for m in group.members],
            "partitions": [
                {"partition": p.partition, "committed": p.committed, "end_offset": p.end_offset}
                | {"lag": p.lag}
                for p in group.partitions
            ],
            "lag_total": group.lag_total,
            "first_lag_total": group.first_lag_total,
            "committed_total": group.committed_total,
            "first_committed_total": group.first_committed_total,
            "stalled": group.stalled,
            "lag_growth": group.lag_growth,
            "sample_interval_s": group.sample_interval_s,
        }
    if report.ray is not None:
        out["ray"] = asdict(report.ray) | {"alive_actors": report.ray.alive_actors}
    if report.dead_letters is not None:
        out["dead_letters"] = asdict(report.dead_letters)
    if report.anomalies is not None:
        out["anomalies"] = asdict(report.anomalies)
    if report.skill is not None:
        out["skill"] = skill_json(report.skill)
    return out


def _ray_lines(ray: RayReport) -> list[str]:
    if ray.state != "connected":
        where = f" at {ray.address}" if ray.address else ""
        detail = f" ({ray.error})" if ray.error else ""
        return [f"Ray       {ray.state}{where}{detail}"]
    lines = [
        f"Ray       {ray.address}: {ray.cpus:g} CPUs, {ray.gpus:g} GPUs, "
        f"{ray.alive_actors}/{len(ray.actors)} inference actors alive"
    ]
    for a in ray.actors:
        model = f"{a.model_name or '?'} v{a.model_version or '?'}"
        lines.append(
            f"          actor {a.actor_id[:8]} pid {a.pid or '-'}: {a.state}, "
            f"{a.restarts} restart(s), {a.device or '?'}, model {model}"
        )
    return lines


@click.command()
@bootstrap_servers_option
@kafka_client_options
@ray_address_option
@features_topic_option
@predictions_topic_option
@dlq_topic_option
@anomalies_topic_option
@verification_topic_option
@group_id_option
@click.option(
    "--sample-interval-s",
    envvar="WXSTREAM_STATUS_SAMPLE_INTERVAL_S",
    show_envvar=True,
    type=click.FloatRange(0.0),
    default=2.0,
    show_default=True,
    help="Seconds between the two lag samples (lag growing between them: exit code 8).",
)
@click.option(
    "--timeout-s",
    envvar="WXSTREAM_STATUS_TIMEOUT_S",
    show_envvar=True,
    type=click.FloatRange(0.1),
    default=5.0,
    show_default=True,
    help="Longest wait for the broker or Ray to answer.",
)
@click.option(
    "--lag-growth-tolerance",
    envvar="WXSTREAM_STATUS_LAG_GROWTH_TOLERANCE",
    show_envvar=True,
    type=click.IntRange(0),
    default=0,
    show_default=True,
    help="Records the lag may grow between the samples before it counts as growing.",
)
@click.option("--no-ray", is_flag=True, help="Do not look at Ray (Kafka only).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def status(
    *,
    bootstrap_servers: str,
    client_properties: tuple[settings.ClientProperty, ...],
    ray_address: str | None,
    features_topic: str,
    predictions_topic: str,
    dlq_topic: str,
    anomalies_topic: str,
    verification_topic: str,
    group_id: str,
    sample_interval_s: float,
    timeout_s: float,
    lag_growth_tolerance: int,
    no_ray: bool,
    as_json: bool,
) -> None:
    """Check the pipeline: Kafka, topics, the consumer group's lag, Ray and its
    inference actors, dead letters, the quality stage's findings per check, and the
    live skill per model version and lead (the verification topic).

    Exit codes: 0 healthy; 3 Kafka unreachable; 4 topic missing; 5 Ray unreachable or
    not found; 6 no live inference actor; 7 consumer group without members (service
    not running); 8 consumer lag growing. See docs/operations.md.
    """
    from wxstream.ops import KafkaAdminProbe, RayStateProbe, gather_status
    from wxstream.ops.skill_status import probe_skill

    status_settings = settings.StatusSettings(
        kafka=settings.KafkaSettings(
            bootstrap_servers=bootstrap_servers,
            client_properties=client_properties,
            features_topic=features_topic,
            predictions_topic=predictions_topic,
            dlq_topic=dlq_topic,
            anomalies_topic=anomalies_topic,
            verification_topic=verification_topic,
        ),
        group_id=group_id,
        ray_address=ray_address,
        check_ray=not no_ray,
        sample_interval_s=sample_interval_s,
        timeout_s=timeout_s,
        lag_growth_tolerance=lag_growth_tolerance,
    )
    kafka_probe = KafkaAdminProbe(
        status_settings.kafka, timeout_s=timeout_s, dlq_scan_limit=status_settings.dlq_scan_limit
    )
    ray_probe = None if no_ray else RayStateProbe(timeout_s)
    report = gather_status(status_settings, kafka_probe, ray_probe)
    if report.broker.reachable:
        skill = probe_skill(
            status_settings.kafka, timeout_s=timeout_s, limit=status_settings.dlq_scan_limit
        )
        report = replace(report, skill=skill)
    health = assess(report, lag_growth_tolerance=lag_growth_tolerance)
    if as_json:
        click.echo(json.dumps(report_to_json(report, health), indent=2))
    else:
        click.echo(render_text(report, health))
    sys.exit(health.exit_code)
