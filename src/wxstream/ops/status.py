"""The status of a running pipeline: what ``wxstream status`` reports and how healthy it is.

Pure code. A :class:`StatusReport` is assembled from what the probes found (see
:mod:`wxstream.ops.status_probes`); :func:`assess` turns it into a
:class:`Health` with one exit code (``wxstream status`` shows both). Exit codes, most
fundamental first (the smallest code of every problem found wins):

====  =========================================================================
code  meaning
====  =========================================================================
0     everything the pipeline needs is up and the consumer lag is not growing
3     Kafka is not reachable
4     a pipeline topic (features, predictions, dead-letter) is missing
5     Ray is not reachable, or no Ray was found (give ``--ray-address``)
6     Ray runs but no inference actor is alive
7     the consumer group has no members: the service is not running
8     the consumer lag grew between the two samples, or records wait and the group
      committed nothing between them (stalled)
====  =========================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    # Only named: the report stays importable without the Kafka client.
    from wxstream.ops.anomalies import AnomalyReport
    from wxstream.ops.skill_status import SkillReport

EXIT_OK = 0
EXIT_KAFKA_UNREACHABLE = 3
EXIT_TOPIC_MISSING = 4
EXIT_RAY_UNAVAILABLE = 5
EXIT_NO_ACTORS = 6
EXIT_GROUP_INACTIVE = 7
EXIT_LAG_GROWING = 8

ACTOR_CLASS_NAME = "InferenceActor"
RayState = Literal["connected", "not running", "unreachable", "ambiguous"]


@dataclass(frozen=True)
class BrokerReport:
    """The Kafka cluster behind the bootstrap servers.

    ``version`` is ``None`` where the broker does not tell it (the Kafka protocol only
    exposes API version ranges, not the release).
    """

    bootstrap_servers: str
    reachable: bool
    cluster_id: str | None = None
    controller_id: int | None = None
    brokers: tuple[str, ...] = ()
    version: str | None = None
    error: str | None = None
    # Set when the cluster answered but refused the client (TLS, SASL): what to change.
    access_fix: str | None = None


@dataclass(frozen=True)
class TopicReport:
    """One pipeline topic: its role, whether it exists, its end offsets per partition."""

    name: str
    role: str
    exists: bool
    end_offsets: Mapping[int, int] = field(default_factory=dict)
    # Of the least replicated partition; None: not known.
    replicas: int | None = None
    in_sync_replicas: int | None = None
    min_insync_replicas: int | None = None

    @property
    def partitions(self) -> int:
        """Partition count (0 when missing)."""
        return len(self.end_offsets)

    @property
    def total_end_offset(self) -> int:
        """Sum of the partitions' end offsets."""
        return sum(self.end_offsets.values())


@dataclass(frozen=True)
class MemberReport:
    """One member of the consumer group and the partitions assigned to it."""

    member_id: str
    client_id: str
    host: str
    partitions: tuple[str, ...] = ()


@dataclass(frozen=True)
class PartitionLag:
    """Committed offset and lag of one partition (committed ``None``: nothing yet)."""

    partition: int
    committed: int | None
    end_offset: int

    @property
    def lag(self) -> int:
        """Records not yet committed by the group."""
        return max(0, self.end_offset - (self.committed or 0))


@dataclass(frozen=True)
class GroupReport:
    """The service's consumer group on the features topic, sampled twice.

    Attributes:
        group_id: the group.
        state: Kafka's group state (``STABLE``, ``EMPTY``, ``DEAD``, ...).
        members: the group's members.
        partitions: committed offset and lag per partition at the second sample.
        first_lag_total: total lag at the first sample.
        sample_interval_s: seconds between the samples.
        first_committed_total: sum of the committed offsets at the first sample.
    """

    group_id: str
    state: str
    members: tuple[MemberReport, ...]
    partitions: tuple[PartitionLag, ...]
    first_lag_total: int
    sample_interval_s: float
    first_committed_total: int = 0

    @property
    def committed_total(self) -> int:
        """Sum of the committed offsets at the second sample."""
        return sum(p.committed or 0 for p in self.partitions)

    @property
    def stalled(self) -> bool:
        """Records wait at both samples and the group committed nothing in between."""
        return (
            self.sample_interval_s > 0
            and self.first_lag_total > 0
            and self.lag_total > 0
            and self.committed_total == self.first_committed_total
        )

    @property
    def lag_total(self) -> int:
        """Total lag at the second sample."""
        return sum(p.lag for p in self.partitions)

    @property
    def lag_growth(self) -> int:
        """How much the total lag grew between the samples (negative: shrank)."""
        return self.lag_total - self.first_lag_total


