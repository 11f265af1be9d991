"""Model configuration (:class:`ModelConfig`) and the named presets.

Every hyperparameter of the LSTM and its training lives here, in one frozen
dataclass; presets are the few named starting points the CLI offers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from wxstream.errors import ConfigError
from wxstream.models.input_views import InputViews, parse_input_views

QUANTILES: tuple[float, float, float] = (0.1, 0.5, 0.9)
"""Quantiles every forecast carries, in output order: an 80 % interval around the median."""

SHORT_TERM_MAX_LEAD_H = 6
LONG_TERM_MAX_LEAD_H = 24

TIME_INPUTS: tuple[str, ...] = ("hour_sin", "hour_cos", "doy_sin", "doy_cos")
"""Names of the UTC time-encoding inputs of the standard feature adapter."""


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and training hyperparameters of the temperature LSTM.

    Attributes:
        lookback: hourly input steps per window.
        horizon: forecast leads 1..horizon hours.
        inputs: adapter input names, in model input order.
        target: the forecast quantity (an adapter input name, degC).
        residual: forecast the change from the last observed target (True) or the
            absolute value (False).
        hidden_size: LSTM units per layer.
        num_layers: stacked LSTM layers.
        dropout: dropout between LSTM layers and before the output head.
        learning_rate: Adam step size.
        weight_decay: Adam L2 penalty.
        epochs: maximum training epochs.
        batch_size: samples per gradient step.
        patience: epochs without validation improvement before stopping.
        seed: seeds weight init, shuffling and dropout; same data + seed = same model.
        grad_clip: maximum gradient norm.
        lr_schedule: ``"constant"`` or ``"cosine"`` (the step size falls along a half
            cosine from ``learning_rate`` to zero over ``epochs``).
        input_views: ``((input, view), ...)``: inputs the network sees relative to
            their window instead of as measured (:mod:`wxstream.models.input_views`).
    """

    lookback: int = 48
    horizon: int = 24
    inputs: tuple[str, ...] = ("temperature", "wind_speed", "dewpoint", *TIME_INPUTS)
    target: str = "temperature"
    residual: bool = True
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    learning_rate: float = 3e-3
    weight_decay: float = 0.0
    epochs: int = 30
    batch_size: int = 256
    patience: int = 5
    seed: int = 13
    grad_clip: float = 1.0
    lr_schedule: str = "constant"
    input_views: InputViews = ()

    def __post_init__(self) -> None:
        checks = {
            "lookback": self.lookback >= 1,
            "horizon": self.horizon >= 1,
            "hidden_size": self.hidden_size >= 1,
            "num_layers": self.num_layers >= 1,
            "epochs": self.epochs >= 1,
            "batch_size": self.batch_size >= 1,
            "patience": self.patience >= 1,
            "learning_rate": self.learning_rate > 0,
            "dropout": 0.0 <= self.dropout < 1.0,
            "inputs": len(self.inputs) >= 1 and len(set(self.inputs)) == len(self.inputs),
            "lr_schedule": self.lr_schedule in ("constant", "cosine"),
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ConfigError(
                f"invalid model configuration: {', '.join(bad)} out of range",
                fix="lookback/horizon/hidden_size/num_layers/epochs/batch_size/patience >= 1, "
                "learning_rate > 0, 0 <= dropout < 1, inputs unique and non-empty, "
                "lr_schedule constant or cosine",
            )
        if self.target not in self.inputs:
            raise ConfigError(
                f"target {self.target!r} is not among the inputs {list(self.inputs)}",
                fix="the model reads the last observed target from its inputs: add it",
            )
        # checked, and put in input order (so equal configurations compare equal)
        views = parse_input_views(self.input_views, self.inputs, self.target)
        object.__setattr__(self, "input_views", views)

    @property
    def leads_h(self) -> tuple[int, ...]:
        """Forecast leads in hours, ``1..horizon``."""
        return tuple(range(1, self.horizon + 1))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        out = asdict(self)
        out["inputs"] = list(self.inputs)
        out["input_views"] = dict(self.input_views)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (newer files)."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "inputs" in kwargs:
            kwargs["inputs"] = tuple(kwargs["inputs"])
        if "input_views" in kwargs:
            kwargs["input_views"] = parse_input_views(
                kwargs["input_views"],
                kwargs.get("inputs", cls.inputs),
                kwargs.get("target", cls.target),
            )
        return cls(**kwargs)

    def with_overrides(self, **overrides: Any) -> ModelConfig:
        """A copy with the non-``None`` overrides applied; new ``inputs`` keep the views
        of the inputs they still have."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "inputs" in given and "input_views" not in given:
            kept = set(given["inputs"])
            given["input_views"] = tuple(
                (name, view) for name, view in self.input_views if name in kept
            )
        return replace(self, **given)


def short_term_leads(horizon: int) -> tuple[int, ...]:
    """Leads 1..6 h (fewer when the horizon is shorter)."""
    return tuple(range(1, min(horizon, SHORT_TERM_MAX_LEAD_H) + 1))


def long_term_leads(horizon: int) -> tuple[int, ...]:
    """Leads up to 24 h: every lead when the horizon is shorter than 24 h."""
    return tuple(range(1, min(horizon, LONG_TERM_MAX_LEAD_H) + 1))


# `default` with the optional inputs all three sources carry (pressure, the wind vector,
# precipitation; not humidity: beijing-multisite has none, and temperature with dew point
# already give it) and station-aware time (local solar hour, season by hemisphere) in
# place of UTC time: see docs/evaluation.md, "Richer inputs".
_RICH = ModelConfig(
    epochs=10,
    patience=3,
    inputs=(
        "temperature",
        "wind_speed",
        "dewpoint",
        "pressure",
        "wind_u",
        "wind_v",
        "precipitation",
        "solar_hour_sin",
        "solar_hour_cos",
        "season_sin",
        "season_cos",
    ),
)

# The presets: keep them here, in this one table.
PRESETS: dict[str, ModelConfig] = {
    # The original design: 7 hourly steps in, 7 leads out, three raw measurements.
    "original": ModelConfig(
        lookback=7,
        horizon=7,
        inputs=("temperature", "wind_speed", "dewpoint"),
        hidden_size=64,
        num_layers=1,
    ),
    # Chosen by the evaluation runs logged in docs/evaluation.md (five-cities, Beijing).
    "default": ModelConfig(epochs=10, patience=3),
    "rich": _RICH,
    # `rich` for stations unlike the training ones (a user's own, another climate): the
    # network sees temperature and pressure as their course over the window and dew
    # point as its depression below temperature, not their levels, which differ from
    # climate to climate (models/input_views.py; docs/evaluation.md, "Out of
    # distribution: stations the model never saw").
    "portable": replace(
        _RICH,
        input_views=(
            ("temperature", "change"),
            ("dewpoint", "below_target"),
            ("pressure", "change"),
        ),
    ),
}


def get_preset(name: str) -> ModelConfig:
    """The named preset; :class:`ConfigError` listing the names when unknown."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model preset {name!r}", fix=f"use one of {sorted(PRESETS)}"
        ) from None
