"""Hourly features exactly as a windowed Spark Structured Streaming job publishes them.

The equivalent Spark query::

    observations
      .groupBy(col("station_id"), window(col("timestamp"), "1 hour"))
      .agg(avg("temperature_c").alias("avg_temperature"),
           avg("dewpoint_c").alias("avg_dewpoint"),
           avg("wind_speed_ms").alias("avg_wind_speed"),
           min("temperature_c").alias("min_temperature"),
           max("temperature_c").alias("max_temperature"),
           count(lit(1)).alias("observation_count"),
           # the optional fields, each only where the observations carry its column:
           avg("pressure_hpa").alias("avg_pressure_hpa"),
           avg("relative_humidity").alias("avg_relative_humidity"),
           avg("wind_u_ms").alias("avg_wind_u"),        # the mean wind vector: each
           avg("wind_v_ms").alias("avg_wind_v"),        # reading weighs by its speed
           sum("precipitation_mm").alias("precipitation_mm"),
           first("latitude", ignorenulls=True).alias("latitude"),
           first("longitude", ignorenulls=True).alias("longitude"),
           first("elevation_m", ignorenulls=True).alias("elevation_m"))
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wxstream.data.observations import (
    DEWPOINT_C,
    ELEVATION_M,
    LATITUDE,
    LONGITUDE,
    PRECIPITATION_MM,
    PRESSURE_HPA,
    RELATIVE_HUMIDITY,
    STATION_ID,
    TEMPERATURE_C,
    TIMESTAMP,
    WIND_SPEED_MS,
    WIND_U_MS,
    WIND_V_MS,
)
from wxstream.errors import DataError
from wxstream.messages.features import FIELDS

WINDOW = pd.Timedelta(hours=1)

FEATURE_COLUMNS: tuple[str, ...] = FIELDS
"""Columns of :func:`aggregate_hourly`'s result, in order (the message's fields)."""

OPTIONAL_AGGREGATES: dict[str, tuple[str, str]] = {
    "avg_pressure_hpa": (PRESSURE_HPA, "mean"),
    "avg_relative_humidity": (RELATIVE_HUMIDITY, "mean"),
    # The mean of the readings' vectors: a reading weighs by its speed, a calm one
    # (the zero vector) pulls the mean towards calm.
    "avg_wind_u": (WIND_U_MS, "mean"),
    "avg_wind_v": (WIND_V_MS, "mean"),
    "precipitation_mm": (PRECIPITATION_MM, "sum"),
    "latitude": (LATITUDE, "first"),
    "longitude": (LONGITUDE, "first"),
    "elevation_m": (ELEVATION_M, "first"),
}
"""Optional feature column -> (observation column, aggregate); in the message's order."""


def aggregate_hourly(observations: pd.DataFrame) -> pd.DataFrame:
    """One feature row per station and hourly tumbling window, with Spark semantics.

    Windows are ``[window_start, window_end)`` in UTC, aligned to the hour
    (``window_start = floor(timestamp, 1h)``), so an observation at 10:00 belongs to
    10:00-11:00 and one at 10:59:59 too.

    Semantics match Spark's ``avg``/``min``/``max``/``count(*)``:

    * ``avg_*``, ``min_temperature``, ``max_temperature`` ignore nulls (NaN) and are null
      (NaN) when every value in the window is null;
    * ``observation_count`` counts all observations in the window, null or not;
    * windows without observations do not exist (no empty rows are emitted);
    * the optional columns (:data:`OPTIONAL_AGGREGATES`) follow the required ones, each
      only when the observations have its source column: means and the station
      metadata (``first``) skip nulls, ``precipitation_mm`` is the hour's sum and null
      when every reading of it was null (Spark's ``sum``).

    Args:
        observations: the tidy observations table (see :mod:`wxstream.data.observations`).

    Returns:
        a frame with :data:`FEATURE_COLUMNS` (then the optional columns it can make),
        sorted by ``station_id, window_start``; timestamps ``datetime64[ns, UTC]``,
        measurements float64, count int64.
    """
    missing = [
        c
        for c in (STATION_ID, TIMESTAMP, TEMPERATURE_C, DEWPOINT_C, WIND_SPEED_MS)
        if c not in observations.columns
    ]
    if missing:
        raise DataError(f"cannot aggregate: observations lack {', '.join(missing)}")
    stamps = pd.to_datetime(observations[TIMESTAMP], utc=True).astype("datetime64[ns, UTC]")
    frame = pd.DataFrame(
        {
            "station_id": observations[STATION_ID].astype(str).to_numpy(),
            "window_start": stamps.dt.floor("h").to_numpy(),
            "t": observations[TEMPERATURE_C].to_numpy(dtype=np.float64),
            "d": observations[DEWPOINT_C].to_numpy(dtype=np.float64),
            "w": observations[WIND_SPEED_MS].to_numpy(dtype=np.float64),
        }
    )
    optional = {
        name: (source, how)
        for name, (source, how) in OPTIONAL_AGGREGATES.items()
        if source in observations.columns
    }
    for source, _ in optional.values():
        frame[source] = observations[source].to_numpy(dtype=np.float64)
    grouped = frame.groupby(["station_id", "window_start"], sort=True, observed=True)
    # pandas' mean/min/max skip NaN and give NaN for an all-NaN group: Spark's null rules.
    out = grouped.agg(
        avg_temperature=("t", "mean"),
        avg_dewpoint=("d", "mean"),
        avg_wind_speed=("w", "mean"),
        min_temperature=("t", "min"),
        max_temperature=("t", "max"),
        observation_count=("t", "size"),
        **{name: (source, how) for name, (source, how) in optional.items() if how != "sum"},
    ).reset_index()
    if PRECIPITATION_MM in frame.columns:
        # Spark's sum is null over nulls only; pandas' sum would give 0.
        total = grouped[PRECIPITATION_MM].sum(min_count=1).to_numpy(dtype=np.float64)
        out["precipitation_mm"] = total
    out["window_start"] = pd.to_datetime(out["window_start"], utc=True).astype(
        "datetime64[ns, UTC]"
    )
    out["window_end"] = out["window_start"] + WINDOW
    out["observation_count"] = out["observation_count"].astype(np.int64)
    out["station_id"] = out["station_id"].astype(str)
    return out[[*FEATURE_COLUMNS, *optional]].reset_index(drop=True)