@dataclass(frozen=True)
class ActorReport:
    """One inference actor as Ray reports it."""

    actor_id: str
    state: str
    restarts: int
    pid: int | None = None
    node_id: str | None = None
    model_name: str | None = None
    model_version: str | None = None
    device: str | None = None

    @property
    def alive(self) -> bool:
        """Ray reports it ``ALIVE``."""
        return self.state == "ALIVE"


@dataclass(frozen=True)
class RayReport:
    """The Ray the service runs on, and its inference actors."""

    state: RayState
    address: str | None = None
    cpus: float = 0.0
    gpus: float = 0.0
    actors: tuple[ActorReport, ...] = ()
    error: str | None = None

    @property
    def alive_actors(self) -> int:
        """Actors Ray reports alive."""
        return sum(1 for actor in self.actors if actor.alive)


@dataclass(frozen=True)
class DeadLetterReport:
    """Records in the dead-letter topic, by reason code.

    ``complete`` is ``False`` when counting stopped at its limit or timeout; the counts
    are then a lower bound.
    """

    topic: str
    records: int
    by_reason: Mapping[str, int] = field(default_factory=dict)
    complete: bool = True


@dataclass(frozen=True)
class StatusReport:
    """Everything ``wxstream status`` found."""

    broker: BrokerReport
    topics: tuple[TopicReport, ...] = ()
    group: GroupReport | None = None
    ray: RayReport | None = None
    dead_letters: DeadLetterReport | None = None
    # Findings of the quality stage per check (None: no anomalies topic).
    anomalies: AnomalyReport | None = None
    # Live skill per version and lead (None: no verification topic).
    skill: SkillReport | None = None


@dataclass(frozen=True)
class Problem:
    """Something that keeps the pipeline from being healthy, with its exit code and fix."""

    exit_code: int
    message: str
    fix: str


@dataclass(frozen=True)
class Health:
    """The verdict: exit code 0 without problems, else the smallest problem code."""

    problems: tuple[Problem, ...]
    warnings: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """No problem found."""
        return not self.problems

    @property
    def exit_code(self) -> int:
        """0 when healthy, else the most fundamental problem's code."""
        return min((p.exit_code for p in self.problems), default=EXIT_OK)


_REPR_FIELD = re.compile(r"(\w+)=([^,()]+)")


def parse_actor_repr(text: str) -> dict[str, str]:
    """``InferenceActor(model=lstm, version=1, device=cpu)`` -> ``{"model": "lstm", ...}``."""
    return {key: value.strip() for key, value in _REPR_FIELD.findall(text or "")}


