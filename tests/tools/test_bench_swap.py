"""The pure figures of ``bench --swap``: the gap around a move and the full windows."""

from __future__ import annotations

import pandas as pd

from wxstream.messages import messages_from_frame
from wxstream.tools.bench.swap_store import full_windows, longest_gap_ms


def test_the_longest_gap_counts_only_gaps_that_meet_the_span_around_the_move() -> None:
    arrivals = [0.0, 100.0, 5_000.0, 5_200.0, 5_300.0, 60_000.0]
    # The 4,900 ms gap ends inside [4,000, 34,000]; the 54,700 ms one starts inside it.
    assert longest_gap_ms(arrivals, 5_000.0, 1_000.0, 29_000.0) == 54_700.0
    assert longest_gap_ms(arrivals, 5_000.0, 1_000.0, 200.0) == 4_900.0
    assert longest_gap_ms([1.0], 0.0, 1.0, 1.0) == 0.0


def test_full_windows_are_those_ending_lookback_consecutive_hours(
    nyc_features: pd.DataFrame,
) -> None:
    start = pd.Timestamp("2013-08-01", tz="UTC")
    rows = nyc_features.loc[
        (nyc_features["station_id"] == "EWR")
        & (nyc_features["window_start"] >= start)
        & (nyc_features["window_start"] < start + pd.Timedelta(hours=10))
    ]
    messages = messages_from_frame(rows)
    hours = [m.window_start for m in messages]
    assert len(hours) == 10  # August 1st has every hour at EWR
    windows = full_windows(messages, 3)
    assert windows == {("EWR", m.window_end.isoformat()) for m in messages[2:]}
    # Without its fifth hour, the windows ending at hours five to seven are gone.
    gapped = full_windows([m for i, m in enumerate(messages) if i != 4], 3)
    assert gapped == {("EWR", m.window_end.isoformat()) for m in messages[2:4] + messages[7:]}
