"""Two versions served at once (pure): which version's forecast of a window goes to
``weather-predictions`` and which to ``weather-predictions.shadow``.

Every sealed batch is forecast by the champion and the challenger in one actor call.
A station's arm is :func:`wxstream.rollout.arm_of` of ``(station_id, experiment,
challenger_fraction)``: sticky across restarts, rebalances and replays. The arm's
forecast goes to the main topic; with ``shadow`` on, the other version's forecast of
the same window goes to the shadow topic in the same transaction, so that every
window has one forecast of each version (a challenger fraction of 0 is a pure
shadow; the promotion test pairs them on every station).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from wxstream.messages.predictions import (
    CHALLENGER_ARM,
    CHAMPION_ARM,
    ForecastInput,
    ForecastModelInfo,
    PredictionEncoder,
)
from wxstream.rollout.arms import arm_of

F32 = npt.NDArray[np.float32]

_ARM_CACHE_LIMIT = 100_000


@dataclass(frozen=True)
class ServedVersion:
    """One model version the service serves.

    Attributes:
        model: the version's name, leads and lead views (what the encoder reads).
        version: its registry version id (written as ``model_version``).
    """

    model: ForecastModelInfo
    version: str


@dataclass(frozen=True)
class RoutedBatch:
    """A batch's forecasts as they leave, in input order.

    Attributes:
        main: the arm's forecast of each window (to ``weather-predictions``).
        shadow: the other version's forecast of each window (``None`` where not sent).
        challenger_rows: per window, whether its station is in the challenger arm.
    """

    main: F32
    shadow: F32 | None
    challenger_rows: npt.NDArray[np.bool_]


class VersionRouter:
    """The champion and challenger encoders and the stations' arms.

    Args:
        champion: the champion version.
        challenger: the challenger version (same leads as the champion).
        experiment: names the A/B split (a new name reshuffles the stations).
        challenger_fraction: share of stations whose main forecast is the challenger's.
        shadow: send the other version's forecast of every window to the shadow topic.

    Raises:
        ValueError: the fraction lies outside ``[0, 1]``, or the leads differ.
    """

    def __init__(
        self,
        champion: ServedVersion,
        challenger: ServedVersion,
        *,
        experiment: str,
        challenger_fraction: float,
        shadow: bool = True,
    ) -> None:
        arm_of("", experiment, challenger_fraction)  # checks the fraction
        if tuple(champion.model.leads_h) != tuple(challenger.model.leads_h):
            raise ValueError("the champion and the challenger must forecast the same leads")
        self.champion = PredictionEncoder(
            champion.model, version=champion.version, arm=CHAMPION_ARM
        )
        self.challenger = PredictionEncoder(
            challenger.model, version=challenger.version, arm=CHALLENGER_ARM
        )
        self.experiment = experiment
        self.challenger_fraction = challenger_fraction
        self.shadow = shadow
        self._arms: dict[str, bool] = {}

    def is_challenger(self, station_id: str) -> bool:
        """Whether ``station_id`` is in the challenger arm (cached: one hash per station)."""
        known = self._arms.get(station_id)
        if known is None:
            if len(self._arms) >= _ARM_CACHE_LIMIT:
                self._arms.clear()
            arm = arm_of(station_id, self.experiment, self.challenger_fraction)
            known = self._arms[station_id] = arm == CHALLENGER_ARM
        return known

    def route(self, inputs: Sequence[ForecastInput], champion: F32, challenger: F32) -> RoutedBatch:
        """Each window's main and shadow forecast, from both versions' ``(B, H, 3)``."""
        rows = np.fromiter(
            (self.is_challenger(item.station_id) for item in inputs), np.bool_, len(inputs)
        )
        if not rows.any():
            # All champion (a pure shadow): no copies.
            return RoutedBatch(champion, challenger if self.shadow else None, rows)
        if rows.all():
            return RoutedBatch(challenger, champion if self.shadow else None, rows)
        pick = rows[:, None, None]
        main = np.where(pick, challenger, champion)
        shadow = np.where(pick, champion, challenger) if self.shadow else None
        return RoutedBatch(main, shadow, rows)

    def encode(
        self,
        inputs: Sequence[ForecastInput],
        quantiles: F32,
        challenger_rows: npt.NDArray[np.bool_],
        produced_at: datetime,
        *,
        shadow: bool = False,
    ) -> list[bytes]:
        """Values for ``quantiles`` (in input order), each with its version's encoder:
        a main forecast is the challenger's where ``challenger_rows``, a shadow one
        where not."""
        made_by_challenger = ~challenger_rows if shadow else challenger_rows
        if not made_by_challenger.any():
            return self.champion.encode(inputs, quantiles, produced_at)
        if made_by_challenger.all():
            return self.challenger.encode(inputs, quantiles, produced_at)
        out: list[bytes] = [b""] * len(inputs)
        for encoder, chosen in (
            (self.champion, ~made_by_challenger),
            (self.challenger, made_by_challenger),
        ):
            index = np.flatnonzero(chosen)
            positions: list[int] = index.tolist()
            values = encoder.encode([inputs[i] for i in positions], quantiles[index], produced_at)
            for i, value in zip(positions, values, strict=True):
                out[i] = value
        return out
