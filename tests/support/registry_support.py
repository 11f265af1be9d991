"""Model stores for registry tests: the small real model written as several versions."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from wxstream.models.model_dir import ModelBundle
from wxstream.models.registry import add_version


def retrained(bundle: ModelBundle, n: int) -> ModelBundle:
    """The same network written again later: a distinct version (its metadata differs)."""
    return dataclasses.replace(
        bundle, metadata={**bundle.metadata, "created": f"2030-01-01T00:00:{n:02d}Z"}
    )


def add_versions(root: Path, name: str, bundle: ModelBundle, count: int) -> list[str]:
    """``count`` versions of ``bundle`` under ``name`` in ``root``, oldest first (the
    first one becomes champion); their ids."""
    return [
        add_version(root, name, retrained(bundle, n), who="ana")[0] for n in range(1, count + 1)
    ]
