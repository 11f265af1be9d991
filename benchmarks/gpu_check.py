"""GPU check: four inference actors share one GPU; forecasts/s against the same actors on CPU.

Starts a local Ray (``num_gpus=1`` where CUDA is available), creates ``--actors``
:class:`~wxstream.streaming.actor.InferenceActor` instances with
``--gpu-fraction`` of the GPU each (the service's own placement,
:func:`~wxstream.streaming.actor.actor_options`, and actor factory,
:func:`~wxstream.streaming.actor.spawn_actors`), asserts that every actor
runs on the same single CUDA device, then times ``--batch-size`` batches per actor,
all actors at once, for ``--seconds``. The same is then measured with CPU actors
(the ``--no-gpu`` placement). Each call is ``actor.predict.remote(x)`` with numpy in
and numpy out, so the host-device copies are timed too.

    PYTHONPATH=src python benchmarks/gpu_check.py --model-dir models/trained/forecasting/NAME
    PYTHONPATH=src python benchmarks/gpu_check.py --make-model --json out/gpu_check.json
    PYTHONPATH=src python benchmarks/gpu_check.py --make-model --allow-cpu-only  # no GPU

Inputs are random normal arrays: the figures are throughput only. ``--make-model`` writes
a model directory of the default architecture with random weights (no training).

Exit status: 0 when the check passed, 1 when the actors did not share one CUDA device,
2 when there is no CUDA device and ``--allow-cpu-only`` was not given (or no model).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from wxstream.streaming.actor import (
    DeviceInfo,
    actor_options,
    spawn_actors,
)

DEFAULT_MODELS = Path("models/trained/forecasting")
IN_FLIGHT_PER_ACTOR = 2


def make_random_model(target: Path, *, seed: int = 0) -> Path:
    """Write a model directory of the default architecture with random weights to ``target``.

    Uses the project's model-directory writer, so the directory is what ``wxstream train``
    writes, except that the weights are untrained (PyTorch's initial distribution).
    """
    from wxstream.models.config import ModelConfig
    from wxstream.models.config_derived import adapter_for, model_metadata, network_spec
    from wxstream.models.model_dir import ModelBundle, write_model_dir
    from wxstream.models.scalers import AffineScaler

    config = ModelConfig()
    spec = network_spec(config)
    rng = np.random.default_rng(seed)
    bound = 1.0 / np.sqrt(spec.hidden_size)
    weights = {
        name: rng.uniform(-bound, bound, size=shape).astype(np.float32)
        for name, shape in spec.weight_shapes().items()
    }
    n_in = len(config.inputs)
    metadata = model_metadata(config, target.name)
    metadata.update(
        {
            "data": {"sources": []},
            "training": {"random_weights": True, "note": "untrained, for throughput checks only"},
            "metrics": {},
        }
    )
    bundle = ModelBundle(
        metadata=metadata,
        weights=weights,
        scaler_x=AffineScaler(tuple(config.inputs), (0.0,) * n_in, (1.0,) * n_in),
        scaler_y=AffineScaler(
            tuple(f"lead_{h}h" for h in config.leads_h),
            (0.0,) * config.horizon,
            (1.0,) * config.horizon,
        ),
        adapter=adapter_for(config),
    )
    return write_model_dir(target.parent, target.name, bundle, overwrite=True)


def newest_model(root: Path) -> Path | None:
    """The newest readable model directory under ``root`` (``None`` when there is none)."""
    from wxstream.models.model_loader import list_models

    readable = [e for e in list_models(root) if e.metadata is not None]
    return readable[-1].path if readable else None


def same_cuda_device(infos: list[DeviceInfo]) -> str | None:
    """``None`` when every actor runs on one and the same CUDA device, else what differs."""
    if not infos:
        return "no actor reported a device"
    off_gpu = [i.pid for i in infos if i.device != "cuda"]
    if off_gpu:
        return f"actors {off_gpu} do not run on CUDA"
    # The UUID names the physical GPU; Ray's ids and the torch index say how it was exposed.
    seen = {(i.cuda_uuid, i.cuda_name, i.ray_gpu_ids, i.cuda_index) for i in infos}
    if len(seen) != 1:
        return f"actors report {len(seen)} different CUDA devices: {sorted(map(str, seen))}"
    gpu_ids = infos[0].ray_gpu_ids
    if len(gpu_ids) != 1:
        return f"each actor sees {len(gpu_ids)} GPUs ({list(gpu_ids)}), expected exactly one"
    return None


def throughput(
    actors: list[Any], x: np.ndarray, seconds: float
) -> tuple[list[dict[str, Any]], float]:
    """Call ``predict`` on every actor at once for ``seconds``; per-actor rows and total/s.

    Each actor keeps ``IN_FLIGHT_PER_ACTOR`` calls queued so that it never waits for the
    driver; a call counts when its result (numpy, back on the host) has arrived.
    """
    import ray

    x_ref = ray.put(x)
    # One call each first: model warm-up (cuDNN plans, ONNX Runtime allocations).
    ray.get([a.predict.remote(x_ref) for a in actors])
    batch = int(x.shape[0])
    counts = [0] * len(actors)
    last_done = [0.0] * len(actors)
    owner: dict[Any, int] = {}
    start = time.perf_counter()
    deadline = start + seconds
    for index, actor in enumerate(actors):
        for _ in range(IN_FLIGHT_PER_ACTOR):
            owner[actor.predict.remote(x_ref)] = index
    while owner:
        done, _ = ray.wait(list(owner), num_returns=1)
        for ref in done:
            index = owner.pop(ref)
            ray.get(ref)
            now = time.perf_counter()
            counts[index] += batch
            last_done[index] = now
            if now < deadline:
                owner[actors[index].predict.remote(x_ref)] = index
    elapsed = max(last_done) - start
    rows = [
        {
            "actor": i,
            "forecasts": counts[i],
            "elapsed_s": round(last_done[i] - start, 3),
            "forecasts_per_s": counts[i] / (last_done[i] - start),
        }
        for i in range(len(actors))
    ]
    return rows, sum(counts) / elapsed


def cpu_runtime(requested: str) -> str:
    """The CPU actors' backend: ``auto`` is the service's (ONNX Runtime) where installed.

    A GPU machine may lack onnx/onnxruntime; torch on the CPU is then the comparison.
    """
    if requested != "auto":
        return requested
    installed = all(importlib.util.find_spec(m) is not None for m in ("onnx", "onnxruntime"))
    return "onnxruntime" if installed else "torch"


def measure(
    model_dir: Path,
    *,
    use_gpu: bool,
    cluster_gpus: float,
    cpus_per_actor: float,
    args: argparse.Namespace,
) -> tuple[dict[str, Any], list[DeviceInfo]]:
    """Spawn the actors with the service's placement, report their devices and throughput."""
    import ray

    placement = actor_options(
        cluster_gpus=cluster_gpus,
        use_gpu=use_gpu,
        gpu_fraction=args.gpu_fraction,
        num_cpus=cpus_per_actor,
    )
    runtime = None if use_gpu else cpu_runtime(args.cpu_runtime)
    actors = spawn_actors(
        args.actors, model_dir, placement, intra_op_threads=args.threads, runtime=runtime
    )
    try:
        infos: list[DeviceInfo] = ray.get([a.device_info.remote() for a in actors])
        meta = json.loads((model_dir / "metadata.json").read_text(encoding="utf-8"))
        rng = np.random.default_rng(0)
        x = rng.normal(size=(args.batch_size, meta["lookback"], len(meta["features"])))
        rows, total = throughput(actors, x.astype(np.float32), args.seconds)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    summary = {
        "placement": {"device": placement.device, **placement.ray_options()},
        "devices": [asdict(i) for i in infos],
        "per_actor": rows,
        "total_forecasts_per_s": total,
    }
    return summary, infos


def _table(result: dict[str, Any]) -> str:
    lines = [f"{'half':<5} {'actor':>5} {'pid':>8} {'device':<44} {'forecasts/s':>14}"]
    for half in ("gpu", "cpu"):
        part = result.get(half)
        if not part:
            continue
        for row, dev in zip(part["per_actor"], part["devices"], strict=True):
            where = f"{dev['device']} ({dev['runtime']})"
            if dev["cuda_name"]:
                gpu_ids = ",".join(dev["ray_gpu_ids"])
                where = f"cuda:{dev['cuda_index']} {dev['cuda_name']} (Ray GPU {gpu_ids})"
            lines.append(
                f"{half:<5} {int(row['actor']):>5} {dev['pid']:>8} {where[:44]:<44} "
                f"{row['forecasts_per_s']:>14,.0f}"
            )
        lines.append(
            f"{half:<5} {'total':>5} {'':>8} {'':<44} {part['total_forecasts_per_s']:>14,.0f}"
        )
    if result.get("gpu_over_cpu"):
        lines.append(f"GPU total / CPU total: {result['gpu_over_cpu']:.2f}x")
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=None, help="model directory")
    parser.add_argument(
        "--make-model",
        action="store_true",
        help="write a random-weight model of the default architecture (to --model-dir, "
        "or a temporary folder) and use it",
    )
    parser.add_argument("--actors", type=int, default=4)
    parser.add_argument("--gpu-fraction", type=float, default=0.25)
    parser.add_argument(
        "--cpus-per-actor",
        type=float,
        default=None,
        help="CPUs each actor asks Ray for (default: 1, less where the machine has fewer)",
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per actor call")
    parser.add_argument(
        "--cpu-runtime",
        choices=("auto", "onnxruntime", "torch", "numpy"),
        default="auto",
        help="backend of the CPU actors (auto: onnxruntime where installed, else torch)",
    )
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--allow-cpu-only", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the result here")
    return parser.parse_args(argv)


