"""The two attribution stages of ``motifbench evaluate`` alone, this checkout beside a git ref: wall and CPU seconds.

On a busy shared machine the wall time of a stage inside ``evaluate`` mostly measures the
neighbours; this script times just the main-thread ``attribution`` (ISM, 200 sequences x 600
mutants) and ``gradient_attribution`` stages, each in its own process with nothing beside it,
for the bundled CNN-25 (or ``--model``) with default :class:`EvalParams`, the inputs prepared as
:func:`evaluator.evaluate` prepares them. Per side (A = this checkout, B = ``--baseline``, a git ref
exported to a temporary folder), alternating over ``--repeats`` rounds, each round a fresh process
that times ``--calls`` calls after one untimed warm-up call; printed: medians of wall seconds and of
CPU seconds (all threads of the process: ONNX Runtime's workers included), and whether the two
sides' outputs are equal (ISM deltas: largest difference; gradient section: byte for byte).

Usage::

    python perf/attribution_stages_ab.py [--baseline main] [--repeats 3] [--calls 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "perf"))
from evaluate_stages import CNN25, ENV, export_ref  # noqa: E402

CHILD = r"""
import hashlib, json, sys, time
import numpy as np
from benchmark.loader import load_split
from evaluator.attribution import choose_classes, ism_delta, select_sequences
from evaluator.attribution_stage import run_stage
from evaluator.onnx_model import OnnxModel
from evaluator.params import EvalParams
model_path, data, calls, out = sys.argv[1], sys.argv[2] or None, int(sys.argv[3]), sys.argv[4]
split = load_split(data, "synthetic", "test")
params = EvalParams()
model = OnnxModel(model_path, split.x.shape[2])
probs = model.to_probabilities(model.predict(split.x, params.batch_size))
idx = select_sequences(split.y, split.mask, params.ism_sequences)
x, classes = split.x[idx], choose_classes(split.y[idx], probs[idx])
info = model.info
def ism():
    return ism_delta(model, x, classes, params.ism_batch_mutants, params.ism_logit_eps)
def gradient():
    return run_stage(model_path, split, split.x, split.y, params, output_name=info.output_name,
                     output_kind=info.output_kind, logits_output=info.logits_output,
                     ism_fn=lambda xs, ks: ism_delta(model, xs, ks, params.ism_batch_mutants, params.ism_logit_eps))
rows = {}
for name, fn in (("attribution", ism), ("gradient_attribution", gradient)):
    result = fn()
    walls, cpus = [], []
    for _ in range(calls):
        c, t = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    rows[name] = {"wall": walls, "cpu": cpus}
    if name == "attribution":
        np.save(out + ".npy", result)
    else:
        rows["gradient_section"] = hashlib.sha256(json.dumps(result.gradient_attribution, sort_keys=True,
                                                             default=str).encode()).hexdigest()
print("JSON" + json.dumps(rows))
"""


def main() -> None:
    import numpy as np

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=CNN25)
    parser.add_argument("--data", default=None)
    parser.add_argument("--baseline", default="main")
    parser.add_argument("--this", default=None, metavar="REF", help="measure this git ref instead of the tree")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--calls", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="motifbench-attrab-"))
    sides = {"this checkout": REPO} if args.this is None else {args.this[:10]: export_ref(args.this, work / "this")}
    sides[args.baseline] = export_ref(args.baseline, work / "baseline")
    got = {lab: {"attribution": {"wall": [], "cpu": []}, "gradient_attribution": {"wall": [], "cpu": []}}
           for lab in sides}
    sections = {}
    for r in range(args.repeats):
        for lab, checkout in (sides.items() if r % 2 == 0 else reversed(sides.items())):
            out = work / f"{'A' if lab == next(iter(sides)) else 'B'}{r}"
            done = subprocess.run([sys.executable, "-c", CHILD, str(args.model.resolve()), args.data or "",
                                   str(args.calls), str(out)], env={**os.environ, **ENV, "PYTHONPATH": str(checkout)},
                                  cwd=checkout, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{lab} failed: {done.stderr[-800:]}")
            rows = json.loads(done.stdout.split("JSON", 1)[1])
            for stage in ("attribution", "gradient_attribution"):
                for k in ("wall", "cpu"):
                    got[lab][stage][k] += rows[stage][k]
            sections[lab] = (rows["gradient_section"], Path(str(out) + ".npy"))
            print(f"  round {r + 1}: {lab}: " + ", ".join(
                f"{s} {statistics.median(rows[s]['wall']):.2f} s wall / {statistics.median(rows[s]['cpu']):.2f} s CPU"
                for s in ("attribution", "gradient_attribution")), flush=True)
    print(f"\n{args.model.name}, default settings, each stage alone in its own process; {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the end; medians of {args.repeats} alternating rounds x "
          f"{args.calls} calls")
    print(f"{'':<34}" + "".join(f"{lab:>24}" for lab in sides))
    for stage in ("attribution", "gradient_attribution"):
        for k in ("wall", "cpu"):
            print(f"{stage + ' (' + k + ')':<34}"
                  + "".join(f"{statistics.median(got[lab][stage][k]):>23.2f}s" for lab in sides))
    (ha, da), (hb, db) = sections.values()
    print(f"gradient_attribution sections identical: {ha == hb}; ISM deltas: max |A - B| = "
          f"{float(np.abs(np.load(da) - np.load(db)).max()):.3g}")


if __name__ == "__main__":
    main()
