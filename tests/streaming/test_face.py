"""The ``wxstream.streaming`` face: every public name resolves, lazily."""

from __future__ import annotations

import subprocess
import sys

import pytest

import wxstream.streaming as face


def test_every_exported_name_resolves_to_its_module() -> None:
    assert sorted(face.__all__) == sorted(face._MODULE_OF)
    for name in face.__all__:
        value = getattr(face, name)
        assert value.__module__ == face._MODULE_OF[name]


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = face.no_such_name


def test_the_pure_core_loads_without_the_kafka_client_or_ray() -> None:
    code = (
        "import sys, wxstream.streaming.core.windows, wxstream.streaming.core.assembly;"
        "print(sorted(m for m in ('confluent_kafka', 'ray') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
