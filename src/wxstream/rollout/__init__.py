"""Model versions in the stream, the pure part: sticky A/B arms, live skill of each
version against what was later observed, and promotion by a Diebold-Mariano test.

Nothing here does IO or needs Kafka, Ray or torch: the service feeds records in (state
is rebuilt by feeding them again) and writes out what comes back.

- :mod:`.arms`: :func:`arm_of` (station -> champion or challenger).
- :mod:`.skill`: :func:`score`, :class:`SkillTable`, :func:`offline_skill`.
- :mod:`.pairing`: :class:`ForecastJoin`, forecasts meet their observations.
- :mod:`.paired`: two versions' scores on the same forecasts.
- :mod:`.replayed`: :func:`replay_join`, the join over whole topics read back, in time order.
- :mod:`.diebold_mariano`, :mod:`.student_t`: the test.
- :mod:`.promotion`: :class:`PromotionRules`, :func:`decide` -> :class:`PromotionDecision`.
- :mod:`.power`: the simulation behind the default minimum sample.
"""

from __future__ import annotations

from wxstream.rollout.arms import CHALLENGER, CHAMPION, Arm, arm_of, station_point
from wxstream.rollout.diebold_mariano import DieboldMariano, diebold_mariano
from wxstream.rollout.paired import pair_versions, records_frame
from wxstream.rollout.pairing import ForecastJoin
from wxstream.rollout.promotion import (
    DEFAULT_MIN_PAIRS,
    PromotionDecision,
    PromotionRules,
    decide,
    decide_versions,
)
from wxstream.rollout.skill import (
    Forecast,
    LeadSkill,
    Observation,
    SkillKey,
    SkillTable,
    forecasts_of,
    observation_of,
    offline_pairs,
    offline_skill,
    score,
)

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "DEFAULT_MIN_PAIRS",
    "Arm",
    "DieboldMariano",
    "Forecast",
    "ForecastJoin",
    "LeadSkill",
    "Observation",
    "PromotionDecision",
    "PromotionRules",
    "SkillKey",
    "SkillTable",
    "arm_of",
    "decide",
    "decide_versions",
    "diebold_mariano",
    "forecasts_of",
    "observation_of",
    "offline_pairs",
    "offline_skill",
    "pair_versions",
    "records_frame",
    "score",
    "station_point",
]
