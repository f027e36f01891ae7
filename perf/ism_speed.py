"""Incremental ISM with and without its shortcuts, and full ISM, on the evaluator's 200 sequences, in one run.

The default ``motifbench evaluate`` attribution stage: ISM of the bundled CNN-25
(``space_app/baseline_models/cnn-25-relu-seed0``, or ``--model``) on the first 200 positive
test sequences with a masked position (``select_sequences``), 600 mutants each. Timed,
alternating in each round (medians over ``--repeats`` rounds, same process, so a busy
machine slows every variant alike):

* ``shortcuts``: this checkout's :meth:`IncrementalIsm.delta` (first-layer delta, conv-delta
  tail, unchanged mutants skipped; see :mod:`evaluator.ism_incremental`);
* ``no shortcuts``: the same split run the way it ran before them: every mutant's crop
  through the first layer in ONNX Runtime, every mutant's pooled tensor through the whole
  tail (``IncrementalIsm`` with ``first=None`` and a :class:`PlainTail`);
* ``full`` (``--full``): every mutant through the whole model (``full_ism_delta``), on the
  first 40 sequences only, scaled x5.

Also prints the largest ``|delta|`` difference between the variants, the fraction of
mutants that move no pooled value (their delta is exactly 0 and skips the tail) and the
load average.

Usage::

    python perf/ism_speed.py [--repeats 5] [--full] [--model PATH] [--data DIR]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CNN25 = REPO / "space_app" / "baseline_models" / "cnn-25-relu-seed0" / "model.onnx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=CNN25)
    parser.add_argument("--data", default=None, help="dataset folder or Hub id (default: the data home's)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--full", action="store_true", help="also time full ISM (40 sequences, scaled)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    from benchmark.loader import load_split
    from evaluator.attribution import choose_classes, full_ism_delta, incremental_ism, select_sequences
    from evaluator.ism_graph import subgraph
    from evaluator.ism_incremental import IncrementalIsm
    from evaluator.ism_tail import PlainTail
    from evaluator.onnx_model import OnnxModel, load_onnx, session_options
    import onnxruntime as ort

    split = load_split(args.data, "synthetic", "test")
    model = OnnxModel(args.model, split.x.shape[2])
    probs = model.to_probabilities(model.predict(split.x))
    idx = select_sequences(split.y, split.mask, 200)
    x, classes = np.ascontiguousarray(split.x[idx], np.float32), choose_classes(split.y[idx], probs[idx])

    fast = incremental_ism(model)
    if fast is None:
        raise SystemExit(f"{args.model.name}: incremental ISM does not apply (see the log)")
    proto = load_onnx(model.path)
    pooled = next(n for n in proto.graph.node if model.tap.name in n.input).output[0]
    tail = subgraph(proto, [pooled], [fast.out_name], dynamic_length=False)
    plain_tail = PlainTail(ort.InferenceSession(tail.SerializeToString(),
                                                sess_options=session_options(int(model.info.extra["threads"]))))
    plain = IncrementalIsm(model, fast.head, plain_tail, fast.width, fast.pad_left, fast.out_name, fast.pool,
                           fast.crop_head, first=None)
    variants = {"shortcuts": lambda: fast.delta(x, classes), "no shortcuts": lambda: plain.delta(x, classes)}
    if args.full:
        variants["full (40 seq. x 5)"] = lambda: full_ism_delta(model, x[:40], classes[:40])
    times = {name: [] for name in variants}
    results = {}
    for name, fn in variants.items():  # once untimed: first-use costs
        results[name] = fn()
    for r in range(args.repeats):
        for name in (list(variants) if r % 2 == 0 else list(reversed(variants))):
            t = time.perf_counter()
            variants[name]()
            times[name].append((time.perf_counter() - t) * (5 if name.startswith("full") else 1))
    print(f"ISM of {args.model.relative_to(REPO) if args.model.is_relative_to(REPO) else args.model}, "
          f"{len(x)} sequences x {3 * x.shape[2]} mutants, tail kind {fast.tail.kind!r}, first-layer delta "
          f"{fast.first is not None}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end; "
          f"medians of {args.repeats} alternating rounds")
    base = statistics.median(times["no shortcuts"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"  {name:<22}{med:>8.2f} s   (x{base / med:.2f} vs no shortcuts; all: "
              + ", ".join(f"{t:.2f}" for t in ts) + ")")
    a, b = results["shortcuts"], results["no shortcuts"]
    print(f"max |shortcuts - no shortcuts| = {np.abs(a - b).max():.3g} (logit units; largest |delta| "
          f"{np.abs(b).max():.3g})")
    if args.full:
        print(f"max |shortcuts - full| on 40 sequences = {np.abs(a[:40] - results['full (40 seq. x 5)']).max():.3g}")
    alt = np.ones(a.shape, bool)
    alt[np.arange(len(x))[:, None], x.argmax(axis=1), np.arange(x.shape[2])[None]] = False
    print(f"mutants whose delta is exactly 0 (no pooled value moves): {float((a[alt] == 0).mean()):.1%}")


if __name__ == "__main__":
    main()
