"""Two versions served at once, without Kafka or Ray: the station's arm goes to the main
topic, the other version to the shadow topic, one to one; non-finite forecasts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from wxstream.messages import FeatureMessage, encode_feature
from wxstream.messages.predictions import PredictionEncoder, PredictionMessage, decode_prediction
from wxstream.rollout import arm_of
from wxstream.streaming.core.assembly import BatchAssembler
from wxstream.streaming.core.outgoing import NON_FINITE_REASON, Outgoing, build_outgoing
from wxstream.streaming.core.versions import ServedVersion, VersionRouter
from wxstream.streaming.core.work_batch import WorkBatch
from wxstream.streaming.testing import MemoryRecord

T0 = datetime(2013, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
LOOKBACK = 2
EXPERIMENT = "exp"
STATIONS = [f"S{k:02d}" for k in range(16)]


@dataclass(frozen=True)
class Info:
    name: str = "m"
    version: str = "meta"
    leads_h: tuple[int, ...] = (1, 2)
    short_term_leads: tuple[int, ...] = (1,)
    long_term_leads: tuple[int, ...] = (1, 2)


CHAMPION = ServedVersion(Info(), "aaaaaaaaaaaa")
CHALLENGER = ServedVersion(Info(), "bbbbbbbbbbbb")


def feature(station: str, hour: int) -> bytes:
    """A synthetic, valid feature message (unit test of pure code)."""
    return encode_feature(
        FeatureMessage(
            station, T0 + hour * HOUR, T0 + (hour + 1) * HOUR, 5.0, 1.0, 2.0, 5.0, 5.0, 1
        )
    )


def rows(messages: object) -> np.ndarray:
    assert isinstance(messages, list)
    return np.array([[m.avg_temperature, 0.0] for m in messages], dtype=np.float32)


def batch_of(stations: list[str]) -> WorkBatch:
    """One forecast request per station (two hours each: lookback 2)."""
    asm = BatchAssembler(
        topic="features",
        lookback=LOOKBACK,
        gap_tolerance_h=1,
        to_rows=rows,
        clock_ms=lambda: 1_790_000_000_000,
    )
    records = [
        MemoryRecord(0, 2 * i + hour, s.encode(), feature(s, hour))
        for hour in range(2)
        for i, s in enumerate(stations)
    ]
    asm.ingest(records)
    batch = asm.seal()
    assert batch is not None
    assert len(batch.requests) == len(stations)
    return batch


def forecasts(n: int, level: float) -> np.ndarray:
    """Distinct per version (``level``) and per window (the row number)."""
    median = level + np.arange(n, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    return np.stack([median - 1, median, median + 1], axis=2).astype(np.float32)


def router(fraction: float, *, shadow: bool = True) -> VersionRouter:
    return VersionRouter(
        CHAMPION, CHALLENGER, experiment=EXPERIMENT, challenger_fraction=fraction, shadow=shadow
    )


def decoded(records: object) -> list[PredictionMessage]:
    assert isinstance(records, list | tuple)
    out = []
    for _key, value in records:
        msg = decode_prediction(value)
        assert isinstance(msg, PredictionMessage)
        out.append(msg)
    return out


def build(
    batch: WorkBatch, champion: np.ndarray, challenger: np.ndarray, r: VersionRouter
) -> tuple[Outgoing, int]:
    return build_outgoing(
        batch,
        champion,
        PredictionEncoder(CHAMPION.model, version=CHAMPION.version),
        source_topic="features",
        produced_at=datetime.now(UTC),
        error_ts_ms=0,
        challenger=challenger,
        router=r,
    )


def test_the_arms_of_the_test_stations_are_mixed() -> None:
    arms = {arm_of(s, EXPERIMENT, 0.5) for s in STATIONS}
    assert arms == {"champion", "challenger"}


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_each_window_has_its_arms_forecast_on_main_and_the_other_on_shadow(
    fraction: float,
) -> None:
    batch = batch_of(STATIONS)
    n = len(STATIONS)
    outgoing, bad = build(batch, forecasts(n, 0.0), forecasts(n, 100.0), router(fraction))
    assert bad == 0
    main, shadow = decoded(outgoing.predictions), decoded(outgoing.shadow)
    assert [m.station_id for m in main] == STATIONS
    assert [s.station_id for s in shadow] == STATIONS
    for k, (m, s) in enumerate(zip(main, shadow, strict=True)):
        arm = arm_of(m.station_id, EXPERIMENT, fraction)
        assert m.arm == arm
        assert s.arm != arm
        assert (m.issued_at, m.model_name) == (s.issued_at, s.model_name)
        by_arm = {"champion": (CHAMPION.version, 0.0), "challenger": (CHALLENGER.version, 100.0)}
        for msg in (m, s):
            version, level = by_arm[msg.arm]
            assert msg.model_version == version
            assert msg.temperature_c[0] == level + k
    assert [key for key, _ in outgoing.shadow] == [s.encode() for s in STATIONS]


def test_without_shadow_only_the_arms_forecast_leaves() -> None:
    batch = batch_of(STATIONS)
    n = len(STATIONS)
    outgoing, _ = build(batch, forecasts(n, 0.0), forecasts(n, 100.0), router(0.5, shadow=False))
    assert outgoing.shadow == []
    arms = [m.arm for m in decoded(outgoing.predictions)]
    assert arms == [arm_of(s, EXPERIMENT, 0.5) for s in STATIONS]


def test_a_non_finite_main_forecast_is_dead_lettered_and_its_shadow_withheld() -> None:
    batch = batch_of(STATIONS)
    n = len(STATIONS)
    challenger_station = next(
        i for i, s in enumerate(STATIONS) if arm_of(s, EXPERIMENT, 0.5) == "challenger"
    )
    champion_station = next(
        i for i, s in enumerate(STATIONS) if arm_of(s, EXPERIMENT, 0.5) == "champion"
    )
    challenger = forecasts(n, 100.0)
    challenger[challenger_station, 1, 2] = np.nan  # its main forecast
    challenger[champion_station, 0, 0] = np.inf  # its shadow forecast
    outgoing, bad = build(batch, forecasts(n, 0.0), challenger, router(0.5))
    assert bad == 1
    (dead,) = outgoing.dead_letters
    assert dead.reason == NON_FINITE_REASON
    assert batch.counts.dead_letters == {NON_FINITE_REASON: 1}
    main = [m.station_id for m in decoded(outgoing.predictions)]
    shadow = [s.station_id for s in decoded(outgoing.shadow)]
    assert STATIONS[challenger_station] not in main
    assert STATIONS[challenger_station] not in shadow
    assert STATIONS[champion_station] in main
    assert STATIONS[champion_station] not in shadow
    assert len(main) == n - 1
    assert len(shadow) == n - 2


def test_the_arm_is_computed_once_per_station() -> None:
    r = router(0.5)
    first = [r.is_challenger(s) for s in STATIONS]
    assert first == [arm_of(s, EXPERIMENT, 0.5) == "challenger" for s in STATIONS]
    assert [r.is_challenger(s) for s in STATIONS] == first


def test_versions_with_other_leads_or_a_bad_fraction_are_refused() -> None:
    other = ServedVersion(Info(leads_h=(1, 2, 3), long_term_leads=(1, 2, 3)), "cccccccccccc")
    with pytest.raises(ValueError, match="same leads"):
        VersionRouter(CHAMPION, other, experiment=EXPERIMENT, challenger_fraction=0.1)
    with pytest.raises(ValueError, match="challenger_fraction"):
        router(1.5)


def test_encoded_records_name_version_and_arm_in_order() -> None:
    batch = batch_of(STATIONS[:2])
    outgoing, _ = build(batch, forecasts(2, 0.0), forecasts(2, 100.0), router(0.0))
    first = json.loads(outgoing.predictions[0][1])
    assert list(first)[2:5] == ["model_name", "model_version", "arm"]
    assert (first["model_version"], first["arm"]) == (CHAMPION.version, "champion")
