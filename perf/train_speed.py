"""Training speed of the baseline zoo on this machine's CPU.

Prints, for cnn-25, cnn-2 and cnn-1 on 17,500 random one-hot sequences of
200 nt (the synthetic train split size), batch 100, koo2019 optimiser:

* seconds per epoch through `baselines.train.fit` (the real code path: tensor
  batches by permutation, BCE, Adam with L2 as weight decay), per thread count;
* the same epoch for an equivalent Keras model when TensorFlow is installed, as
  the ratio ours / Keras (skipped, with a note, when it is not);
* achieved GFLOP/s (conv and dense FLOPs counted analytically, training step
  taken as 3x the forward pass) against a measured float32 matmul peak
  (``torch.matmul`` of 2048 x 2048 matrices) at the same thread count;
* optionally (``--compile``) the step loop under ``torch.compile``;
* the same 2-thread epoch with OpenMP spinning (``OMP_WAIT_POLICY=ACTIVE``)
  against the passive waiting that ``baselines`` sets by default.

Each measurement runs in a fresh child process, because OpenMP reads its
wait policy once, when torch loads.

Usage: python perf/train_speed.py [--models cnn-25,cnn-2,cnn-1] [--threads 1,2] [--n 17500] [--compile]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
from torch.nn import functional as F

from baselines.data import DataBundle
from baselines.model import build_model
from baselines.protocols import get_protocol
from baselines.train import BatchFeeder, _optimizer, fit, reproducible
from baselines.zoo import get_spec

N_TRAIN = 17_500
LENGTH = 200


def random_data(n: int, length: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1)
    y = (rng.random((n, 12)) < 0.2).astype(np.float32)
    return np.ascontiguousarray(x), y


def forward_flops(name: str, length: int) -> int:
    """Multiply-adds x 2 of every conv and dense layer for one sequence."""
    spec = get_spec(name).for_length(length)
    flops, channels = 0, 4
    for block, (after_conv, _) in zip(spec.convs, get_spec(name).lengths(length)):
        flops += 2 * channels * block.width * block.filters * after_conv
        channels = block.filters
    current = get_spec(name).lengths(length)[-1][1]
    features = channels * current
    for dense in spec.dense:
        flops += 2 * features * dense.units
        features = dense.units
    return flops + 2 * features * spec.n_classes


def matmul_peak(threads: int, size: int = 2048, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def epoch_via_fit(name: str, data: DataBundle, threads: int, epochs: int) -> float:
    """Median training seconds per epoch of the real loop (validation time excluded)."""
    protocol = get_protocol("koo2019", epochs=epochs, patience=epochs)
    device = torch.device("cpu")
    with reproducible(device, 0, threads):
        model = build_model(get_spec(name), "relu", LENGTH)
        fit_result = fit(model, data, protocol, device=device, seed=0, progress=False)
    # each epoch record's "seconds" includes the (small) validation pass; subtract a measured one
    with reproducible(device, 0, threads):
        t0 = time.perf_counter()
        with torch.no_grad():
            model.eval()
            for s in range(0, data.valid.x.shape[0], 1000):
                model(data.valid.x[s : s + 1000])
        valid_seconds = time.perf_counter() - t0
    return float(np.median([r["seconds"] for r in fit_result.history])) - valid_seconds


def epoch_manual(name: str, data: DataBundle, threads: int, compiled: bool) -> tuple[float, float]:
    """(seconds for one epoch after warm-up, seconds of warm-up incl. compilation) of the same step loop."""
    device = torch.device("cpu")
    with reproducible(device, 0, threads):
        model = build_model(get_spec(name), "relu", LENGTH)
        optimizer = _optimizer(model, get_protocol("koo2019"))
        step_model = torch.compile(model) if compiled else model
        feeder = BatchFeeder(data.train, device, 100)
        gen = torch.Generator().manual_seed(0)

        def step(xb, yb):
            loss = F.binary_cross_entropy_with_logits(step_model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        t0 = time.perf_counter()
        batches = feeder.epoch(gen)
        for _ in range(3):
            step(*next(batches))
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        for xb, yb in feeder.epoch(gen):
            step(xb, yb)
        return time.perf_counter() - t0, warm


def keras_epoch(name: str, x: np.ndarray, y: np.ndarray, threads: int) -> float | None:
    """One epoch of the equivalent Keras model (channels-last input), or None without TensorFlow."""
    try:
        import tensorflow as tf
    except ImportError:
        return None
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    spec = get_spec(name)
    layers = tf.keras.layers
    inputs = tf.keras.Input((LENGTH, 4))
    h = inputs
    for block in spec.convs:
        h = layers.Conv1D(block.filters, block.width, padding=block.padding, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        if block.pool > 1:
            h = layers.MaxPool1D(block.pool, block.stride, padding=block.pool_padding)(h)
        h = layers.Dropout(block.dropout)(h)
    h = layers.Flatten()(h)
    for dense in spec.dense:
        h = layers.Dense(dense.units, use_bias=False)(h)
        h = layers.BatchNormalization()(h)
        h = layers.Activation("relu")(h)
        h = layers.Dropout(dense.dropout)(h)
    outputs = layers.Dense(12, activation="sigmoid")(h)
    model = tf.keras.Model(inputs, outputs)
    model.compile(tf.keras.optimizers.Adam(1e-3, beta_1=0.95), "binary_crossentropy")
    xt = x.transpose(0, 2, 1)
    model.fit(xt[:500], y[:500], batch_size=100, epochs=1, verbose=0)  # build + trace
    t0 = time.perf_counter()
    model.fit(xt, y, batch_size=100, epochs=1, verbose=0, shuffle=True)
    return time.perf_counter() - t0


def child(args: argparse.Namespace) -> None:
    """One measurement in a fresh process (OpenMP reads OMP_WAIT_POLICY once, at torch import)."""
    n, threads, name = args.n, args.child_threads, args.child_model
    x, y = random_data(n, LENGTH)
    xv, yv = random_data(1_000, LENGTH, seed=1)
    data = DataBundle.from_arrays((x, y), (xv, yv), (xv, yv))
    seconds = epoch_via_fit(name, data, threads, args.epochs) * (N_TRAIN / n)
    out = {"model": name, "threads": threads, "n": n, "seconds_per_epoch": seconds,
           "peak_gflops": matmul_peak(threads), "train_gflop": 3 * forward_flops(name, LENGTH) * N_TRAIN / 1e9,
           "wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    keras = keras_epoch(name, x, y, threads)
    out["keras_seconds_per_epoch"] = keras * (N_TRAIN / n) if keras else None
    if args.compile:
        eager, _ = epoch_manual(name, data, threads, compiled=False)
        compiled, warm = epoch_manual(name, data, threads, compiled=True)
        out.update(eager_loop=eager * N_TRAIN / n, compiled_loop=compiled * N_TRAIN / n, compile_warmup=warm)
    print(json.dumps(out))


def run_child(model: str, threads: int, n: int, policy: str, epochs: int, compile_: bool) -> dict:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    cmd = [sys.executable, __file__, "--child", "--child-model", model, "--child-threads", str(threads),
           "--n", str(n), "--epochs", str(epochs)] + (["--compile"] if compile_ else [])
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn-25,cnn-2,cnn-1")
    parser.add_argument("--threads", default="1,2", help="thread counts to try")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per measurement (median reported)")
    parser.add_argument("--n", type=int, default=N_TRAIN, help="sequences actually trained (figures are scaled to 17,500)")
    parser.add_argument("--compile", action="store_true", help="also time the step loop under torch.compile")
    parser.add_argument("--no-spin-check", action="store_true",
                        help="skip the OMP_WAIT_POLICY=ACTIVE comparison (slow on a busy machine)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-model", help=argparse.SUPPRESS)
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    models = args.models.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]
    try:
        import tensorflow  # noqa: F401
        have_tf = True
    except ImportError:
        have_tf = False
    print(f"torch {torch.__version__}; epoch = {N_TRAIN:,} random one-hot sequences x {LENGTH} nt, batch 100, "
          f"koo2019 optimiser, through baselines.train.fit; CPUs available: {len(os.sched_getaffinity(0))}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if args.n != N_TRAIN:
        print(f"(trained on {args.n:,} sequences and scaled to {N_TRAIN:,})")
    if not have_tf:
        print("Keras comparison skipped: TensorFlow is not installed (pip install tensorflow-cpu to compare)")
    print()
    print(f"{'model':<8} {'thr':>3} {'s/epoch':>8} {'GFLOP/s':>8} {'peak':>6} {'% peak':>7} {'keras s':>8} {'ours/keras':>10}")
    results = []
    for name in models:
        for t in thread_counts:
            r = run_child(name, t, args.n, "PASSIVE", args.epochs, args.compile)
            results.append(r)
            gflops = r["train_gflop"] / r["seconds_per_epoch"]
            keras = r["keras_seconds_per_epoch"]
            ratio = f"{r['seconds_per_epoch'] / keras:10.2f}" if keras else f"{'n/a':>10}"
            keras_s = f"{keras:8.2f}" if keras else f"{'n/a':>8}"
            print(f"{name:<8} {t:>3} {r['seconds_per_epoch']:8.2f} {gflops:8.1f} {r['peak_gflops']:6.1f} "
                  f"{100 * gflops / r['peak_gflops']:6.1f}% {keras_s} {ratio}", flush=True)
    print("\nGFLOP/s: conv + dense FLOPs counted analytically, training step = 3 x forward; "
          "peak = torch.matmul 2048^3 float32 at the same thread count.")
    if args.compile:
        print("\ntorch.compile (same step loop, one epoch; warm-up includes compilation):")
        for r in results:
            print(f"{r['model']:<8} {r['threads']} thread(s): eager {r['eager_loop']:6.2f} s/epoch, compiled "
                  f"{r['compiled_loop']:6.2f} s/epoch (x{r['eager_loop'] / r['compiled_loop']:.2f}), "
                  f"warm-up {r['compile_warmup']:.1f} s")
    if not args.no_spin_check and max(thread_counts) > 1:
        t = max(thread_counts)
        n = min(args.n, 2_000)
        passive = run_child(models[0], t, n, "PASSIVE", 1, False)["seconds_per_epoch"]
        active = run_child(models[0], t, n, "ACTIVE", 1, False)["seconds_per_epoch"]
        print(f"\nOpenMP wait policy, {models[0]}, {t} threads ({n:,} sequences scaled to {N_TRAIN:,}): "
              f"PASSIVE {passive:.2f} s/epoch (baselines' default), ACTIVE (spinning) {active:.2f} s/epoch")


if __name__ == "__main__":
    main()
