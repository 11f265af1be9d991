"""Live skill: the errors of one paired forecast, and their running sums per model
version and lead.

A forecast of one lead paired with the observation at its valid hour becomes a
:class:`~wxstream.messages.SkillRecord` (:func:`score`). A :class:`SkillTable` adds
records up per ``(model_name, model_version, lead_h)``: count, MAE of the median, mean
pinball loss of p10/p50/p90 and 80 % interval coverage. The table holds sums only, so it
is rebuilt exactly by adding the same records again (read back from
``weather-verification``). :func:`offline_skill` computes the same figures from two
frames, for checking the live figures against a batch computation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, NamedTuple

import pandas as pd

from wxstream.messages import FeatureMessage, PredictionMessage, SkillRecord

QUANTILES: Final = (0.1, 0.5, 0.9)
"""The levels of p10, p50, p90."""


def pinball(quantile: float, forecast: float, observed: float) -> float:
    """Pinball (quantile) loss of one forecast of the ``quantile`` level."""
    diff = observed - forecast
    return max(quantile * diff, (quantile - 1.0) * diff)


@dataclass(frozen=True, slots=True)
class Forecast:
    """One lead of one forecast, as the skill needs it.

    Attributes:
        station_id: the station.
        issued_at: issue time (UTC); the forecast is valid at ``issued_at + lead_h``.
        lead_h: lead in hours (>= 1).
        p10_c, p50_c, p90_c: the quantiles, degC.
        model_name, model_version: who made it.
    """

    station_id: str
    issued_at: datetime
    lead_h: int
    p10_c: float
    p50_c: float
    p90_c: float
    model_name: str
    model_version: str


@dataclass(frozen=True, slots=True)
class Observation:
    """An observed hourly temperature of a station.

    ``hour`` is the end of the hourly window averaged (a feature record's
    ``window_end``): a forecast issued at ``t`` for lead ``h`` is valid at ``t + h``,
    the end of the window starting at ``t + h - 1`` (the alignment training uses).
    """

    station_id: str
    hour: datetime
    temperature_c: float


def forecasts_of(message: PredictionMessage) -> list[Forecast]:
    """Every lead of a ``weather-predictions`` message as a :class:`Forecast`."""
    return [
        Forecast(
            station_id=message.station_id,
            issued_at=message.issued_at,
            lead_h=lead,
            p10_c=p10,
            p50_c=p50,
            p90_c=p90,
            model_name=message.model_name,
            model_version=message.model_version,
        )
        for lead, p10, p50, p90 in zip(
            message.leads_h,
            message.temperature_p10_c,
            message.temperature_c,
            message.temperature_p90_c,
            strict=True,
        )
    ]


def observation_of(message: FeatureMessage) -> Observation:
    """The observation a ``weather-features`` message carries (hour = ``window_end``)."""
    return Observation(message.station_id, message.window_end, float(message.avg_temperature))


_Q10, _Q50, _Q90 = QUANTILES


def score(forecast: Forecast, observed_c: float) -> SkillRecord:
    """The forecast paired with its observation, with its errors."""
    return scored(
        forecast.station_id,
        forecast.issued_at,
        forecast.lead_h,
        forecast.model_name,
        forecast.model_version,
        forecast.p10_c,
        forecast.p50_c,
        forecast.p90_c,
        observed_c,
    )


def scored(  # noqa: PLR0917 - the record's fields, in its order
    station_id: str,
    issued_at: datetime,
    lead_h: int,
    model_name: str,
    model_version: str,
    p10: float,
    p50: float,
    p90: float,
    observed_c: float,
) -> SkillRecord:
    """The record of one forecast lead paired with its observation (:func:`score`, and
    the service's join, which holds no :class:`Forecast` per lead).

    The pinball losses are :func:`pinball`'s, written out (this runs once per pair in
    the service): the same operations in the same order, so the same doubles.
    """
    d10 = observed_c - p10
    d50 = observed_c - p50
    d90 = observed_c - p90
    loss = (
        0.0
        + max(_Q10 * d10, (_Q10 - 1.0) * d10)
        + max(_Q50 * d50, (_Q50 - 1.0) * d50)
        + max(_Q90 * d90, (_Q90 - 1.0) * d90)
    ) / 3.0
    return SkillRecord(
        station_id,
        issued_at,
        lead_h,
        model_name,
        model_version,
        p10,
        p50,
        p90,
        observed_c,
        abs(observed_c - p50),
        loss,
        p10 <= observed_c <= p90,
    )


class SkillKey(NamedTuple):
    """What skill is kept per: a model version and a lead."""

    model_name: str
    model_version: str
    lead_h: int


@dataclass(frozen=True, slots=True)
class LeadSkill:
    """Skill of one model version at one lead.

    Attributes:
        count: paired forecasts.
        mae_c: mean absolute error of the median, degC.
        pinball_c: mean pinball loss of p10/p50/p90 (averaged over the three), degC.
        coverage: share of observations inside ``[p10, p90]`` (0.8 when calibrated).
    """

    count: int
    mae_c: float
    pinball_c: float
    coverage: float


@dataclass(slots=True)
class _Sums:
    count: int = 0
    abs_error: float = 0.0
    pinball: float = 0.0
    covered: int = 0


@dataclass
class SkillTable:
    """Running sums per :class:`SkillKey`; add records in any order, read figures any time."""

    _sums: dict[SkillKey, _Sums] = field(default_factory=dict)

    def add(self, record: SkillRecord) -> None:
        """Count one paired forecast."""
        # A plain tuple finds the SkillKey of the same fields (a NamedTuple hashes and
        # compares as one); the SkillKey is made only for a new key.
        key = (record.model_name, record.model_version, record.lead_h)
        sums = self._sums.get(key)  # type: ignore[call-overload]
        if sums is None:
            sums = self._sums[SkillKey(*key)] = _Sums()
        sums.count += 1
        sums.abs_error += record.abs_error_c
        sums.pinball += record.pinball_c
        sums.covered += int(record.covered)

    def add_all(self, records: Iterable[SkillRecord]) -> None:
        """Count every record (rebuilding the table from ``weather-verification``)."""
        for record in records:
            self.add(record)

    def figures(self) -> dict[SkillKey, LeadSkill]:
        """Skill per model version and lead, keys sorted."""
        return {
            key: LeadSkill(
                count=s.count,
                mae_c=s.abs_error / s.count,
                pinball_c=s.pinball / s.count,
                coverage=s.covered / s.count,
            )
            for key, s in sorted(self._sums.items())
        }


# -- the same figures offline -----------------------------------------------------------

FORECAST_COLUMNS: Final = (
    "station_id",
    "issued_at",
    "lead_h",
    "p10_c",
    "p50_c",
    "p90_c",
    "model_name",
    "model_version",
)
OBSERVATION_COLUMNS: Final = ("station_id", "hour", "temperature_c")


def _require(frame: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lack column(s) {', '.join(missing)}")


def offline_pairs(forecasts: pd.DataFrame, observations: pd.DataFrame) -> pd.DataFrame:
    """Every forecast joined with the observation of its station at its valid hour.

    Args:
        forecasts: one row per forecast lead, columns :data:`FORECAST_COLUMNS`
            (``issued_at`` UTC timestamps).
        observations: columns :data:`OBSERVATION_COLUMNS`; of several values for one
            station and hour the first counts, as in the live join.

    Returns:
        the forecasts that have an observation, with ``observed_c``, ``abs_error_c``,
        ``pinball_c`` and ``covered`` added (computed exactly as :func:`score` does).
    """
    _require(forecasts, FORECAST_COLUMNS, "forecasts")
    _require(observations, OBSERVATION_COLUMNS, "observations")
    obs = observations.drop_duplicates(["station_id", "hour"], keep="first")
    obs = obs.rename(columns={"hour": "valid_at", "temperature_c": "observed_c"})
    frame = forecasts.loc[:, list(FORECAST_COLUMNS)].copy()
    frame["valid_at"] = frame["issued_at"] + pd.to_timedelta(frame["lead_h"], unit="h")
    frame = frame.merge(obs.loc[:, ["station_id", "valid_at", "observed_c"]], how="inner")
    observed = frame["observed_c"].to_numpy(dtype=float)
    p50 = frame["p50_c"].to_numpy(dtype=float)
    frame["abs_error_c"] = abs(observed - p50)
    total = 0.0 * observed  # summed in the order score() sums: the same doubles
    for q, col in zip(QUANTILES, ("p10_c", "p50_c", "p90_c"), strict=True):
        diff = observed - frame[col].to_numpy(dtype=float)
        total = total + (q * diff).clip(min=(q - 1.0) * diff)
    frame["pinball_c"] = total / 3.0
    frame["covered"] = (frame["p10_c"] <= frame["observed_c"]) & (
        frame["observed_c"] <= frame["p90_c"]
    )
    return frame


def offline_skill(forecasts: pd.DataFrame, observations: pd.DataFrame) -> dict[SkillKey, LeadSkill]:
    """Skill per model version and lead computed in one batch (see :func:`offline_pairs`)."""
    pairs = offline_pairs(forecasts, observations)
    grouped = pairs.groupby(["model_name", "model_version", "lead_h"], sort=True)
    summary = grouped.agg(
        count=("abs_error_c", "size"),
        mae_c=("abs_error_c", "mean"),
        pinball_c=("pinball_c", "mean"),
        coverage=("covered", "mean"),
    )
    return {
        SkillKey(str(name), str(version), int(lead)): LeadSkill(
            count=int(count), mae_c=float(mae), pinball_c=float(loss), coverage=float(cover)
        )
        for (name, version, lead), count, mae, loss, cover in zip(
            summary.index,
            summary["count"],
            summary["mae_c"],
            summary["pinball_c"],
            summary["coverage"],
            strict=True,
        )
    }
