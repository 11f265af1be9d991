"""Waiting for a condition in a test, with a generous limit, instead of a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable

from wxstream.errors import KafkaError


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.3
) -> float:
    """Poll ``condition`` until true; seconds waited. Fails the test after ``timeout_s``.

    A :class:`KafkaError` raised by ``condition`` counts as "not yet": a coordinator
    still loading or a broker restarting answers later.
    """
    began = time.monotonic()
    last_error: KafkaError | None = None
    while True:
        try:
            if condition():
                return time.monotonic() - began
        except KafkaError as exc:
            last_error = exc
        if time.monotonic() - began > timeout_s:
            raise AssertionError(
                f"timed out after {timeout_s:.0f} s waiting for {what} (last error: {last_error})"
            )
        time.sleep(interval_s)
