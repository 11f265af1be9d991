"""``wxstream demo --challenger``: which rows each version trains on, when it trains, the
run's own topics and the timings (pure); and end to end on the session broker and Ray,
with a registry name holding two versions of the small real model."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner

from tests.support.registry_support import add_versions
from wxstream.cli import ENV_PREFIX, cli
from wxstream.errors import ConfigError
from wxstream.models.model_dir import read_model_dir
from wxstream.models.registry import CHALLENGER, CHAMPION, promote, read_aliases, read_history
from wxstream.settings import KafkaSettings
from wxstream.tools.demo_challenger import (
    DEMO_VERSIONS,
    DEMO_WHO,
    needs_training,
    run_topics,
    timing_lines,
    version_rows,
)

# -- the pure parts ---------------------------------------------------------------------


def test_the_champion_trains_on_the_later_months_the_challenger_on_all() -> None:
    # Only the timestamps matter here: no weather values.
    hours = pd.date_range("2013-01-01", "2013-10-05", freq="h", tz="UTC")
    rows = pd.DataFrame({"window_start": hours, "station_id": "EWR"})
    by_alias = {v.alias: version_rows(rows, v) for v in DEMO_VERSIONS}
    assert list(by_alias) == [CHAMPION, CHALLENGER]
    assert by_alias[CHALLENGER] is rows
    champion = by_alias[CHAMPION]
    assert champion["window_start"].min() == pd.Timestamp("2013-08-01", tz="UTC")
    assert champion["window_start"].max() == hours[-1]
    assert len(champion) == (hours >= pd.Timestamp("2013-08-01", tz="UTC")).sum()
    assert list(champion.index) == list(range(len(champion)))


def test_a_name_is_trained_when_new_and_served_when_it_has_both_versions() -> None:
    assert needs_training("nyc-demo", {}, exists=False)
    both = {CHAMPION: "aaaa", CHALLENGER: "bbbb"}
    assert not needs_training("nyc-demo", both, exists=True)
    for aliases in ({CHAMPION: "aaaa"}, {CHAMPION: "aaaa", CHALLENGER: "aaaa"}, {}):
        with pytest.raises(ConfigError, match="without a challenger") as caught:
            needs_training("mine", aliases, exists=True)
        assert "--alias challenger" in str(caught.value.fix)


def test_a_run_writes_to_topics_of_its_own() -> None:
    base = KafkaSettings(bootstrap_servers="h:1", partitions=3)
    first, second = run_topics(base, "0001"), run_topics(base, "0002")
    topics = ("features_topic", "predictions_topic", "dlq_topic", "anomalies_topic")
    for topic in (*topics, "shadow_topic"):
        assert getattr(first, topic) == f"{getattr(base, topic)}.demo-0001"
        assert getattr(first, topic) != getattr(second, topic)
    assert (first.bootstrap_servers, first.partitions) == ("h:1", 3)


def test_timings_are_one_step_a_line_then_the_whole_run() -> None:
    lines = timing_lines({"training the champion": 41.3, "replay": 70.0}, 250.04)
    assert lines == [
        "  training the champion    41.3 s",
        "  replay                   70.0 s",
        "  whole run               250.0 s",
    ]
    assert timing_lines({}, 1.0) == ["  whole run     1.0 s"]


# -- end to end ------------------------------------------------------------------------


@pytest.mark.kafka
@pytest.mark.ray
@pytest.mark.slow
@pytest.mark.usefixtures("ray_local")
def test_demo_challenger_serves_both_versions_and_records_the_decision(
    kafka_broker: Any, serve_model_dir: Path, tmp_path: Path
) -> None:
    # Two versions of the same small network: the demo serves them (no training), and
    # a version paired with an equal one must not be promoted.
    root = tmp_path / "trained" / "forecasting"
    champion, challenger = add_versions(root, "wx", read_model_dir(serve_model_dir), 2)
    promote(root, "wx", challenger, alias=CHALLENGER, why="an equal twin", who="ana")
    command = ["demo", "--challenger", "--model-name", "wx", "--no-tail", "--num-actors", "1"]
    command += ["--kafka-port", str(kafka_broker.settings.port), "--speed", "5000"]
    command += ["--model-storage-path", str(tmp_path)]
    done = CliRunner().invoke(cli, command, auto_envvar_prefix=ENV_PREFIX)
    output = done.output
    assert done.exit_code == 0, output
    assert "injecting" not in output  # faults only when asked for
    assert "live skill of wx per version and lead" in output
    # The table: every lead of both versions, paired one to one by the shadow.
    rows = re.findall(r"^(\w{12}) +(champion|challenger) +(\d+) +(\d+) ", output, re.M)
    counts = {(alias, int(lead)): int(n) for version, alias, lead, n in rows}
    assert {version for version, *_ in rows} == {champion, challenger}
    assert sorted(lead for alias, lead in counts if alias == CHAMPION) == [1, 2, 3, 4, 5, 6]
    for lead in range(1, 7):
        assert counts[(CHAMPION, lead)] == counts[(CHALLENGER, lead)] > 2000
    assert f"wx: champion {champion}, challenger {challenger}: DECLINE" in output
    # Recorded in the history, nothing moved.
    assert read_aliases(root / "wx") == {CHAMPION: champion, CHALLENGER: challenger}
    last = read_history(root, "wx")[-1]
    assert (last.action, last.who, last.figures["promote"]) == ("decision", DEMO_WHO, False)
    assert "trained by an earlier run" in output
    assert re.search(r"weather-predictions\.demo-[0-9a-f]{8}", output)
    assert re.search(r"whole run +\d+\.\d s", output)
