"""Training speed of the baseline zoo on this machine's CPU, beside tf.keras.

Prints, for cnn-25 and cnn-2 (``--models``) on 17,500 random one-hot sequences
of 200 nt (the synthetic train split size), batch 100, koo2019 optimiser, in
``--rounds`` alternating A/B rounds (medians):

* wall and CPU seconds per epoch through `baselines.train.fit` (the real code path:
  channels-last training forward, tensor batches by permutation, BCE, Adam
  with L2 as weight decay), per thread count;
* the same epoch of the equivalent tf.keras model (`perf/keras_epoch.py`, run
  by ``--keras-python``: a separate venv with tensorflow-cpu, never a project
  dependency) and the ratios ours / Keras of wall and of CPU time;
* with ``--layouts``, the same fit through the channels-first ``forward``;
* with ``--cpu-amp``, the same fit under bfloat16 autocast (``fit(cpu_amp=True)``,
  the CLI's ``--cpu-amp``; other numbers than the float32 default) and its
  ratio to Keras (float32);
* achieved GFLOP/s (conv and dense FLOPs counted analytically, training step
  taken as 3x the forward pass) against a measured float32 matmul peak
  (``torch.matmul`` of 2048 x 2048 matrices) at the same thread count;
* optionally (``--compile``) the step loop under ``torch.compile``, and
  (``--spin-check``) OpenMP spinning (``OMP_WAIT_POLICY=ACTIVE``) against the
  passive waiting that ``baselines`` sets by default.

Each measurement runs in a fresh child process, because OpenMP reads its
wait policy once, when torch loads.

Usage: python perf/train_speed.py [--models cnn-25,cnn-2] [--threads 1,2] [--rounds 3]
       [--keras-python /work/venv-keras/bin/python] [--layouts] [--cpu-amp] [--n 17500] [--compile]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from baselines.data import DataBundle
from baselines.flat_adam import FlatAdam
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


def epoch_via_fit(name: str, data: DataBundle, threads: int, epochs: int,
                  layout: str = "channels-last", cpu_amp: bool = False) -> tuple[float, float]:
    """(median wall seconds, mean CPU seconds) per training epoch of the real loop, validation excluded.

    CPU seconds are this process's (all threads): on a shared machine they
    count the work done, where wall time also counts the waiting for a core.

    ``layout="channels-first"`` makes fit train through ``forward`` instead of
    ``forward_channels_last`` (the comparison arm of ``--layouts``); ``cpu_amp``
    trains under bfloat16 autocast (the arm of ``--cpu-amp``).
    """
    protocol = get_protocol("koo2019", epochs=epochs, patience=epochs)
    device = torch.device("cpu")
    with reproducible(device, 0, threads):
        model = build_model(get_spec(name), "relu", LENGTH)
        if layout == "channels-first":
            model.forward_channels_last = model.forward  # instance attribute shadows the method
        c0 = time.process_time()
        fit_result = fit(model, data, protocol, device=device, seed=0, progress=False, cpu_amp=cpu_amp)
        cpu = (time.process_time() - c0) / len(fit_result.history)
    # each epoch record's "seconds" includes the (small) validation pass; subtract a measured one
    with reproducible(device, 0, threads):
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=cpu_amp):
            model.eval()
            for s in range(0, data.valid.x.shape[0], 1000):
                model(data.valid.x[s : s + 1000])
        valid_seconds, valid_cpu = time.perf_counter() - t0, time.process_time() - c0
    return float(np.median([r["seconds"] for r in fit_result.history])) - valid_seconds, cpu - valid_cpu


def epoch_manual(name: str, data: DataBundle, threads: int, compiled: bool) -> tuple[float, float]:
    """(seconds for one epoch after warm-up, seconds of warm-up incl. compilation) of the same step loop."""
    device = torch.device("cpu")
    with reproducible(device, 0, threads):
        model = build_model(get_spec(name), "relu", LENGTH)
        optimizer = FlatAdam(_optimizer(model, get_protocol("koo2019")))
        step_model = torch.compile(model) if compiled else model
        feeder = BatchFeeder(data.train, device, 100)
        gen = torch.Generator().manual_seed(0)

        def step(xb, yb):
            loss = F.binary_cross_entropy_with_logits(step_model(xb), yb)
            optimizer.zero_grad()
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


def keras_arch(name: str, length: int = LENGTH, activation: str = "relu") -> dict:
    """The zoo spec as the plain JSON `perf/keras_epoch.py` builds its Keras model from."""
    spec = get_spec(name).for_length(length)
    return {
        "length": length, "n_classes": spec.n_classes, "l2": get_protocol("koo2019").l2, "activation": activation,
        "convs": [{"filters": b.filters, "width": b.width, "padding": b.padding, "pool": b.pool, "stride": b.stride,
                   "pool_padding": b.pool_padding, "dropout": b.dropout} for b in spec.convs],
        "dense": [{"units": d.units, "dropout": d.dropout} for d in spec.dense],
    }


def keras_epoch(python: str, name: str, n: int, threads: int) -> dict:
    """One Keras epoch in a child process of ``python`` (a venv with TensorFlow), scaled to N_TRAIN."""
    cmd = [python, str(Path(__file__).with_name("keras_epoch.py")), json.dumps(keras_arch(name)), str(n), str(threads)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Keras child failed ({python}):\n{done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seconds_per_epoch": out["seconds"] * N_TRAIN / n, "cpu_per_epoch": out["cpu_seconds"] * N_TRAIN / n,
            "tensorflow": out["tensorflow"]}


def child(args: argparse.Namespace) -> None:
    """One measurement in a fresh process (OpenMP reads OMP_WAIT_POLICY once, at torch import)."""
    n, threads, name = args.n, args.child_threads, args.child_model
    x, y = random_data(n, LENGTH)
    xv, yv = random_data(1_000, LENGTH, seed=1)
    data = DataBundle.from_arrays((x, y), (xv, yv), (xv, yv))
    seconds, cpu = (v * N_TRAIN / n for v in epoch_via_fit(name, data, threads, args.epochs, args.child_layout,
                                                          args.child_cpu_amp))
    out = {"model": name, "threads": threads, "n": n, "layout": args.child_layout, "cpu_amp": args.child_cpu_amp,
           "seconds_per_epoch": seconds,
           "cpu_per_epoch": cpu,
           "peak_gflops": matmul_peak(threads), "train_gflop": 3 * forward_flops(name, LENGTH) * N_TRAIN / 1e9,
           "wait_policy": os.environ.get("OMP_WAIT_POLICY")}
    if args.compile:
        eager, _ = epoch_manual(name, data, threads, compiled=False)
        compiled, warm = epoch_manual(name, data, threads, compiled=True)
        out.update(eager_loop=eager * N_TRAIN / n, compiled_loop=compiled * N_TRAIN / n, compile_warmup=warm)
    print(json.dumps(out))


def run_child(model: str, threads: int, n: int, policy: str, epochs: int, compile_: bool,
              layout: str = "channels-last", cpu_amp: bool = False) -> dict:
    env = {**os.environ, "OMP_WAIT_POLICY": policy}
    cmd = [sys.executable, __file__, "--child", "--child-model", model, "--child-threads", str(threads),
           "--child-layout", layout, "--n", str(n), "--epochs", str(epochs)] + (["--compile"] if compile_ else [])
    cmd += ["--child-cpu-amp"] if cpu_amp else []
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def find_keras_python(flag: str | None) -> str | None:
    """``--keras-python`` if given (it must exist), else this Python when it can import TensorFlow, else None."""
    if flag:
        if not Path(flag).is_file():
            raise SystemExit(f"--keras-python {flag}: no such file")
        return flag
    probe = subprocess.run([sys.executable, "-c", "import tensorflow"], capture_output=True)
    return sys.executable if probe.returncode == 0 else None


def _median(values: list[float]) -> float:
    return float(np.median(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn-25,cnn-2")
    parser.add_argument("--threads", default="1", help="thread counts to try (comma-separated)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating A/B rounds per model (medians reported)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per measurement of ours (median taken)")
    parser.add_argument("--n", type=int, default=N_TRAIN, help="sequences actually trained (figures are scaled to 17,500)")
    parser.add_argument("--keras-python", help="a Python with TensorFlow (e.g. /work/venv-keras/bin/python) for "
                        "the Keras arm; default: this Python if it can import tensorflow, else no Keras arm")
    parser.add_argument("--layouts", action="store_true",
                        help="also time the channels-first forward (the layout before forward_channels_last)")
    parser.add_argument("--cpu-amp", action="store_true",
                        help="also time fit under bfloat16 autocast (--cpu-amp; other numbers than float32)")
    parser.add_argument("--compile", action="store_true", help="also time the step loop under torch.compile")
    parser.add_argument("--spin-check", action="store_true",
                        help="also compare OMP_WAIT_POLICY=ACTIVE against PASSIVE at the largest thread count")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-model", help=argparse.SUPPRESS)
    parser.add_argument("--child-threads", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-layout", default="channels-last", help=argparse.SUPPRESS)
    parser.add_argument("--child-cpu-amp", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    models = args.models.split(",")
    thread_counts = [int(t) for t in args.threads.split(",")]
    keras_python = find_keras_python(args.keras_python)
    print(f"torch {torch.__version__}; epoch = {N_TRAIN:,} random one-hot sequences x {LENGTH} nt, batch 100, "
          f"koo2019 optimiser, through baselines.train.fit; CPUs available: {len(os.sched_getaffinity(0))}, "
          f"load average {os.getloadavg()[0]:.1f}; {args.rounds} alternating rounds, medians")
    if args.n != N_TRAIN:
        print(f"(trained on {args.n:,} sequences and scaled to {N_TRAIN:,})")
    if keras_python is None:
        print("Keras comparison skipped: no TensorFlow (give --keras-python PATH, e.g. a venv with tensorflow-cpu)")
    print()
    header = f"{'model':<8} {'thr':>3} {'ours s':>7} {'GFLOP/s':>8} {'% peak':>7}"
    if args.layouts:
        header += f" {'ch-first s':>10} {'speedup':>7}"
    header += f" {'keras s':>8} {'ours/keras':>10} {'ours cpu':>8} {'keras cpu':>9} {'cpu ratio':>9}"
    if args.cpu_amp:
        header += f" {'bf16 s':>7} {'bf16/keras':>10} {'bf16 cpu':>8} {'cpu ratio':>9}"
    print(header)
    results = []
    for name in models:
        for t in thread_counts:
            arms: dict[str, list[float]] = {"ours": [], "first": [], "keras": [], "ours_cpu": [], "keras_cpu": [],
                                            "bf16": [], "bf16_cpu": []}
            last = {}
            for _ in range(args.rounds):  # A/B alternation: load drift hits every arm alike
                last = run_child(name, t, args.n, "PASSIVE", args.epochs, args.compile)
                arms["ours"].append(last["seconds_per_epoch"])
                arms["ours_cpu"].append(last["cpu_per_epoch"])
                if args.layouts:
                    arms["first"].append(run_child(name, t, args.n, "PASSIVE", args.epochs, False,
                                                   layout="channels-first")["seconds_per_epoch"])
                if args.cpu_amp:
                    low = run_child(name, t, args.n, "PASSIVE", args.epochs, False, cpu_amp=True)
                    arms["bf16"].append(low["seconds_per_epoch"])
                    arms["bf16_cpu"].append(low["cpu_per_epoch"])
                if keras_python:
                    keras = keras_epoch(keras_python, name, args.n, t)
                    arms["keras"].append(keras["seconds_per_epoch"])
                    arms["keras_cpu"].append(keras["cpu_per_epoch"])
            ours = _median(arms["ours"])
            gflops = last["train_gflop"] / ours
            line = f"{name:<8} {t:>3} {ours:7.2f} {gflops:8.1f} {100 * gflops / last['peak_gflops']:6.1f}%"
            if args.layouts:
                first = _median(arms["first"])
                line += f" {first:10.2f} {first / ours:6.2f}x"
            if arms["keras"]:
                keras = _median(arms["keras"])
                ours_cpu, keras_cpu = _median(arms["ours_cpu"]), _median(arms["keras_cpu"])
                line += (f" {keras:8.2f} {ours / keras:10.2f} {ours_cpu:8.2f} {keras_cpu:9.2f}"
                         f" {ours_cpu / keras_cpu:9.2f}")
            else:
                line += f" {'n/a':>8} {'n/a':>10} {_median(arms['ours_cpu']):8.2f} {'n/a':>9} {'n/a':>9}"
            if args.cpu_amp:
                low, low_cpu = _median(arms["bf16"]), _median(arms["bf16_cpu"])
                if arms["keras"]:
                    line += (f" {low:7.2f} {low / _median(arms['keras']):10.2f} {low_cpu:8.2f}"
                             f" {low_cpu / _median(arms['keras_cpu']):9.2f}")
                else:
                    line += f" {low:7.2f} {'n/a':>10} {low_cpu:8.2f} {'n/a':>9}"
            print(line, flush=True)
            results.append({**last, "rounds": arms})
    print("\nours = channels-last training forward (baselines' CPU path, float32); bf16 = the same under bfloat16 "
          "autocast (--cpu-amp); s = wall seconds per epoch, cpu = CPU "
          "seconds per epoch of the process (all threads; on a loaded machine wall time also counts waiting for a "
          "core, CPU time does not); GFLOP/s: conv + dense FLOPs counted "
          "analytically, training step = 3 x forward; % of torch.matmul 2048^3 float32 at the same thread count. "
          "Keras: same architecture, optimiser and batch in tf.keras (perf/keras_epoch.py), one fit() epoch after "
          "a warm-up. Per-round figures:")
    for r in results:
        print(f"  {r['model']} {r['threads']} thr: " + "; ".join(
            f"{arm} " + ", ".join(f"{v:.2f}" for v in values) for arm, values in r["rounds"].items() if values))
    if args.compile:
        print("\ntorch.compile (same step loop, one epoch; warm-up includes compilation):")
        for r in results:
            print(f"{r['model']:<8} {r['threads']} thread(s): eager {r['eager_loop']:6.2f} s/epoch, compiled "
                  f"{r['compiled_loop']:6.2f} s/epoch (x{r['eager_loop'] / r['compiled_loop']:.2f}), "
                  f"warm-up {r['compile_warmup']:.1f} s")
    if args.spin_check and max(thread_counts) > 1:
        t = max(thread_counts)
        n = min(args.n, 2_000)
        passive = run_child(models[0], t, n, "PASSIVE", 1, False)["seconds_per_epoch"]
        active = run_child(models[0], t, n, "ACTIVE", 1, False)["seconds_per_epoch"]
        print(f"\nOpenMP wait policy, {models[0]}, {t} threads ({n:,} sequences scaled to {N_TRAIN:,}): "
              f"PASSIVE {passive:.2f} s/epoch (baselines' default), ACTIVE (spinning) {active:.2f} s/epoch")


if __name__ == "__main__":
    main()
