"""Ray inference actors on a real local Ray: same forecasts as offline, placement,
and retries on a live actor when one dies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wxstream.messages import messages_from_frame
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.model_loader import load_model
from wxstream.streaming import ActorPool, Completed, actor_options, spawn_actors

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def offline_model(serve_model_dir: Path) -> ForecastingModel:
    return load_model(serve_model_dir, device="cpu")


@pytest.fixture(scope="module")
def windows(nyc_features: pd.DataFrame, offline_model: ForecastingModel) -> np.ndarray:
    """40 consecutive real windows of EWR in August (outside the training months)."""
    ewr = nyc_features.loc[
        (nyc_features["station_id"] == "EWR")
        & (nyc_features["window_start"] >= pd.Timestamp("2013-08-01", tz="UTC"))
    ].head(60)
    rows = offline_model.adapter.to_inputs(messages_from_frame(ewr))
    lookback = offline_model.lookback
    return np.stack([rows[i : i + lookback] for i in range(40)]).astype(np.float32)


def drain(pool: ActorPool, expected: int) -> dict[int, Completed]:
    done: dict[int, Completed] = {}
    for _ in range(600):
        for item in pool.poll(timeout_s=0.1):
            done[item.batch_id] = item
        if len(done) == expected and pool.in_flight == 0:
            return done
    raise AssertionError(f"only {len(done)} of {expected} batches finished")


def test_placement_uses_a_gpu_fraction_only_where_a_gpu_exists() -> None:
    on_gpu = actor_options(cluster_gpus=1, use_gpu=True, gpu_fraction=0.25, num_cpus=0.5)
    assert on_gpu.device == "cuda"
    assert on_gpu.num_gpus == 0.25
    no_gpu = actor_options(cluster_gpus=0, use_gpu=True, gpu_fraction=0.25, num_cpus=0.5)
    assert no_gpu.device == "cpu"
    assert no_gpu.num_gpus == 0.0
    forced = actor_options(cluster_gpus=1, use_gpu=False, gpu_fraction=0.25, num_cpus=0.5)
    assert forced.device == "cpu"
    assert forced.ray_options()["num_gpus"] == 0.0


def test_actors_forecast_like_the_offline_model(
    ray_local: None,
    serve_model_dir: Path,
    offline_model: ForecastingModel,
    windows: np.ndarray,
) -> None:
    placement = actor_options(cluster_gpus=0, use_gpu=True, gpu_fraction=0.25, num_cpus=0.25)
    actors = spawn_actors(2, serve_model_dir, placement)
    pool = ActorPool(actors, max_call_retries=2)
    try:
        batches = [windows[i : i + 8] for i in range(0, 40, 8)]
        for batch_id, batch in enumerate(batches):
            pool.submit(batch_id, batch)
        done = drain(pool, len(batches))
        for batch_id, batch in enumerate(batches):
            np.testing.assert_allclose(
                done[batch_id].forecasts, offline_model.predict(batch), atol=1e-5
            )
        infos = pool.infos()
        assert {info.device for info in infos} == {"cpu"}
        assert sum(info.forecasts for info in infos) == 40
        # Both actors took work: least-loaded dispatch spreads the batches.
        assert all(info.calls > 0 for info in infos)
        assert all(info.peak_rss_bytes > 10 * 2**20 for info in infos)
        assert len({info.pid for info in infos}) == 2
    finally:
        pool.kill_all()


def test_a_call_whose_actor_died_is_retried_on_a_live_actor(
    ray_local: None,
    serve_model_dir: Path,
    offline_model: ForecastingModel,
    windows: np.ndarray,
) -> None:
    import ray

    # No Ray-level restart or retry: the pool alone must recover the call.
    placement = actor_options(
        cluster_gpus=0,
        use_gpu=False,
        gpu_fraction=0.25,
        num_cpus=0.25,
        max_restarts=0,
        max_task_retries=0,
    )
    actors = spawn_actors(2, serve_model_dir, placement)
    pool = ActorPool(actors, max_call_retries=2)
    try:
        ray.kill(actors[0], no_restart=True)
        for batch_id in range(4):
            pool.submit(batch_id, windows[batch_id * 8 : batch_id * 8 + 8])
        done = drain(pool, 4)
        assert sorted(done) == [0, 1, 2, 3]
        for batch_id in range(4):
            np.testing.assert_allclose(
                done[batch_id].forecasts,
                offline_model.predict(windows[batch_id * 8 : batch_id * 8 + 8]),
                atol=1e-5,
            )
        assert pool.retries >= 1
        assert pool.actor_failures >= 1
    finally:
        pool.kill_all()


def test_a_dead_actor_is_restarted_by_ray(
    ray_local: None, serve_model_dir: Path, windows: np.ndarray
) -> None:
    import ray

    placement = actor_options(cluster_gpus=0, use_gpu=False, gpu_fraction=0.25, num_cpus=0.25)
    (actor,) = spawn_actors(1, serve_model_dir, placement)
    try:
        first_pid = ray.get(actor.info.remote()).pid
        ray.kill(actor, no_restart=False)
        out = ray.get(actor.predict.remote(windows[:4]), timeout=120)
        assert out.shape[0] == 4
        assert ray.get(actor.info.remote()).pid != first_pid
    finally:
        ray.kill(actor, no_restart=True)
