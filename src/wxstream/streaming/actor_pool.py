"""Spreading batches over the inference actors, with retries on a live actor.

:class:`ActorPool` submits each batch to the least loaded actor (round-robin among
equals, see :func:`~wxstream.streaming.core.batching.pick_actor`), keeps several calls in
flight, and hands back finished calls as they complete (any order; the caller
re-orders). A call that fails because its actor died is re-submitted to another actor
up to ``max_call_retries`` times; Ray restarts the dead actor meanwhile. A call that
fails inside the model (bad shape, ...) is not retried: that would fail again.

The Kafka loop depends on the :class:`Forecaster` protocol only, so its logic can be
exercised with any object that forecasts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from wxstream.errors import InferenceError
from wxstream.streaming.actor import ActorInfo
from wxstream.streaming.core.batching import pick_actor
from wxstream.streaming.ports import F32, Completed

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 16


@dataclass
class _Call:
    batch_id: int
    x: F32  # the input, kept for a retry
    actor_index: int
    attempts: int
    submitted_at: float


class ActorPool:
    """Round-robin / least-loaded dispatch of batches to Ray inference actors."""

    def __init__(
        self, actors: Sequence[Any], *, max_call_retries: int = 3, paired: bool = False
    ) -> None:
        if not actors:
            raise ValueError("ActorPool needs at least one actor")
        self._actors = list(actors)
        self._loads = [0] * len(actors)
        self._cursor = 0
        self._calls: dict[Any, _Call] = {}  # ObjectRef of the result -> call
        self._max_call_retries = max_call_retries
        # Two versions: each call returns the champion's and the challenger's forecasts.
        self._paired = paired
        # After a live swap: the served versions' directories (None: those the actors
        # were created with).
        self._dirs: tuple[str, str | None] | None = None
        self.sample: F32 | None = None
        """The first rows of the latest batch: real windows for a warm-up check."""
        self.retries = 0
        self.actor_failures = 0

    @property
    def size(self) -> int:
        """Number of actors."""
        return len(self._actors)

    @property
    def in_flight(self) -> int:
        """Calls outstanding."""
        return len(self._calls)

    def submit(self, batch_id: int, x: F32) -> None:
        """Send batch ``batch_id`` to the least loaded actor."""
        # The array goes as a plain argument: Ray inlines a small one in the call (no
        # object-store round trip, which cost a quarter of the loop's time at small
        # batches) and stores a large one itself. A retry sends it again.
        self.sample = x[:SAMPLE_ROWS]
        self._dispatch(batch_id, x, attempts=0, avoid=None)

    def use_dirs(self, champion: str, challenger: str | None) -> None:
        """Forecast later calls with the versions in these directories (called between
        two transactions, with no call in flight)."""
        self._dirs = (champion, challenger)
        self._paired = challenger is not None

    def _dispatch(self, batch_id: int, x: F32, *, attempts: int, avoid: int | None) -> None:
        loads = list(self._loads)
        if avoid is not None and len(loads) > 1:
            # Prefer any other actor: the failed one may still be restarting.
            loads[avoid] = max(loads) + 1
        index = pick_actor(loads, self._cursor)
        self._cursor = index + 1
        actor = self._actors[index]
        if self._dirs is not None:
            ref = actor.predict_dirs.remote(x, *self._dirs)
        else:
            ref = (actor.predict_pair if self._paired else actor.predict).remote(x)
        self._loads[index] += 1
        self._calls[ref] = _Call(batch_id, x, index, attempts, time.perf_counter())

    def poll(self, timeout_s: float) -> list[Completed]:
        """Finished calls (waits up to ``timeout_s`` for the first).

        Raises:
            InferenceError: a call failed inside the model, or on every retry.
        """
        import ray
        from ray.exceptions import RayActorError, RayTaskError

        if not self._calls:
            return []
        # The first finished call ends the wait; then take every other finished one.
        ready, rest = ray.wait(list(self._calls), num_returns=1, timeout=max(0.0, timeout_s))
        if ready and rest:
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready.extend(more)
        done: list[Completed] = []
        for ref in ready:
            call = self._calls.pop(ref)
            self._loads[call.actor_index] -= 1
            try:
                result = ray.get(ref)
            except RayActorError as exc:
                self._retry(call, exc)
                continue
            except RayTaskError as exc:
                raise InferenceError(
                    f"batch {call.batch_id} failed in the model: {exc}",
                    fix="check that the model directory matches the feature messages",
                ) from exc
            latency_s = time.perf_counter() - call.submitted_at
            if self._paired:
                champion, challenger = result
                done.append(Completed(call.batch_id, champion, latency_s, challenger))
            else:
                done.append(Completed(call.batch_id, result, latency_s))
        return done

    def _retry(self, call: _Call, exc: Exception) -> None:
        self.actor_failures += 1
        if call.attempts >= self._max_call_retries:
            raise InferenceError(
                f"batch {call.batch_id} failed on {call.attempts + 1} actors: {exc}",
                fix="check the actors' logs (`ray logs`); a model that crashes its process "
                "or a cluster out of memory kills every actor",
            ) from exc
        self.retries += 1
        logger.warning(
            "actor %d died with batch %d in flight; retrying on another actor (%s)",
            call.actor_index,
            call.batch_id,
            type(exc).__name__,
        )
        self._dispatch(call.batch_id, call.x, attempts=call.attempts + 1, avoid=call.actor_index)

    def cancel_all(self) -> None:
        """Forget every call in flight."""
        # Dropping the references is enough: Ray frees results nobody holds.
        self._calls.clear()
        self._loads = [0] * len(self._actors)

    def infos(self, timeout_s: float = 30.0) -> list[ActorInfo]:
        """:class:`ActorInfo` of every actor (peak RSS, calls, device)."""
        import ray

        infos: list[ActorInfo] = ray.get(
            [actor.info.remote() for actor in self._actors], timeout=timeout_s
        )
        return infos

    @property
    def actors(self) -> list[Any]:
        """The actor handles (for loading a version into each)."""
        return list(self._actors)

    def kill_all(self) -> None:
        """Stop every actor for good."""
        import ray

        for actor in self._actors:
            ray.kill(actor, no_restart=True)
