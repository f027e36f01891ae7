"""The papers' baselines, shipped as ONNX files, queued on a fresh leaderboard.

A new Space (or `motifbench serve` on a new data home) should open on the
papers' finding, not an empty table. The bundle holds trained baseline runs
(`model.onnx` + `spec.json` from `motifbench train`); they enter through the
same door as any submission (validation, queue, sandboxed worker, the live
evaluator), flagged as baselines, so their rows are measured by the evaluator
the Space runs, never copied in. A run is queued only when the served dataset
is the one it was trained on (same split content hashes), and a run already
in the store is a reported duplicate, so calling this on every start is safe.
"""
from __future__ import annotations

import functools
import json
import logging
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

BUNDLE_DIR = Path(__file__).resolve().parent / "baseline_models"


def bundled_runs(folder: Path = BUNDLE_DIR) -> list[Path]:
    """Run folders in the bundle (each with model.onnx and spec.json), in name order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "model.onnx").is_file() and (p / "spec.json").is_file())


def _trained_on_served_dataset(spec: dict, data: str | Path | None) -> bool:
    from benchmark.loader import dataset_info

    trained = (spec.get("dataset") or {}).get("splits_content_sha256") or {}
    config = (spec.get("dataset") or {}).get("config", "synthetic")
    try:
        served = {s: dataset_info(data, config, s).content_sha256 for s in ("train", "validation", "test")}
    except Exception as exc:  # no dataset yet, other config: nothing to compare with
        log.info("bundled baselines not queued: %s", exc)
        return False
    return bool(trained) and trained == served


def queue_bundled_baselines(data: str | Path | None = None, folder: Path = BUNDLE_DIR, store=None) -> dict[str, str]:
    """Submit every bundled run not yet in the store; returns run name -> submission id or skip reason."""
    from submissions.errors import SubmissionRejected
    from submissions.intake import baseline_manifest, submit

    outcome: dict[str, str] = {}
    for run in bundled_runs(folder):
        spec = json.loads((run / "spec.json").read_text())
        if not _trained_on_served_dataset(spec, data):
            outcome[run.name] = "skipped: trained on a different dataset than the one served"
            continue
        manifest = baseline_manifest(spec, spec["dataset"]["version"])
        try:
            sub = submit(run / "model.onnx", manifest, data=data, store=store, baseline=True)
            outcome[run.name] = sub.id
        except SubmissionRejected as exc:
            outcome[run.name] = f"already queued as {exc.existing_id}" if exc.code == "duplicate" else f"rejected: {exc}"
            if exc.code != "duplicate":
                log.warning("bundled baseline %s rejected: %s", run.name, exc)
    queued = sum(1 for v in outcome.values() if not v.startswith(("skipped", "already", "rejected")))
    if outcome:
        log.info("bundled baselines: %d queued, %d already there or skipped", queued, len(outcome) - queued)
    return outcome


def recorded_seed_rows(folder: Path | None = None) -> pd.DataFrame:
    """Leaderboard-shaped rows of every bundled run's evaluator record (all seeds, with or without ONNX).

    Columns: ``family``, ``seed``, ``model_name``, ``dataset_config``, ``dataset_version``,
    ``evaluator_version``, the manifest facts (``activation``, ``first_layer_pool``, ``params``,
    ``framework``, ``submitter``, ``baseline``) from the same rule as the queued manifest
    (`submissions.intake.baseline_manifest`) and the score columns from the same rule as a live row
    (`submissions.export.record_scores`). Read once per bundle state (the folder's files' mtimes).
    ``folder`` defaults to the bundle the Space ships (`BUNDLE_DIR`).
    """
    folder = BUNDLE_DIR if folder is None else folder
    if not folder.is_dir():
        return pd.DataFrame()
    stamp = tuple(sorted((str(p), p.stat().st_mtime_ns) for p in folder.glob("*/evaluation/result.json")))
    return _recorded_rows(folder, stamp).copy()


@functools.lru_cache(maxsize=4)
def _recorded_rows(folder: Path, stamp: tuple) -> pd.DataFrame:
    from submissions.export import record_scores
    from submissions.intake import baseline_manifest

    rows = []
    for record_path, _ in stamp:
        run = Path(record_path).parent.parent
        try:
            spec = json.loads((run / "spec.json").read_text())
            record = json.loads(Path(record_path).read_text())
        except (OSError, ValueError) as exc:
            log.warning("bundled record %s unreadable: %s", run.name, exc)
            continue
        dataset = record.get("dataset") or {}
        manifest = baseline_manifest(spec, dataset.get("version") or (spec.get("dataset") or {}).get("version"))
        facts = manifest["architecture"]
        recovery = (record.get("results") or {}).get("motif_recovery") or {}
        coverage = recovery.get("coverage_count")
        rows.append({
            "id": f"bundled:{run.name}", "model_name": manifest["model_name"], "family": manifest["family"],
            "seed": manifest.get("seed"), "dataset_config": dataset.get("config") or manifest["dataset"]["config"],
            "dataset_version": manifest["dataset"]["version"], "evaluator_version": record.get("evaluator_version"),
            "activation": facts.get("activation"), "first_layer_pool": facts.get("first_layer_pool"),
            "params": facts.get("params"), "framework": facts.get("framework"),
            "submitter": manifest["submitter"], "baseline": True,
            "coverage_count": coverage if isinstance(coverage, int) and not isinstance(coverage, bool) else None,
            **record_scores(record),
        })
    return pd.DataFrame(rows)
