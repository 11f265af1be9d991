"""What every JSON wire format of the project shares: the object behind the bytes (or
an :class:`InvalidRecord` saying why there is none), typed field readers that raise
``ValueError`` for the decoder to turn into ``wrong_type``, and the shipped JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from wxstream.messages.features import InvalidRecord


def load_object(raw: bytes | bytearray | memoryview | None) -> dict[str, Any] | InvalidRecord:
    """The JSON object of a record value, or ``undecodable`` / ``not_an_object``."""
    if raw is None:
        return InvalidRecord("undecodable", "empty record value")
    try:
        obj = json.loads(bytes(raw))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return InvalidRecord("undecodable", f"{type(exc).__name__}: {str(exc)[:200]}")
    if type(obj) is not dict:
        return InvalidRecord("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def utc_field(value: Any, name: str) -> datetime:
    """An ISO-8601 timestamp with an offset, as UTC."""
    if type(value) is not str:
        raise ValueError(f"{name} must be a string")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"{name} has no UTC offset")
    return parsed.astimezone(UTC)


def text_field(obj: dict[str, Any], name: str, allowed: tuple[str, ...] | None = None) -> str:
    """A non-empty string (one of ``allowed`` when given)."""
    value = obj.get(name)
    if type(value) is not str or not value:
        raise ValueError(f"{name} must be a non-empty string")
    if allowed is not None and value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}")
    return value


def schema_file(resource: str) -> Path:
    """Path of a JSON Schema (draft 2020-12) shipped as package data."""
    return Path(str(resources.files("wxstream.messages").joinpath(resource)))


def read_schema(resource: str) -> dict[str, Any]:
    """A shipped JSON Schema as a dict."""
    loaded: dict[str, Any] = json.loads(schema_file(resource).read_text(encoding="utf-8"))
    return loaded
