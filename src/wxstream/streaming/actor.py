"""The Ray inference actor: loads a model directory once, forecasts a batch per call.

A thin shell around :meth:`wxstream.models.ForecastingModel.predict`. With a
challenger it holds both versions and :meth:`InferenceActor.predict_pair` forecasts a
batch with each in one call, so that the pair comes from one batch. Placement is
decided by :func:`actor_options` (pure): where the cluster has a GPU and GPUs are
allowed, every actor asks for ``gpu_fraction`` of one (0.25: four actors share a GPU)
and runs on CUDA; otherwise it runs on CPU. Ray restarts a dead actor
(``max_restarts``) and retries its unfinished calls (``max_task_retries``); the
:mod:`~wxstream.streaming.actor_pool` re-submits a call that still failed to a live actor.
"""

from __future__ import annotations

import logging
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wxstream.errors import RayUnavailableError
from wxstream.streaming.version_shelf import VersionShelf

logger = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ActorPlacement:
    """How the inference actors are placed.

    Attributes:
        device: ``cuda`` or ``cpu``, what each actor runs the model on.
        num_gpus: GPU fraction each actor asks Ray for (0 on CPU).
        num_cpus: CPUs each actor asks Ray for.
        max_restarts: Ray restarts of a dead actor (-1: without limit).
        max_task_retries: Ray retries of a call whose actor died (-1: without limit).
        spread: place the actors on as many nodes as possible (Ray's ``SPREAD``), so
            that a node lost takes only its share of them; a restarted actor goes to
            any live node.
    """

    device: str
    num_gpus: float
    num_cpus: float
    max_restarts: int
    max_task_retries: int
    spread: bool = False

    def ray_options(self) -> dict[str, Any]:
        """Keyword arguments for ``ActorClass.options(...)``."""
        options: dict[str, Any] = {
            "num_cpus": self.num_cpus,
            "num_gpus": self.num_gpus,
            "max_restarts": self.max_restarts,
            "max_task_retries": self.max_task_retries,
        }
        if self.spread:
            options["scheduling_strategy"] = "SPREAD"
        return options


def actor_options(
    *,
    cluster_gpus: float,
    use_gpu: bool,
    gpu_fraction: float,
    num_cpus: float,
    max_restarts: int = -1,
    max_task_retries: int = 2,
    spread: bool = False,
) -> ActorPlacement:
    """Decide where actors run (pure).

    Args:
        cluster_gpus: GPUs Ray reports for the cluster.
        use_gpu: ``False`` forces CPU (``--no-gpu``).
        gpu_fraction: share of one GPU per actor, in (0, 1].
        num_cpus: CPUs per actor.
        max_restarts: Ray actor restarts.
        max_task_retries: Ray retries of a call whose actor died.
        spread: spread the actors over the cluster's nodes.
    """
    if use_gpu and cluster_gpus > 0:
        return ActorPlacement(
            "cuda", gpu_fraction, num_cpus, max_restarts, max_task_retries, spread
        )
    return ActorPlacement("cpu", 0.0, num_cpus, max_restarts, max_task_retries, spread)


