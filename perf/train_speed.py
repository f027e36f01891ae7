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
* optionally (``--compile``) the step loop under ``torch.compile``.

Usage: python perf/train_speed.py [--models cnn-25,cnn-2,cnn-1] [--threads 1,2] [--epochs 1] [--compile]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F

from baselines.data import DataBundle
from baselines.model import build_model
from baselines.protocols import get_protocol
from baselines.train import BatchFeeder, _optimizer, fit, reproducible
from baselines.zoo import get_spec, pool_output_length

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
    flops, channels, current = 0, 4, length
    for block in spec.convs:
        out_len = current if block.padding == "same" else current - block.width + 1
        flops += 2 * channels * block.width * block.filters * out_len
        current = pool_output_length(out_len, block.pool, block.stride, block.pool_padding)
        channels = block.filters
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn-25,cnn-2,cnn-1")
    parser.add_argument("--threads", default="1,2", help="thread counts to try")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per measurement (median reported)")
    parser.add_argument("--n", type=int, default=N_TRAIN, help="training sequences (default 17,500)")
    parser.add_argument("--compile", action="store_true", help="also time the step loop under torch.compile")
    args = parser.parse_args()
    models = args.models.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]

    n = args.n
    x, y = random_data(n, LENGTH)
    xv, yv = random_data(1_000, LENGTH, seed=1)
    data = DataBundle.from_arrays((x, y), (xv, yv), (xv, yv))
    print(f"torch {torch.__version__}, {n:,} sequences x {LENGTH} nt, batch 100, CPU")
    try:
        import tensorflow  # noqa: F401
        have_tf = True
    except ImportError:
        have_tf = False
        print("Keras comparison skipped: TensorFlow is not installed (pip install tensorflow-cpu to compare)")

    peaks = {t: matmul_peak(t) for t in thread_counts}
    for t, p in peaks.items():
        print(f"float32 matmul peak (2048^3, torch.matmul), {t} thread(s): {p:7.1f} GFLOP/s")
    print()
    print(f"{'model':<8} {'thr':>3} {'s/epoch':>8} {'GFLOP/s':>8} {'% peak':>7} {'keras s':>8} {'ours/keras':>10}")
    for name in models:
        train_flops = 3 * forward_flops(name, LENGTH) * n
        for t in thread_counts:
            seconds = epoch_via_fit(name, data, t, args.epochs)
            gflops = train_flops / seconds / 1e9
            keras = keras_epoch(name, x, y, t) if have_tf else None
            ratio = f"{seconds / keras:10.2f}" if keras else f"{'n/a':>10}"
            keras_s = f"{keras:8.2f}" if keras else f"{'n/a':>8}"
            print(f"{name:<8} {t:>3} {seconds:8.2f} {gflops:8.1f} {100 * gflops / peaks[t]:6.1f}% {keras_s} {ratio}")
    if args.compile:
        print("\ntorch.compile (same step loop; warm-up includes compilation):")
        for name in models:
            t = max(thread_counts)
            eager, _ = epoch_manual(name, data, t, compiled=False)
            comp, warm = epoch_manual(name, data, t, compiled=True)
            print(f"{name:<8} {t} thread(s): eager {eager:6.2f} s/epoch, compiled {comp:6.2f} s/epoch "
                  f"(x{eager / comp:.2f}), compile warm-up {warm:.1f} s")


if __name__ == "__main__":
    main()
