"""Which model versions ``serve`` runs: the champion of ``--model-name`` and, when the
name has one, its challenger (resolved by the registry, ``wxstream.models.registry``).

A reference that pins one version (``NAME@VERSION``, ``NAME@challenger``) or no name
at all (the newest model) serves that one model alone, as before versions existed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from wxstream.errors import ConfigError, ModelVersionNotFoundError
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_dir import VERSIONS_DIR
from wxstream.models.model_loader import resolve_model_dir
from wxstream.models.registry import LEGACY_VERSION, ModelRef, resolve, resolve_version
from wxstream.settings import ModelSettings

logger = logging.getLogger(__name__)

CHALLENGER_ALIAS = "challenger"


@dataclass(frozen=True)
class VersionDirs:
    """The directories and version ids to serve.

    Attributes:
        name: the model name (the experiment's default name).
        champion_dir: the champion's model directory.
        champion_version: its registry version id (``None``: outside the registry; the
            metadata's version is written).
        challenger_dir: the challenger's model directory (``None``: none to serve).
        challenger_version: its registry version id.
    """

    name: str
    champion_dir: Path
    champion_version: str | None
    challenger_dir: Path | None = None
    challenger_version: str | None = None


def _registry_version(path: Path) -> str | None:
    """The version id of a registry version's directory (``None`` for a legacy one)."""
    return path.name if path.parent.name == VERSIONS_DIR else None


def resolve_versions(settings: ModelSettings) -> VersionDirs:
    """The champion (and challenger) that ``settings.model_name`` names.

    Raises:
        ModelNotFoundError: no such model.
        IncompleteVersionError: a version is half-copied or changed.
    """
    text = settings.model_name
    if text is None or ModelRef.parse(text).selector is not None:
        path = resolve_model_dir(settings)
        name = ModelRef.parse(text).name if text is not None else path.name
        if path.parent.name == VERSIONS_DIR:
            name = path.parent.parent.name
        return VersionDirs(name, path, _registry_version(path))
    root = settings.forecasting_dir
    champion_dir = resolve(root, text)
    champion = _registry_version(champion_dir)
    try:
        challenger, _ = resolve_version(root, ModelRef(text, CHALLENGER_ALIAS))
    except ModelVersionNotFoundError:
        return VersionDirs(text, champion_dir, champion)
    if challenger in (champion, LEGACY_VERSION):
        logger.info("model %s: the challenger is the champion; serving it alone", text)
        return VersionDirs(text, champion_dir, champion)
    challenger_dir = resolve(root, f"{text}@{CHALLENGER_ALIAS}")
    return VersionDirs(text, champion_dir, champion, challenger_dir, challenger)


def check_compatible(champion: ForecastingModel, challenger: ForecastingModel) -> None:
    """Both versions must read the same windows and forecast the same leads: one
    window feeds both, and their forecasts are paired lead by lead.

    Raises:
        ConfigError: they differ.
    """
    differences = {
        "lookback": (champion.lookback, challenger.lookback),
        "leads": (tuple(champion.leads_h), tuple(challenger.leads_h)),
        "adapter inputs": (champion.adapter.input_names, challenger.adapter.input_names),
    }
    bad = [f"{what} {a} vs {b}" for what, (a, b) in differences.items() if a != b]
    if bad:
        raise ConfigError(
            "the challenger cannot be served beside the champion: " + "; ".join(bad),
            fix="move the challenger alias to a version with the champion's lookback, leads "
            "and feature adapter (`wxstream models promote NAME VERSION --alias challenger "
            "--why TEXT`), or serve NAME@champion alone",
        )
