"""The ``wxstream-control`` message: where a model name's aliases point now.

Wire format (one compact UTF-8 JSON object per record, key = the model name)::

    {"name":"lstm-nyc","champion":"3f2a9c1b0d4e","challenger":null,
     "moved_at":"2026-12-01T20:15:00Z","who":"ana","why":"better MAE","sequence":7}

* ``sequence`` is the length of the name's alias history when the state was taken: it
  only grows, so a reader keeps the state with the highest sequence and ignores an
  older one published late.
* The topic is compacted: a starting reader finds the latest state of every name.
  The alias files on disk stay the source of truth; the topic only tells running
  services that they moved.

:func:`decode_alias_state` never raises: bad input is an :class:`InvalidRecord`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from wxstream.messages.features import InvalidRecord, format_timestamp
from wxstream.messages.json_codec import (
    load_object,
    read_schema,
    schema_file,
    text_field,
    utc_field,
)

SCHEMA_RESOURCE: Final = "schemas/wxstream-control.schema.json"


@dataclass(frozen=True, slots=True)
class AliasState:
    """A model name's champion and challenger after an alias move.

    Attributes:
        name: the model name (also the record key).
        champion: the champion's version id.
        challenger: the challenger's version id (``None``: none).
        moved_at: when the last move happened (UTC).
        who: who moved it.
        why: the reason given.
        sequence: the name's history length at that move (grows with every move).
    """

    name: str
    champion: str
    challenger: str | None
    moved_at: datetime
    who: str
    why: str
    sequence: int

    @property
    def key(self) -> bytes:
        """The record key: the model name."""
        return self.name.encode()


def encode_alias_state(state: AliasState) -> bytes:
    """The compact JSON value of ``state``."""
    return json.dumps(
        {
            "name": state.name,
            "champion": state.champion,
            "challenger": state.challenger,
            "moved_at": format_timestamp(state.moved_at),
            "who": state.who,
            "why": state.why,
            "sequence": int(state.sequence),
        },
        separators=(",", ":"),
    ).encode()


def _state(obj: dict[str, Any]) -> AliasState:
    sequence = obj.get("sequence")
    if type(sequence) is not int or sequence < 0:
        raise ValueError("sequence must be a non-negative integer")
    challenger = obj.get("challenger")
    if challenger is not None and (type(challenger) is not str or not challenger):
        raise ValueError("challenger must be a non-empty string or null")
    why = obj.get("why", "")
    if type(why) is not str:
        raise ValueError("why must be a string")
    return AliasState(
        name=text_field(obj, "name"),
        champion=text_field(obj, "champion"),
        challenger=challenger,
        moved_at=utc_field(obj.get("moved_at"), "moved_at"),
        who=text_field(obj, "who"),
        why=why,
        sequence=sequence,
    )


def decode_alias_state(raw: bytes | bytearray | memoryview | None) -> AliasState | InvalidRecord:
    """Decode one ``wxstream-control`` value; never raises.

    Returns:
        the state, or an :class:`InvalidRecord` (``undecodable``, ``not_an_object`` or
        ``wrong_type``) naming the problem.
    """
    obj = load_object(raw)
    if isinstance(obj, InvalidRecord):
        return obj
    try:
        return _state(obj)
    except ValueError as exc:
        return InvalidRecord("wrong_type", str(exc))


def schema_path() -> Path:
    """Path of the JSON Schema (draft 2020-12) shipped as package data."""
    return schema_file(SCHEMA_RESOURCE)


def load_json_schema() -> dict[str, Any]:
    """The shipped JSON Schema as a dict."""
    return read_schema(SCHEMA_RESOURCE)
