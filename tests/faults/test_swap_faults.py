"""A live swap cut short: ``wxstream serve`` (a child process) is SIGKILLed right after
an alias move was published on the control topic, while features stream in; a second
instance takes over. Read committed, every window has exactly one forecast, each equal
to the offline forecast of the version its label names, and the restarted instance
serves the new champion (the alias files on disk are the source of truth)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.support.fault_harness import (
    ExpectedForecast,
    Figures,
    PacedProducer,
    Replay,
    assert_exactly_once,
    build_replay,
    caught_up,
    committed_total,
    compare,
    fault_rows,
    produce,
    read_committed,
    serve_process,
    serve_settings,
)
from tests.support.registry_support import registry_with_second_version
from tests.support.waiting import wait_until
from wxstream.kafka.control_topic import publish_alias_state
from wxstream.messages.predictions import PredictionMessage, decode_prediction
from wxstream.models.model_loader import load_model
from wxstream.models.registry import promote, resolve
from wxstream.models.registry.state import alias_state
from wxstream.settings import KafkaSettings
from wxstream.tools.serve_command import serve_command

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(900)]

WARM_RECORDS = 90
RATE_PER_S = 150.0
SESSION_TIMEOUT_S = 6.0


@pytest.fixture(scope="module")
def store(
    serve_model_dir: Path, nyc_features: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str, pd.DataFrame]:
    """The two versions' store (name folder, champion, second) and the fault rows."""
    found = registry_with_second_version(
        serve_model_dir, nyc_features, tmp_path_factory.mktemp("swap-fault"), seed=33
    )
    return (*found, fault_rows(nyc_features))


def labelled_replay(replays: dict[str, Replay], predictions: list[bytes]) -> Replay:
    """The reference of each window from the version its first forecast names (a
    forecast whose numbers are not its label's counts as differing)."""
    expected: dict[tuple[str, str], ExpectedForecast] = {}
    for value in predictions:
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        key = (msg.station_id, msg.issued_at.isoformat())
        if key not in expected:
            expected[key] = replays[msg.model_version].expected[key]
    # Windows without any forecast stay expected (as lost), from either version.
    for key, want in next(iter(replays.values())).expected.items():
        expected.setdefault(key, want)
    return Replay(next(iter(replays.values())).records, expected)


def test_serve_killed_right_after_a_promote_is_published(
    kafka_settings: KafkaSettings,
    store: tuple[Path, str, str, pd.DataFrame],
    ray_address: str,
    tmp_path: Path,
    report: list[Figures],
) -> None:
    began = time.monotonic()
    name_dir, old, new, rows = store
    forecasting, name = name_dir.parent, name_dir.name
    replays = {
        version: build_replay(rows, load_model(resolve(forecasting, f"{name}@{version}")))
        for version in (old, new)
    }
    records = replays[old].records
    settings = serve_settings(kafka_settings, name_dir, session_timeout_s=SESSION_TIMEOUT_S)
    flags = [
        f"--session-timeout-s={SESSION_TIMEOUT_S}",
        f"--control-topic={kafka_settings.control_topic}",
    ]
    group = settings.group_id
    with serve_process(serve_command(settings, ray_address, *flags), tmp_path / "1.log") as one:
        produce(kafka_settings, records[:WARM_RECORDS])
        wait_until(lambda: committed_total(kafka_settings, group) >= WARM_RECORDS, 180, "start")
        paced = PacedProducer(kafka_settings, records[WARM_RECORDS:], RATE_PER_S).start()
        wait_until(lambda: committed_total(kafka_settings, group) >= 300, 120, "300 commits")
        promote(forecasting, name, new, alias="champion", why="swap fault test", who="test")
        publish_alias_state(kafka_settings, alias_state(forecasting, name, who="test"))
        one.signal(signal.SIGKILL)
        assert one.wait(30) == -signal.SIGKILL
        produced_at_kill = WARM_RECORDS + paced.produced
    second = serve_command(settings, ray_address, *flags, "--idle-exit-s=3")
    with serve_process(second, tmp_path / "2.log") as two:
        paced.join()
        wait_until(lambda: caught_up(kafka_settings, group), 180, "every input committed")
        assert two.wait(60) == 0, two.output()[-3000:]
    predictions = read_committed(kafka_settings, kafka_settings.predictions_topic)
    figures = compare(
        "sigkill-during-swap",
        "exactly-once",
        labelled_replay(replays, predictions),
        predictions,
        elapsed_s=time.monotonic() - began,
    )
    report.append(figures)
    assert_exactly_once(figures)
    assert produced_at_kill < len(records), "the kill came after the stream ended"
    # Per station, old forecasts first, then only new ones; the restart serves the new.
    by_station: dict[str, list[tuple[str, str]]] = {}
    for value in predictions:
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        by_station.setdefault(msg.station_id, []).append(
            (msg.issued_at.isoformat(), msg.model_version)
        )
    assert {v for found in by_station.values() for _, v in found} == {old, new}
    for forecasts in by_station.values():
        labels = [version for _, version in sorted(forecasts)]
        assert labels[-1] == new
        first_new = labels.index(new)
        assert set(labels[first_new:]) == {new}
