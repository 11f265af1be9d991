"""Where a model name's versions live, what a version id is, and how a reference resolves.

Layout of ``<forecasting_dir>/<NAME>/``::

    versions/<VERSION>/   one model directory each (the files of ``model_dir``), never changed
    aliases.json          {"champion": VERSION, "challenger": VERSION}, replaced atomically
    history.jsonl         one JSON object per alias move, appended

A name whose folder holds ``metadata.json`` directly (written before versions existed)
is a *legacy* name: one version, id ``legacy``, which is its champion.

A version id is the first 12 hex digits of the SHA-256 over the checksums of all its
files, ``metadata.json`` included: a copy of a version keeps its id on any machine, two
machines adding versions never collide, and a half-copied or edited version no longer
matches its own name.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wxstream.errors import (
    IncompleteVersionError,
    ModelNotFoundError,
    ModelVersionNotFoundError,
)
from wxstream.models.model_dir import (
    FIX_NO_MODEL,
    METADATA_FILE,
    MODEL_FILES,
    VERSIONS_DIR,
    file_sha256,
    model_path,
)

ALIASES_FILE = "aliases.json"
HISTORY_FILE = "history.jsonl"
ALIASES: tuple[str, ...] = ("champion", "challenger")
CHAMPION = "champion"
CHALLENGER = "challenger"
LEGACY_VERSION = "legacy"
VERSION_ID_LENGTH = 12


def _fix_incomplete(version_dir: Path) -> str:
    name = version_dir.parent.parent.name
    return (
        "copy the version again (metadata.json last), or train a new version with "
        f"`wxstream train --name {name}`"
    )


@dataclass(frozen=True)
class ModelRef:
    """A parsed ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS``.

    Attributes:
        name: the model name.
        selector: a version id, an alias, or ``None`` (the champion).
    """

    name: str
    selector: str | None = None

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        """Split ``text`` at its last ``@``; an empty selector means the champion."""
        name, sep, selector = text.rpartition("@")
        if not sep:
            return cls(text)
        return cls(name, selector or None)

    def __str__(self) -> str:
        return self.name if self.selector is None else f"{self.name}@{self.selector}"


@dataclass(frozen=True)
class VersionInfo:
    """One version of a model name as listed by ``wxstream models versions``.

    Attributes:
        version: the version id (``legacy`` for a legacy name).
        path: its model directory.
        metadata: parsed ``metadata.json``, or ``None`` when unreadable.
        aliases: the aliases pointing at it.
        problem: why the metadata could not be read, else ``None``.
    """

    version: str
    path: Path
    metadata: dict[str, Any] | None
    aliases: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def created(self) -> str:
        """ISO creation time from the metadata ('' when unknown)."""
        return str((self.metadata or {}).get("created", ""))


def version_id(model_dir: Path) -> str:
    """The id of the model directory ``model_dir``, computed from its files.

    Raises:
        IncompleteVersionError: one of the model files is missing.
    """
    lines = []
    for fname in sorted(MODEL_FILES):
        path = model_dir / fname
        if not path.is_file():
            raise IncompleteVersionError(
                f"{model_dir}: {fname} is missing (a half-copied version?)",
                fix=_fix_incomplete(model_dir),
            )
        lines.append(f"{fname} {file_sha256(path)}\n")
    return hashlib.sha256("".join(lines).encode()).hexdigest()[:VERSION_ID_LENGTH]


def verify_version(version_dir: Path) -> None:
    """Refuse a version that is not exactly what was written under its id.

    ``metadata.json`` is written last, so a version without it was never finished (or
    was half-copied); every other file must match the checksum the metadata records, and
    the files together must hash to the directory's name.

    Raises:
        IncompleteVersionError: metadata missing, a file missing or changed, or the id
            disagrees with the content.
    """
    meta_path = version_dir / METADATA_FILE
    if not meta_path.is_file():
        raise IncompleteVersionError(
            f"{version_dir}: no {METADATA_FILE}: the version was never finished or was half-copied",
            fix=_fix_incomplete(version_dir),
        )
    try:
        recorded = json.loads(meta_path.read_text(encoding="utf-8")).get("files", {})
    except (OSError, ValueError, AttributeError) as exc:
        raise IncompleteVersionError(
            f"{meta_path}: not readable JSON: {exc}", fix=_fix_incomplete(version_dir)
        ) from exc
    for fname in MODEL_FILES:
        if fname == METADATA_FILE:
            continue
        path = version_dir / fname
        if not path.is_file():
            raise IncompleteVersionError(
                f"{path}: missing (a half-copied version?)", fix=_fix_incomplete(version_dir)
            )
        if recorded.get(fname) != file_sha256(path):
            raise IncompleteVersionError(
                f"{path}: does not match the checksum in {METADATA_FILE}",
                fix=_fix_incomplete(version_dir),
            )
    actual = version_id(version_dir)
    if actual != version_dir.name:
        raise IncompleteVersionError(
            f"{version_dir}: its files hash to {actual}, not to its name",
            fix=_fix_incomplete(version_dir),
        )


def is_legacy(name_dir: Path) -> bool:
    """Whether ``name_dir`` is a model directory itself (the layout before versions)."""
    return (name_dir / METADATA_FILE).is_file() and not is_versioned(name_dir)


def is_versioned(name_dir: Path) -> bool:
    """Whether ``name_dir`` holds versions (the layout of this module)."""
    return (name_dir / VERSIONS_DIR).is_dir()


def read_aliases(name_dir: Path) -> dict[str, str]:
    """Alias -> version of a model name (a legacy name's champion is ``legacy``)."""
    if is_legacy(name_dir):
        return {CHAMPION: LEGACY_VERSION}
    path = name_dir / ALIASES_FILE
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.items() if k in ALIASES and v}


