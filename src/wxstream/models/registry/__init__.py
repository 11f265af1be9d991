"""Model versions: immutable versions per model name, champion/challenger aliases, history.

``resolve(forecasting_dir, "NAME[@VERSION|@ALIAS]")`` is the one place a model reference
becomes a directory; see ``docs/model-versions.md``.
"""

from wxstream.models.registry.layout import (
    ALIASES,
    CHALLENGER,
    CHAMPION,
    LEGACY_VERSION,
    ModelRef,
    VersionInfo,
    is_legacy,
    is_versioned,
    list_versions,
    read_aliases,
    resolve,
    resolve_version,
    verify_version,
    version_id,
)
from wxstream.models.registry.moves import (
    DECISION,
    AliasMove,
    add_version,
    champion_stack,
    promote,
    read_history,
    record_decision,
    rollback,
)

__all__ = [
    "ALIASES",
    "CHALLENGER",
    "CHAMPION",
    "DECISION",
    "LEGACY_VERSION",
    "AliasMove",
    "ModelRef",
    "VersionInfo",
    "add_version",
    "champion_stack",
    "is_legacy",
    "is_versioned",
    "list_versions",
    "promote",
    "read_aliases",
    "read_history",
    "record_decision",
    "resolve",
    "resolve_version",
    "rollback",
    "verify_version",
    "version_id",
]
