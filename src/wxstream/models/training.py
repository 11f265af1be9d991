"""Training the LSTM: samples -> scalers -> pinball-loss fit with early stopping -> bundle.

``train_model`` is the whole fit and ``save_trained`` writes the model directory; the
``wxstream train`` command and the evaluation code both call them. Same data, same
configuration and seed give the same weights and metrics: the seed drives weight
init, shuffling and dropout, torch runs deterministic kernels on a fixed number of
threads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from wxstream.errors import DataError
from wxstream.features.adapter import FeatureAdapter
from wxstream.models.calibration import METADATA_KEY, fit_interval_calibration
from wxstream.models.config import ModelConfig
from wxstream.models.config_derived import adapter_for, model_metadata, network_spec
from wxstream.models.dataset import WindowedSamples, build_samples
from wxstream.models.epochs import (
    EpochRecord,
    ScaledData,
    fit_epochs,
    predict_scaled,
    torch_determinism,
)
from wxstream.models.input_views import apply_input_views
from wxstream.models.lstm import LSTMForecaster
from wxstream.models.model_dir import ModelBundle, NetworkSpec
from wxstream.models.model_dir import write_model_dir as _write_model_dir
from wxstream.models.scalers import AffineScaler
from wxstream.models.training_report import forecast_metrics, sample_range

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class TrainingResult:
    """A fitted model and how it got there.

    Attributes:
        config: the configuration trained with.
        adapter: the feature adapter of the inputs.
        weights: best-epoch ``state_dict`` as float32 arrays.
        scaler_x: input scaler fitted on the training samples.
        scaler_y: target scaler (per lead) fitted on the training samples.
        history: one record per epoch run.
        best_epoch: 1-based epoch whose weights were kept.
        metrics: ``{"validation": {...}}`` MAE per lead for the model and persistence,
            80 % interval coverage (empty without validation samples).
        data: sample counts and UTC date ranges of train and validation.
        duration_s: wall time of the fit.
        interval_calibration: the ``interval_calibration`` entry of ``metadata.json``
            (per-lead p10..p90 factors fitted on the validation windows), ``None``
            without validation samples.
    """

    config: ModelConfig
    adapter: FeatureAdapter
    weights: dict[str, F32]
    scaler_x: AffineScaler
    scaler_y: AffineScaler
    history: tuple[EpochRecord, ...]
    best_epoch: int
    metrics: dict[str, Any]
    data: dict[str, Any]
    duration_s: float
    extra: dict[str, Any] = field(default_factory=dict)
    interval_calibration: dict[str, Any] | None = None

    @property
    def epochs_run(self) -> int:
        """Epochs actually run (fewer than configured after early stopping)."""
        return len(self.history)

    @property
    def best(self) -> EpochRecord:
        """The record of the kept epoch."""
        return self.history[self.best_epoch - 1]

    def spec(self) -> NetworkSpec:
        """The network shape."""
        return network_spec(self.config)

    def to_bundle(
        self,
        name: str,
        *,
        sources: Sequence[str] = (),
        created: datetime | None = None,
        extra_metadata: Mapping[str, Any] | None = None,
    ) -> ModelBundle:
        """The in-memory model directory (see :mod:`wxstream.models.model_dir`)."""
        metadata = model_metadata(self.config, name, created=created)
        metadata.update(
            {
                "data": {"sources": list(sources), **self.data},
                "training": {
                    "epochs_run": self.epochs_run,
                    "best_epoch": self.best_epoch,
                    "train_loss": self.best.train_loss,
                    "val_loss": self.best.val_loss,
                    "history": [
                        {"epoch": r.epoch, "train_loss": r.train_loss, "val_loss": r.val_loss}
                        for r in self.history
                    ],
                    "duration_s": round(self.duration_s, 3),
                    "torch_version": torch.__version__,
                },
                "metrics": dict(self.metrics),
            }
        )
        if self.interval_calibration is not None:
            metadata[METADATA_KEY] = dict(self.interval_calibration)
        metadata.update(extra_metadata or {})
        return ModelBundle(
            metadata=metadata,
            weights=dict(self.weights),
            scaler_x=self.scaler_x,
            scaler_y=self.scaler_y,
            adapter=self.adapter,
        )


def _targets(samples: WindowedSamples, residual: bool) -> F32:
    if residual:
        return np.asarray(samples.y - samples.last_target[:, None], dtype=np.float32)
    return samples.y


def unscale_quantiles(q_scaled: F32, scaler_y: AffineScaler, last_target: F32 | None) -> F32:
    """Scaled quantiles ``(N, H, 3)`` -> degC (adding ``last_target`` for residual models)."""
    center, scale = scaler_y.arrays()
    out = q_scaled * scale[None, :, None] + center[None, :, None]
    if last_target is not None:
        out = out + last_target[:, None, None]
    return np.asarray(out, dtype=np.float32)


def train_model(
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    config: ModelConfig,
    *,
    progress: bool = True,
    adapter: FeatureAdapter | None = None,
    max_train_samples: int | None = None,
    num_threads: int = 2,
    device: str = "cpu",
) -> TrainingResult:
    """Fit the LSTM on ``train_rows``, early-stopping on ``val_rows``.

    Args:
        train_rows: hourly feature rows of the training period.
        val_rows: hourly feature rows of the validation period (may be empty: then
            every configured epoch runs and the last is kept).
        config: architecture and training hyperparameters.
        progress: show tqdm bars (epochs, batches) on stderr.
        adapter: the feature adapter; default: :func:`adapter_for` ``config``.
        max_train_samples: keep at most this many training samples (an evenly seeded
            random subset), for quick runs.
        num_threads: torch CPU threads (fixed, so results repeat).
        device: ``"cpu"`` (bit-for-bit repeatable) or ``"cuda"`` (much faster; cuDNN
            kernels may differ from the CPU's in the last bits, so metrics can differ
            slightly from a CPU run with the same seed).

    Raises:
        DataError: no training sample could be cut.
    """
    began = time.perf_counter()
    adapter = adapter or adapter_for(config)
    train, val = _samples(train_rows, val_rows, config, adapter, max_train_samples)
    # the network (and the input scaler) sees the inputs through the model's views;
    # the targets and the newest target a residual forecast adds stay as measured
    train = replace(
        train, x=apply_input_views(train.x, config.inputs, config.target, config.input_views)
    )
    val = replace(val, x=apply_input_views(val.x, config.inputs, config.target, config.input_views))
    scaler_x = AffineScaler.fit(train.x, config.inputs)
    lead_names = [f"lead_{h}h" for h in config.leads_h]
    scaler_y = AffineScaler.fit(_targets(train, config.residual), lead_names)
    data = ScaledData(
        x_train=torch.from_numpy(scaler_x.transform(train.x).astype(np.float32)).to(device),
        z_train=torch.from_numpy(
            scaler_y.transform(_targets(train, config.residual)).astype(np.float32)
        ).to(device),
        x_val=scaler_x.transform(val.x).astype(np.float32),
        z_val=torch.from_numpy(
            scaler_y.transform(_targets(val, config.residual)).astype(np.float32)
        ),
    )
    with torch_determinism(config.seed, num_threads, device) as generator:
        net = LSTMForecaster(network_spec(config), dropout=config.dropout).to(device)
        fit = fit_epochs(net, data, config, generator, progress=progress, device=device)
        net.load_numpy_weights(fit.best_state)
        metrics: dict[str, Any] = {}
        calibration: dict[str, Any] | None = None
        if len(val):
            q_val_best = predict_scaled(net, data.x_val)
            pred = unscale_quantiles(
                q_val_best, scaler_y, val.last_target if config.residual else None
            )
            metrics["validation"] = forecast_metrics(pred, val)
            calibration = fit_interval_calibration(pred, val.y)
    return TrainingResult(
        config=config,
        adapter=adapter,
        weights=fit.best_state,
        scaler_x=scaler_x,
        scaler_y=scaler_y,
        history=tuple(fit.history),
        best_epoch=fit.best_epoch,
        metrics=metrics,
        data={"train": sample_range(train), "validation": sample_range(val)},
        duration_s=time.perf_counter() - began,
        interval_calibration=calibration,
    )


def _samples(
    train_rows: pd.DataFrame,
    val_rows: pd.DataFrame,
    config: ModelConfig,
    adapter: FeatureAdapter,
    max_train_samples: int | None,
) -> tuple[WindowedSamples, WindowedSamples]:
    """Training and validation samples cut from the rows (training ones subsampled to
    ``max_train_samples``)."""
    if tuple(adapter.input_names) != tuple(config.inputs):
        raise DataError(
            f"adapter inputs {list(adapter.input_names)} differ from the configured "
            f"inputs {list(config.inputs)}"
        )
    train = build_samples(train_rows, adapter, config.lookback, config.horizon)
    val = build_samples(val_rows, adapter, config.lookback, config.horizon)
    if len(train) == 0:
        raise DataError(
            f"no training window of {config.lookback}+{config.horizon} consecutive hours",
            fix="use a longer training period or a shorter --lookback/--horizon",
        )
    rng = np.random.default_rng(config.seed)
    if max_train_samples is not None and len(train) > max_train_samples:
        train = train.take(np.sort(rng.choice(len(train), max_train_samples, replace=False)))
    logger.info("training on %d samples, validating on %d", len(train), len(val))
    return train, val


def save_trained(
    result: TrainingResult,
    forecasting_dir: Path,
    name: str,
    *,
    sources: Sequence[str] = (),
    test_metrics: Mapping[str, Any] | None = None,
    data_ranges: Mapping[str, Any] | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``result`` as ``<forecasting_dir>/<name>/`` (atomically) and return the path.

    Args:
        result: what :func:`train_model` returned.
        forecasting_dir: ``$MODEL_STORAGE_PATH/trained/forecasting``.
        name: the directory name.
        sources: data source names trained on.
        test_metrics: test-period metrics to record (``metrics.test``).
        data_ranges: extra ``data`` entries (e.g. the split's UTC bounds).
        extra_metadata: more top-level metadata keys.
        overwrite: replace an existing directory of that name.
    """
    bundle = trained_bundle(
        result,
        name,
        sources=sources,
        test_metrics=test_metrics,
        data_ranges=data_ranges,
        extra_metadata=extra_metadata,
    )
    return _write_model_dir(forecasting_dir, name, bundle, overwrite=overwrite)


def trained_bundle(
    result: TrainingResult,
    name: str,
    *,
    sources: Sequence[str] = (),
    test_metrics: Mapping[str, Any] | None = None,
    data_ranges: Mapping[str, Any] | None = None,
    extra_metadata: Mapping[str, Any] | None = None,
) -> ModelBundle:
    """The model directory :func:`save_trained` writes, in memory (same arguments)."""
    extra: dict[str, Any] = dict(extra_metadata or {})
    bundle = result.to_bundle(name, sources=sources, extra_metadata=extra)
    if test_metrics:
        bundle.metadata["metrics"]["test"] = dict(test_metrics)
    if data_ranges:
        bundle.metadata["data"].update(dict(data_ranges))
    return bundle


def holdout_tail(rows: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split rows by time: the last ``fraction`` of the ``window_start`` span becomes validation."""
    if len(rows) == 0:
        return rows, rows
    start = rows["window_start"].min()
    end = rows["window_start"].max()
    cut = end - (end - start) * fraction
    late = rows["window_start"] > cut
    return rows.loc[~late].reset_index(drop=True), rows.loc[late].reset_index(drop=True)
