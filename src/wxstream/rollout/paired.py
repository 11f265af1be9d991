"""Paired losses of two model versions: the input of the promotion test.

Two versions are compared on the forecasts both made: the same station, issue time and
lead (a shadow forecasts every window the champion does; in an A/B split the champion
must also forecast, as a shadow, the stations it hands to the challenger, or there is
nothing to pair). Verification records of each version (``weather-verification``, or
:func:`~wxstream.rollout.skill.offline_pairs`) are joined on that key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import pandas as pd

from wxstream.messages import SkillRecord

KEY: Final = ("station_id", "issued_at", "lead_h")
SCORES: Final = ("abs_error_c", "pinball_c", "covered")
ModelId = tuple[str, str]
"""``(model_name, model_version)``."""


def records_frame(records: Iterable[SkillRecord]) -> pd.DataFrame:
    """Verification records as a frame with the columns of
    :func:`~wxstream.rollout.skill.offline_pairs`."""
    rows = [
        (
            r.station_id,
            r.issued_at,
            r.lead_h,
            r.model_name,
            r.model_version,
            r.p10_c,
            r.p50_c,
            r.p90_c,
            r.observed_c,
            r.abs_error_c,
            r.pinball_c,
            r.covered,
        )
        for r in records
    ]
    columns = [
        *KEY,
        "model_name",
        "model_version",
        "p10_c",
        "p50_c",
        "p90_c",
        "observed_c",
        *SCORES,
    ]
    frame = pd.DataFrame(rows, columns=columns)
    frame["issued_at"] = pd.to_datetime(frame["issued_at"], utc=True)
    return frame


def pair_versions(verified: pd.DataFrame, champion: ModelId, challenger: ModelId) -> pd.DataFrame:
    """The forecasts both versions made, side by side.

    Args:
        verified: verification rows of any number of versions (columns ``station_id``,
            ``issued_at``, ``lead_h``, ``model_name``, ``model_version``,
            ``abs_error_c``, ``pinball_c``, ``covered``).
        champion: ``(model_name, model_version)`` of the version serving now.
        challenger: the version that may replace it.

    Returns:
        one row per shared ``(station_id, issued_at, lead_h)`` with each score twice,
        suffixed ``_champion`` and ``_challenger``, sorted by the key.
    """

    def side(model: ModelId) -> pd.DataFrame:
        mine = verified.loc[
            (verified["model_name"] == model[0]) & (verified["model_version"] == model[1]),
            [*KEY, *SCORES],
        ]
        return mine.drop_duplicates(list(KEY), keep="first")

    paired = side(champion).merge(
        side(challenger), on=list(KEY), how="inner", suffixes=("_champion", "_challenger")
    )
    return paired.sort_values(list(KEY), ignore_index=True)
