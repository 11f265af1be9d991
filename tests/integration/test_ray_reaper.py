"""The reaper of a local Ray, on plain processes: it kills what it was handed (with
descendants) once the pipe from its owner closes, and nothing else."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil

from wxstream.streaming.ray_reaper import reap, start_reaper


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])


def _wait_gone(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> bool:
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return False
    return True


def test_closing_the_pipe_reaps_the_watched_processes_only() -> None:
    watched, spared = _sleeper(), _sleeper()
    try:
        reaper = start_reaper()
        assert reaper.watch([psutil.Process(watched.pid)]) == 1
        time.sleep(0.5)  # the reaper is still waiting: nothing killed yet
        assert watched.poll() is None
        reaper.close()
        assert _wait_gone(watched)
        assert reaper.process.returncode == 0
        assert spared.poll() is None
    finally:
        for proc in (watched, spared):
            proc.kill()
            proc.wait()


def test_the_reaper_acts_when_its_owner_is_killed() -> None:
    # The owner hands its child to a reaper and is killed: the kernel closes the pipe.
    owner = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time, psutil\n"
            "from wxstream.streaming.ray_reaper import start_reaper\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
            "start_reaper().watch([psutil.Process(child.pid)])\n"
            "print(child.pid, flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    with owner.stdout:
        child = psutil.Process(int(owner.stdout.readline()))
    owner.kill()
    owner.wait()
    gone, _ = psutil.wait_procs([child], timeout=30)
    assert gone, "the child outlived its killed owner"


def test_a_reused_pid_is_not_killed() -> None:
    other = _sleeper()
    try:
        created = psutil.Process(other.pid).create_time()
        assert reap([(other.pid, created - 100.0)]) == 0
        assert other.poll() is None
        assert reap([(other.pid, created)]) == 1
        assert _wait_gone(other)
    finally:
        other.kill()
        other.wait()
