"""What the service worker's attribution settings cost, per method, beside the fast defaults, and how stable
the cheaper settings are.

Two parts (both by default):

``--part cost``: ``evaluate()`` of shipped baselines on the koo2019 test split (5,000 rows, built in a
temporary folder, not timed) with three settings, alternating (A/B/C per repeat, medians reported):

* ``default``: the evaluator's fast defaults (saliency + grad x input, no discovery);
* ``service-before``: :data:`submissions.cli.SERVICE_EVAL_PARAMS` with the previous slow-method settings
  (``ig_steps`` 16, ``shap_shuffles`` 20, ``modisco_leiden_runs`` 10);
* ``service``: :data:`submissions.cli.SERVICE_EVAL_PARAMS` as shipped now.

It prints the total and every attribution stage's seconds (``timings_seconds``: conversion, each method
group, class ISM, randomisation, discovery) side by side, and the headline numbers of each run, so a
cheaper setting that changed a score shows up next to its time.

``--part stability``: on the same 500 positives, for each model, the numbers behind the cheaper
settings: TF-MoDISco with ``n_leiden_runs`` 10 / 5 / 3 / 2 (patterns, coverage, match fraction,
seconds), DeepLIFT/SHAP with 20 / 10 / 5 shuffles and IG with 16 / 8 steps (class-specific AUROC mean
and 95% CI, the largest per-sequence change against the most expensive setting).

Usage::

    python perf/attribution_service_cost.py [--models cnn-25-relu-seed0 cnn-1-exp-seed0] [--repeats 2]
        [--part cost|stability|both]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
BUNDLE = REPO / "space_app/baseline_models"
BEFORE = {"ig_steps": 16, "shap_shuffles": 20, "modisco_leiden_runs": 10}
STAGES = ("attribution", "gradient_attribution", "attribution_conversion", "attribution_method_saliency+grad_x_input",
          "attribution_method_integrated_gradients", "attribution_method_deeplift_shap", "attribution_method_ism",
          "attribution_randomisation", "attribution_discovery", "total")


def _headline(record: dict) -> str:
    grad = record["results"].get("gradient_attribution") or {}
    disc = record["results"].get("discovery") or {}
    aurocs = {m: v["auroc"]["mean"] for m, v in (grad.get("methods") or {}).items() if m.endswith("corrected")
              or m == "ism"}
    short = " ".join(f"{m.replace('_corrected', '')}={a:.3f}" for m, a in aurocs.items())
    found = (f"; discovery {disc.get('n_patterns')} patterns, {disc.get('coverage_count')}/12, match "
             f"{disc.get('match_ground_truth_fraction')}") if disc else ""
    return short + found


def cost(data: Path, models: list[str], repeats: int) -> None:
    from evaluator import evaluate
    from evaluator.params import EvalParams
    from submissions.cli import SERVICE_EVAL_PARAMS

    settings = {"default": EvalParams(), "service-before": EvalParams(**{**SERVICE_EVAL_PARAMS, **BEFORE}),
                "service": EvalParams(**SERVICE_EVAL_PARAMS)}
    print(f"service settings now: {SERVICE_EVAL_PARAMS} (before: {BEFORE})")
    for model in models:
        path = BUNDLE / model / "model.onnx"
        times: dict[str, dict[str, list[float]]] = {k: {s: [] for s in STAGES} for k in settings}
        last: dict[str, str] = {}
        for r in range(repeats):
            for label, params in settings.items():
                with tempfile.TemporaryDirectory() as out:
                    record = evaluate(path, data=data, out_dir=out, progress=False, threads=2, params=params)
                for stage in STAGES:
                    times[label][stage].append(record["timings_seconds"].get(stage, 0.0))
                last[label] = _headline(record)
                print(f"  [{model} repeat {r + 1}] {label}: {record['timings_seconds']['total']:.1f} s", flush=True)
        print(f"\n{model}: seconds, median of {repeats} alternating runs")
        print(f"  {'stage':42s}" + "".join(f"{k:>16s}" for k in settings))
        for stage in STAGES:
            print(f"  {stage:42s}" + "".join(f"{statistics.median(times[k][stage]):16.2f}" for k in settings))
        for label, text in last.items():
            print(f"  {label}: {text}")
        print(flush=True)


def stability(data: Path, models: list[str]) -> None:
    from benchmark.loader import load_split
    from benchmark.motifs import load_motif_set
    from evaluator.attribution_benchmark import select, torch_single_thread
    from evaluator.attribution_methods import (correct, deeplift_shap, gradients, integrated_gradients,
                                               position_scores)
    from evaluator.attribution_score import (bootstrap_summary, class_masks, informative_columns,
                                             per_sequence_metrics)
    from evaluator.discovery import ModiscoSettings, run_modisco, score_patterns
    from evaluator.onnx_to_torch import convert_model

    arrays = load_split(data)
    names = load_motif_set().names
    idx, classes = select(arrays.y, arrays.motifs, names, 500, 0)
    x = np.ascontiguousarray(arrays.x[idx])
    masks = class_masks([arrays.motifs[i] for i in idx], classes, x, names, informative_columns())

    def auroc(method: str, a: np.ndarray) -> tuple[np.ndarray, dict]:
        per = per_sequence_metrics(position_scores(method, a, x), masks)["auroc"]
        return per, bootstrap_summary(per, 1000, 0)

    for model in models:
        path = BUNDLE / model / "model.onnx"
        print(f"\n{model}: {len(x)} positives")
        with torch_single_thread():
            conv = convert_model(path, x.shape[2], output_name="probabilities", logits_output="logits", probe=x[:16])
            g = gradients(conv.module, x, classes)
            rows = []
            for steps in (16, 8):
                t = time.perf_counter()
                a = correct(integrated_gradients(conv.module, x, classes, steps))
                rows.append((f"IG {steps} steps", time.perf_counter() - t, *auroc("integrated_gradients_corrected", a)))
            for shuffles in (20, 10, 5):
                t = time.perf_counter()
                a = correct(deeplift_shap(conv.module, x, classes, shuffles, 0)[0])
                rows.append((f"DeepLIFT/SHAP {shuffles} shuffles", time.perf_counter() - t,
                             *auroc("deeplift_shap_corrected", a)))
        print(f"  {'method':28s} {'seconds':>8s}  AUROC mean [95% CI]        per-sequence |change| vs first: mean, max")
        ref = {}
        for name, seconds, per, summ in rows:
            fam = name.split()[0]
            ref.setdefault(fam, per)
            change = np.abs(per - ref[fam])
            print(f"  {name:28s} {seconds:8.2f}  {summ['mean']:.4f} [{summ['ci_low']:.4f}, {summ['ci_high']:.4f}]"
                  f"   {np.nanmean(change):.4f}, {np.nanmax(change):.4f}")
        hyp = correct(g)
        print(f"  {'TF-MoDISco n_leiden_runs':28s} {'seconds':>8s}  patterns  coverage  match  seqlets")
        for runs in (10, 5, 3, 2):
            t = time.perf_counter()
            patterns = run_modisco(x, hyp, ModiscoSettings(n_leiden_runs=runs))
            seconds = time.perf_counter() - t
            sc = score_patterns(patterns)
            match = sc["match_ground_truth_fraction"]
            print(f"  {runs:<28d} {seconds:8.2f}  {sc['n_patterns']:8d}  {sc['coverage_count']:5d}/12  "
                  f"{'n/a' if match is None else f'{match:.3f}'}  {sum(p.n_seqlets for p in patterns)} "
                  f"missed {sc['missed_tfs']}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn-25-relu-seed0", "cnn-1-exp-seed0"])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--part", choices=("cost", "stability", "both"), default="both")
    parser.add_argument("--data", help="an existing koo2019 dataset folder (default: build one in a temp folder)")
    args = parser.parse_args()
    from benchmark.synthetic import build_synthetic

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(args.data) if args.data else Path(tmp) / "motifbench"
        if not args.data:
            build_synthetic(data, preset="koo2019", n=25_000)
        if args.part in ("stability", "both"):
            stability(data, args.models)
        if args.part in ("cost", "both"):
            cost(data, args.models, args.repeats)


if __name__ == "__main__":
    main()
