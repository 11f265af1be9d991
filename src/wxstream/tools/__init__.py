"""What drives the streaming service and is never imported by it: replay, the demo,
offline forecasts and the benchmark (:mod:`wxstream.tools.bench`).

- :mod:`wxstream.tools.replay`: real observations -> hourly features -> the features
  topic, at a chosen speed.
- :mod:`wxstream.tools.demo`: broker, model, service, replay and live view in one run.
- :mod:`wxstream.tools.offline_forecasts`: the service's forecasts without Kafka or Ray.
"""

from __future__ import annotations

from wxstream.tools.demo import DemoSummary, run_demo
from wxstream.tools.demo_model import (
    DEMO_SOURCE,
    DEMO_SPLIT,
    Emit,
    ensure_model,
    train_demo_model,
)
from wxstream.tools.offline_forecasts import (
    DEFAULT_BATCH,
    OfflineForecast,
    offline_forecasts,
    station_windows,
)
from wxstream.tools.replay import (
    COPY_SEPARATOR,
    FeatureSelection,
    ReplaySummary,
    copy_station_id,
    load_observations,
    plan_schedule,
    produce_all,
    publish,
    real_station_id,
    replay,
    select_features,
)

__all__ = [
    "COPY_SEPARATOR",
    "DEFAULT_BATCH",
    "DEMO_SOURCE",
    "DEMO_SPLIT",
    "DemoSummary",
    "Emit",
    "FeatureSelection",
    "OfflineForecast",
    "ReplaySummary",
    "copy_station_id",
    "ensure_model",
    "load_observations",
    "offline_forecasts",
    "plan_schedule",
    "produce_all",
    "publish",
    "real_station_id",
    "replay",
    "run_demo",
    "select_features",
    "station_windows",
    "train_demo_model",
]
