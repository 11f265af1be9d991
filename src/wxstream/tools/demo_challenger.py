"""``wxstream demo --challenger``: two real versions of one model name served side by
side over the November-December replay, then their live skill per version and lead and
the promotion decision.

The pair (:data:`DEMO_VERSIONS`): both are the ``default`` preset, so they read the
same 48-hour windows and forecast the same 24 leads, which ``serve`` needs to run them
in one actor call and pair their forecasts lead by lead (``original``, lookback 7 and 7
leads, could not stand beside it). They differ in what they learnt from, the issue's
own example of a truly better challenger: the champion saw only August to early October
2013, the challenger January to early October, a winter included. Both early-stop on
the same held-out last tenth of January-October, and neither saw November-December.

A run writes to topics of its own (``<topic>.demo-<run>``): ``models skill`` and
``models decide`` read their topics from the beginning, and on a reused broker the
forecasts of an earlier run of the same versions would be paired again.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from wxstream.errors import ConfigError
from wxstream.models.registry import CHALLENGER, CHAMPION
from wxstream.settings import DemoSettings, KafkaSettings
from wxstream.streaming.background import ServiceThread
from wxstream.tools.demo import DemoRun, DemoSummary, drive
from wxstream.tools.demo_model import DEMO_SOURCE, DEMO_SPLIT, Emit, demo_training_rows

if TYPE_CHECKING:
    import pandas as pd

DEMO_MODEL_NAME = "nyc-demo"
DEMO_WHO = "wxstream demo"

Review = Callable[[KafkaSettings, str], None]
"""Shows the skill table and the decision of a model name from a run's topics."""


@dataclass(frozen=True)
class DemoVersion:
    """One of the two versions the demo trains.

    Attributes:
        alias: the alias it gets (``champion`` or ``challenger``).
        train_from: its training rows start here (``None``: all of January-October).
        why: what sets it apart, recorded as the reason of its alias move.
    """

    alias: str
    train_from: datetime | None
    why: str


DEMO_VERSIONS = (
    DemoVersion(
        CHAMPION,
        datetime(2013, 8, 1, tzinfo=UTC),
        "demo: default preset trained on August to early October 2013 only",
    ),
    DemoVersion(
        CHALLENGER,
        None,
        "demo: default preset trained on January to early October 2013 (more data, "
        "a winter included)",
    ),
)


@dataclass
class ChallengerSummary:
    """What one ``demo --challenger`` run did.

    Attributes:
        demo: the plain demo's summary of the run (messages, forecasts, problems ...).
        name: the registry name served.
        versions: alias -> version id served.
        trained: the run trained the versions (``False``: the name had both already).
        timings: step -> seconds, in the order they ran.
        kafka: the run's topics (for ``models skill`` afterwards).
    """

    demo: DemoSummary
    name: str
    versions: dict[str, str] = field(default_factory=dict)
    trained: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    kafka: KafkaSettings | None = None


def version_rows(train_rows: pd.DataFrame, version: DemoVersion) -> pd.DataFrame:
    """The training rows of ``version`` (its validation rows are everyone's)."""
    if version.train_from is None:
        return train_rows
    import pandas as pd

    keep = train_rows["window_start"] >= pd.Timestamp(version.train_from)
    return train_rows.loc[keep].reset_index(drop=True)


def run_topics(kafka: KafkaSettings, run_id: str) -> KafkaSettings:
    """``kafka`` with every pipeline topic suffixed ``.demo-<run_id>``."""
    suffix = f".demo-{run_id}"
    return replace(
        kafka,
        features_topic=kafka.features_topic + suffix,
        predictions_topic=kafka.predictions_topic + suffix,
        dlq_topic=kafka.dlq_topic + suffix,
        anomalies_topic=kafka.anomalies_topic + suffix,
        shadow_topic=kafka.shadow_topic + suffix,
    )


def needs_training(name: str, aliases: Mapping[str, str], *, exists: bool) -> bool:
    """Whether the demo trains ``name``'s two versions (``True``) or serves the champion
    and challenger it has.

    Raises:
        ConfigError: ``name`` exists without two distinct versions to serve.
    """
    champion, challenger = aliases.get(CHAMPION), aliases.get(CHALLENGER)
    if champion is not None and challenger is not None and champion != challenger:
        return False
    if not exists:
        return True
    raise ConfigError(
        f"model {name!r} exists without a challenger beside its champion "
        f"(aliases: {dict(aliases) or 'none'})",
        fix=f"give it one (`wxstream models promote {name} VERSION --alias challenger "
        "--why TEXT`) or pass a new --model-name for the demo to train",
    )


def timing_lines(timings: Mapping[str, float], total_s: float) -> list[str]:
    """The run's timings, one step a line, then the whole run."""
    width = max((len(step) for step in timings), default=0)
    width = max(width, len("whole run"))
    lines = [f"  {step:<{width}}  {seconds:6.1f} s" for step, seconds in timings.items()]
    lines.append(f"  {'whole run':<{width}}  {total_s:6.1f} s")
    return lines


