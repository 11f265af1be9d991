"""Per-station input windows: the last ``lookback`` hourly feature rows of a station.

Pure code: :func:`update` takes the window of a station and one new entry and returns
the next window plus a :class:`WindowEvent` saying what happened; :func:`feed` does it
in a map of one :class:`StationWindow` per station, the loop every user runs (the Kafka
loop keeps one map per partition: a station's messages share one partition, so a
partition's stations are independent of every other partition's).

Rules, in order:

* an entry whose ``window_start`` is already in the window, or equals the newest
  start seen, is a **duplicate**: ignored, state unchanged;
* an entry older than the newest start seen is **out of order**: dropped, state
  unchanged (the model needs an ordered hourly grid; re-sorting would rewrite
  forecasts already published);
* a step longer than ``max_jump_h`` hours from the newest start is a **jump**: the
  entry is rejected (the caller dead-letters it as ``window_jump``) and only
  remembered as :attr:`StationWindow.pending`, so one record from the future can never
  become the station's newest and turn every real record after it into "out of order".
  A real jump (a station back after a long outage, or a window that was itself the
  outlier, e.g. a first record far in the past) is confirmed by the next entry: one
  that follows the pending start by 0 < step <= ``gap_tolerance_h`` restarts the
  window with itself (the rejected entry stays rejected). Any accepted entry clears
  the pending start. So a station's window is never captured by one record: it moves
  only with two consistent records;
* a step longer than ``gap_tolerance_h`` hours from the newest start **resets** the
  window: it starts afresh with the new entry (1 h = consecutive hours only);
* otherwise the entry is appended (the oldest row falls out at ``lookback``), and a
  full window is **emitted**: one forecast per such entry.
"""

from __future__ import annotations

import enum
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

FloatRow = npt.NDArray[np.float32]
_HOUR = timedelta(hours=1)
_ZERO = timedelta(0)


class WindowOutcome(enum.Enum):
    """What :func:`update` did with an entry."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    JUMPED = "jumped"


@dataclass(frozen=True, slots=True)
class WindowEntry:
    """One feature message as the window sees it.

    Attributes:
        window_start: start of the message's hourly window (timezone-aware).
        row: the adapter's raw model inputs for this message, float32 ``(F,)``,
            computed once per message.
    """

    window_start: datetime
    row: FloatRow


class RowLog:
    """Append-only storage of rows and their window starts, shared by the successive
    windows of one station.

    Entries below ``used`` are never written again, so a window (a view of entries
    below ``used``) stays valid however the station's window moves on. Appending where
    a window ends writes in place when that is the log's end; any other append (to a
    window that is not the newest, or to a full log) copies the kept entries into a new
    log. This keeps :func:`update` observably pure while appending in O(1).
    """

    __slots__ = ("data", "stamps", "used")

    def __init__(self, capacity: int, width: int) -> None:
        self.data: npt.NDArray[np.float32] = np.empty((capacity, width), dtype=np.float32)
        self.stamps: list[datetime] = []
        self.used = 0


@dataclass(frozen=True, slots=True)
class StationWindow:
    """The newest accepted entries of one station, oldest first: entries
    ``end - length .. end - 1`` of ``log``.

    :attr:`starts` is strictly increasing and never longer than the lookback; row ``i``
    of :attr:`rows` belongs to ``starts[i]``. Never empty.
    """

    log: RowLog
    end: int
    length: int
    pending: datetime | None = None
    """Start of the last entry that jumped more than ``max_jump_h`` ahead (rejected),
    waiting for the next entry to confirm it; ``None`` when there is none."""

    @property
    def starts(self) -> tuple[datetime, ...]:
        """Window starts of the entries, oldest first."""
        return tuple(self.log.stamps[self.end - self.length : self.end])

    @property
    def rows(self) -> npt.NDArray[np.float32]:
        """The window's rows, ``(len, F)`` float32 (a read-only view: do not write)."""
        return self.log.data[self.end - self.length : self.end]

    @property
    def first_start(self) -> datetime:
        """Start of the oldest entry."""
        return self.log.stamps[self.end - self.length]

    @property
    def last_start(self) -> datetime:
        """Start of the newest accepted window."""
        return self.log.stamps[self.end - 1]

    def __len__(self) -> int:
        return self.length

    def to_array(self) -> npt.NDArray[np.float32]:
        """The window as a fresh ``(len, F)`` float32 matrix."""
        return self.rows.copy()


@dataclass(frozen=True, slots=True)
class WindowEvent:
    """The result of feeding one entry to :func:`update`.

    Attributes:
        outcome: accepted, duplicate, out of order or jumped (rejected).
        reset: the gap before the entry was too long and the window restarted.
        gap_h: hours between the previous newest start and this entry (0.0 when there
            was no window yet).
        window: the full window ending in this entry, when it yields a forecast.
    """

    outcome: WindowOutcome
    reset: bool = False
    gap_h: float = 0.0
    window: StationWindow | None = None

    @property
    def emitted(self) -> bool:
        """Whether this entry completed a full window (one forecast)."""
        return self.window is not None


