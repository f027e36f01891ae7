"""Plausible result records, stored through the real store and export: demo rows for tests and perf.

Nothing here is a measurement. Each record follows the evaluator's result
schema (scores drawn at random, PPMs taken from the 12 ground-truth motifs
or made uniform), and goes through the same door as a real evaluation:
``Store.add`` -> ``claim`` -> ``finish`` -> ``submissions.export``. The
leaderboard therefore reads exactly the files it reads in production.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.motifs import load_motif_set
from evaluator import EVALUATOR_VERSION
from evaluator.params import EvalParams
from submissions import export
from submissions.store import Store
from submissions.sqlite_store import open_store

ACTIVATIONS = ("relu", "exp")
POOLS = (1, 2, 4, 10, 25, 50)


def fake_record(name: str, rng: np.random.Generator, *, dataset_version: str = "1.0.0", config: str = "synthetic",
                evaluator_version: str = EVALUATOR_VERSION, n_filters: int = 8) -> dict[str, Any]:
    """A schema-shaped result record with random scores (see the module docstring)."""
    ms = load_motif_set()
    tfs = list(ms.names)
    sha = hashlib.sha256(name.encode()).hexdigest()
    per_class = [
        {"index": i, "tf": tf, "n_positive": int(rng.integers(20, 60)), "auroc": float(rng.uniform(0.85, 0.99)),
         "aupr": float(rng.uniform(0.5, 0.9)), "aupr_trapezoid": float(rng.uniform(0.5, 0.9))}
        for i, tf in enumerate(tfs)
    ]
    filters, per_tf = [], dict.fromkeys(tfs, 0)
    for i in range(n_filters):
        truth = bool(rng.random() < 0.6)
        k = int(rng.integers(0, len(tfs)))
        ppm = ms.pwms[k].T if truth else np.full((8, 4), 0.25)
        hit = None
        if truth:
            per_tf[tfs[k]] += 1
            hit = {"target_id": ms.jaspar_ids[k], "target_name": tfs[k].upper(), "ground_truth_tf": tfs[k],
                   "is_ground_truth": True, "p_value": 1e-7, "e_value": 5e-5, "q_value": 1e-4, "offset": 0,
                   "overlap": int(ppm.shape[0]), "orientation": "+"}
        filters.append({"filter": f"filter{i}", "index": i, "tested": truth, "n_hits": int(truth), "best_hit": hit,
                        "best_ground_truth_hit": hit, "ground_truth_tfs": [tfs[k]] if truth else [],
                        "n_windows": 100, "max_activation": 3.0, "clip": [0, int(ppm.shape[0])] if truth else None,
                        "ppm": np.round(ppm, 6).tolist()})
    n_truth = sum(1 for f in filters if f["ground_truth_tfs"])
    covered = [tf for tf in tfs if per_tf[tf]]
    macro = float(np.mean([c["auroc"] for c in per_class]))
    params = EvalParams()
    return {
        "schema_version": "1.0.0",
        "created": "2026-01-01T00:00:00Z",
        "evaluator_version": evaluator_version,
        "motifbench_version": "0.1.0",
        "model": {"name": name, "given_path": f"{name}.onnx", "kind": "onnx", "onnx_sha256": sha,
                  "checkpoint_sha256": sha, "framework": "pytorch", "producer": "pytorch 2.13", "opset": 17,
                  "input_name": "x", "output_name": "probabilities", "output_kind": "probabilities",
                  "output_kind_source": "declared", "tap_name": "first_layer", "tap_source": "first_layer output",
                  "tap_path": ["Conv", "Relu"], "n_filters": n_filters, "filter_width": 19, "input_length": 200,
                  "tap_length": 200, "spec": None},
        "dataset": {"source": "seed", "config": config, "split": "test", "version": dataset_version,
                    "revision": None, "files_sha256": {}, "content_sha256": None, "ground_truth": True,
                    "n_sequences": 400, "sequence_length": 200},
        "jaspar": {"release": 2016, "collection": "CORE vertebrates", "n_matrices": 519, "sha256": "0" * 64},
        "parameters": {"eval": {**params.as_dict(), "ism_batch_mutants": 1024},
                       "tomtom_method": {"dist": "ed", "thresh": 0.1, "evalue": True, "min_overlap": 1,
                                         "motif_pseudo": 0.1},
                       "derived": {"ppm_window": 20, "tap_offset": 0}},
        "results": {
            "classification": {"macro_auroc": macro, "macro_aupr": float(np.mean([c["aupr"] for c in per_class])),
                               "macro_aupr_trapezoid": float(np.mean([c["aupr_trapezoid"] for c in per_class])),
                               "per_class": per_class, "undefined_classes": [], "notes": "seeded demo record"},
            "motif_recovery": {"n_filters": n_filters, "n_filters_tested": n_truth,
                               "untested_filters": [f["filter"] for f in filters if not f["tested"]],
                               "n_match_jaspar": n_truth, "n_match_ground_truth": n_truth,
                               "match_jaspar_fraction": n_truth / n_filters,
                               "match_ground_truth_fraction": n_truth / n_filters,
                               "coverage": len(covered) / len(tfs), "coverage_count": len(covered),
                               "n_ground_truth_tfs": len(tfs), "covered_tfs": covered,
                               "missed_tfs": [tf for tf in tfs if tf not in covered], "filters_per_tf": per_tf,
                               "filters": filters, "notes": "seeded demo record"},
            "attribution": {"method": "ism", "n_sequences_requested": 200, "n_sequences_scored": 200,
                            "mean_auroc": float(rng.uniform(0.6, 0.95)), "mean_aupr": float(rng.uniform(0.3, 0.8)),
                            "mean_aupr_trapezoid": float(rng.uniform(0.3, 0.8)), "sequence_ids": [],
                            "class_choice": "seed", "score_definition": "seed", "positives": "seed"},
        },
        "timings_seconds": {"total": 1.0},
        "artifacts": {},
    }


def seed_results(n: int, home: Path | None = None, *, names: list[str] | None = None, seed: int = 0,
                 dataset_version: str = "1.0.0", evaluator_version: str = EVALUATOR_VERSION,
                 store: Store | None = None, export_each: bool = False) -> list[str]:
    """Store ``n`` FINISHED submissions with fake records and export them; returns their ids.

    Parameters
    ----------
    n : rows to add.
    home : data home (default: the current one).
    names : model names (default ``seed-model-<i>``); a name repeats the row's activation and pool.
    export_each : export after every finish as the worker does (slow for many rows); default once at the end.
    """
    rng = np.random.default_rng(seed)
    own = store is None
    store = store or open_store(home)
    root = export.submissions_home(home)
    ids = []
    try:
        for i in range(n):
            name = names[i] if names and i < len(names) else f"seed-model-{seed}-{i}"
            activation, pool = ACTIVATIONS[i % 2], POOLS[i % len(POOLS)]
            record = fake_record(name, rng, dataset_version=dataset_version, evaluator_version=evaluator_version)
            manifest = {"model_name": name, "submitter": "seed" if i % 3 else "motifbench baselines",
                        "dataset": {"config": "synthetic", "version": dataset_version},
                        "output_kind": "probabilities", "license": "MIT",
                        "architecture": {"framework": "pytorch", "activation": activation,
                                         "first_layer_pool": pool, "params": int(100_000 + 1000 * i)}}
            sub, _ = store.add(manifest=manifest, sha256=record["model"]["onnx_sha256"], size_bytes=1000,
                               baseline=i % 3 == 0)
            worker = f"seed-{seed}"
            claimed = store.claim(worker)
            while claimed is not None and claimed.id != sub.id:  # an older PENDING job: leave it pending
                store.release(claimed.id, worker)
                claimed = None
            if claimed is None:
                raise RuntimeError(f"could not claim seeded submission {sub.id}: other jobs are pending")
            store.finish(sub.id, worker, record)
            if export_each:
                export.export_submission(store, sub.id, root)
            ids.append(sub.id)
        if not export_each:
            export.export_all(store, root)
    finally:
        if own:
            store.close()
    return ids
