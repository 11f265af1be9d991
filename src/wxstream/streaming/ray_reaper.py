"""The reaper of a local Ray: a small process that outlives the service by a moment and
removes the Ray processes the service started, whatever way the service ended.

Ray ties most of its processes to the driver (the GCS, the raylet and the workers die
with it), but its agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``) only notice
the raylet's death and then spend about a minute trying to report it to the GCS that
died too. After a ``SIGKILL`` of ``serve`` they linger for 1-2 minutes (about 80 MiB
each, one still listening), and a supervisor that restarts ``serve`` piles them up.

:func:`start_reaper` starts ``python -m wxstream.streaming.ray_reaper`` in its own
session (a signal to the service's process group does not reach it) with a pipe as
its stdin, and writes one ``pid create_time`` line per Ray process once Ray is up. The
reaper reads until end of file, which comes when the service closes the pipe
(:meth:`Reaper.close`, after ``ray.shutdown()``) or when the service dies (the kernel
closes the pipe of a dead process, ``SIGKILL`` included). Then it kills every listed
process still running (the creation time tells it from a process that reused the pid),
with its descendants, and exits.
"""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
from collections.abc import Iterable
from typing import IO

import psutil

logger = logging.getLogger(__name__)

_WAIT_S = 5.0


class Reaper:
    """The running reaper process, as the service sees it."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process

    @property
    def pid(self) -> int:
        """The reaper's process id."""
        return self.process.pid

    def watch(self, processes: Iterable[psutil.Process]) -> int:
        """Hand ``processes`` to the reaper; how many were handed over."""
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return 0
        lines = []
        for proc in processes:
            try:
                lines.append(f"{proc.pid} {proc.create_time()!r}\n")
            except psutil.Error:
                continue  # already gone: nothing to reap
        try:
            stdin.write("".join(lines).encode())
            stdin.flush()
        except OSError:
            return 0  # the reaper is gone; Ray's own clean-up still runs
        return len(lines)

    def close(self) -> None:
        """End of the service: the reaper removes what is left of Ray and exits."""
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            with contextlib.suppress(OSError):  # the reaper is gone already
                stdin.close()
        try:
            self.process.wait(timeout=_WAIT_S)
        except subprocess.TimeoutExpired:
            logger.warning("Ray reaper pid %d still running; leaving it", self.process.pid)


def start_reaper() -> Reaper:
    """Start the reaper of the processes this process hands it (see :meth:`Reaper.watch`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wxstream.streaming.ray_reaper"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    return Reaper(process)


def ray_descendants(root: psutil.Process | None = None) -> list[psutil.Process]:
    """Every process below ``root`` (this process by default): Ray's, once it is up."""
    try:
        return (root or psutil.Process()).children(recursive=True)
    except psutil.Error:
        return []


def _read_watched(stdin: IO[bytes]) -> list[tuple[int, float]]:
    watched: list[tuple[int, float]] = []
    for raw in stdin:
        fields = raw.split()
        if len(fields) == 2:
            try:
                watched.append((int(fields[0]), float(fields[1])))
            except ValueError:
                continue
    return watched


def reap(watched: Iterable[tuple[int, float]]) -> int:
    """Kill every watched process still running, with its descendants; how many."""
    victims: list[psutil.Process] = []
    for pid, created in watched:
        try:
            proc = psutil.Process(pid)
            if proc.create_time() != created:
                continue  # the pid now belongs to another process
            victims.extend([proc, *proc.children(recursive=True)])
        except psutil.Error:
            continue
    killed = 0
    for proc in victims:
        try:
            proc.kill()
            killed += 1
        except psutil.Error:
            continue
    # No waiting: the dead are their parents' (or init's) to reap.
    return killed


def main() -> None:
    """Read ``pid create_time`` lines until end of file, then reap them."""
    # Lines come until the service closes the pipe or dies; then clean up.
    reap(_read_watched(sys.stdin.buffer))


if __name__ == "__main__":
    main()
