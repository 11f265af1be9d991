"""What follows from a :class:`~wxstream.models.config.ModelConfig` alone: the network
shape, the feature adapter, and the configuration's part of ``metadata.json``.

Pure and torch-free, so tools that write a model directory without training (the GPU
check's random-weight model) share it with :mod:`wxstream.models.training`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from wxstream.errors import ConfigError
from wxstream.features.adapter import FeatureAdapter, default_adapter, input_catalogue
from wxstream.models.config import QUANTILES, ModelConfig, long_term_leads, short_term_leads
from wxstream.models.model_dir import FORMAT_NAME, FORMAT_VERSION, NetworkSpec

MODEL_VERSION = "1"


def model_metadata(
    config: ModelConfig, name: str, *, created: datetime | None = None
) -> dict[str, Any]:
    """The part of ``metadata.json`` that follows from the configuration alone (format,
    name, shapes, leads, features, target, network); training adds data, history and
    metrics."""
    stamp = (created or datetime.now(UTC)).astimezone(UTC)
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "name": name,
        "version": MODEL_VERSION,
        "created": stamp.isoformat().replace("+00:00", "Z"),
        "lookback": config.lookback,
        "horizon": config.horizon,
        "quantiles": list(QUANTILES),
        "leads_h": list(config.leads_h),
        "short_term_leads_h": list(short_term_leads(config.horizon)),
        "long_term_leads_h": list(long_term_leads(config.horizon)),
        "features": list(config.inputs),
        "target": config.target,
        "target_unit": "degC",
        "target_mode": "residual" if config.residual else "absolute",
        "input_views": dict(config.input_views),
        "network": network_spec(config).to_dict(),
        "config": config.to_dict(),
    }


def network_spec(config: ModelConfig) -> NetworkSpec:
    """The network shape a configuration trains."""
    return NetworkSpec(
        n_inputs=len(config.inputs),
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        horizon=config.horizon,
        n_quantiles=len(QUANTILES),
    )


def adapter_for(config: ModelConfig) -> FeatureAdapter:
    """The feature adapter with exactly ``config.inputs``, in that order."""
    base = default_adapter(with_time_encodings=True)
    catalogue = {spec.name: spec for spec in input_catalogue()}
    unknown = [name for name in config.inputs if name not in catalogue]
    if unknown:
        raise ConfigError(
            f"unknown model input(s) {unknown}",
            fix=f"choose inputs among {list(catalogue)}",
        )
    if config.target != base.target.name:
        raise ConfigError(
            f"unknown target {config.target!r}", fix=f"the target is {base.target.name!r}"
        )
    return FeatureAdapter(
        inputs=tuple(catalogue[name] for name in config.inputs), target=base.target
    )
