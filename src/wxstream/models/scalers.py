"""Affine scalers stored as JSON: ``z = (x - center) / scale`` per column.

A standard scaler (``center`` = mean, ``scale`` = standard deviation) is what training
fits; a min-max scaler converts to the same form, so one class and one file format
serve models trained here and models imported from elsewhere. No pickle anywhere.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import ModelFormatError

FloatArray = npt.NDArray[np.floating[Any]]

SCALER_FORMAT = "wxstream-affine-scaler"
# A column with (almost) no spread would divide by ~0; scale it by 1 instead.
_MIN_SCALE = 1e-6


@dataclass(frozen=True)
class AffineScaler:
    """Per-column affine transform ``z = (x - center) / scale``.

    Attributes:
        names: one name per column (input names, or lead labels for the target).
        center: per-column offset.
        scale: per-column positive divisor.
        kind: where the numbers came from (``standard``, ``minmax``), for the record.
    """

    names: tuple[str, ...]
    center: tuple[float, ...]
    scale: tuple[float, ...]
    kind: str = "standard"

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.center) != n or len(self.scale) != n:
            raise ValueError(
                f"scaler needs one center and scale per name: {n} names, "
                f"{len(self.center)} centers, {len(self.scale)} scales"
            )
        if not all(math.isfinite(c) for c in self.center):
            raise ValueError("scaler centers must be finite")
        if not all(math.isfinite(s) and s > 0 for s in self.scale):
            raise ValueError("scaler scales must be finite and positive")

    @property
    def size(self) -> int:
        """Number of columns."""
        return len(self.names)

    @classmethod
    def fit(cls, values: FloatArray, names: Sequence[str]) -> AffineScaler:
        """Fit mean / standard deviation per last-axis column, ignoring NaN.

        Args:
            values: ``(..., n_columns)``; every leading axis is pooled.
            names: one name per column.
        """
        flat = np.asarray(values, dtype=np.float64).reshape(-1, len(names))
        finite = np.isfinite(flat)
        if not finite.any(axis=0).all():
            raise ValueError("cannot fit a scaler: a column has no finite value")
        mean = np.nanmean(flat, axis=0)
        std = np.nanstd(flat, axis=0)
        std = np.where(std < _MIN_SCALE, 1.0, std)
        return cls(
            names=tuple(names),
            center=tuple(float(v) for v in mean),
            scale=tuple(float(v) for v in std),
            kind="standard",
        )

    @classmethod
    def from_minmax(
        cls,
        data_min: Sequence[float],
        data_max: Sequence[float],
        names: Sequence[str],
        feature_range: tuple[float, float] = (0.0, 1.0),
    ) -> AffineScaler:
        """The affine equivalent of a min-max scaler mapping ``[min, max]`` to ``feature_range``."""
        lo, hi = feature_range
        centers: list[float] = []
        scales: list[float] = []
        for dmin, dmax in zip(data_min, data_max, strict=True):
            span = float(dmax) - float(dmin)
            span = span if span > _MIN_SCALE else 1.0
            scale = span / (hi - lo)
            scales.append(scale)
            centers.append(float(dmin) - lo * scale)
        return cls(names=tuple(names), center=tuple(centers), scale=tuple(scales), kind="minmax")

    def arrays(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """``(center, scale)`` as float32 arrays, for the inference hot path."""
        return (
            np.asarray(self.center, dtype=np.float32),
            np.asarray(self.scale, dtype=np.float32),
        )

    def transform(self, values: FloatArray) -> FloatArray:
        """Scale ``(..., size)`` values; keeps the input's float dtype."""
        arr = np.asarray(values)
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
        center = np.asarray(self.center, dtype=dtype)
        scale = np.asarray(self.scale, dtype=dtype)
        return np.asarray((arr.astype(dtype, copy=False) - center) / scale)

    def inverse_transform(self, values: FloatArray) -> FloatArray:
        """Undo :meth:`transform`."""
        arr = np.asarray(values)
        dtype = arr.dtype if np.issubdtype(arr.dtype, np.floating) else np.dtype(np.float64)
        center = np.asarray(self.center, dtype=dtype)
        scale = np.asarray(self.scale, dtype=dtype)
        return np.asarray(arr.astype(dtype, copy=False) * scale + center)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; floats survive the JSON round trip exactly."""
        return {
            "format": SCALER_FORMAT,
            "kind": self.kind,
            "names": list(self.names),
            "center": list(self.center),
            "scale": list(self.scale),
        }

    def to_json(self) -> str:
        """The scaler file's text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "scaler") -> AffineScaler:
        """Parse :meth:`to_dict` output; :class:`ModelFormatError` naming ``source``."""
        if not isinstance(data, dict) or data.get("format") != SCALER_FORMAT:
            raise ModelFormatError(
                f"{source}: not a {SCALER_FORMAT} file",
                fix="re-create the model directory with `wxstream train`",
            )
        try:
            return cls(
                names=tuple(str(n) for n in data["names"]),
                center=tuple(float(v) for v in data["center"]),
                scale=tuple(float(v) for v in data["scale"]),
                kind=str(data.get("kind", "standard")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFormatError(
                f"{source}: invalid scaler: {exc}",
                fix="re-create the model directory with `wxstream train`",
            ) from exc

    @classmethod
    def from_json(cls, text: str, *, source: str = "scaler") -> AffineScaler:
        """Parse the scaler file's text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ModelFormatError(
                f"{source}: not valid JSON: {exc}",
                fix="re-create the model directory with `wxstream train`",
            ) from exc
        return cls.from_dict(data, source=source)

    def save(self, path: Path) -> None:
        """Write the scaler file."""
        path.write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AffineScaler:
        """Read a scaler file; :class:`ModelFormatError` naming the file when bad."""
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelFormatError(
                f"{path}: cannot read scaler file: {exc}",
                fix="re-create the model directory with `wxstream train`",
            ) from exc
        return cls.from_json(text, source=str(path))
