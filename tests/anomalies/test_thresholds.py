"""``QcThresholds`` as JSON and as ``qc_thresholds.json`` in a model directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wxstream.anomalies import (
    QC_THRESHOLDS_FILE,
    FlatForecastLimits,
    NeighbourLimits,
    QcThresholds,
    ResidualLimits,
    VariableLimits,
    read_qc_thresholds,
    write_qc_thresholds,
)
from wxstream.errors import ModelFormatError, ModelNotFoundError

LIMITS = VariableLimits(-30.0, 45.0, 4.0, 8.0, 3.0, 6.0, 5, 10, 1.0)
THRESHOLDS = QcThresholds(
    variables={"temperature": LIMITS},
    dewpoint_excess_suspect_c=0.5,
    dewpoint_excess_bad_c=1.0,
    max_gap_h=3,
    residual=ResidualLimits(lead_h=1, z_suspect=6.0, z_bad=12.0),
    flat_forecast=FlatForecastLimits(min_run_h=3, z_suspect=2.5, z_bad=5.0),
    neighbour_window_h=168,
    neighbour_baseline_h=720,
    neighbours={"EWR": NeighbourLimits("nyc", tuple(0.1 * h for h in range(24)), 6.0, 1.6, 2.0)},
    learned_from={"source": "test"},
)


def test_json_round_trip() -> None:
    text = json.dumps(THRESHOLDS.to_json())
    assert QcThresholds.from_json(json.loads(text)) == THRESHOLDS


def test_a_version_1_file_without_the_flat_forecast_limits_still_reads() -> None:
    data = THRESHOLDS.to_json()
    assert data["format_version"] == 2
    del data["flat_forecast"]
    data["format_version"] = 1
    old = QcThresholds.from_json(data)
    assert old.flat_forecast is None
    assert old.residual == THRESHOLDS.residual


def test_written_into_a_model_directory_and_read_back(tmp_path: Path) -> None:
    assert read_qc_thresholds(tmp_path) is None
    path = write_qc_thresholds(tmp_path, THRESHOLDS)
    assert path == tmp_path / QC_THRESHOLDS_FILE
    assert read_qc_thresholds(tmp_path) == THRESHOLDS
    assert [p.name for p in tmp_path.iterdir()] == [QC_THRESHOLDS_FILE]  # no temporary left


def test_a_broken_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / QC_THRESHOLDS_FILE).write_text('{"format": "something else"}', encoding="utf-8")
    with pytest.raises(ModelFormatError, match=QC_THRESHOLDS_FILE):
        read_qc_thresholds(tmp_path)


def test_writing_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        write_qc_thresholds(tmp_path / "missing", THRESHOLDS)
