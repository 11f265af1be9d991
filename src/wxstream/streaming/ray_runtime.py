"""Connecting to Ray: a cluster at an address, or a local Ray started for this process.

Every Ray start-up error is translated into :class:`~wxstream.errors.RayUnavailableError`
with a fix hint. A Ray that is already initialised in the process (a test session, the
demo) is reused and left running.

A local Ray started here is private to this host and to this process:

* it listens on loopback only. Ray turns a loopback node address into the host's
  reachable IP (and then binds its GCS, raylet, workers and agents to every interface)
  unless Ray clusters are switched off, which is what
  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` does on every platform: the node address
  stays 127.0.0.1 and Ray's gRPC servers bind 127.0.0.1 (set here before Ray starts,
  inherited by every Ray process); the dashboard binds 127.0.0.1 too;
* it leaves nothing behind: a reaper process (:mod:`~.ray_reaper`) removes the Ray
  processes when this process ends, also by ``SIGKILL``;
* a stop signal is the service's to handle: Ray's processes start with ``SIGTERM``
  blocked, as Ray itself starts them with ``SIGINT`` blocked, so a ``SIGTERM`` sent to
  the whole process group (a terminal, a supervisor, ``timeout``) does not kill Ray under
  the service while it finishes the batches in flight (before, the actors died at once,
  the stop failed with a traceback and Ray's C++ error dump); ``ray.shutdown()`` ends
  them (``SIGKILL`` after its one-second grace), the reaper whatever is left. And the
  ``SIGTERM`` handler found before ``ray.init`` is put back right after it (Ray installs
  its own, which exits the process).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psutil

from wxstream.errors import RayUnavailableError
from wxstream.settings import RaySettings
from wxstream.streaming.ray_checks import (
    dashboard_dependencies_installed,
    dashboard_plan,
    require_ray_reachable,
)
from wxstream.streaming.ray_reaper import Reaper, ray_descendants, start_reaper

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
# Ray reads it when ray._private.ray_constants is imported (see the module docstring).
_NO_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"

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
        reaper: removes a local Ray's processes when this process ends (``None`` when
            Ray was not started here).
    """

    address: str | None
    started_here: bool
    cpus: float
    gpus: float
    reaper: Reaper | None = None


def _loopback_only() -> None:
    """Keep a local Ray on 127.0.0.1 (see the module docstring)."""
    os.environ[_NO_CLUSTER_ENV] = "0"
    from ray._private import ray_constants

    # Read at import: a Ray imported before this call needs the value set as well.
    ray_constants.ENABLE_RAY_CLUSTER = False


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
    reaper: Reaper | None = None
    try:
        if settings.address:
            ray.init(address=settings.address, logging_level=logging.WARNING)
        else:
            _loopback_only()
            before = {_identity(p) for p in ray_descendants()}
            reaper = start_reaper()
            with _stop_signals_kept():
                context = ray.init(
                    num_cpus=settings.num_cpus,
                    include_dashboard=dashboard.include,
                    dashboard_host=LOOPBACK,
                    _node_ip_address=LOOPBACK,
                    logging_level=logging.WARNING,
                )
            started = [
                p for p in ray_descendants() if p.pid != reaper.pid and _identity(p) not in before
            ]
            reaper.watch(started)
            dashboard_url = getattr(context, "dashboard_url", None)
            if dashboard.include and dashboard_url:
                logger.info("Ray dashboard: http://%s", dashboard_url)
            else:
                logger.info("%s", dashboard.message)
        cpus, gpus = _resources()
    except (ConnectionError, RuntimeError, ValueError, TimeoutError, OSError) as exc:
        if reaper is not None:
            reaper.close()
        raise RayUnavailableError(f"cannot connect to {where}: {exc}", fix=RAY_FIX) from exc
    logger.info("connected to %s (%g CPUs, %g GPUs)", where, cpus, gpus)
    return RayRuntime(settings.address, started_here=True, cpus=cpus, gpus=gpus, reaper=reaper)


@contextmanager
def _stop_signals_kept() -> Iterator[None]:
    """Start Ray with ``SIGTERM`` blocked (its processes inherit the mask) and keep this
    process's ``SIGTERM`` handler (see the module docstring)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGTERM)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        yield
    finally:
        # Handler first: a SIGTERM that arrived meanwhile is delivered on unblocking.
        signal.signal(signal.SIGTERM, handler if handler is not None else signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def _identity(proc: psutil.Process) -> tuple[int, float]:
    try:
        return proc.pid, proc.create_time()
    except psutil.Error:
        return proc.pid, 0.0


def disconnect(runtime: RayRuntime) -> None:
    """Shut Ray down if this process started or joined it in :func:`connect`."""
    import ray

    try:
        if runtime.started_here and ray.is_initialized():
            ray.shutdown()
    finally:
        if runtime.reaper is not None:
            runtime.reaper.close()


@contextmanager
def ray_session(settings: RaySettings) -> Iterator[RayRuntime]:
    """:func:`connect` for the duration of a ``with`` block."""
    runtime = connect(settings)
    try:
        yield runtime
    finally:
        disconnect(runtime)
