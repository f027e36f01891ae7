"""Wall time of ``motifbench evaluate`` (default settings) per stage, cold and warm, this checkout beside another.

The headline of issue 16: the shipped CNN-25
(``space_app/baseline_models/cnn-25-relu-seed0/model.onnx``) on the 5,000-sequence public
test, every default on (classification + bootstrap CIs, first-layer PPMs + Tomtom +
recovery CIs, ISM on 200 sequences, gradient attribution, logo PNGs).

Measured, alternating this checkout (A) and ``--baseline`` (B, a git ref exported to a
temporary folder; default ``main``) in each round, medians over ``--repeats`` rounds:

- cold: ``python -m motifbench evaluate MODEL --quiet`` in a fresh process, wall clock
  from the parent (what ``time motifbench evaluate`` prints), and its CPU seconds;
- warm: the second ``evaluate()`` call in one process (the first call pays imports,
  session building and first-use caches); its stage table lists the main thread's
  stages in order, so they sum to the total (``unlisted`` is what no stage timed), and
  beside it the work that ran in background threads, overlapped with those stages;
- what the opt-in slow attribution methods and discovery add (``--slow`` off to skip);
- ISM: incremental vs full on the same 40 sequences (``max |diff|`` printed).

Usage (one command; prints medians)::

    python perf/evaluate_stages.py                       # A = this checkout, B = main
    python perf/evaluate_stages.py --baseline HEAD~3 --repeats 5
    python perf/evaluate_stages.py --baseline none       # this checkout only

``--data`` defaults to the data home's dataset (``motifbench data build`` makes it).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CNN25 = REPO / "space_app" / "baseline_models" / "cnn-25-relu-seed0" / "model.onnx"
#: The main thread's stages, in the order the pipeline runs them (they sum to ``total`` with ``unlisted``).
SEQUENTIAL = ("load_data", "load_model", "inference", "classification", "ppm", "tomtom", "recovery", "attribution",
              "gradient_attribution", "logos", "uncertainty", "logos_wait", "record")
#: Timed work that ran in a background thread, overlapped with the stages above.
BACKGROUND = {"recovery_intervals": "recovery bootstrap (Tomtom per resample)",
              "logos": "logo PNGs (from evaluator 2.1.x with logos_wait: drawn in a thread)"}
ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "MPLBACKEND": "Agg", "GRADIO_ANALYTICS_ENABLED": "False",
       "HF_HUB_DISABLE_TELEMETRY": "1"}

WARM_CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
from evaluator import EvalParams, evaluate
model, data, out, calls, slow = sys.argv[1], sys.argv[2] or None, sys.argv[3], int(sys.argv[4]), sys.argv[5] == "1"
rows = []
for i in range(calls):
    c, t = time.process_time(), time.perf_counter()
    rec = evaluate(model, data=data, out_dir=f"{out}/call{i}", progress=False).to_record()
    rows.append({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "timings": rec["timings_seconds"],
                 "results": rec["results"]})
if slow:
    params = EvalParams(slow_attribution=True, discovery=True)
    t = time.perf_counter()
    rec = evaluate(model, data=data, out_dir=f"{out}/slow", progress=False, params=params).to_record()
    rows.append({"wall": time.perf_counter() - t, "timings": rec["timings_seconds"], "slow": True})
print("JSON" + json.dumps(rows))
"""


