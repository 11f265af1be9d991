"""Connecting to Ray: a cluster at an address, or a local Ray started for this process.

Every Ray start-up error is translated into :class:`~wxstream.errors.RayUnavailableError`
with a fix hint. A Ray that is already initialised in the process (a test session, the
demo) is reused and left running.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wxstream.errors import RayUnavailableError
from wxstream.settings import RaySettings
from wxstream.streaming.ray_checks import (
    dashboard_dependencies_installed,
    dashboard_plan,
    require_ray_reachable,
)

logger = logging.getLogger(__name__)

RAY_FIX = (
    "check --ray-address (RAY_HEAD_ADDRESS): unset it to start a local Ray, or start the "
    "cluster with `ray start --head`"
)


@dataclass(frozen=True)
class RayRuntime:
    """The Ray this process talks to.

    Attributes:
        address: the cluster address (``None``: local Ray).
        started_here: this process started Ray and shuts it down at the end.
        cpus: CPUs the cluster offers.
        gpus: GPUs the cluster offers (fractions count).
    """

    address: str | None
    started_here: bool
    cpus: float
    gpus: float


def _resources() -> tuple[float, float]:
    import ray

    # ray.cluster_resources is not annotated upstream.
    cluster_resources: Any = ray.cluster_resources
    resources: dict[str, float] = cluster_resources()
    return float(resources.get("CPU", 0.0)), float(resources.get("GPU", 0.0))


def connect(settings: RaySettings) -> RayRuntime:
    """Connect to (or start) Ray as ``settings`` say; reuse an initialised Ray.

    Raises:
        RayUnavailableError: the cluster cannot be reached or a local Ray cannot start.
    """
    import ray

    if ray.is_initialized():
        cpus, gpus = _resources()
        logger.info("using the Ray already running in this process (%g CPUs, %g GPUs)", cpus, gpus)
        return RayRuntime(settings.address, started_here=False, cpus=cpus, gpus=gpus)
    where = settings.address or "a local Ray"
    if settings.address:
        # ray.init retries an address where nothing listens for minutes.
        require_ray_reachable(settings.address)
    dashboard = dashboard_plan(
        requested=settings.dashboard, installed=dashboard_dependencies_installed()
    )
    try:
        if settings.address:
            ray.init(address=settings.address, logging_level=logging.WARNING)
        else:
            context = ray.init(
                num_cpus=settings.num_cpus,
                include_dashboard=dashboard.include,
                dashboard_host="127.0.0.1",
                logging_level=logging.WARNING,
            )
            dashboard_url = getattr(context, "dashboard_url", None)
            if dashboard.include and dashboard_url:
                logger.info("Ray dashboard: http://%s", dashboard_url)
            else:
                logger.info("%s", dashboard.message)
        cpus, gpus = _resources()
    except (ConnectionError, RuntimeError, ValueError, TimeoutError, OSError) as exc:
        raise RayUnavailableError(f"cannot connect to {where}: {exc}", fix=RAY_FIX) from exc
    logger.info("connected to %s (%g CPUs, %g GPUs)", where, cpus, gpus)
    return RayRuntime(settings.address, started_here=True, cpus=cpus, gpus=gpus)


def disconnect(runtime: RayRuntime) -> None:
    """Shut Ray down if this process started or joined it in :func:`connect`."""
    import ray

    if runtime.started_here and ray.is_initialized():
        ray.shutdown()


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[RayRuntime]:
    """:func:`connect` for the duration of a ``with`` block."""
    runtime = connect(settings)
    try:
        yield runtime
    finally:
        disconnect(runtime)
