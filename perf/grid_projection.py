"""Projected CPU-hours of a sweep preset's grid under its full protocol, from measured epochs.

For every model of the preset (default ``results``: the results table's grid)
this measures one epoch of the real training loop (`baselines.train.fit`,
channels-last CPU path, validation pass included) on random one-hot data of
the synthetic split sizes (17,500 train, 2,500 validation; ``--n`` trains
fewer sequences and scales), at ``--threads`` threads, and multiplies by the
number of epochs a run takes:

* lower bound: the bundled runs' best epoch (``space_app/baseline_models``,
  trained with patience 6, so the full protocol's best epoch is at least
  that) + the protocol's patience (20), capped at its 100 epochs; models
  without a bundled run take the median of those that have one;
* upper bound: the protocol's epoch cap (100).

Prints per model seconds per epoch, runs in the grid and hours, then the
totals, and the one command that runs the grid.

Usage: python perf/grid_projection.py [--preset results] [--threads 1] [--n 3500]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from baselines.data import DataBundle
from baselines.model import build_model
from baselines.protocols import get_protocol
from baselines.sweep import get_preset
from baselines.train import fit, reproducible
from baselines.zoo import get_spec

N_TRAIN, N_VALID, LENGTH = 17_500, 2_500, 200
BUNDLED = Path(__file__).resolve().parent.parent / "space_app" / "baseline_models"


def random_split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, LENGTH))].transpose(0, 2, 1)
    return np.ascontiguousarray(x), (rng.random((n, 12)) < 0.2).astype(np.float32)


def seconds_per_epoch(name: str, n: int, threads: int) -> float:
    """One fit epoch (train on n scaled to 17,500, plus the full 2,500-sequence validation pass)."""
    train, valid = random_split(n, 0), random_split(N_VALID, 1)
    data = DataBundle.from_arrays(train, valid, valid)
    device = torch.device("cpu")
    with reproducible(device, 0, threads):
        model = build_model(get_spec(name), "relu", LENGTH)
        t0 = time.perf_counter()
        with torch.inference_mode():
            model.eval()
            model(data.valid.x[:1000])
        valid_probe = time.perf_counter() - t0
        history = fit(model, data, get_protocol("koo2019", epochs=1), device=device, seed=0, progress=False).history
    epoch = history[0]["seconds"]
    valid_seconds = valid_probe * N_VALID / 1000
    return (epoch - valid_seconds) * N_TRAIN / n + valid_seconds


def bundled_best_epochs() -> dict[str, list[int]]:
    best: dict[str, list[int]] = {}
    for spec in BUNDLED.glob("*/spec.json"):
        record = json.loads(spec.read_text())
        best.setdefault(record["zoo_name"], []).append(record["best_epoch"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="results")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--n", type=int, default=3_500, help="train sequences actually run (scaled to 17,500)")
    parser.add_argument("--eval-seconds", type=float, default=90.0,
                        help="evaluator time per run, both PPM methods (default 90: `motifbench results score` "
                        "took 64-120 s per bundled run on the shared 2-core machine)")
    args = parser.parse_args()
    preset = get_preset(args.preset)
    protocol = get_protocol(preset.protocol)
    runs: dict[str, int] = {}
    for models, activations, seeds in preset.cells():
        for m in models:
            runs[m] = runs.get(m, 0) + len(activations) * len(seeds)
    best = bundled_best_epochs()
    fallback = statistics.median(b for values in best.values() for b in values) if best else protocol.epochs
    print(f"preset {preset.name}: {sum(runs.values())} runs, protocol {protocol.name} (up to {protocol.epochs} epochs, "
          f"patience {protocol.patience}); {args.threads} thread(s), torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'model':<13} {'s/epoch':>8} {'runs':>5} {'epochs lo-hi':>13} {'hours lo-hi':>12}")
    total_lo = total_hi = 0.0
    for name, count in runs.items():
        sec = seconds_per_epoch(name, args.n, args.threads)
        measured = best.get(name)
        base = statistics.mean(measured) if measured else fallback
        lo_epochs = min(protocol.epochs, base + protocol.patience)
        lo, hi = sec * lo_epochs * count / 3600, sec * protocol.epochs * count / 3600
        total_lo, total_hi = total_lo + lo, total_hi + hi
        print(f"{name:<13} {sec:8.2f} {count:5d} {lo_epochs:6.0f}-{protocol.epochs:<6d} {lo:5.1f}-{hi:<6.1f}"
              + ("" if measured else "  (epochs: median of bundled runs)"), flush=True)
    scoring = args.eval_seconds * sum(runs.values()) / 3600
    print(f"\nprojected training time of the grid at {args.threads} thread(s) per run: {total_lo:.1f}-{total_hi:.1f} "
          f"hours of one run slot, plus {scoring:.1f} h of scoring (--evaluate, both PPM methods); divide by the "
          "slots running at once (e.g. Ray workers)")
    print(f"command: motifbench sweep --preset {preset.name} --out grid --evaluate --threads {args.threads} "
          "--no-progress   (resumable: rerun the same command)")


if __name__ == "__main__":
    main()