# Shared events of the common cases (events are immutable).
_DUPLICATE = WindowEvent(WindowOutcome.DUPLICATE)
_NEXT_HOUR = WindowEvent(WindowOutcome.ACCEPTED, gap_h=1.0)


def update(
    state: StationWindow | None,
    entry: WindowEntry,
    lookback: int,
    gap_tolerance_h: float = 1,
    max_jump_h: float | None = None,
) -> tuple[StationWindow, WindowEvent]:
    """Feed one entry to a station's window.

    Args:
        state: the station's window, or ``None`` for a station not seen yet.
        entry: the new message's start time and input row.
        lookback: rows the model needs (>= 1).
        gap_tolerance_h: longest step in hours that continues the window.
        max_jump_h: longest step in hours ahead of the newest start that an entry may
            take unconfirmed (``None``: no limit).

    Returns:
        The next window (the same object when the entry was ignored) and the event.
    """
    if state is None:
        fresh = _fresh(entry, lookback)
        return fresh, _accepted(fresh, lookback, reset=False, gap_h=0.0)

    step = entry.window_start - state.last_start
    if step == _HOUR:
        gap_h = 1.0  # the common case, without the division
    elif step <= _ZERO:
        if step == _ZERO or entry.window_start in state.starts:
            return state, _DUPLICATE
        return state, WindowEvent(WindowOutcome.OUT_OF_ORDER, gap_h=step / _HOUR)
    else:
        gap_h = step / _HOUR
        if max_jump_h is not None and gap_h > max_jump_h:
            if not _confirms(state.pending, entry.window_start, gap_tolerance_h):
                jumped = replace(state, pending=entry.window_start)
                return jumped, WindowEvent(WindowOutcome.JUMPED, gap_h=gap_h)
            fresh = _fresh(entry, lookback)
            return fresh, _accepted(fresh, lookback, reset=True, gap_h=gap_h)
        if gap_h > gap_tolerance_h:
            fresh = _fresh(entry, lookback)
            return fresh, _accepted(fresh, lookback, reset=True, gap_h=gap_h)

    return _grow(state, entry, lookback, gap_h)


def feed(
    windows: MutableMapping[str, StationWindow],
    station: str,
    entry: WindowEntry,
    lookback: int,
    gap_tolerance_h: float = 1,
    *,
    max_jump_h: float | None = None,
) -> WindowEvent:
    """Feed one entry of ``station`` to its window in ``windows`` (station -> window; a
    station not seen yet starts one), store the next window there, and return the event.
    """
    state, event = update(windows.get(station), entry, lookback, gap_tolerance_h, max_jump_h)
    windows[station] = state
    return event


def _confirms(pending: datetime | None, start: datetime, gap_tolerance_h: float) -> bool:
    """Whether an entry at ``start`` continues the pending jump (within the gap tolerance)."""
    if pending is None:
        return False
    step = start - pending
    return step > _ZERO and step / _HOUR <= gap_tolerance_h


def _grow(
    state: StationWindow, entry: WindowEntry, lookback: int, gap_h: float
) -> tuple[StationWindow, WindowEvent]:
    """Append ``entry`` to the station's window (the accepted, continuing case)."""
    # The oldest entry falls out so that the window holds at most ``lookback`` entries.
    length = min(state.length + 1, lookback)
    log = state.log
    end = state.end
    if end == log.used and end < len(log.data):
        log.data[end] = entry.row
        log.stamps.append(entry.window_start)
        log.used = end + 1
        grown = StationWindow(log, end + 1, length)
    else:
        kept = length - 1
        fresh_log = RowLog(_capacity(lookback), log.data.shape[1])
        fresh_log.data[:kept] = log.data[end - kept : end]
        fresh_log.data[kept] = entry.row
        fresh_log.stamps = [*log.stamps[end - kept : end], entry.window_start]
        fresh_log.used = kept + 1
        grown = StationWindow(fresh_log, kept + 1, length)
    if length == lookback:
        return grown, WindowEvent(WindowOutcome.ACCEPTED, gap_h=gap_h, window=grown)
    if gap_h == 1.0:
        return grown, _NEXT_HOUR
    return grown, WindowEvent(WindowOutcome.ACCEPTED, gap_h=gap_h)


def _capacity(lookback: int) -> int:
    # Room for a few lookbacks: the kept entries are copied once per
    # (capacity - lookback) appends.
    return max(4 * lookback, 16)


def _fresh(entry: WindowEntry, lookback: int) -> StationWindow:
    log = RowLog(_capacity(lookback), int(entry.row.shape[0]))
    log.data[0] = entry.row
    log.stamps.append(entry.window_start)
    log.used = 1
    return StationWindow(log, 1, 1)


def _accepted(window: StationWindow, lookback: int, *, reset: bool, gap_h: float) -> WindowEvent:
    full = window if window.length == lookback else None
    return WindowEvent(WindowOutcome.ACCEPTED, reset=reset, gap_h=gap_h, window=full)


def stack_windows(windows: Sequence[StationWindow]) -> npt.NDArray[np.float32]:
    """Full windows as one ``(B, lookback, F)`` float32 batch for the model (a copy)."""
    if not windows:
        return np.zeros((0, 0, 0), dtype=np.float32)
    return np.stack([window.rows for window in windows])
