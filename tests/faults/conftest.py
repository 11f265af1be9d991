"""Fixtures of the fault tests: the figures report and the session Ray's address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fault_harness import Figures


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str]) -> Iterator[list[Figures]]:
    """Collects a test's figures and prints them (uncaptured) when it ends."""
    figures: list[Figures] = []
    yield figures
    with capsys.disabled():
        for item in figures:
            print("\n" + item.line())


@pytest.fixture(scope="module")
def ray_address(ray_local: None) -> str:
    """Address of the session's Ray, for services run as child processes."""
    import ray

    return str(ray.get_runtime_context().gcs_address)
