"""ActorVersions on a real local Ray: a second version of a registry name loads into
the running actors, passes its warm-up check on real windows and then forecasts; the
first stays loaded; a half-copied version is refused, and the actors keep serving."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.registry_support import add_versions
from wxstream.errors import WxstreamError
from wxstream.messages import messages_from_frame
from wxstream.models.model_dir import read_model_dir
from wxstream.models.model_loader import load_model
from wxstream.models.registry import resolve
from wxstream.streaming import ActorPool, Completed, actor_options, spawn_actors
from wxstream.streaming.actor_versions import ActorVersions
from wxstream.streaming.core.swap import Served

pytestmark = [pytest.mark.ray, pytest.mark.timeout(300)]


def drain(pool: ActorPool, expected: int) -> dict[int, Completed]:
    done: dict[int, Completed] = {}
    for _ in range(600):
        for item in pool.poll(timeout_s=0.1):
            done[item.batch_id] = item
        if len(done) == expected and pool.in_flight == 0:
            return done
    raise AssertionError(f"only {len(done)} of {expected} batches finished")


def test_a_new_version_loads_beside_the_served_one_and_takes_over(
    ray_local: None, serve_model_dir: Path, nyc_features: pd.DataFrame, tmp_path: Path
) -> None:
    root = tmp_path / "trained" / "forecasting"
    first, second, third = add_versions(root, "nyc", read_model_dir(serve_model_dir), 3)
    first_dir = resolve(root, f"nyc@{first}")
    model = load_model(first_dir, device="cpu")
    ewr = nyc_features.loc[
        (nyc_features["station_id"] == "EWR")
        & (nyc_features["window_start"] >= pd.Timestamp("2013-08-01", tz="UTC"))
    ].head(40)
    rows = model.adapter.to_inputs(messages_from_frame(ewr))
    x = np.stack([rows[i : i + model.lookback] for i in range(20)]).astype(np.float32)
    placement = actor_options(cluster_gpus=0, use_gpu=False, gpu_fraction=0.25, num_cpus=0.25)
    pool = ActorPool(spawn_actors(2, first_dir, placement))
    try:
        host = ActorVersions(pool, root, "nyc", model, timeout_s=120)
        pool.submit(0, x)
        drain(pool, 1)
        prepared = host.prepare(Served(second))
        assert prepared.target == Served(second)
        host.activate(prepared)
        for i in range(1, 5):
            pool.submit(i, x)
        done = drain(pool, 4)
        # The same weights under another version: the same numbers, from the new dir.
        for item in done.values():
            np.testing.assert_allclose(item.forecasts, model.predict(x), atol=1e-5)
        # A half-copied version is refused; what serves keeps serving.
        broken = resolve(root, f"nyc@{third}")
        victim = next(p for p in broken.iterdir() if p.is_file() and p.suffix != ".json")
        shutil.move(victim, tmp_path / victim.name)
        with pytest.raises(WxstreamError):
            host.prepare(Served(third))
        pool.submit(9, x)
        assert drain(pool, 1)[9].forecasts.shape == (20, len(model.leads_h), 3)
    finally:
        pool.kill_all()
