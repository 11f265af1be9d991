""":class:`ForecastingModel`: a loaded model directory ready to forecast.

Torch-free unless the chosen backend is torch: scaling and unscaling happen here in
numpy, around the backend that runs the network (see :mod:`wxstream.models.runtime`).
The interval calibration recorded at training time is applied here too, after every
backend alike, so each runtime serves the same calibrated p10..p90.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import ConfigError, ModelError, ModelFormatError
from wxstream.features.adapter import FeatureAdapter
from wxstream.messages import FeatureMessage
from wxstream.models.calibration import scale_from_metadata, scale_interval
from wxstream.models.config import long_term_leads, short_term_leads
from wxstream.models.input_views import InputViews, apply_input_views, parse_input_views
from wxstream.models.model_dir import ModelBundle
from wxstream.models.runtime import InferenceBackend, make_backend

F32 = npt.NDArray[np.float32]


class ForecastingModel:
    """A trained temperature forecaster.

    ``predict`` maps raw adapter inputs ``(B, lookback, F)`` to degC quantiles
    ``(B, horizon, 3)`` in the order p10, p50, p90. Build with
    :func:`wxstream.models.model_loader.load_model` or :meth:`from_bundle`.

    Attributes:
        name: model directory name.
        version: model version string from the metadata.
        lookback: input steps per window.
        horizon: number of leads.
        quantiles: ``(0.1, 0.5, 0.9)``.
        leads_h: ``(1, ..., horizon)``.
        short_term_leads: leads 1..6 h.
        long_term_leads: leads up to 24 h.
        input_names: adapter input names, in input order.
        adapter: the feature adapter.
        metadata: the parsed ``metadata.json``.
        device: ``"cpu"`` or ``"cuda"``.
        runtime: backend name (``onnxruntime``, ``torch``, ``numpy``).
        path: the directory it was loaded from (``None`` when built in memory).
        interval_scale: per-lead factors applied to p10..p90 around p50 (``metadata.json``
            ``interval_calibration``), or ``None`` when the model records none.
    """

    def __init__(
        self, bundle: ModelBundle, backend: InferenceBackend, *, path: Path | None = None
    ) -> None:
        meta = bundle.metadata
        self.metadata: dict[str, Any] = meta
        self.name: str = str(meta["name"])
        self.version: str = str(meta["version"])
        self.lookback: int = int(meta["lookback"])
        self.horizon: int = int(meta["horizon"])
        self.quantiles: tuple[float, ...] = tuple(float(q) for q in meta["quantiles"])
        self.leads_h: tuple[int, ...] = tuple(range(1, self.horizon + 1))
        self.short_term_leads: tuple[int, ...] = short_term_leads(self.horizon)
        self.long_term_leads: tuple[int, ...] = long_term_leads(self.horizon)
        self.input_names: tuple[str, ...] = tuple(meta["features"])
        self.target: str = str(meta["target"])
        self.residual: bool = meta["target_mode"] == "residual"
        self.adapter: FeatureAdapter = bundle.adapter
        self.device: str = backend.device
        self.runtime: str = backend.name
        self.path = path
        self.bundle = bundle
        self._backend = backend
        self._target_index = self.input_names.index(self.target)
        self._x_center, self._x_scale = bundle.scaler_x.arrays()
        y_center, y_scale = bundle.scaler_y.arrays()
        self._y_center = y_center[None, :, None]
        self._y_scale = y_scale[None, :, None]
        try:
            scale = scale_from_metadata(meta, self.horizon)
            # absent in models from before views (and imported Keras models): none
            self.input_views: InputViews = parse_input_views(
                meta.get("input_views"), self.input_names, self.target
            )
        except (ValueError, ConfigError) as exc:
            where = path / "metadata.json" if path is not None else f"model {self.name!r}"
            raise ModelFormatError(
                f"{where}: {exc}", fix="re-create it with `wxstream train`"
            ) from exc
        self.interval_scale: F32 | None = (
            None if scale is None else np.asarray(scale, dtype=np.float32)
        )

    @classmethod
    def from_bundle(
        cls,
        bundle: ModelBundle,
        *,
        device: str = "cpu",
        runtime: str | None = None,
        intra_op_threads: int = 1,
        path: Path | None = None,
    ) -> ForecastingModel:
        """Build from an in-memory bundle (``device`` is ``cpu`` or ``cuda``, already resolved)."""
        backend = make_backend(
            bundle.weights,
            bundle.spec,
            device=device,
            runtime=runtime,
            intra_op_threads=intra_op_threads,
        )
        return cls(bundle, backend, path=path)

    @property
    def n_inputs(self) -> int:
        """Number of model inputs per step."""
        return len(self.input_names)

    def predict(self, x: npt.ArrayLike, *, calibrated: bool = True) -> F32:
        """Forecast a batch of windows.

        Args:
            x: ``(B, lookback, F)`` raw (unscaled) adapter inputs; rows oldest first.
               Windows holding NaN yield NaN forecasts.
            calibrated: apply the model's interval calibration (when it has one); false
               gives the raw network interval. p50 is the same either way.

        Returns:
            ``(B, horizon, 3)`` float32 degC: p10, p50, p90 for leads 1..horizon.

        Raises:
            ModelError: ``x`` has the wrong shape.
        """
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[1:] != (self.lookback, self.n_inputs):
            raise ModelError(
                f"model {self.name!r} expects inputs of shape (batch, {self.lookback}, "
                f"{self.n_inputs}), got {arr.shape}",
                fix=f"build windows of {self.lookback} rows with the model's feature adapter",
            )
        if arr.shape[0] == 0:
            return np.empty((0, self.horizon, len(self.quantiles)), np.float32)
        viewed = apply_input_views(arr, self.input_names, self.target, self.input_views)
        scaled = (viewed - self._x_center) / self._x_scale
        q = self._backend.run(np.ascontiguousarray(scaled, dtype=np.float32))
        out = q * self._y_scale + self._y_center
        if self.residual:
            out = out + arr[:, -1, self._target_index][:, None, None]
        raw = np.asarray(out, dtype=np.float32)
        return self.calibrate_interval(raw) if calibrated else raw

    def calibrate_interval(self, raw: F32) -> F32:
        """Raw float32 quantiles ``(B, horizon, 3)`` -> what :meth:`predict` serves.

        Stretches p10 and p90 around p50 by :attr:`interval_scale`; ``raw`` itself when
        the model has no calibration.
        """
        arr = np.asarray(raw, dtype=np.float32)
        if self.interval_scale is None:
            return arr
        return np.asarray(scale_interval(arr, self.interval_scale), dtype=np.float32)

    def predict_messages(self, windows: Sequence[Sequence[FeatureMessage]]) -> F32:
        """Forecast windows of decoded feature messages (each ``lookback`` long, oldest first)."""
        if len(windows) == 0:
            return np.empty((0, self.horizon, len(self.quantiles)), np.float32)
        return self.predict(self.adapter.windows_to_array(windows))

    def __repr__(self) -> str:
        return (
            f"ForecastingModel(name={self.name!r}, lookback={self.lookback}, "
            f"horizon={self.horizon}, runtime={self.runtime!r}, device={self.device!r})"
        )