def assess(report: StatusReport, *, lag_growth_tolerance: int = 0) -> Health:
    """Judge a status report (pure).

    Args:
        report: what the probes found.
        lag_growth_tolerance: records the total lag may grow between the two samples
            before it counts as growing.
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    broker = report.broker
    if not broker.reachable:
        problems.append(
            Problem(
                EXIT_KAFKA_UNREACHABLE,
                f"Kafka at {broker.bootstrap_servers} "
                + ("refused the client" if broker.access_fix else "is not reachable")
                + (f" ({broker.error})" if broker.error else ""),
                broker.access_fix
                or "start the local broker with `wxstream kafka start`, or point "
                "--bootstrap-servers (KAFKA_BOOTSTRAP_SERVERS) at a running Kafka",
            )
        )
    missing = [t.name for t in report.topics if not t.exists]
    if broker.reachable and missing:
        problems.append(
            Problem(
                EXIT_TOPIC_MISSING,
                f"topic(s) missing: {', '.join(missing)}",
                "run `wxstream topics create`",
            )
        )
    _assess_ray(report.ray, problems, warnings)
    group = report.group
    if broker.reachable and group is not None:
        if not group.members:
            problems.append(
                Problem(
                    EXIT_GROUP_INACTIVE,
                    f"consumer group {group.group_id} has no members (state {group.state}): "
                    "the inference service is not running",
                    "start it with `wxstream serve` "
                    "(compose: `docker compose up -d ray-inference`)",
                )
            )
        if group.lag_growth > lag_growth_tolerance:
            problems.append(
                Problem(
                    EXIT_LAG_GROWING,
                    f"consumer lag grew from {group.first_lag_total} to {group.lag_total} "
                    f"in {group.sample_interval_s:g} s",
                    "add inference actors (--num-actors), serve instances or partitions; "
                    "see docs/operations.md, 'Scaling out'",
                )
            )
        elif group.members and group.stalled:
            problems.append(
                Problem(
                    EXIT_LAG_GROWING,
                    f"consumer group {group.group_id} is stalled: {group.lag_total} record(s) "
                    f"wait and nothing was committed in {group.sample_interval_s:g} s",
                    "see the service log; a service still starting up restores its windows "
                    "first (wait and check again)",
                )
            )
    if broker.reachable:
        warnings.extend(replication_warnings(report.topics, len(broker.brokers)))
    dead = report.dead_letters
    if dead is not None and dead.records > 0:
        more = "" if dead.complete else " or more"
        warnings.append(
            f"{dead.records}{more} record(s) in the dead-letter topic {dead.topic}; "
            "their wx.reason / wx.detail headers say why (see docs/operations.md)"
        )
    return Health(tuple(problems), tuple(warnings))


# Replicas worth having: a third copy survives one broker down during another's restart.
WANTED_REPLICAS = 3


def replication_warnings(topics: tuple[TopicReport, ...], brokers: int) -> list[str]:
    """Warnings for topics replicated less than ``brokers`` allow (up to
    :data:`WANTED_REPLICAS`), or whose ``min.insync.replicas`` cannot be met (pure)."""
    warnings: list[str] = []
    wanted = min(brokers, WANTED_REPLICAS)
    for topic in topics:
        if not topic.exists or topic.replicas is None:
            continue
        if topic.replicas < wanted:
            warnings.append(
                f"topic {topic.name} has {topic.replicas} replica(s) on a cluster of {brokers} "
                f"brokers: losing one broker loses or stops it; recreate it with "
                f"`wxstream topics create --replication-factor {wanted}` (or raise it with "
                "kafka-reassign-partitions)"
            )
        min_isr = topic.min_insync_replicas
        if min_isr is None:
            continue
        if min_isr > min(topic.replicas, brokers or topic.replicas):
            warnings.append(
                f"topic {topic.name}: min.insync.replicas {min_isr} cannot be met with "
                f"{topic.replicas} replica(s) on {brokers} broker(s); every acks=all write "
                "fails; lower it with kafka-configs --alter --add-config min.insync.replicas=N"
            )
        elif topic.in_sync_replicas is not None and topic.in_sync_replicas < min_isr:
            warnings.append(
                f"topic {topic.name}: only {topic.in_sync_replicas} replica(s) in sync, below "
                f"min.insync.replicas {min_isr}; writes fail until a broker catches up"
            )
    return warnings


def _assess_ray(ray: RayReport | None, problems: list[Problem], warnings: list[str]) -> None:
    if ray is None:
        return
    if ray.state == "unreachable":
        problems.append(
            Problem(
                EXIT_RAY_UNAVAILABLE,
                f"Ray at {ray.address} is not reachable" + (f" ({ray.error})" if ray.error else ""),
                f"check it with `ray status --address {ray.address}`, or correct --ray-address "
                "(RAY_HEAD_ADDRESS); a cluster with token authentication also needs "
                "RAY_AUTH_MODE=token and its token (~/.ray/auth_token)",
            )
        )
    elif ray.state == "not running":
        problems.append(
            Problem(
                EXIT_RAY_UNAVAILABLE,
                "Ray: not running (no --ray-address given and no local Ray found)",
                "give the service's cluster with --ray-address (RAY_HEAD_ADDRESS); a local "
                "Ray started by `wxstream serve` on this machine is found by itself",
            )
        )
    elif ray.state == "ambiguous":
        problems.append(
            Problem(
                EXIT_RAY_UNAVAILABLE,
                f"several local Ray instances run ({ray.error})",
                "choose one with --ray-address (RAY_HEAD_ADDRESS)",
            )
        )
    elif ray.alive_actors == 0:
        problems.append(
            Problem(
                EXIT_NO_ACTORS,
                f"Ray at {ray.address} has no live {ACTOR_CLASS_NAME}",
                "start the service (`wxstream serve`); if it runs, see its log for actor errors",
            )
        )
    restarted = sum(actor.restarts for actor in ray.actors)
    if restarted:
        warnings.append(f"inference actors were restarted {restarted} time(s)")