def export_ref(ref: str, dest: Path) -> Path:
    """``git archive`` of ``ref`` unpacked into ``dest`` (no worktree registered)."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def _env(checkout: Path) -> dict:
    return {**os.environ, **ENV, "PYTHONPATH": str(checkout)}


def cold(checkout: Path, model: Path, data: str | None, out: Path) -> tuple[float, float]:
    """Wall and CPU seconds (all threads, user + system) of ``python -m motifbench evaluate`` in a fresh process."""
    import resource

    cmd = [sys.executable, "-m", "motifbench", "evaluate", str(model), "--out", str(out / "result.json"), "--quiet"]
    if data:
        cmd += ["--data", data]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(cmd, env=_env(checkout), cwd=checkout, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise RuntimeError(f"evaluate failed in {checkout}: {done.stderr.strip()[-400:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def warm(checkout: Path, model: Path, data: str | None, out: Path, calls: int, slow: bool) -> list[dict]:
    """``calls`` evaluate() calls in one process (and the slow-methods call when ``slow``)."""
    done = subprocess.run([sys.executable, "-c", WARM_CHILD, str(model), data or "", str(out), str(calls),
                           "1" if slow else "0"], env=_env(checkout), cwd=checkout, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"evaluate failed in {checkout}: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout.split("JSON", 1)[1])


def stage_table(label_runs: dict[str, list[dict]]) -> list[str]:
    """Median seconds per stage of each side's warm calls, main-thread stages then background work."""
    labels = list(label_runs)
    med = {lab: {} for lab in labels}
    for lab, runs in label_runs.items():
        keys = {k for r in runs for k in r["timings"]}
        for k in keys:
            med[lab][k] = statistics.median(r["timings"].get(k, 0.0) for r in runs)
        has_wait = any("logos_wait" in r["timings"] for r in runs)
        seq = [s for s in SEQUENTIAL if not (s == "logos" and has_wait)]
        med[lab]["unlisted"] = med[lab].get("total", 0.0) - sum(med[lab].get(s, 0.0) for s in seq)
        med[lab]["_seq"] = seq
    lines = [f"{'stage (main thread, in order)':<34}" + "".join(f"{lab:>14}" for lab in labels)]
    for s in list(SEQUENTIAL) + ["unlisted", "total"]:
        cells = []
        for lab in labels:
            inside = s in med[lab]["_seq"] or s in ("unlisted", "total")
            cells.append(f"{med[lab][s]:>13.2f}s" if inside and s in med[lab] else f"{'-':>14}")
        if any(c.strip() != "-" for c in cells):
            lines.append(f"{s:<34}" + "".join(cells))
    lines.append("in background threads (overlapped with the stages above):")
    for s, what in BACKGROUND.items():
        cells = []
        for lab in labels:
            bg = s != "logos" or "logos_wait" in med[lab]
            cells.append(f"{med[lab][s]:>13.2f}s" if bg and s in med[lab] else f"{'-':>14}")
        lines.append(f"  {s:<32}" + "".join(cells) + f"   {what}")
    return lines


