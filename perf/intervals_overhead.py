"""What the bootstrap intervals cost: one model evaluated with and without them, in the same run.

Measures, in one process, after a warm-up evaluation (imports, JASPAR, ONNX Runtime session):

- ``evaluate()`` total wall time without intervals (A) and with the default intervals (B:
  1,000 resamples for AUROC/auPR/attribution, 50 for motif recovery), alternating A/B
  ``--repeats`` times; medians and the overhead B/A - 1 (the issue's budget: at most 30%);
- inside B, the ``uncertainty`` stage and its parts;
- the obvious alternatives, measured on the same data in the same run:
  * classification intervals as a Python loop over resamples calling scikit-learn
    (timed on ``--loop-resamples`` resamples, scaled to 1,000 and labelled so) vs the
    vectorised weighted-rank computation;
  * recovery intervals with one full ``tomtom()`` call per resample (q-values, MEME file
    text round trip) vs the E-value-only run over every resample's filters, both on
    ``--tomtom-resamples``.

Usage::

    python perf/intervals_overhead.py [--model ONNX] [--data DATASET_DIR] [--repeats 3] [--threads 2]

Default model: the shipped trained baseline ``cnn-25-relu-seed0`` (space_app/baseline_models);
default data: the koo2019 synthetic dataset built in a temporary folder (not timed), 5,000 test rows.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "space_app" / "baseline_models" / "cnn-25-relu-seed0" / "model.onnx"


def _evaluate(model, split, threads, intervals):
    from evaluator import evaluate_arrays
    from evaluator.params import EvalParams

    start, cpu = time.perf_counter(), time.process_time()
    record = evaluate_arrays(model, split, params=EvalParams(), progress=False, threads=threads, intervals=intervals)
    return time.perf_counter() - start, time.process_time() - cpu, record


def _classification_alternatives(split, record_probs, loop_resamples: int) -> tuple[float, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    from evaluator.uncertainty import BootstrapSettings, bootstrap_counts, classification_intervals

    y = split.y
    start = time.perf_counter()
    classification_intervals(y, record_probs, BootstrapSettings())
    vectorised = time.perf_counter() - start
    counts = bootstrap_counts(len(y), loop_resamples, np.random.default_rng(0))
    start = time.perf_counter()
    for b in range(loop_resamples):  # the obvious way: resample indices, call sklearn per class
        idx = np.repeat(np.arange(len(y)), counts[b])
        for c in range(y.shape[1]):
            if 0 < y[idx, c].sum() < len(idx):
                roc_auc_score(y[idx, c], record_probs[idx, c])
                average_precision_score(y[idx, c], record_probs[idx, c])
    loop = (time.perf_counter() - start) * 1000 / loop_resamples
    return vectorised, loop


def _recovery_alternatives(model, split, threads, resamples: int) -> tuple[float, float, int]:
    """Batched (one Tomtom run) vs per-resample Tomtom calls, same resampled PPMs."""
    from evaluator.meme_io import MemeMotif, read_meme, write_meme
    from evaluator.onnx_model import OnnxModel
    from evaluator.params import EvalParams
    from evaluator.ppm import clip_ppm
    from evaluator.recovery_uncertainty import PerSequencePPMs, recovery_intervals
    from evaluator.tomtom import jaspar_targets, tomtom
    from evaluator.uncertainty import bootstrap_counts

    params = EvalParams()
    om = OnnxModel(model, split.x.shape[2], threads=threads)
    batches = [(start, np.nan_to_num(acts)) for start, _, acts in om.batches(split.x, params.batch_size)]
    maxima = np.max([acts.max(axis=(0, 2)) for _, acts in batches], axis=0)
    acc = PerSequencePPMs(params.ppm_method, maxima, params.nmi_window, split.x.shape[2], om.info.tap_length,
                          params.activation_threshold)
    for start, acts in batches:
        acc.update(split.x[start:start + acts.shape[0]], acts)
    counts = bootstrap_counts(len(split.x), resamples, np.random.default_rng(1))
    start = time.perf_counter()
    out = recovery_intervals(acc, params, counts)
    batched = time.perf_counter() - start
    ppms = acc.resampled_ppms(counts)
    start = time.perf_counter()
    for b in range(resamples):
        queries = [MemeMotif(f"filter{i}", "", c.ppm, c.ppm.shape[0]) for i, c in
                   enumerate(clip_ppm(p, params.ic_threshold, params.ic_pad, params.ic_eps) for p in ppms[b])
                   if c.ppm is not None]
        if queries:
            tomtom(read_meme(write_meme(queries, None)), jaspar_targets(params.jaspar_release))
    per_call = time.perf_counter() - start
    return batched, per_call, out["tomtom_queries"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--loop-resamples", type=int, default=20)
    parser.add_argument("--tomtom-resamples", type=int, default=5)
    args = parser.parse_args()

    from benchmark.loader import load_split
    from evaluator.uncertainty import BootstrapSettings

    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from benchmark.synthetic import build_synthetic

            data = Path(tmp) / "motifbench"
            build_synthetic(data, preset="koo2019")
        split = load_split(data, "synthetic", "test")
        print(f"model: {args.model}\ndata: {len(split.x)} test sequences; ONNX Runtime threads: {args.threads}")
        _evaluate(args.model, split, args.threads, None)  # warm-up: imports, JASPAR, session, first Tomtom
        without, with_ci, stage, cpu_without, cpu_with = [], [], [], [], []
        record = None
        for r in range(args.repeats):
            t, cpu, _ = _evaluate(args.model, split, args.threads, None)
            without.append(t)
            cpu_without.append(cpu)
            t, cpu, record = _evaluate(args.model, split, args.threads, BootstrapSettings())
            with_ci.append(t)
            cpu_with.append(cpu)
            timings = record["timings_seconds"]
            stage.append(timings["uncertainty"])
            print(f"  repeat {r + 1}: without {without[-1]:.1f} s (CPU {cpu_without[-1]:.1f} s), "
                  f"with {with_ci[-1]:.1f} s (CPU {cpu_with[-1]:.1f} s; uncertainty stage {stage[-1]:.1f} s waited; "
                  f"recovery bootstrap thread {timings.get('recovery_intervals', 0):.1f} s)", flush=True)
        a, b = statistics.median(without), statistics.median(with_ci)
        ca, cb = statistics.median(cpu_without), statistics.median(cpu_with)
        ci = record["results"]["uncertainty"]
        print(f"\nevaluate(), median of {args.repeats} (load {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs): "
              f"without intervals {a:.1f} s | with intervals {b:.1f} s | overhead {100 * (b / a - 1):+.0f}% "
              "(budget +30%)")
        print(f"  process CPU: without {ca:.1f} s | with {cb:.1f} s | {100 * (cb / ca - 1):+.0f}% "
              "(less sensitive to other jobs on the machine than wall time)")
        print(f"  uncertainty stage (after the others; the recovery bootstrap overlaps attribution and logos) median "
              f"{statistics.median(stage):.1f} s; recovery resamples "
              f"{ci['motif_recovery']['resamples']} -> {ci['motif_recovery']['tomtom_queries']} Tomtom queries")

        from evaluator.onnx_model import OnnxModel

        probs = OnnxModel(args.model, split.x.shape[2], threads=args.threads)
        probs = probs.to_probabilities(probs.predict(split.x))
        vec, loop = _classification_alternatives(split, probs, args.loop_resamples)
        print(f"classification intervals, 1,000 resamples x 12 classes: vectorised {vec:.2f} s | "
              f"Python loop + scikit-learn {loop:.1f} s (timed on {args.loop_resamples} resamples, scaled)")
        batched, per_call, queries = _recovery_alternatives(args.model, split, args.threads, args.tomtom_resamples)
        print(f"recovery intervals, {args.tomtom_resamples} resamples ({queries} queries): one E-value-only Tomtom "
              f"run {batched:.1f} s | one full tomtom() call per resample (q-values, MEME text round trip) "
              f"{per_call:.1f} s")


if __name__ == "__main__":
    main()
