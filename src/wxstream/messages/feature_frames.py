"""Feature rows (a pandas frame, as :func:`wxstream.features.aggregate_hourly` makes them)
to ``weather-features`` records and messages: what may be published, the encoded
records, the decoded messages.

Optional columns (:data:`~wxstream.messages.optional_fields.OPTIONAL_FIELDS`) travel when
the frame has them; a NaN or out-of-range optional value is left out of its message
(the row stays publishable: the optional fields are extras, not the model's inputs)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from wxstream.messages.features import (
    AVERAGE_TOLERANCE_C,
    MAX_STATION_ID_CHARS,
    MEASUREMENT_FIELDS,
    MEASUREMENT_RANGES,
    WINDOW_LENGTH,
    FeatureMessage,
    format_timestamp,
)
from wxstream.messages.optional_fields import OPTIONAL_RANGES, optional_or_none


def publishable_mask(features: pd.DataFrame) -> np.ndarray:
    """Boolean mask of feature rows that encode into messages :func:`decode_feature` accepts.

    Vectorised version of the decoder's rules: finite measurements in range, count >= 1,
    ``window_end > window_start``, ``min <= avg <= max`` (with tolerance), station ids of
    1..128 characters, windows of one aligned hour.
    """
    ok = np.ones(len(features), dtype=bool)
    for name, (low, high) in MEASUREMENT_RANGES.items():
        values = features[name].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            ok &= (values >= low) & (values <= high)
    temp = features["avg_temperature"].to_numpy(dtype=np.float64, na_value=np.nan)
    low_t = features["min_temperature"].to_numpy(dtype=np.float64, na_value=np.nan)
    high_t = features["max_temperature"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok &= low_t <= high_t
        ok &= (temp >= low_t - AVERAGE_TOLERANCE_C) & (temp <= high_t + AVERAGE_TOLERANCE_C)
    counts = features["observation_count"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok &= counts >= 1
    starts = pd.to_datetime(features["window_start"], utc=True)
    ends = pd.to_datetime(features["window_end"], utc=True)
    ok &= (ends - starts == pd.Timedelta(WINDOW_LENGTH)).to_numpy(dtype=bool)
    ok &= (starts == starts.dt.floor("h")).to_numpy(dtype=bool)
    lengths = features["station_id"].astype(str).str.len().to_numpy()
    ok &= (lengths > 0) & (lengths <= MAX_STATION_ID_CHARS)
    return ok


def optional_columns(rows: pd.DataFrame) -> list[list[float | None]] | None:
    """Per optional field, its values with ``None`` for NaN or out of range; ``None``
    when the frame has no optional column at all."""
    if not any(name in rows.columns for name in OPTIONAL_RANGES):
        return None
    columns: list[list[float | None]] = []
    for name, (low, high) in OPTIONAL_RANGES.items():
        if name not in rows.columns:
            columns.append([None] * len(rows))
            continue
        values = rows[name].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            keep = (values >= low) & (values <= high)
        columns.append(
            [v if k else None for v, k in zip(values.tolist(), keep.tolist(), strict=True)]
        )
    return columns


def _optional_tails(rows: pd.DataFrame) -> list[str]:
    """Per row, the JSON members of its optional values (what :func:`encode_optional`
    writes), built column by column: one string per value, joined per row."""
    parts: list[list[str]] = []
    for name, (low, high) in OPTIONAL_RANGES.items():
        if name not in rows.columns:
            continue
        values = rows[name].to_numpy(dtype=np.float64, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            keep = (values >= low) & (values <= high)
        prefix = f',"{name}":'
        listed, kept = values.tolist(), keep.tolist()
        parts.append([prefix + repr(v) if k else "" for v, k in zip(listed, kept, strict=True)])
    if not parts:
        return [""] * len(rows)
    return ["".join(row) for row in zip(*parts, strict=True)]


def _iso_column(values: pd.Series) -> list[str]:
    stamps = pd.to_datetime(values, utc=True)
    if (stamps.dt.microsecond == 0).all() and (stamps.dt.nanosecond == 0).all():
        return list(stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return [format_timestamp(ts.to_pydatetime()) for ts in stamps]


def encode_frame(features: pd.DataFrame) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` pairs for every publishable row of a feature frame, in row order.

    Byte-for-byte what :func:`feature_key` / :func:`encode_feature` produce, built column
    by column for replaying hundreds of thousands of windows. Rows that are not
    publishable (see :func:`publishable_mask`) are skipped.
    """
    rows = features.loc[publishable_mask(features)]
    if rows.empty:
        return []
    stations = rows["station_id"].astype(str).tolist()
    quoted = {s: json.dumps(s) for s in set(stations)}
    keys = {s: s.encode() for s in quoted}
    columns = [rows[name].to_numpy(dtype=np.float64).tolist() for name in MEASUREMENT_FIELDS]
    counts = rows["observation_count"].to_numpy(dtype=np.int64).tolist()
    starts = _iso_column(rows["window_start"])
    ends = _iso_column(rows["window_end"])
    tails = _optional_tails(rows)
    out: list[tuple[bytes, bytes]] = []
    append = out.append
    for station, start, end, avg_t, avg_d, avg_w, min_t, max_t, count, tail in zip(
        stations, starts, ends, *columns, counts, tails, strict=True
    ):
        value = (
            f'{{"station_id":{quoted[station]},"window_start":"{start}",'
            f'"window_end":"{end}","avg_temperature":{avg_t!r},"avg_dewpoint":{avg_d!r},'
            f'"avg_wind_speed":{avg_w!r},"min_temperature":{min_t!r},'
            f'"max_temperature":{max_t!r},"observation_count":{count}{tail}}}'
        )
        append((keys[station], value.encode()))
    return out


def messages_from_frame(features: pd.DataFrame) -> list[FeatureMessage]:
    """A :class:`FeatureMessage` for every publishable row of a feature frame, in row order."""
    rows = features.loc[publishable_mask(features)]
    if rows.empty:
        return []
    starts = pd.to_datetime(rows["window_start"], utc=True).dt.to_pydatetime()
    ends = pd.to_datetime(rows["window_end"], utc=True).dt.to_pydatetime()
    avg_t, avg_d, avg_w, min_t, max_t = (
        rows[name].to_numpy(dtype=np.float64).tolist() for name in MEASUREMENT_FIELDS
    )
    counts = rows["observation_count"].to_numpy(dtype=np.int64).tolist()
    stations = rows["station_id"].astype(str).tolist()
    required = zip(stations, starts, ends, avg_t, avg_d, avg_w, min_t, max_t, counts, strict=True)
    optional = optional_columns(rows)
    if optional is None:
        return [FeatureMessage(*fields) for fields in required]
    return [
        FeatureMessage(station, start, end, t, d, w, low, high, count, optional_or_none(extra))
        for (station, start, end, t, d, w, low, high, count), extra in zip(
            required, zip(*optional, strict=True), strict=True
        )
    ]