def _cuda_available() -> bool:
    from wxstream.models.runtime import resolve_device

    return resolve_device("auto") == "cuda"


def main(argv: list[str] | None = None) -> int:  # noqa: C901
    """Run the check; the exit status (see the module docstring)."""
    import ray

    args = parse_args(argv)
    cuda = _cuda_available()
    if not cuda and not args.allow_cpu_only:
        print(
            "error: no CUDA device is visible (torch.cuda.is_available() is false); this "
            "check needs one NVIDIA GPU. Pass --allow-cpu-only to run the CPU half only.",
            file=sys.stderr,
        )
        return 2
    random_weights = bool(args.make_model)
    if args.make_model:
        target = args.model_dir or Path(tempfile.mkdtemp(prefix="gpu-check-")) / "random"
        model_dir = make_random_model(target)
    else:
        found = args.model_dir or newest_model(DEFAULT_MODELS)
        if found is None:
            print(
                f"error: no model under {DEFAULT_MODELS}; pass --model-dir DIR or --make-model",
                file=sys.stderr,
            )
            return 2
        model_dir = found
    print(f"model: {model_dir}" + (" (random weights: throughput only)" if random_weights else ""))
    if not cuda:
        print("no CUDA device: running the CPU half only")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(num_gpus=1 if cuda else 0, include_dashboard=False, logging_level=logging.WARNING)
    result: dict[str, Any] = {
        "model_dir": str(model_dir),
        "random_weights": random_weights,
        "inputs": "random normal (throughput only)",
        "actors": args.actors,
        "gpu_fraction": args.gpu_fraction,
        "batch_size": args.batch_size,
        "seconds": args.seconds,
        "cuda": cuda,
        "gpu": None,
        "cpu": None,
        "gpu_over_cpu": None,
    }
    status = 0
    try:
        # ray.cluster_resources is not annotated upstream.
        cluster_resources: Any = ray.cluster_resources
        resources = cluster_resources()
        gpus = float(resources.get("GPU", 0.0))
        cpus = args.cpus_per_actor or min(1.0, float(resources.get("CPU", 1.0)) / args.actors)
        result["cpus_per_actor"] = cpus
        if cuda:
            result["gpu"], infos = measure(
                model_dir, use_gpu=True, cluster_gpus=gpus, cpus_per_actor=cpus, args=args
            )
            problem = same_cuda_device(infos)
            result["same_cuda_device"] = problem is None
            if problem is not None:
                print(f"FAIL: {problem}", file=sys.stderr)
                status = 1
        result["cpu"], _ = measure(
            model_dir, use_gpu=False, cluster_gpus=gpus, cpus_per_actor=cpus, args=args
        )
    finally:
        if started_here:
            ray.shutdown()
    if result["gpu"] and result["cpu"]:
        result["gpu_over_cpu"] = (
            result["gpu"]["total_forecasts_per_s"] / result["cpu"]["total_forecasts_per_s"]
        )
    print(_table(result))
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