def ism_alternative(model: Path, data: str | None) -> str:
    import numpy as np

    from benchmark.loader import load_split
    from evaluator.attribution import choose_classes, ism_delta, select_sequences
    from evaluator.onnx_model import OnnxModel

    split = load_split(data, "synthetic", "test")
    om = OnnxModel(model, split.x.shape[2])
    probs = om.to_probabilities(om.predict(split.x))
    idx = select_sequences(split.y, split.mask, 40)
    cls = choose_classes(split.y[idx], probs[idx])
    ism_delta(om, split.x[idx[:1]], cls[:1])  # build (and probe) the incremental split once, not timed
    t_inc, t_full = [], []
    for _ in range(3):
        t = time.perf_counter()
        inc = ism_delta(om, split.x[idx], cls)
        t_inc.append(time.perf_counter() - t)
        t = time.perf_counter()
        full = ism_delta(om, split.x[idx], cls, incremental=False)
        t_full.append(time.perf_counter() - t)
    return (f"ISM, 40 sequences x 600 mutants (this checkout): incremental {statistics.median(t_inc):.2f} s vs full "
            f"{statistics.median(t_full):.2f} s (max |diff| {np.abs(inc - full).max():.2g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=CNN25)
    parser.add_argument("--data", default=None, help="dataset folder or Hub id (default: the data home's)")
    parser.add_argument("--baseline", default="main", help="git ref to compare with ('none': this checkout only)")
    parser.add_argument("--this", default=None, metavar="REF",
                        help="measure this git ref (exported like --baseline) instead of the working tree, so "
                             "editing the tree during a long run cannot mix versions")
    parser.add_argument("--repeats", type=int, default=3, help="alternating rounds (medians over them)")
    parser.add_argument("--calls", type=int, default=3, help="evaluate() calls per warm process (first is cold)")
    parser.add_argument("--no-slow", dest="slow", action="store_false",
                        help="skip the slow-attribution + discovery call")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    os.environ.update(ENV)

    work = Path(tempfile.mkdtemp(prefix="motifbench-evalstages-"))
    sides = {"this checkout": REPO} if args.this is None else {args.this: export_ref(args.this, work / "this")}
    if args.baseline != "none":
        sides[f"{args.baseline}"] = export_ref(args.baseline, work / "baseline")
    model = args.model.resolve()
    for checkout in sides.values():  # an exported ref has a cold numba cache: compile it first, not during a round
        module = "evaluator.tomtom_warm_up" if (checkout / "evaluator" / "tomtom_warm_up.py").exists() \
            else "evaluator.tomtom_jit_cache"  # where warm_up() lived before
        subprocess.run([sys.executable, "-c", f"from {module} import warm_up; warm_up()"],
                       env=_env(checkout), cwd=checkout, capture_output=True)
    colds = {lab: [] for lab in sides}
    warms = {lab: [] for lab in sides}
    cpus = {lab: [] for lab in sides}
    cold_cpus = {lab: [] for lab in sides}
    results = {lab: None for lab in sides}
    slow_rows = {}
    for r in range(args.repeats):
        for lab, checkout in (sides.items() if r % 2 == 0 else reversed(sides.items())):
            tag = f"{'A' if lab == next(iter(sides)) else 'B'}{r}"
            wall, cpu = cold(checkout, model, args.data, work / f"cold_{tag}")
            colds[lab].append(wall)
            cold_cpus[lab].append(cpu)
            rows = warm(checkout, model, args.data, work / f"warm_{tag}", args.calls,
                        slow=args.slow and r == 0 and lab == next(iter(sides)))
            for row in rows:
                if row.get("slow"):
                    slow_rows[lab] = (row, rows[-2])
            calls = [row for row in rows if not row.get("slow")]
            warms[lab] += calls[1:]
            cpus[lab] += [row["cpu"] for row in calls[1:]]
            results[lab] = calls[-1]["results"]
            print(f"  round {r + 1}: {lab}: cold {colds[lab][-1]:.2f} s, warm "
                  + ", ".join(f"{row['wall']:.2f}" for row in calls[1:]) + " s", flush=True)

    load = os.getloadavg()[0]
    print(f"\nmotifbench evaluate {model.relative_to(REPO) if model.is_relative_to(REPO) else model}, default "
          f"settings, {os.cpu_count()} CPUs, load average {load:.1f} at the end; medians of {args.repeats} alternating "
          f"rounds (warm: {args.calls - 1} calls per round)")
    print(f"{'':<34}" + "".join(f"{lab:>14}" for lab in sides))
    print(f"{'cold (fresh process, CLI wall)':<34}" + "".join(f"{statistics.median(colds[l]):>13.2f}s" for l in sides))
    print(f"{'cold, CPU seconds (all threads)':<34}"
          + "".join(f"{statistics.median(cold_cpus[l]):>13.2f}s" for l in sides))
    print(f"{'warm (2nd+ call in one process)':<34}"
          + "".join(f"{statistics.median(r['wall'] for r in warms[l]):>13.2f}s" for l in sides))
    print(f"{'warm, CPU seconds (all threads)':<34}" + "".join(f"{statistics.median(cpus[l]):>13.2f}s" for l in sides))
    print()
    print("\n".join(stage_table(warms)))
    if len(sides) == 2:
        a, b = (results[lab] for lab in sides)
        same = json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
        print(f"\nresults sections identical between the two checkouts: {same}")
    for lab, (slow, plain) in slow_rows.items():
        extra = {k: v for k, v in slow["timings"].items() if k.startswith("attribution_") or k == "gradient_attribution"}
        print(f"\nslow attribution + discovery switched on ({lab}, warm): total {slow['wall']:.1f} s vs "
              f"{plain['wall']:.1f} s with the defaults (+{slow['wall'] - plain['wall']:.1f} s); "
              + ", ".join(f"{k} {v:.1f} s" for k, v in sorted(extra.items())))
    sys.path.insert(0, str(next(iter(sides.values()))))
    print(ism_alternative(model, args.data))
    print(f"\nrecords in {work}")


if __name__ == "__main__":
    main()
