"""Live swap of the served model versions after an alias move (see
docs/model-versions.md, "Hot swap").

:class:`VersionSwapper` is what the loop calls once per turn. It takes the alias states
the :class:`~wxstream.streaming.alias_watcher.AliasWatcher` read from the control topic,
asks :class:`~.core.swap.SwapPlan` what to do, has a :class:`VersionHost` prepare a new
target on a background thread (load it beside the served versions, check it on
warm-up windows), and switches between two transactions: the loop drains (every call
in flight forecast, every finished batch delivered and committed), then the host
serves the new versions and the loop gets a new
:class:`~wxstream.streaming.finisher.BatchFinisher` labelling forecasts with them.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from wxstream.errors import WxstreamError
from wxstream.messages.alias_state import AliasState
from wxstream.settings import ServeSettings
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.swap import Refusal, Served, SwapPlan
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.finisher import BatchFinisher
from wxstream.streaming.metrics import ServiceMetrics
from wxstream.streaming.ports import ServedModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """A target whose versions are loaded and checked, ready to serve.

    Attributes:
        target: the version ids.
        champion: the champion's metadata (encodes the forecasts).
        challenger: the challenger (``None``: the champion alone).
        handle: what the host needs to serve them (its directories, say).
    """

    target: Served
    champion: ServedModel
    challenger: ServedVersion | None
    handle: Any


class VersionHost(Protocol):
    """Loads versions beside the served ones and serves them (the actors)."""

    def prepare(self, target: Served) -> Prepared:
        """Load and check ``target``'s versions (runs on a background thread).

        Raises:
            WxstreamError: it cannot be served (missing, incompatible, bad forecasts).
        """
        ...

    def activate(self, prepared: Prepared) -> None:
        """Serve ``prepared`` from the next call on (no call is in flight)."""
        ...


class SwapSite(Protocol):
    """What the swapper needs of the loop (an :class:`InferenceService`)."""

    settings: ServeSettings
    assembler: BatchAssembler
    finisher: BatchFinisher

    def drain(self, *, keep_polling: bool = False) -> None: ...


class VersionSwapper:
    """Follows alias moves and swaps the served versions (see the module docstring).

    Args:
        plan: the decisions, holding what serves now.
        initial: what serves now, as the host prepared it at start (a swap back to it
            needs no load).
        host: prepares and serves versions.
        states: alias states from the control topic (filled by the watcher's thread).
        metrics: where served versions and swaps are counted.
        clock: monotonic seconds (for the load timeout).
        executor: where targets are prepared (default: one background thread).
    """

    def __init__(
        self,
        plan: SwapPlan,
        initial: Prepared,
        host: VersionHost,
        states: queue.Queue[AliasState],
        *,
        metrics: ServiceMetrics,
        clock: Callable[[], float],
        executor: Executor | None = None,
    ) -> None:
        self.plan = plan
        self.host = host
        self.states = states
        self.metrics = metrics
        self.clock = clock
        self.swaps = 0
        self.refused: list[Refusal] = []
        self._executor = executor or ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="version-load"
        )
        self._loading: dict[Served, Future[Prepared]] = {}
        self._prepared: dict[Served, Prepared] = {initial.target: initial}
        self._show(plan.served, 1.0)

    def step(self, site: SwapSite) -> None:
        """Read new states, collect finished loads, and switch when a target is ready
        (the loop calls this between two deliveries)."""
        now = self.clock()
        while True:
            try:
                state = self.states.get_nowait()
            except queue.Empty:
                break
            action = self.plan.offer(state, now)
            if action is not None and action.kind == "switch":
                if action.target in self._prepared:
                    logger.info("model %s moved back to %s (loaded)", state.name, action.target)
                    continue
                action = self.plan.reload(action.target, now)
            if action is not None:
                logger.info("model %s moved to %s: loading it", state.name, action.target)
                self._loading[action.target] = self._executor.submit(
                    self.host.prepare, action.target
                )
        for target, future in list(self._loading.items()):
            if future.done():
                del self._loading[target]
                self._report(target, future)
        expired = self.plan.expired(now)
        if expired is not None:
            self._refuse(expired)
        if self.plan.ready is not None and self.plan.ready in self._prepared:
            self._switch(site)

    def _report(self, target: Served, future: Future[Prepared]) -> None:
        problem: str | None = None
        try:
            self._prepared[target] = future.result()
        except WxstreamError as exc:
            problem = str(exc)
        except Exception as exc:  # a load failing any other way is refused, not fatal
            problem = f"{type(exc).__name__}: {exc}"
        refusal = self.plan.loaded(target, problem)
        if refusal is not None:
            self._refuse(refusal)

    def _refuse(self, refusal: Refusal) -> None:
        self.refused.append(refusal)
        self.metrics.model_swaps.labels(outcome="refused").inc()
        logger.error(
            "model %s: refusing to serve %s (%s); still serving %s",
            self.plan.name,
            refusal.target,
            refusal.why,
            self.plan.served,
        )

    def _switch(self, site: SwapSite) -> None:
        # Every call in flight forecast and delivered, every transaction committed:
        # the next transaction is the first with the new versions.
        site.drain()
        before = self.plan.served
        target = self.plan.take()
        if target is None:
            return
        prepared = self._prepared[target]
        self.host.activate(prepared)
        site.finisher = BatchFinisher(
            site.settings,
            prepared.champion,
            site.assembler,
            champion_version=target.champion,
            challenger=prepared.challenger,
            intervals=site.finisher.intervals,
        )
        self.swaps += 1
        self.metrics.model_swaps.labels(outcome="done").inc()
        self._show(before, 0.0)
        self._show(target, 1.0)
        logger.info("model %s: now serving %s (was %s)", self.plan.name, target, before)

    def _show(self, served: Served, value: float) -> None:
        gauge = self.metrics.served_version
        gauge.labels(name=self.plan.name, role="champion", version=served.champion).set(value)
        if served.challenger is not None:
            labels = {"name": self.plan.name, "role": "challenger", "version": served.challenger}
            gauge.labels(**labels).set(value)

    def close(self) -> None:
        """Stop loading (a load under way finishes on its own)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
