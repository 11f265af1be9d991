"""Checks around Ray that must be fast and must not start Ray: is an address reachable,
is a local Ray running, can the dashboard start.

``ray.init(address=...)`` against an address where nothing listens retries for minutes
before it fails, so every connection to a given address is preceded by
:func:`require_ray_reachable`, a plain TCP connect with a short timeout.
"""

from __future__ import annotations

import importlib.util
import logging
import socket
from dataclasses import dataclass

from wxstream.errors import RayUnavailableError

logger = logging.getLogger(__name__)

DEFAULT_PROBE_TIMEOUT_S = 3.0
RAY_CLIENT_PREFIX = "ray://"
DEFAULT_GCS_PORT = 6379
DEFAULT_CLIENT_PORT = 10001
DASHBOARD_ADDRESS = "http://127.0.0.1:8265"
DASHBOARD_INSTALL_HINT = "pip install 'ray[default]'"
# What ``ray.dashboard.optional_deps`` imports: without them Ray refuses to start
# a dashboard (it raises a bare Exception from ray.init).
DASHBOARD_MODULES: tuple[str, ...] = (
    "aiohttp",
    "aiohttp_cors",
    "grpc",
    "opencensus",
    "opentelemetry",
    "prometheus_client",
    "pydantic",
)


def split_ray_address(address: str) -> tuple[str, int]:
    """``host:port`` or ``ray://host:port`` -> ``(host, port)``; the default port where
    none is given (6379 for the GCS, 10001 for a Ray client address).

    Raises:
        RayUnavailableError: the address cannot be parsed.
    """
    text = address.strip()
    client = text.startswith(RAY_CLIENT_PREFIX)
    rest = text[len(RAY_CLIENT_PREFIX) :] if client else text
    default_port = DEFAULT_CLIENT_PORT if client else DEFAULT_GCS_PORT
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port_text = rest, str(default_port)
    host = host.strip("[]")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise RayUnavailableError(
            f"cannot parse the Ray address {address!r}",
            fix="give --ray-address (RAY_HEAD_ADDRESS) as host:port (e.g. 127.0.0.1:6379) "
            "or ray://host:10001",
        )
    return host, int(port_text)


def ray_address_reachable(address: str, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> bool:
    """True when something accepts a TCP connection at the Ray ``address`` in time."""
    host, port = split_ray_address(address)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def ray_unreachable_fix(address: str) -> str:
    """The ``fix:`` line for a Ray address that does not answer."""
    return (
        f"check the cluster with `ray status --address {address}`; start it with "
        "`ray start --head`, correct --ray-address (RAY_HEAD_ADDRESS), or unset it to "
        "start a local Ray"
    )


def require_ray_reachable(address: str, timeout_s: float = DEFAULT_PROBE_TIMEOUT_S) -> None:
    """Raise unless something listens at the Ray ``address``.

    Raises:
        RayUnavailableError: naming the address and how to check it.
    """
    if not ray_address_reachable(address, timeout_s):
        raise RayUnavailableError(
            f"Ray at {address} is not reachable (no answer within {timeout_s:g} s)",
            fix=ray_unreachable_fix(address),
        )


def local_ray_addresses() -> list[str]:
    """GCS addresses of the Ray instances running on this machine (none: empty).

    Reads what ``ray start`` recorded and looks for local GCS processes, the two ways
    ``ray.init(address="auto")`` finds a Ray; it does not connect.
    """
    try:
        from ray._private import services
        from ray._private.utils import read_ray_address
    except ImportError:  # pragma: no cover - ray is a dependency
        return []
    found: list[str] = []
    try:
        recorded = read_ray_address(None)
        candidates = [recorded] if recorded else []
        candidates.extend(sorted(services.find_gcs_addresses()))  # type: ignore[no-untyped-call]
    except (OSError, RuntimeError, ValueError) as exc:
        logger.debug("looking for a local Ray failed: %s", exc)
        return []
    for address in candidates:
        if address and address not in found and ray_address_reachable(address, 1.0):
            found.append(address)
    return found


def dashboard_dependencies_installed() -> bool:
    """Whether the packages of ``ray[default]`` that the dashboard needs are importable."""
    return all(importlib.util.find_spec(name) is not None for name in DASHBOARD_MODULES)


@dataclass(frozen=True)
class DashboardPlan:
    """Whether a local Ray should start its dashboard, and the line that says so.

    Attributes:
        include: pass as ``ray.init(include_dashboard=...)``.
        message: ``Ray dashboard: ...`` for the operator.
    """

    include: bool
    message: str


def dashboard_plan(*, requested: bool, installed: bool) -> DashboardPlan:
    """Decide about the dashboard of a local Ray (pure).

    Args:
        requested: ``False`` with ``--no-dashboard``.
        installed: :func:`dashboard_dependencies_installed`.
    """
    if not requested:
        return DashboardPlan(False, "Ray dashboard: off (--no-dashboard)")
    if not installed:
        return DashboardPlan(False, f"Ray dashboard: not available ({DASHBOARD_INSTALL_HINT})")
    return DashboardPlan(True, f"Ray dashboard: {DASHBOARD_ADDRESS}")