def name_dir_of(forecasting_dir: Path, name: str) -> Path:
    """The folder of model ``name``, which must exist."""
    path = model_path(forecasting_dir, name)
    if not path.is_dir():
        raise ModelNotFoundError(f"model directory not found: {path}", fix=FIX_NO_MODEL)
    return path


def _metadata_of(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    try:
        data = json.loads((path / METADATA_FILE).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        return None, f"{METADATA_FILE}: {exc}"
    return data, None


def list_versions(forecasting_dir: Path, name: str) -> list[VersionInfo]:
    """Every version of ``name``, oldest first (by ``created``, then id).

    Hidden folders (versions being written) are skipped; a version with unreadable
    metadata is listed with its ``problem``.
    """
    name_dir = name_dir_of(forecasting_dir, name)
    aliases = read_aliases(name_dir)
    if is_legacy(name_dir):
        meta, problem = _metadata_of(name_dir)
        return [VersionInfo(LEGACY_VERSION, name_dir, meta, (CHAMPION,), problem)]
    versions_dir = name_dir / VERSIONS_DIR
    found: list[VersionInfo] = []
    children = sorted(versions_dir.iterdir()) if versions_dir.is_dir() else []
    for child in children:
        if not child.is_dir() or child.name.startswith("."):
            continue
        meta, problem = _metadata_of(child)
        pointing = tuple(a for a in ALIASES if aliases.get(a) == child.name)
        found.append(VersionInfo(child.name, child, meta, pointing, problem))
    return sorted(found, key=lambda v: (v.created, v.version))


def resolve_version(forecasting_dir: Path, ref: ModelRef) -> tuple[str, Path]:
    """The version id and directory that ``ref`` names, without checking the files."""
    name_dir = name_dir_of(forecasting_dir, ref.name)
    selector = ref.selector or CHAMPION
    aliases = read_aliases(name_dir)
    if selector in ALIASES:
        version = aliases.get(selector)
        if version is None:
            raise ModelVersionNotFoundError(
                f"model {ref.name!r} has no {selector}",
                fix=f"set one with `wxstream models promote {ref.name} VERSION "
                f"--alias {selector} --why TEXT`",
            )
    else:
        version = selector
    if is_legacy(name_dir):
        if version != LEGACY_VERSION:
            raise ModelVersionNotFoundError(
                f"model {ref.name!r} has one version, {LEGACY_VERSION!r}, not {version!r}",
                fix=f"see `wxstream models versions {ref.name}`",
            )
        return version, name_dir
    path = name_dir / VERSIONS_DIR / version
    if version.startswith(".") or "/" in version or not path.is_dir():
        raise ModelVersionNotFoundError(
            f"model {ref.name!r} has no version {version!r}",
            fix=f"see `wxstream models versions {ref.name}`",
        )
    return version, path


def resolve(forecasting_dir: Path, text: str) -> Path:
    """The model directory that ``NAME``, ``NAME@VERSION`` or ``NAME@ALIAS`` names.

    ``NAME`` alone is its champion (the only version of a legacy name). A registry
    version is verified (:func:`verify_version`) before it is returned.

    Raises:
        ModelNotFoundError: no such name.
        ModelVersionNotFoundError: no such version, or the alias is not set.
        IncompleteVersionError: the version is half-copied or changed.
    """
    version, path = resolve_version(forecasting_dir, ModelRef.parse(text))
    if version != LEGACY_VERSION:
        verify_version(path)
    return path
