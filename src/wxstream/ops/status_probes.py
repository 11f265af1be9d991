"""The probes behind ``wxstream status``: Kafka (cluster, topics, group, dead letters) and
Ray (resources, inference actors), and :func:`gather_status`, which assembles their
answers into a :class:`~wxstream.ops.status.StatusReport`.

:func:`gather_status` only talks to the :class:`KafkaProbe` and :class:`RayProbe`
interfaces; :class:`KafkaAdminProbe` and :class:`RayStateProbe` are the real ones.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from confluent_kafka import KafkaException

from wxstream.errors import KafkaError, TopicMissingError
from wxstream.kafka.admin import list_topics, probe_broker, topic_replication
from wxstream.kafka.clients import access_error, access_refusal, make_admin
from wxstream.kafka.offsets import committed_offsets, end_offsets
from wxstream.kafka.topic_reader import read_topics
from wxstream.messages.dead_letters import REASON_HEADER, read_headers
from wxstream.ops.anomalies import AnomalyReport, count_anomalies, read_anomalies
from wxstream.ops.status import (
    ACTOR_CLASS_NAME,
    ActorReport,
    BrokerReport,
    DeadLetterReport,
    GroupReport,
    MemberReport,
    PartitionLag,
    RayReport,
    StatusReport,
    TopicReport,
    parse_actor_repr,
)
from wxstream.settings import KafkaSettings, StatusSettings
from wxstream.streaming.ray_checks import local_ray_addresses, ray_address_reachable

logger = logging.getLogger(__name__)

GroupAnswer = tuple[str, tuple[MemberReport, ...], dict[int, int | None]]
"""Group state, members, and committed offset per partition of the features topic."""


class KafkaProbe(Protocol):
    """What :func:`gather_status` asks Kafka."""

    def broker(self) -> BrokerReport:
        """Whether the cluster answers, and what it says about itself."""
        ...

    def topic(self, name: str, role: str) -> TopicReport:
        """A topic's partitions and end offsets (``exists=False`` when missing)."""
        ...

    def group(self, group_id: str, topic: str) -> GroupAnswer:
        """The group's state, members and committed offsets on ``topic``."""
        ...

    def dead_letters(self, topic: str) -> DeadLetterReport:
        """The records of the dead-letter topic, counted by reason."""
        ...

    def anomalies(self, topic: str) -> AnomalyReport | None:
        """The findings in the anomalies topic by check and severity (``None``: no topic)."""
        ...


class RayProbe(Protocol):
    """What :func:`gather_status` asks Ray."""

    def __call__(self, address: str | None) -> RayReport:
        """Resources and inference actors of the Ray at ``address`` (``None``: local)."""
        ...


