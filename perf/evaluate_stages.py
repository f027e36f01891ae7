"""Wall time per evaluator stage for a CNN-25-size model on the 5,000-sequence synthetic test set.

Measures, in one fresh process:
- ``evaluate()`` stage timings, first call (cold: imports, ONNX Runtime session, JASPAR load,
  first BLAS/Tomtom calls) and warm (same process, second call);
- the obvious alternatives for the hot spots:
  * PPMs: our vectorised, batch-streamed accumulation vs the original per-filter loop over
    (sequence, position) hits (``activation_pwm`` style), on the same activations;
  * ISM: incremental (first layer recomputed around each substitution) vs full ISM batched
    (all 3L mutants of several sequences per ONNX Runtime call) vs one call per sequence;
  * logos: the "fast" engine vs logomaker for the same 30-filter grid.

Usage::

    python perf/evaluate_stages.py [--data DATASET_DIR] [--threads 2] [--ism-sequences 200]

Without ``--data`` it builds the koo2019 synthetic dataset (N = 25,000 -> 5,000 test rows) in a
temporary folder first (not timed). The model is a ``baselines`` CNN-25 (random weights, exported
with ``baselines.export``) when baselines is importable, else a hand-built ONNX of the same shape.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np


STAGES = ("load_data", "load_model", "inference", "classification", "ppm", "tomtom", "recovery", "attribution",
          "logos", "total")


def cnn25_onnx(out: Path) -> tuple[Path, str]:
    import torch

    from baselines.export import export_onnx
    from baselines.model import build_model
    from baselines.zoo import get_spec

    torch.manual_seed(0)
    path = export_onnx(build_model(get_spec("cnn-25"), "relu", 200), out / "cnn25.onnx")
    return path, "baselines cnn-25 (relu, random init) via baselines.export"


def per_filter_loop_ppms(x: np.ndarray, acts: np.ndarray, window: int = 20, threshold: float = 0.5) -> np.ndarray:
    """The original code's shape: per filter, np.where over hits, a Python loop over windows, mean."""
    n, _, length = x.shape
    left = window // 2
    out = []
    for f in range(acts.shape[1]):
        fmap = acts[:, f]
        rows, cols = np.where(fmap > fmap.max() * threshold)
        aligned = [x[r, :, c - left:c - left + window] for r, c in zip(rows, cols)
                   if c - left > 0 and c - left + window < length]
        out.append(np.mean(aligned, axis=0) if len(aligned) > 1 else np.full((4, window), 0.25))
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--ism-sequences", type=int, default=200)
    args = parser.parse_args()

    from evaluator import EvalParams, evaluate

    work = Path(tempfile.mkdtemp(prefix="motifbench-perf-"))
    data = args.data
    if data is None:
        from benchmark.synthetic import build_synthetic

        t = time.perf_counter()
        data = work / "dataset"
        build_synthetic(data, preset="koo2019", n=25_000)
        print(f"built koo2019 synthetic dataset (N=25,000) in {time.perf_counter() - t:.1f} s (not part of the figures)")
    model, how = cnn25_onnx(work)
    print(f"model: {how}")
    params = EvalParams(ism_sequences=args.ism_sequences)

    records = []
    for label in ("first call", "warm"):
        rec = evaluate(model, data=data, out_dir=work / label.replace(" ", "_"), params=params, progress=False,
                       threads=args.threads).to_record()
        records.append((label, rec))
    n = records[0][1]["dataset"]["n_sequences"]
    f = records[0][1]["model"]["n_filters"]
    print(f"\nevaluate(): {n} test sequences, {f} first-layer filters, ISM on {args.ism_sequences} sequences "
          f"(threads: {records[0][1]['environment']['threads']})")
    print(f"{'stage':<16}" + "".join(f"{label:>12}" for label, _ in records))
    for stage in STAGES:
        print(f"{stage:<16}" + "".join(f"{rec['timings_seconds'].get(stage, float('nan')):>11.2f}s" for _, rec in records))

    # -- alternatives -------------------------------------------------------------------
    from benchmark.loader import load_split
    from evaluator.attribution import choose_classes, ism_delta, select_sequences
    from evaluator.logos import logo_grid
    from evaluator.onnx_model import OnnxModel
    from evaluator.ppm import activation_ppms

    split = load_split(data, "synthetic", "test")
    om = OnnxModel(model, split.x.shape[2], threads=args.threads)
    acts = np.concatenate([a for _, _, a in om.batches(split.x, 256)])
    t = time.perf_counter()
    ours = activation_ppms(split.x, acts, "nmi")
    t_ours = time.perf_counter() - t
    sub = 1000
    t = time.perf_counter()
    loop = per_filter_loop_ppms(split.x[:sub], acts[:sub])
    t_loop = (time.perf_counter() - t) * n / sub
    check = activation_ppms(split.x[:sub], acts[:sub], "nmi").ppms.transpose(0, 2, 1)
    same = np.allclose(loop, check)
    print(f"\nPPMs (NMI, {n} seqs, this model's activations): vectorised {t_ours:.2f} s vs per-filter Python loop "
          f"{t_loop:.1f} s (extrapolated from {sub} seqs; identical PPMs: {same})")
    dense = np.random.default_rng(1).random((500,) + acts.shape[1:]).astype(np.float32)  # ~half the positions hit
    t = time.perf_counter()
    activation_ppms(split.x[:500], dense, "nmi")
    t_ours = (time.perf_counter() - t) * n / 500
    t = time.perf_counter()
    per_filter_loop_ppms(split.x[:500], dense)
    t_loop = (time.perf_counter() - t) * n / 500
    print(f"PPMs (NMI, {n} seqs, dense uniform-random activations): vectorised {t_ours:.1f} s vs loop {t_loop:.1f} s "
          "(extrapolated from 500 seqs)")

    probs = om.to_probabilities(om.predict(split.x))
    idx = select_sequences(split.y, split.mask, 40)
    cls = choose_classes(split.y[idx], probs[idx])
    ism_delta(om, split.x[idx[:1]], cls[:1])  # build (and probe) the incremental split once, not timed
    t = time.perf_counter()
    inc = ism_delta(om, split.x[idx], cls)
    t_incremental = time.perf_counter() - t
    t = time.perf_counter()
    full = ism_delta(om, split.x[idx], cls, incremental=False)
    t_batched = time.perf_counter() - t
    t = time.perf_counter()
    for i in range(len(idx)):
        ism_delta(om, split.x[idx[i:i + 1]], cls[i:i + 1], batch_mutants=1, incremental=False)
    t_single = time.perf_counter() - t
    print(f"ISM, 40 sequences x 600 mutants: incremental {t_incremental:.2f} s vs full, batched {t_batched:.2f} s "
          f"vs full, one call per sequence {t_single:.2f} s (incremental - full: max |diff| "
          f"{np.abs(inc - full).max():.2g}) -> {args.ism_sequences} sequences ~{t_incremental * args.ism_sequences / 40:.1f} s")

    rng = np.random.default_rng(0)
    ppms = [rng.dirichlet(np.full(4, 0.3), size=20) for _ in range(30)]
    titles = [f"filter{i}: TF (MA0000.1) E=1.0e-03" for i in range(30)]
    timings = {}
    for engine in ("fast", "logomaker"):
        t = time.perf_counter()
        logo_grid(ppms, titles, work / f"logos_{engine}.png", engine=engine)
        timings[engine] = time.perf_counter() - t
    print(f"logos, 30 filters x 20 positions: fast {timings['fast']:.2f} s vs logomaker {timings['logomaker']:.2f} s")
    print(f"\nartifacts in {work}")


if __name__ == "__main__":
    main()