def peak_rss_bytes() -> int:
    """Peak resident set size of this process, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass(frozen=True)
class ActorInfo:
    """What an actor reports about itself."""

    model_name: str
    model_version: str
    device: str
    runtime: str
    pid: int
    peak_rss_bytes: int
    calls: int
    forecasts: int
    load_s: float
    challenger_version: str | None = None


@dataclass(frozen=True)
class DeviceInfo:
    """The accelerator an actor runs on, as its own process sees it.

    Attributes:
        device: ``cuda`` or ``cpu``, what the model runs on.
        runtime: the inference backend (``torch``, ``onnxruntime``, ``numpy``).
        pid: the actor's process id.
        ray_gpu_ids: GPU ids Ray assigned (what it exports as ``CUDA_VISIBLE_DEVICES``).
        cuda_index: ``torch.cuda.current_device()`` (``None`` on CPU).
        cuda_name: the CUDA device's name (``None`` on CPU).
        cuda_uuid: the CUDA device's UUID, which names the physical GPU (``None`` on CPU).
    """

    device: str
    runtime: str
    pid: int
    ray_gpu_ids: tuple[str, ...]
    cuda_index: int | None
    cuda_name: str | None
    cuda_uuid: str | None


def _ray_gpu_ids() -> tuple[str, ...]:
    try:
        import ray

        ids = ray.get_runtime_context().get_accelerator_ids().get("GPU", [])
    except (ImportError, RuntimeError):
        return ()
    return tuple(str(i) for i in ids)


class InferenceActor:
    """Holds the loaded :class:`~wxstream.models.ForecastingModel` of each version it
    serves, by role (``champion``, and ``challenger`` when given) (Ray actor body)."""

    def __init__(
        self,
        model_dir: str,
        device: str = "cpu",
        intra_op_threads: int = 1,
        runtime: str | None = None,
        challenger_dir: str | None = None,
    ) -> None:
        from wxstream.models.model_loader import load_model

        began = time.perf_counter()
        dirs = {"champion": model_dir}
        if challenger_dir is not None:
            dirs["challenger"] = challenger_dir
        self._models = {
            role: load_model(Path(path), device, runtime=runtime, intra_op_threads=intra_op_threads)
            for role, path in dirs.items()
        }
        self._model = self._models["champion"]
        self._load_s = time.perf_counter() - began
        self._calls = 0
        self._forecasts = 0
        self._load_args = (device, runtime, intra_op_threads)
        # Versions for a live swap, by directory (see VersionShelf).
        self._shelf = VersionShelf(self._load_dir)
        for role, path in dirs.items():
            self._shelf.put(path, self._models[role])

    def _load_dir(self, path: str) -> Any:
        from wxstream.models.model_loader import load_model

        device, runtime, threads = self._load_args
        return load_model(Path(path), device, runtime=runtime, intra_op_threads=threads)

    def begin_load(self, path: str) -> None:
        """Start loading the version in ``path`` on a thread of its own: calls keep
        being served meanwhile (see :meth:`load_state`)."""
        self._shelf.begin(path)

    def load_state(self, path: str) -> str:
        """``ready``, ``loading``, or ``failed: WHY`` for a :meth:`begin_load`."""
        return self._shelf.state(path)

    def check_version(self, path: str, x: F32) -> F32:
        """The loaded version in ``path``'s forecasts of ``x`` (the warm-up check)."""
        return np.asarray(self._shelf.get(path).predict(x), dtype=np.float32)

    def predict_dirs(self, x: F32, champion: str, challenger: str | None) -> Any:
        """Forecast a batch with the versions in these directories (loaded first when
        missing: a restarted actor starts with the versions it was created with).

        Returns:
            the champion's forecasts, or the pair when a challenger is given.
        """
        model = self._model = self._shelf.get(champion)
        out = model.predict(x)
        self._calls += 1
        self._forecasts += int(out.shape[0])
        if challenger is None:
            return out
        return out, self._shelf.get(challenger).predict(x)

    def predict(self, x: F32) -> F32:
        """Forecast a batch: ``(B, lookback, F)`` raw inputs -> ``(B, horizon, 3)`` degC."""
        out = self._model.predict(x)
        self._calls += 1
        self._forecasts += int(out.shape[0])
        return out

    def predict_pair(self, x: F32) -> tuple[F32, F32]:
        """The champion's and the challenger's forecasts of the same batch."""
        champion = self._model.predict(x)
        challenger = self._models["challenger"].predict(x)
        self._calls += 1
        self._forecasts += int(champion.shape[0])
        return champion, challenger

    def __repr__(self) -> str:
        # Ray records this as the actor's repr_name: `wxstream status` reads it from there.
        model = getattr(self, "_model", None)
        if model is None:
            return "InferenceActor(loading)"
        described = f"model={model.name}, version={model.version}, device={model.device}"
        return f"InferenceActor({described})"

    def info(self) -> ActorInfo:
        """Model, device, process id, peak RSS and call counts of this actor."""
        model = self._model
        return ActorInfo(
            model_name=model.name,
            model_version=model.version,
            device=model.device,
            runtime=model.runtime,
            pid=os.getpid(),
            peak_rss_bytes=peak_rss_bytes(),
            calls=self._calls,
            forecasts=self._forecasts,
            load_s=self._load_s,
            challenger_version=self._models["challenger"].version
            if "challenger" in self._models
            else None,
        )

    def device_info(self) -> DeviceInfo:
        """The device this actor's model runs on; torch is imported only on CUDA."""
        model = self._model
        index: int | None = None
        name: str | None = None
        uuid: str | None = None
        if model.device == "cuda":
            import torch

            index = int(torch.cuda.current_device())
            props = torch.cuda.get_device_properties(index)
            name = str(props.name)
            uuid = str(getattr(props, "uuid", "")) or None
        return DeviceInfo(
            device=model.device,
            runtime=model.runtime,
            pid=os.getpid(),
            ray_gpu_ids=_ray_gpu_ids(),
            cuda_index=index,
            cuda_name=name,
            cuda_uuid=uuid,
        )


def spawn_actors(
    count: int,
    model_dir: Path,
    placement: ActorPlacement,
    *,
    intra_op_threads: int = 1,
    ready_timeout_s: float = 120.0,
    runtime: str | None = None,
    challenger_dir: Path | None = None,
) -> list[Any]:
    """Create ``count`` inference actors and wait until each loaded its model (and the
    challenger from ``challenger_dir``, when given).

    ``runtime`` forces an inference backend (see :func:`~wxstream.models.model_loader.load_model`);
    ``None`` keeps the measured default for the placement's device.

    Raises:
        RayUnavailableError: an actor could not be created or failed to load the model.
    """
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError, RayError

    remote_cls: Any = ray.remote(InferenceActor).options(**placement.ray_options())
    actors: list[Any] = [
        remote_cls.remote(
            str(model_dir),
            placement.device,
            intra_op_threads,
            runtime,
            None if challenger_dir is None else str(challenger_dir),
        )
        for _ in range(count)
    ]
    try:
        infos: list[ActorInfo] = ray.get(
            [actor.info.remote() for actor in actors], timeout=ready_timeout_s
        )
    except (RayActorError, GetTimeoutError, RayError) as exc:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        raise RayUnavailableError(
            f"inference actors did not start: {exc}",
            fix="check that the model directory loads (`wxstream models list`) and that the "
            "Ray cluster has the CPUs/GPUs the actors ask for (--num-actors, --gpu-fraction)",
        ) from exc
    for info in infos:
        logger.info(
            "actor pid %d: model %s v%s on %s (%s), loaded in %.2f s, peak RSS %.0f MiB",
            info.pid,
            info.model_name,
            info.model_version,
            info.device,
            info.runtime,
            info.load_s,
            info.peak_rss_bytes / 2**20,
        )
    return actors
