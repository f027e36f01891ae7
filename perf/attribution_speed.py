"""Seconds per attribution method, TF-MoDISco seconds and a full CNN-25 evaluation, in one run.

Prints, for the bundled trained CNN-25 (``space_app/baseline_models/cnn-25-relu-seed0``) on the first
500 positives of a koo2019 synthetic test split (built in a temporary folder, not timed):

* per method (same sequences, same explained classes): conversion, saliency + grad x input (one
  backward pass), integrated gradients, DeepLIFT/SHAP, and ISM through ONNX Runtime (the obvious
  alternative: no converter, 3L forward passes per sequence);
* torch on 1 thread vs 2 threads for the gradient pass (alternating A/B, medians of ``--repeats``);
* TF-MoDISco + Tomtom on the corrected-saliency maps;
* ``evaluate()`` with the default (fast) settings, first call and second call: the figure users wait for;
* peak resident memory of the attribution stage on 1,000-nt inputs (500 sequences, a CNN-25-shape model
  for L = 1000), in a child process.

Usage::

    python perf/attribution_speed.py [--repeats 3] [--skip-memory] [--skip-discovery] [--skip-service]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
MODEL = REPO / "space_app/baseline_models/cnn-25-relu-seed0/model.onnx"


def _timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def memory_child(n: int = 500, length: int = 1000) -> None:
    """Run the attribution stage on 1,000-nt inputs and print the peak RSS (called in a child process)."""
    import resource

    import torch

    from baselines.export import export_onnx
    from baselines.model import build_model
    from baselines.zoo import get_spec
    from evaluator.attribution_benchmark import attribution_benchmark
    from evaluator.params import EvalParams
    from test_evaluator_builders import make_split

    split = make_split(n=n + 50, length=length, seed=1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        path = export_onnx(build_model(get_spec("cnn-25"), "relu", length), Path(tmp) / "cnn25_1000.onnx")
        _, seconds = _timed(attribution_benchmark, path, split.x, split.y, split.motifs, split.ids,
                            EvalParams(attribution_sequences=n, randomisation_sequences=100),
                            output_name="probabilities", output_kind="probabilities", logits_output="logits")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"1000-nt attribution stage: {n} sequences, {seconds:.1f} s, peak RSS {peak / 1024:.0f} MiB "
          f"(process before the stage: {before / 1024:.0f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-discovery", action="store_true", help="no TF-MoDISco timing (minutes under load)")
    parser.add_argument("--skip-service", action="store_true", help="no evaluate() with the service-worker settings")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child()
        return

    import torch

    from benchmark.loader import load_split
    from benchmark.motifs import load_motif_set
    from benchmark.synthetic import build_synthetic
    from evaluator.attribution import ism_delta
    from evaluator.attribution_benchmark import select, torch_single_thread
    from evaluator.attribution_methods import correct, deeplift_shap, gradients, integrated_gradients
    from evaluator.discovery import ModiscoSettings, discover
    from evaluator import evaluate
    from evaluator.onnx_model import OnnxModel
    from evaluator.onnx_to_torch import convert_model
    from evaluator.params import EvalParams

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "motifbench"
        build_synthetic(data, preset="koo2019", n=25_000)
        arrays = load_split(data)
        idx, classes = select(arrays.y, arrays.motifs, load_motif_set().names, 500, 0)
        x = np.ascontiguousarray(arrays.x[idx])
        print(f"model: {MODEL.relative_to(REPO)}; {len(x)} positives of the koo2019 test split "
              f"({arrays.x.shape[0]} rows, L={x.shape[2]}); torch {torch.__version__}")

        with torch_single_thread():
            converted, t_conv = _timed(convert_model, MODEL, x.shape[2], output_name="probabilities",
                                       logits_output="logits", probe=x[:16])
            rows = [("conversion + ONNX Runtime check", t_conv)]
            g, t = _timed(gradients, converted.module, x, classes)
            rows.append(("saliency + grad x input (1 backward)", t))
            _, t = _timed(integrated_gradients, converted.module, x, classes, 16)
            rows.append(("integrated gradients (16 steps)", t))
            _, t = _timed(deeplift_shap, converted.module, x, classes, 20, 0)
            rows.append(("DeepLIFT/SHAP (20 shuffles, tangermeme)", t))
        onnx_model = OnnxModel(MODEL, x.shape[2], threads=2, logits_output="logits")
        _, t = _timed(ism_delta, onnx_model, x[:200], classes[:200])
        rows.append(("ISM, ONNX Runtime (200 sequences = 1/2.5 of the others)", t))
        if not args.skip_discovery:
            (d, t) = _timed(discover, x, correct(g), ModiscoSettings())
            rows.append((f"TF-MoDISco + Tomtom ({d['n_patterns']} patterns, coverage {d['coverage_count']}/12)", t))
        print("\nper method, 500 sequences unless stated:")
        for name, seconds in rows:
            print(f"  {name:62s} {seconds:7.2f} s")

        # A/B: torch threads for the gradient pass, alternating
        one, two = [], []
        for _ in range(args.repeats):
            for threads, bucket in ((1, one), (2, two)):
                before = torch.get_num_threads()
                torch.set_num_threads(threads)
                bucket.append(_timed(gradients, converted.module, x, classes)[1])
                torch.set_num_threads(before)
        print(f"\ngradient pass, torch 1 thread vs 2 threads (median of {args.repeats}, alternating): "
              f"{statistics.median(one):.2f} s vs {statistics.median(two):.2f} s")

        print("\nevaluate() with default settings (saliency + grad x input, no discovery), whole 5,000-row test split:")
        for label in ("first call", "second call"):
            with tempfile.TemporaryDirectory() as out:
                record, t = _timed(evaluate, MODEL, data=data, out_dir=out, progress=False, threads=2)
            ts = record["timings_seconds"]
            print(f"  {label}: total {ts['total']:.1f} s (wall {t:.1f} s); ISM {ts.get('attribution', 0):.1f} s, "
                  f"gradient attribution {ts.get('gradient_attribution', 0):.1f} s")
        if not args.skip_service:
            with tempfile.TemporaryDirectory() as out:
                record, t = _timed(evaluate, MODEL, data=data, out_dir=out, progress=False, threads=2,
                                   params=EvalParams(slow_attribution=True, discovery=True))
            ts = record["timings_seconds"]
            print(f"  service-worker settings (+ IG, DeepLIFT/SHAP, class ISM, discovery): total {ts['total']:.1f} s")

    if not args.skip_memory:
        print()
        subprocess.run([sys.executable, __file__, "--memory-child"], check=True)


if __name__ == "__main__":
    main()