def gather_status(
    settings: StatusSettings,
    kafka: KafkaProbe,
    ray: RayProbe | None,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> StatusReport:
    """Ask the probes and assemble the report; the group's lag is sampled twice,
    ``settings.sample_interval_s`` apart (Ray is asked in between)."""
    broker = kafka.broker()
    if not broker.reachable:
        ray_report = ray(settings.ray_address) if ray is not None and settings.check_ray else None
        return StatusReport(broker=broker, ray=ray_report)
    k = settings.kafka
    roles = (
        ("features", k.features_topic),
        ("predictions", k.predictions_topic),
        ("dead letters", k.dlq_topic),
    )
    topics = tuple(kafka.topic(name, role) for role, name in roles)
    features = topics[0]
    first = (
        _lags(features, kafka.group(settings.group_id, features.name)[2]) if features.exists else ()
    )
    began = time.monotonic()
    ray_report = ray(settings.ray_address) if ray is not None and settings.check_ray else None
    sleep(max(0.0, settings.sample_interval_s - (time.monotonic() - began)))
    group: GroupReport | None = None
    topics = (kafka.topic(features.name, "features"), *topics[1:])
    if topics[0].exists:
        state, members, committed = kafka.group(settings.group_id, features.name)
        group = GroupReport(
            group_id=settings.group_id,
            state=state,
            members=members,
            partitions=_lags(topics[0], committed),
            first_lag_total=sum(p.lag for p in first),
            sample_interval_s=settings.sample_interval_s,
            first_committed_total=sum(p.committed or 0 for p in first),
        )
    dlq = topics[2]
    dead = kafka.dead_letters(dlq.name) if dlq.exists else None
    return StatusReport(
        broker=broker,
        topics=topics,
        group=group,
        ray=ray_report,
        dead_letters=dead,
        anomalies=kafka.anomalies(k.anomalies_topic),
    )


def _lags(topic: TopicReport, committed: Mapping[int, int | None]) -> tuple[PartitionLag, ...]:
    return tuple(
        PartitionLag(partition, committed.get(partition), end)
        for partition, end in sorted(topic.end_offsets.items())
    )


class KafkaAdminProbe:
    """The real :class:`KafkaProbe`: admin requests and one counting consumer."""

    def __init__(self, settings: KafkaSettings, *, timeout_s: float, dlq_scan_limit: int) -> None:
        self._settings = replace(settings, request_timeout_s=timeout_s)
        self._timeout_s = timeout_s
        self._dlq_scan_limit = dlq_scan_limit

    def broker(self) -> BrokerReport:
        """See :class:`KafkaProbe`."""
        servers = self._settings.bootstrap_servers
        if not probe_broker(servers, self._timeout_s, self._settings.client_properties):
            refusal = access_refusal(servers)
            refused = access_error(refusal) if refusal is not None else None
            if refused is not None:
                return BrokerReport(servers, False, error=refused.message, access_fix=refused.fix)
            return BrokerReport(servers, False, error=f"no answer within {self._timeout_s:g} s")
        admin = make_admin(self._settings)
        try:
            cluster = admin.describe_cluster(request_timeout=self._timeout_s).result()
        except KafkaException as exc:
            return BrokerReport(servers, True, error=f"describe cluster failed: {exc}")
        controller = cluster.controller
        return BrokerReport(
            bootstrap_servers=servers,
            reachable=True,
            cluster_id=cluster.cluster_id,
            controller_id=controller.id if controller is not None else None,
            brokers=tuple(f"{node.id}@{node.host}:{node.port}" for node in cluster.nodes),
        )

    def topic(self, name: str, role: str) -> TopicReport:
        """See :class:`KafkaProbe`."""
        if name not in list_topics(self._settings):
            return TopicReport(name, role, exists=False)
        replication = topic_replication(self._settings, [name]).get(name)
        return TopicReport(
            name,
            role,
            exists=True,
            end_offsets=end_offsets(self._settings, name),
            replicas=replication.replicas if replication else None,
            in_sync_replicas=replication.in_sync if replication else None,
            min_insync_replicas=replication.min_insync_replicas if replication else None,
        )

    def group(self, group_id: str, topic: str) -> GroupAnswer:
        """See :class:`KafkaProbe`."""
        admin = make_admin(self._settings)
        futures = admin.describe_consumer_groups([group_id], request_timeout=self._timeout_s)
        try:
            description = futures[group_id].result()
        except KafkaException as exc:
            raise KafkaError(f"describing consumer group {group_id} failed: {exc}") from exc
        members = tuple(
            MemberReport(
                member_id=member.member_id,
                client_id=member.client_id,
                host=member.host,
                partitions=tuple(
                    f"{tp.topic}[{tp.partition}]"
                    for tp in (member.assignment.topic_partitions if member.assignment else [])
                ),
            )
            for member in description.members
        )
        state = getattr(description.state, "name", str(description.state))
        return state, members, committed_offsets(self._settings, group_id, topic)

    def dead_letters(self, topic: str) -> DeadLetterReport:
        """See :class:`KafkaProbe`: reads the topic from the beginning (read_committed)
        until every partition reached its end, ``dlq_scan_limit`` records, or the timeout."""
        read = read_topics(
            self._settings, [topic], timeout_s=self._timeout_s, limit=self._dlq_scan_limit
        )
        reasons: Counter[str] = Counter()
        for message in read.records:
            headers: Any = message.headers()
            reasons[read_headers(headers).get(REASON_HEADER, "unknown")] += 1
        return DeadLetterReport(topic, len(read.records), dict(reasons), complete=read.complete)

    def anomalies(self, topic: str) -> AnomalyReport | None:
        """See :class:`KafkaProbe`: reads like :meth:`dead_letters` (a missing topic is
        no problem: a service without a quality stage writes none)."""
        try:
            read = read_anomalies(
                replace(self._settings, anomalies_topic=topic),
                timeout_s=self._timeout_s,
                limit=self._dlq_scan_limit,
            )
        except TopicMissingError:
            return None
        return count_anomalies(
            topic, read.findings, undecodable=read.undecodable, complete=read.complete
        )


class RayStateProbe:
    """The real :class:`RayProbe`: connects as a driver only where Ray answers."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s

    def __call__(self, address: str | None) -> RayReport:
        """See :class:`RayProbe`."""
        import ray

        if ray.is_initialized():
            # Ray already runs in this process (the demo, a test session): look there.
            return _describe_ray(address or _gcs_address(), self._timeout_s)
        target = address
        if address is None:
            found = local_ray_addresses()
            if not found:
                return RayReport("not running")
            if len(found) > 1:
                return RayReport("ambiguous", error=", ".join(found))
            # "auto" is how Ray itself joins the local cluster (and uses its auth token).
            address, target = found[0], "auto"
        if not ray_address_reachable(address, self._timeout_s):
            return RayReport(
                "unreachable", address, error=f"no answer within {self._timeout_s:g} s"
            )
        try:
            ray.init(address=target, logging_level=logging.ERROR, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError, TimeoutError, OSError) as exc:
            return RayReport("unreachable", address, error=str(exc))
        try:
            return _describe_ray(address, self._timeout_s)
        finally:
            ray.shutdown()


def _gcs_address() -> str:
    import ray

    return str(ray.get_runtime_context().gcs_address)


def _describe_ray(address: str, timeout_s: float) -> RayReport:
    import ray

    # ray.cluster_resources is not annotated upstream.
    cluster_resources: Any = ray.cluster_resources
    resources: dict[str, float] = cluster_resources()
    actors = tuple(_actor_report(row) for row in _actor_rows(timeout_s))
    return RayReport(
        "connected",
        address,
        cpus=float(resources.get("CPU", 0.0)),
        gpus=float(resources.get("GPU", 0.0)),
        actors=actors,
    )


def _actor_rows(timeout_s: float) -> list[dict[str, Any]]:
    """Every inference actor Ray knows: from the state API where the dashboard runs,
    else from the GCS actor table (what the state API reads, without the dashboard)."""
    from ray.util.state import list_actors
    from ray.util.state.exception import RayStateApiException

    try:
        states = list_actors(
            filters=[("class_name", "=", ACTOR_CLASS_NAME)],
            detail=True,
            timeout=max(1, int(timeout_s)),
            raise_on_missing_output=False,
        )
        return [
            {
                "actor_id": s.actor_id,
                "state": s.state,
                "restarts": int(s.num_restarts or 0),
                "pid": s.pid,
                "node_id": s.node_id,
                "repr_name": s.repr_name or "",
            }
            for s in states
        ]
    except (RayStateApiException, ConnectionError) as exc:
        logger.debug("Ray state API not available (%s); reading the GCS actor table", exc)
    from ray._private import state as ray_state
    from ray.core.generated import gcs_pb2 as gcs_module

    # The generated protobuf module is not annotated.
    gcs_pb2: Any = gcs_module

    accessor = ray_state.state._connect_and_get_accessor()
    rows = []
    for raw in accessor.get_actor_table(None, None):
        data = gcs_pb2.ActorTableData.FromString(raw)
        if data.class_name != ACTOR_CLASS_NAME:
            continue
        rows.append(
            {
                "actor_id": data.actor_id.hex(),
                "state": gcs_pb2.ActorTableData.ActorState.Name(data.state),
                "restarts": int(data.num_restarts),
                "pid": int(data.pid) or None,
                "node_id": data.address.node_id.hex() or None,
                "repr_name": data.repr_name,
            }
        )
    return rows


def _actor_report(row: Mapping[str, Any]) -> ActorReport:
    described = parse_actor_repr(str(row.get("repr_name") or ""))
    return ActorReport(
        actor_id=str(row["actor_id"]),
        state=str(row["state"]),
        restarts=int(row["restarts"]),
        pid=row.get("pid"),
        node_id=row.get("node_id"),
        model_name=described.get("model"),
        model_version=described.get("version"),
        device=described.get("device"),
    )