class ChallengerRun(DemoRun):
    """The plain demo's run, serving a registry name's champion and challenger."""

    def __init__(self, settings: DemoSettings, emit: Emit, name: str) -> None:
        super().__init__(settings, emit)
        self.name = name
        self.versions: dict[str, str] = {}
        self.trained = False
        self.timings: dict[str, float] = {}

    def choose_model(self) -> tuple[Path, str]:
        """Train the two versions unless the name has them; the champion's directory."""
        from wxstream.models.registry import read_aliases, resolve

        forecasting = self.settings.model.forecasting_dir
        name_dir = forecasting / self.name
        aliases = read_aliases(name_dir) if name_dir.is_dir() else {}
        if needs_training(self.name, aliases, exists=name_dir.exists()):
            self.versions = self._train_versions(forecasting)
            self.trained = True
        else:
            self.versions = {CHAMPION: aliases[CHAMPION], CHALLENGER: aliases[CHALLENGER]}
            self.emit(
                f"model {self.name}: serving its champion {aliases[CHAMPION]} and "
                f"challenger {aliases[CHALLENGER]} (trained by an earlier run)"
            )
        return resolve(forecasting, f"{self.name}@{CHAMPION}"), self.name

    def _train_versions(self, forecasting: Path) -> dict[str, str]:
        from wxstream.models.registry import promote

        began = time.monotonic()
        train_rows, val_rows = demo_training_rows(self.settings.data_dir)
        self.timings["loading the training data"] = time.monotonic() - began
        versions = {}
        for version in DEMO_VERSIONS:
            rows = version_rows(train_rows, version)
            began = time.monotonic()
            self.emit(
                f"training the {version.alias} of {self.name} on {DEMO_SOURCE}: "
                f"{len(rows)} train / {len(val_rows)} validation hours "
                f"({version.why.removeprefix('demo: ')})"
            )
            versions[version.alias] = self._train_one(
                forecasting, rows, val_rows, version, qc_rows=train_rows
            )
            self.timings[f"training the {version.alias}"] = time.monotonic() - began
        # A new name's first version is its champion already; the challenger is named.
        promote(
            forecasting,
            self.name,
            versions[CHALLENGER],
            alias=CHALLENGER,
            why=DEMO_VERSIONS[1].why,
            who=DEMO_WHO,
        )
        self.emit(
            f"model {self.name}: champion {versions[CHAMPION]}, challenger {versions[CHALLENGER]}"
        )
        return versions

    def _train_one(
        self,
        forecasting: Path,
        train_rows: pd.DataFrame,
        val_rows: pd.DataFrame,
        version: DemoVersion,
        *,
        qc_rows: pd.DataFrame,
    ) -> str:
        """Train ``version``, add it to the registry with QC thresholds learnt on
        ``qc_rows``; its id.

        The service runs the quality stage with the champion's thresholds. Learnt on the
        champion's summer months alone, their ranges would refuse November's cold
        dewpoints as bad and, with the default policy, keep most windows from being
        forecast at all: the data's limits come from all of January-October for both.
        """
        from wxstream.anomalies.thresholds_learning import write_model_thresholds
        from wxstream.models.config import get_preset
        from wxstream.models.model_dir import VERSIONS_DIR
        from wxstream.models.registry import add_version
        from wxstream.models.training import train_model, trained_bundle

        config = get_preset("default")
        if self.settings.train_epochs is not None:
            config = replace(config, epochs=self.settings.train_epochs)
        result = train_model(train_rows, val_rows, config, progress=True)
        first, last = train_rows["window_start"].min(), train_rows["window_start"].max()
        bundle = trained_bundle(
            result,
            self.name,
            sources=[DEMO_SOURCE],
            data_ranges={"split": DEMO_SPLIT, "train": [first.isoformat(), last.isoformat()]},
        )
        version_id, _ = add_version(forecasting, self.name, bundle, who=DEMO_WHO)
        path = forecasting / self.name / VERSIONS_DIR / version_id
        write_model_thresholds(path, qc_rows, val_rows, source=DEMO_SOURCE)
        self.emit(f"trained {self.name} version {version_id} in {result.duration_s:.0f} s")
        return version_id

    def start_service(self, kafka: KafkaSettings, model_dir: Path) -> ServiceThread:
        began = time.monotonic()
        service = super().start_service(kafka, model_dir)
        self.timings["service start (joined its group)"] = time.monotonic() - began
        return service

    def replay(self, kafka: KafkaSettings, service: ServiceThread) -> None:
        began = time.monotonic()
        super().replay(kafka, service)
        self.timings["replay until every record was committed"] = time.monotonic() - began


def run_challenger_demo(settings: DemoSettings, emit: Emit, review: Review) -> ChallengerSummary:
    """Run the demo with ``settings.model.model_name`` (default :data:`DEMO_MODEL_NAME`)
    as a champion and its challenger in a pure shadow; ``review`` shows their skill and
    the decision before the run tears down. Returns its summary (also after Ctrl-C)."""
    name = settings.model.model_name or DEMO_MODEL_NAME
    kafka = run_topics(settings.kafka, uuid.uuid4().hex[:8])
    settings = replace(
        settings,
        kafka=kafka,
        model=replace(settings.model, model_name=name),
        # Every window forecast by both versions, in the same transaction: the pairs
        # the decision needs, on all three stations.
        serve=replace(settings.serve, challenger_fraction=0.0, shadow=True),
    )
    run = ChallengerRun(settings, emit, name)

    def timed_review(run_kafka: KafkaSettings) -> None:
        began = time.monotonic()
        review(run_kafka, name)
        run.timings["skill table and decision"] = time.monotonic() - began

    summary = drive(run, timed_review)
    return ChallengerSummary(summary, name, run.versions, run.trained, run.timings, kafka)
