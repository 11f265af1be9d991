"""The evaluation pipeline: one test sample set, every method forecasting it, one report.

Samples are a station and an issue hour (the newest observed hour) whose leads all
fall inside the test period. A sample is scored only where the model has a full
input window and every baseline is defined, so every method sees exactly the same
samples. Beijing sites that read one weather series are reduced to one site per
series (their ``weather_group``): duplicates would otherwise count the same weather
two or three times in training and in the scores.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from wxstream.data.combined import StationSplits, split_by_station
from wxstream.data.splits import Split
from wxstream.errors import DataError
from wxstream.models import baselines
from wxstream.models.baselines import HourlyGrid, IntArray
from wxstream.models.calibration import (
    INTERVAL_LEVEL,
    METADATA_KEY,
    METHOD,
    interval_scale,
    scale_interval,
)
from wxstream.models.dataset import build_samples
from wxstream.models.evaluation import (
    CLIMATOLOGY,
    DIURNAL,
    LIGHTGBM,
    MODEL,
    PERSISTENCE,
    FloatArray,
    MethodScores,
    coverage_by_lead,
    goal_checks,
    score_methods,
)
from wxstream.models.evaluation_online import online_section, simulate_online
from wxstream.models.evaluation_splits import (
    by_station,
    dedupe_shared_weather,
    station_samples,
    training_climatology,
)
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.lightgbm_baseline import (
    LightGBMSettings,
    fit_lightgbm_direct,
    model_input_grid,
    predict_lightgbm_direct,
)
from wxstream.models.online_calibration import OnlineCalibrationSettings
from wxstream.settings import ModelSettings

logger = logging.getLogger(__name__)

_HOUR = pd.Timedelta(hours=1)
_PREDICT_BATCH = 8192


@dataclass(frozen=True)
class EvaluationSettings:
    """What to evaluate and how.

    Attributes:
        lightgbm: settings of the LightGBM baseline (``None``: leave it out).
        calibrate: for a model without its own interval calibration, scale its
            p10..p90 per lead on the validation period so it covers 80 % there (the raw
            interval is reported too). A model that carries calibration is scored as
            :meth:`ForecastingModel.predict` serves it, whatever this says.
        dedupe_shared_weather: keep one station per ``weather_group``.
        online_calibration: replay the test period as a stream and score the interval
            recalibrated online (:mod:`wxstream.models.evaluation_online`) beside the
            offline one (``None``: leave it out).
    """

    lightgbm: LightGBMSettings | None = field(default_factory=LightGBMSettings)
    calibrate: bool = True
    dedupe_shared_weather: bool = True
    online_calibration: OnlineCalibrationSettings | None = field(
        default_factory=OnlineCalibrationSettings
    )


def model_quantiles(
    model: ForecastingModel,
    rows: pd.DataFrame,
    grid: HourlyGrid,
    samples: tuple[IntArray, IntArray],
    *,
    calibrated: bool = True,
) -> FloatArray:
    """Model quantiles ``(samples, horizon, 3)`` degC; NaN where the model has no full window.

    ``calibrated`` is passed to :meth:`ForecastingModel.predict` (false: the raw interval).
    """
    station, issue = samples
    out = np.full((issue.size, model.horizon, 3), np.nan)
    if issue.size == 0:
        return out
    first = grid.times(np.array([issue.min()]))[0] - model.lookback * _HOUR
    last = grid.times(np.array([issue.max()]))[0] + (model.horizon + 1) * _HOUR
    starts = pd.to_datetime(rows["window_start"], utc=True)
    part = rows.loc[(starts >= first) & (starts < last)]
    windows = build_samples(part, model.adapter, model.lookback, model.horizon)
    if len(windows) == 0:
        return out
    lookup = {s: k for k, s in enumerate(grid.station_ids)}
    w_station = np.array([lookup[str(s)] for s in windows.station_id], dtype=np.int64)
    issued = pd.DatetimeIndex(windows.issued_at).tz_localize("UTC") - _HOUR
    w_issue = ((issued - grid.start) // _HOUR).to_numpy(dtype=np.int64)
    key = station * grid.n_hours + issue
    w_key = w_station * grid.n_hours + w_issue
    order = np.argsort(w_key)
    pos = np.searchsorted(w_key[order], key)
    pos = np.minimum(pos, len(order) - 1)
    found = w_key[order][pos] == key
    chosen = order[pos[found]]
    preds = [
        model.predict(windows.x[chosen[lo : lo + _PREDICT_BATCH]], calibrated=calibrated)
        for lo in range(0, chosen.size, _PREDICT_BATCH)
    ]
    if preds:
        out[found] = np.concatenate(preds).astype(np.float64)
    return out


def evaluate(
    rows: pd.DataFrame,
    split: Split | StationSplits,
    model: ForecastingModel,
    settings: EvaluationSettings,
    *,
    scored: StationSplits | None = None,
) -> dict[str, Any]:
    """Score the model and every baseline on the test period of ``split``.

    Args:
        rows: hourly feature rows of every period (``aggregate_hourly`` output).
        split: the train / validation / test bounds: one for every station, or each
            station's own (several sources at once).
        model: the forecaster to score.
        settings: evaluation options.
        scored: the stations whose test period is scored (default: those of ``split``);
            LightGBM and the interval calibration learn from ``split``'s stations only,
            so stations left out of ``split`` are never seen before they are scored.

    Returns:
        the JSON-ready report (see ``docs/evaluation.md``).

    Raises:
        DataError: no test sample is left once every method must be defined.
    """
    began = time.perf_counter()
    timing: dict[str, float] = {}
    horizon = model.horizon
    leads = list(range(1, horizon + 1))
    grid = baselines.grid_from_feature_rows(rows)
    learn = by_station(split, grid)
    score = dict(scored) if scored is not None else learn

    test = station_samples(grid, score, "test", horizon)
    y = baselines.targets(grid, *test, leads)
    forecasts: dict[str, FloatArray] = {
        PERSISTENCE: baselines.persistence(grid, *test, leads),
        DIURNAL: baselines.diurnal_persistence(grid, *test, leads),
    }
    clim = training_climatology(grid, {**learn, **score})
    forecasts[CLIMATOLOGY] = baselines.climatology_forecast(clim, grid, *test, leads)
    t0 = time.perf_counter()
    quantiles = model_quantiles(model, rows, grid, test, calibrated=False)
    timing["model_predict_s"] = time.perf_counter() - t0
    defined = ~np.isnan(y).any(axis=1) & ~np.isnan(quantiles).any(axis=(1, 2))
    for values in forecasts.values():
        defined &= ~np.isnan(values).any(axis=1)
    if not defined.any():
        raise DataError(
            "no test sample where the model and every baseline are defined",
            fix="check the split bounds and that the test period has complete windows",
        )
    test = (test[0][defined], test[1][defined])
    y, quantiles = y[defined], quantiles[defined]
    forecasts = {k: v[defined] for k, v in forecasts.items()}
    forecasts[MODEL] = quantiles[..., 1]

    quantiles, calibration = _calibrate(
        model, quantiles, y, rows=rows, splits=learn, grid=grid, settings=settings
    )
    online: dict[str, Any] | None = None
    if settings.online_calibration is not None:
        t0 = time.perf_counter()
        result = simulate_online(
            grid.station_ids,
            *test,
            quantiles=quantiles,
            observed=y,
            settings=settings.online_calibration,
        )
        online = online_section(result, quantiles, y, settings.online_calibration)
        timing["online_calibration_s"] = time.perf_counter() - t0
    if settings.lightgbm is not None:
        t0 = time.perf_counter()
        inputs = model_input_grid(model.adapter, rows, grid)
        lgb_settings = settings.lightgbm
        if scored is not None:
            lgb_settings = replace(lgb_settings, station_feature=False)
        lgb = fit_lightgbm_direct(
            grid,
            station_samples(grid, learn, "train", horizon),
            station_samples(grid, learn, "validation", horizon),
            leads,
            lgb_settings,
            inputs=inputs,
        )
        forecasts[LIGHTGBM] = predict_lightgbm_direct(lgb, grid, *test, inputs=inputs)
        timing["lightgbm_fit_s"] = time.perf_counter() - t0
        lgb_info: dict[str, Any] = {
            "settings": vars(lgb_settings),
            "inputs": list(inputs.names),
            "best_rounds": {str(h): r for h, r in lgb.best_rounds.items()},
        }
    scores = score_methods(forecasts, y, intervals={MODEL: (quantiles[..., 0], quantiles[..., 2])})
    timing["evaluate_s"] = time.perf_counter() - began
    report: dict[str, Any] = {
        "leads": leads,
        "samples": int(y.shape[0]),
        "stations": [grid.station_ids[k] for k in np.unique(test[0]).tolist()],
        "test_period": _test_period(score),
        "methods": {name: scores[name].to_json(leads) for name in _ordered(scores)},
        "calibration": calibration,
        "goal": [check.to_json() for check in goal_checks(scores, leads)],
        "timing_s": {k: round(v, 2) for k, v in timing.items()},
    }
    if online is not None:
        report["online_calibration"] = online
    if settings.lightgbm is not None:
        report["lightgbm"] = lgb_info
    return report


def _calibrate(
    model: ForecastingModel,
    raw: FloatArray,
    y: FloatArray,
    *,
    rows: pd.DataFrame,
    splits: StationSplits,
    grid: HourlyGrid,
    settings: EvaluationSettings,
) -> tuple[FloatArray, dict[str, Any]]:
    """The test quantiles to score and the report's ``calibration`` section.

    A model carrying its own calibration gets exactly what ``predict`` serves (its
    factors on the raw float32 output); otherwise, with ``settings.calibrate``, factors
    are fitted on the validation period here. Either way the section records the raw
    and the calibrated coverage.
    """
    leads = list(range(1, model.horizon + 1))

    def per_lead(values: FloatArray) -> dict[str, float]:
        return {str(h): round(float(v), 4) for h, v in zip(leads, values, strict=True)}

    raw_coverage = coverage_by_lead(raw[..., 0], raw[..., 2], y)
    if model.interval_scale is not None:
        # raw came from float32 predictions, so this repeats predict bit for bit
        served = model.calibrate_interval(raw.astype(np.float32)).astype(np.float64)
        factor: FloatArray = np.asarray(model.interval_scale, dtype=np.float64)
        info: dict[str, Any] = {
            "applied": True,
            "source": "model",
            "method": model.metadata[METADATA_KEY].get("method", METHOD),
            "validation_samples": model.metadata[METADATA_KEY].get("validation_samples"),
        }
    elif settings.calibrate:
        val = station_samples(grid, splits, "validation", model.horizon)
        q_val = model_quantiles(model, rows, grid, val, calibrated=False)
        y_val = baselines.targets(grid, *val, leads)
        ok = ~np.isnan(y_val).any(axis=1) & ~np.isnan(q_val).any(axis=(1, 2))
        if not ok.any():
            return raw, {"applied": False, "raw_coverage_p10_p90": per_lead(raw_coverage)}
        factor = interval_scale(q_val[ok], y_val[ok], INTERVAL_LEVEL)
        served = scale_interval(raw, factor)
        info = {
            "applied": True,
            "source": "evaluation",
            "method": METHOD,
            "validation_samples": int(ok.sum()),
        }
    else:
        return raw, {"applied": False, "raw_coverage_p10_p90": per_lead(raw_coverage)}
    info["scale_by_lead"] = per_lead(factor)
    info["raw_coverage_p10_p90"] = per_lead(raw_coverage)
    info["coverage_p10_p90"] = per_lead(coverage_by_lead(served[..., 0], served[..., 2], y))
    return served, info


def _test_period(score: StationSplits) -> list[str]:
    """``[start, end)`` of the test period (the union of the stations' when they differ)."""
    bounds = {split.test for split in score.values()}
    if len(bounds) == 1:
        start, end = next(iter(bounds))
        return [start.isoformat(), end.isoformat()]
    return [min(b[0] for b in bounds).isoformat(), max(b[1] for b in bounds).isoformat()]


def _ordered(scores: dict[str, MethodScores]) -> list[str]:
    order = (MODEL, LIGHTGBM, PERSISTENCE, DIURNAL, CLIMATOLOGY)
    return [name for name in order if name in scores]


def prepare_rows(observations: pd.DataFrame, settings: EvaluationSettings) -> pd.DataFrame:
    """Observations -> hourly feature rows (one station per weather series if asked)."""
    from wxstream.features import aggregate_hourly

    obs = dedupe_shared_weather(observations) if settings.dedupe_shared_weather else observations
    return aggregate_hourly(obs)


def run_evaluation(
    rows: pd.DataFrame,
    source: str,
    split: Split | StationSplits,
    settings: EvaluationSettings,
    model_settings: ModelSettings,
    *,
    scored: StationSplits | None = None,
    trained_name: str | None = None,
    train_preset: str | None = None,
    seed: int = 0,
    epochs: int | None = None,
    inputs: tuple[str, ...] | None = None,
    hidden_size: int | None = None,
    max_train_samples: int | None = None,
    progress: bool = False,
    train_device: str = "cpu",
) -> dict[str, Any]:
    """Train (``train_preset`` given) or load the model, then :func:`evaluate` it.

    A trained model is saved as ``eval-<source>-<preset>-seed<seed>`` under the
    forecasting directory (replacing an earlier one of that name), with the test
    metrics in its metadata. ``source`` names the sources (``a+b`` for several);
    ``split`` is one split or each station's, ``scored`` the stations scored (see
    :func:`evaluate`): the model trains on ``split``'s stations only; ``trained_name``
    replaces the default name of a trained model, ``inputs`` the preset's inputs.
    ``train_device`` is where it trains (``cpu`` or ``cuda``); scoring always runs on
    the CPU.
    """
    from wxstream.models.model_loader import load_model, resolve_model_dir

    model_info: dict[str, Any]
    if train_preset is not None:
        from wxstream.models.config import get_preset
        from wxstream.models.training import save_trained, train_model

        config = get_preset(train_preset).with_overrides(
            seed=seed, epochs=epochs, hidden_size=hidden_size, inputs=inputs
        )
        t0 = time.perf_counter()
        learn = by_station(split, baselines.grid_from_feature_rows(rows))
        result = train_model(
            split_by_station(rows, learn, "train"),
            split_by_station(rows, learn, "validation"),
            config,
            progress=progress,
            max_train_samples=max_train_samples,
            device=train_device,
        )
        train_s = time.perf_counter() - t0
        name = trained_name or f"eval-{source}-{train_preset}-seed{seed}"
        bundle = result.to_bundle(name, sources=source.split("+"))
        model = ForecastingModel.from_bundle(bundle, device="cpu", intra_op_threads=2)
        model_info = {
            "name": name,
            "preset": train_preset,
            "config": config.to_dict(),
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "train_s": round(train_s, 1),
        }
    else:
        path = resolve_model_dir(model_settings)
        model = load_model(path, device="cpu", intra_op_threads=2)
        model_info = {"name": model.name, "path": str(path), "config": model.metadata.get("config")}
    report = evaluate(rows, split, model, settings, scored=scored)
    report = {"source": source, "model": model_info, **report}
    if train_preset is not None:
        summary = {
            "samples": report["samples"],
            "mae_by_lead": report["methods"][MODEL]["mae"],
            "coverage_p10_p90": report["methods"][MODEL]["coverage_p10_p90"],
            "calibration": report["calibration"],
        }
        path = save_trained(
            result,
            model_settings.forecasting_dir,
            model_info["name"],
            sources=source.split("+"),
            test_metrics=summary,
            overwrite=True,
        )
        report["model"]["path"] = str(path)
    return report
