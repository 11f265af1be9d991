"""A Ray node lost mid-stream, exactly-once.

A two-node Ray cluster on this machine (a head and a worker ``ray start`` process, one
CPU each, both on 127.0.0.1); ``wxstream serve --ray-address ... --spread-actors`` puts
one inference actor on each node. SIGKILL of the worker node's raylet takes its actor
with it: Ray declares the node dead, restarts the actor on the head (the only node
left), and the pool retries the calls that were in flight. The predictions topic
(``read_committed``) is then compared with the forecasts of an uninterrupted run (see
``fault_harness``); the case prints one ``FAULT ...`` line.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from tests.support.cluster_support import supervised
from tests.support.fault_harness import (
    Figures,
    PacedProducer,
    assert_exactly_once,
    build_replay,
    caught_up,
    committed_total,
    compare,
    fault_rows,
    inference_actor_pids,
    produce,
    read_committed,
    serve_settings,
)
from tests.support.ray_cluster import two_node_ray
from tests.support.waiting import wait_until
from wxstream.models.model_loader import load_model
from wxstream.settings import KafkaSettings
from wxstream.streaming import actor_options
from wxstream.tools.serve_command import serve_command

HOURS = 200
"""Hours of each station replayed (600 records)."""
WARM_RECORDS = 90
RATE_PER_S = 30.0
SESSION_TIMEOUT_S = 6.0


def test_spread_actors_ask_ray_for_the_spread_strategy() -> None:
    def options(spread: bool) -> dict[str, object]:
        placement = actor_options(
            cluster_gpus=0, use_gpu=False, gpu_fraction=0.25, num_cpus=0.25, spread=spread
        )
        return placement.ray_options()

    assert options(True)["scheduling_strategy"] == "SPREAD"
    assert "scheduling_strategy" not in options(False)


def actors_on(raylet_pid: int | None) -> int:
    """Live inference actors among the workers of the raylet ``raylet_pid``."""
    return len(inference_actor_pids(raylet_pid)) if raylet_pid is not None else 0


@pytest.mark.kafka
@pytest.mark.ray
@pytest.mark.slow
def test_worker_node_raylet_killed_mid_stream(
    kafka_settings: KafkaSettings,
    serve_model_dir: Path,
    nyc_features: pd.DataFrame,
    tmp_path: Path,
    report: list[Figures],
) -> None:
    began = time.monotonic()
    replay = build_replay(
        fault_rows(nyc_features, HOURS), load_model(serve_model_dir, device="cpu")
    )
    kafka, records = kafka_settings, replay.records
    settings = serve_settings(kafka, serve_model_dir, session_timeout_s=SESSION_TIMEOUT_S)
    group = settings.group_id
    with two_node_ray(tmp_path) as ray_cluster:
        head_raylet = ray_cluster.head.raylet_pid()
        worker_raylet = ray_cluster.worker.raylet_pid()
        command = ray_cluster.driver_command(
            serve_command(
                settings,
                ray_cluster.address,
                "--spread-actors",
                f"--session-timeout-s={SESSION_TIMEOUT_S:g}",
            )
        )
        with supervised(command, tmp_path) as service:
            produce(kafka, records[:WARM_RECORDS])
            wait_until(
                lambda: service.check() and committed_total(kafka, group) >= WARM_RECORDS,
                180,
                "the service to start",
            )
            spread = (actors_on(head_raylet), actors_on(worker_raylet))
            assert spread == (1, 1), f"actors per node (head, worker): {spread}"
            paced = PacedProducer(kafka, records[WARM_RECORDS:], RATE_PER_S).start()
            third = len(records) // 3
            wait_until(
                lambda: service.check() and committed_total(kafka, group) >= third, 120, "commits"
            )
            assert worker_raylet is not None
            os.kill(worker_raylet, signal.SIGKILL)
            recovery_s = wait_until(
                lambda: service.check() and actors_on(head_raylet) == 2,
                120,
                "both actors running on the head node",
            )
            paced.join(240)
            wait_until(
                lambda: service.check() and caught_up(kafka, group), 240, "every input committed"
            )
            code = service.stop()
    assert code == 0, service.outputs[-1][-3000:]
    figures = compare(
        "ray-worker-node-killed",
        settings.guarantee,
        replay,
        read_committed(kafka, kafka.predictions_topic),
        elapsed_s=time.monotonic() - began,
    )
    figures = replace(
        figures,
        extra={
            "actors_before": "1+1",
            "actors_after": "2+0",
            "recreated_s": round(recovery_s, 1),
            "pool_retries": sum(out.count("retrying on another actor") for out in service.outputs),
            "supervisor_restarts": service.restarts,
        },
    )
    report.append(figures)
    assert_exactly_once(figures)
