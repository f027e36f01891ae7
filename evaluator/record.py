"""The result record: one JSON document per model x dataset split x evaluator version.

The record carries everything needed to trust and compare a number: who
computed it (evaluator and motifbench versions), on what (model and dataset
hashes, JASPAR release and hash), how (every parameter that changes a
number), the results, and how long each stage took. ``result_schema.json``
beside this module is the contract; :func:`validate_record` enforces it.

Numbers are plain JSON: NaN becomes null (JSON has no NaN), NumPy scalars
become Python numbers, so the same inputs always serialise to the same text
(apart from ``created`` and the timings).
"""
from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np

from benchmark.errors import MotifbenchError
from benchmark.files import atomic_write

SCHEMA_VERSION = "1.1.0"
SCHEMA_PATH = Path(__file__).with_name("result_schema.json")


class RecordError(MotifbenchError):
    """A result record does not match the schema (the message names the field)."""


def to_jsonable(value):
    """NumPy and float values -> JSON-safe Python values; NaN/inf -> None."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value


def utc_now() -> str:
    """ISO 8601 UTC timestamp with seconds, e.g. ``2025-01-31T12:00:00Z``."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=1)
def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def validate_record(record: dict) -> None:
    """Raise :class:`RecordError` naming the first field that breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RecordError(f"result record field {where}: {first.message}{more}")


def write_record(record: dict, path: str | Path) -> Path:
    """Validate and write the record as indented JSON (keys in insertion order)."""
    validate_record(record)
    path = Path(path)
    atomic_write(path, json.dumps(record, indent=2, allow_nan=False) + "\n", mode=0o644)
    return path


def read_record(path: str | Path) -> dict:
    """Read and validate a record written by :func:`write_record`."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise RecordError(f"cannot read result record {path}: {exc}") from exc
    validate_record(record)
    return record


def major(version: str) -> int:
    """The major part of a semver string (the leaderboard never mixes majors)."""
    return int(str(version).split(".")[0])


def summary_rows(record: dict) -> list[tuple[str, str]]:
    """The few numbers a person looks at first, as ``(label, value)`` rows."""
    res = record["results"]
    cls = res["classification"]
    rec = res["motif_recovery"]
    att = res["attribution"]
    ci = res.get("uncertainty") or {}  # schema 1.1.0: bootstrap intervals

    def fmt(v) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    def interval(section: str, key: str) -> str:
        lo, hi = ((ci.get(section) or {}).get(key) or [None, None])
        return "" if lo is None or hi is None else f"  [{lo:.3f}, {hi:.3f}]"

    rows = [
        ("model", record["model"]["name"]),
        ("dataset", f"{record['dataset']['config']} {record['dataset']['split']} "
                    f"(v{record['dataset']['version']}, {record['dataset']['n_sequences']} seqs)"),
        ("AUROC (macro)", fmt(cls["macro_auroc"]) + interval("classification", "macro_auroc")),
        ("auPR (macro, average precision)", fmt(cls["macro_aupr"]) + interval("classification", "macro_aupr")),
        ("auPR (macro, papers' trapezoid)", fmt(cls["macro_aupr_trapezoid"])),
    ]
    if rec is None:
        rows.append(("first-layer filters", "n/a (no first-layer tap: " + str(record["model"].get("tap_missing")) + ")"))
    else:
        rows += [
            ("filters", f"{rec['n_filters']} ({rec['n_filters_tested']} informative, sent to Tomtom)"),
            ("match JASPAR", f"{rec['match_jaspar_fraction']:.3f} ({rec['n_match_jaspar']}/{rec['n_filters']})"
                             + interval("motif_recovery", "match_jaspar_fraction")),
            ("match ground truth", f"{rec['match_ground_truth_fraction']:.3f} ({rec['n_match_ground_truth']}/{rec['n_filters']})"
                                   + interval("motif_recovery", "match_ground_truth_fraction")),
            ("coverage", f"{rec['coverage_count']}/{rec['n_ground_truth_tfs']}"
                         + (f" (missed: {', '.join(rec['missed_tfs'])})" if rec["missed_tfs"] else "")
                         + interval("motif_recovery", "coverage")),
        ]
    if att is not None:
        rows += [
            (f"ISM AUROC (mean of {att['n_sequences_scored']})", fmt(att["mean_auroc"]) + interval("attribution", "mean_auroc")),
            ("ISM auPR (mean, average precision)", fmt(att["mean_aupr"]) + interval("attribution", "mean_aupr")),
        ]
    if ci:
        rows.append(("intervals", f"{ci['settings']['level']:.0%} bootstrap over sequences ({ci['settings']['resamples']} resamples, "
                                  f"{ci['settings']['recovery_resamples']} for recovery, seed {ci['settings']['seed']})"))
    if record.get("round"):
        rows.append(("hidden round", f"{record['round'].get('id') or '?'} (commitment {record['round']['commitment'][:16]}...)"))
    grad = res.get("gradient_attribution") or {}
    for name in ("grad_x_input_corrected", "integrated_gradients_corrected", "deeplift_shap_corrected", "ism"):
        entry = (grad.get("methods") or {}).get(name)
        if entry:
            auroc = entry["auroc"]
            rows.append((f"class-specific AUROC, {name} (n={auroc['n']})",
                         f"{fmt(auroc['mean'])} [{fmt(auroc['ci_low'])}, {fmt(auroc['ci_high'])}]"))
    disc = res.get("discovery")
    if disc:
        rows.append(("discovery (TF-MoDISco)", f"{disc['n_patterns']} patterns, match {fmt(disc['match_ground_truth_fraction'])}, "
                                              f"coverage {disc['coverage_count']}/12"))
    rows.append(("time (s)", f"{record['timings_seconds'].get('total', 0.0):.1f}"))
    return rows


def format_summary(record: dict) -> str:
    """A two-column plain-text table of :func:`summary_rows`."""
    rows = summary_rows(record)
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label.ljust(width)}  {value}" for label, value in rows)
