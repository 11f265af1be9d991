"""Tune the LSTM preset: train one configuration on a source and score it on the test period.

Usage::

    .venv/bin/python benchmarks/tune_model.py five-cities '{"lookback": 48, "epochs": 12}' \
        [--max-train-samples 60000] [--lightgbm] [--log benchmarks/tuning-log.jsonl]

Prints (and appends to ``--log``) one JSON line: the overrides, the sample counts and the
model's MAE at 1, 6, 24 h with the persistence baselines, the p10-p90 coverage, and the
LightGBM MAE when ``--lightgbm`` is given. ``wxstream evaluate --train`` remains the
reference measurement; this script only shortens the loop.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from wxstream.data import get_split, load_source
from wxstream.models.config import get_preset
from wxstream.models.evaluation_run import EvaluationSettings, evaluate, prepare_rows
from wxstream.models.evaluation_splits import split_rows
from wxstream.models.forecasting_model import ForecastingModel
from wxstream.models.lightgbm_baseline import LightGBMSettings
from wxstream.models.training import train_model


def main() -> None:
    """Parse arguments, train, evaluate, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source")
    parser.add_argument("overrides", help="JSON object of ModelConfig overrides")
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--max-train-samples", type=int, default=None)
    parser.add_argument("--lightgbm", action="store_true")
    parser.add_argument("--log", type=Path, default=None)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    overrides = json.loads(args.overrides)
    config = get_preset(args.preset).with_overrides(**overrides)
    settings = EvaluationSettings(lightgbm=LightGBMSettings() if args.lightgbm else None)
    split = get_split(args.source)
    rows = prepare_rows(load_source(args.source, args.data_dir), settings)
    began = time.perf_counter()
    result = train_model(
        split_rows(rows, split.train),
        split_rows(rows, split.validation),
        config,
        progress=False,
        max_train_samples=args.max_train_samples,
        device=args.device,
    )
    train_s = time.perf_counter() - began
    model = ForecastingModel.from_bundle(result.to_bundle("tuning"), intra_op_threads=2)
    report = evaluate(rows, split, model, settings)
    methods = report["methods"]
    picked = [h for h in ("1", "6", "24") if h in methods["model"]["mae"]]
    line = {
        "source": args.source,
        "preset": args.preset,
        "overrides": overrides,
        "max_train_samples": args.max_train_samples,
        "device": args.device,
        "train_s": round(train_s, 1),
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "samples": report["samples"],
        "mae": {name: {h: m["mae"][h] for h in picked} for name, m in methods.items()},
        "coverage_mean": round(
            sum(methods["model"]["coverage_p10_p90"].values())
            / len(methods["model"]["coverage_p10_p90"]),
            4,
        ),
        "raw_coverage_1_6_24": {
            h: report["calibration"].get("raw_coverage_p10_p90", {}).get(h) for h in picked
        },
        "goal": {c["criterion"]: c["met"] for c in report["goal"]},
    }
    text = json.dumps(line)
    print(text)
    if args.log is not None:
        with args.log.open("a", encoding="utf-8") as fh:
            fh.write(text + "\n")


if __name__ == "__main__":
    main()
