"""When the served versions change after an alias move (pure; the clock is passed in).

The control topic announces a model name's aliases (an ``AliasState``).
:class:`SwapPlan` keeps what is served and decides, state by state: ignore it (another
name, an older sequence, a pinned reference, what is served or already coming), load
its versions, or switch at once (every version already loaded and checked: a rollback
to the previous version). Once the loader reports, a checked target becomes
:meth:`SwapPlan.take`-able, which the loop does between two transactions; a target that
failed to load or check, or took longer than ``load_timeout_s``, is refused and the
served versions stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wxstream.messages.alias_state import AliasState


@dataclass(frozen=True)
class Served:
    """The versions served: the champion and the challenger (``None``: alone)."""

    champion: str
    challenger: str | None = None

    @property
    def versions(self) -> tuple[str, ...]:
        """Every version id in it."""
        return (self.champion,) if self.challenger is None else (self.champion, self.challenger)

    def __str__(self) -> str:
        return self.champion if self.challenger is None else f"{self.champion}+{self.challenger}"


@dataclass(frozen=True)
class SwapAction:
    """What to do about an announced state: ``load`` ``target`` (then report with
    :meth:`SwapPlan.loaded`), or ``switch`` to it at the next transaction boundary."""

    kind: Literal["load", "switch"]
    target: Served


@dataclass(frozen=True)
class Refusal:
    """A target that will not be served, and why."""

    target: Served
    why: str


@dataclass
class SwapPlan:
    """The swap decisions for one model name (see the module docstring).

    Args:
        name: the served model name.
        served: what serves at start.
        pinned: the reference names one version (``NAME@VERSION``): moves are ignored.
        load_timeout_s: longest time a target may take to load and check.
    """

    name: str
    served: Served
    pinned: bool = False
    load_timeout_s: float = 300.0
    sequence: int = -1
    pending: Served | None = None
    pending_since: float = 0.0
    ready: Served | None = None
    previous: Served | None = None
    checked: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.checked.update(self.served.versions)

    def offer(self, state: AliasState, now_s: float) -> SwapAction | None:
        """Decide about an announced state (``None``: nothing to do)."""
        if self.pinned or state.name != self.name or state.sequence <= self.sequence:
            return None
        self.sequence = state.sequence
        target = Served(state.champion, state.challenger)
        if target == self.served:
            # Moved back before the swap happened: the coming one is no longer wanted.
            self.pending = self.ready = None
            return None
        if target in (self.pending, self.ready):
            return None
        self.ready = None
        if all(version in self.checked for version in target.versions):
            self.pending = None
            self.ready = target
            return SwapAction("switch", target)
        self.pending, self.pending_since = target, now_s
        return SwapAction("load", target)

    def reload(self, target: Served, now_s: float) -> SwapAction:
        """Load and check a ready target again (its versions are loaded, but the caller
        holds nothing prepared for this combination of them)."""
        self.ready = None
        self.pending, self.pending_since = target, now_s
        return SwapAction("load", target)

    def loaded(self, target: Served, problem: str | None) -> Refusal | None:
        """The loader's report on ``target``: ``problem`` ``None`` when its versions
        loaded and passed the warm-up check. Returns the refusal, if any (a report on a
        target no longer wanted is dropped)."""
        if target != self.pending:
            return None
        self.pending = None
        if problem is not None:
            return Refusal(target, problem)
        self.checked.update(target.versions)
        self.ready = target
        return None

    def expired(self, now_s: float) -> Refusal | None:
        """The pending target, refused once it took longer than ``load_timeout_s``."""
        if self.pending is None or now_s - self.pending_since < self.load_timeout_s:
            return None
        target, self.pending = self.pending, None
        return Refusal(target, f"not loaded and checked within {self.load_timeout_s:.0f} s")

    def take(self) -> Served | None:
        """The target to switch to now (the caller is between two transactions), which
        then counts as served; ``None`` when none is ready."""
        target, self.ready = self.ready, None
        if target is not None:
            self.previous, self.served = self.served, target
        return target
