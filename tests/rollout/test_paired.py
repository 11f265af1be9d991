"""Pairing two versions' verification records on station, issue time and lead."""

from __future__ import annotations

from datetime import UTC, datetime

from wxstream.rollout import Forecast, pair_versions, records_frame, score

T0 = datetime(2013, 11, 3, 1, tzinfo=UTC)


def test_only_forecasts_both_versions_made_are_paired() -> None:
    records = [
        score(Forecast("EWR", T0, 1, 4.0, 5.0, 6.0, "m", "1"), 7.0),
        score(Forecast("EWR", T0, 1, 3.0, 6.0, 8.0, "m", "2"), 7.0),
        score(Forecast("EWR", T0, 2, 4.0, 5.0, 6.0, "m", "1"), 7.0),  # no partner
        score(Forecast("JFK", T0, 1, 4.0, 5.0, 6.0, "m", "2"), 7.0),  # no partner
        score(Forecast("EWR", T0, 1, 4.0, 5.0, 6.0, "other", "1"), 7.0),  # other model
        score(Forecast("EWR", T0, 1, 0.0, 1.0, 2.0, "m", "1"), 7.0),  # repeat: first counts
    ]
    frame = records_frame(records)
    assert len(frame) == 6
    assert str(frame["issued_at"].dt.tz) == "UTC"
    paired = pair_versions(frame, ("m", "1"), ("m", "2"))
    assert len(paired) == 1
    row = paired.iloc[0]
    assert (row["station_id"], row["lead_h"]) == ("EWR", 1)
    assert (row["abs_error_c_champion"], row["abs_error_c_challenger"]) == (2.0, 1.0)
    assert (row["covered_champion"], row["covered_challenger"]) == (False, True)
