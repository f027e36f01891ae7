"""Exports the leaderboard reads: one JSON per result record and one flat parquet table.

``<data home>/submissions/results/<id>.json`` is the evaluator's record as it
was stored; ``<data home>/submissions/leaderboard.parquet`` has one row per
FINISHED submission with flat, typed columns (:data:`LEADERBOARD_SCHEMA`).
The table is rebuilt from the store on every finish, written to a temporary
file and renamed into place under a file lock, so a reader always sees a whole
table and two workers finishing at once cannot drop each other's rows.
The leaderboard only reads these files; it never recomputes a score.
"""
from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from submissions.store import FINISHED, Store, Submission, submissions_home

LEADERBOARD_FILE = "leaderboard.parquet"
RESULTS_DIR = "results"

_TS = pa.timestamp("s", tz="UTC")
#: Columns of leaderboard.parquet (docs/submissions.md describes each).
LEADERBOARD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("model_name", pa.string()),
        ("submitter", pa.string()),
        ("baseline", pa.bool_()),
        ("dataset_config", pa.string()),
        ("dataset_version", pa.string()),
        ("split", pa.string()),
        ("evaluator_version", pa.string()),
        ("framework", pa.string()),
        ("activation", pa.string()),
        ("first_layer_pool", pa.int64()),
        ("params", pa.int64()),
        ("n_filters", pa.int64()),
        ("auroc", pa.float64()),
        ("aupr", pa.float64()),
        ("match_ground_truth", pa.float64()),
        ("coverage", pa.float64()),
        ("coverage_count", pa.int64()),
        ("match_jaspar", pa.float64()),
        ("attribution_score", pa.float64()),
        ("sha256", pa.string()),
        ("submitted_at", _TS),
        ("finished_at", _TS),
        ("record_file", pa.string()),
    ]
)

# Where each score sits in the evaluator's record: the first path present wins.
_SCORE_PATHS: dict[str, tuple[str, ...]] = {
    "auroc": ("results.classification.macro_auroc",),
    "aupr": ("results.classification.macro_aupr",),
    "match_ground_truth": ("results.motif_recovery.match_ground_truth_fraction",),
    "coverage": ("results.motif_recovery.coverage",),
    "match_jaspar": ("results.motif_recovery.match_jaspar_fraction",),
    "attribution_score": ("results.attribution.mean_auroc",),
}


def results_dir(root: Path | None = None) -> Path:
    """Folder of ``<id>.json`` result records."""
    return (root or submissions_home()) / RESULTS_DIR


def leaderboard_path(root: Path | None = None) -> Path:
    """The parquet table the Space reads."""
    return (root or submissions_home()) / LEADERBOARD_FILE


def _lookup(record: dict[str, Any], dotted: str) -> Any:
    node: Any = record
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(int(value), tz=timezone.utc)


def leaderboard_row(sub: Submission) -> dict[str, Any]:
    """One flat row from a FINISHED submission: manifest facts, then record facts, then scores."""
    record = sub.record or {}
    arch = dict(sub.manifest.get("architecture") or {})
    model = record.get("model") if isinstance(record.get("model"), dict) else {}
    row: dict[str, Any] = {
        "id": sub.id,
        "model_name": sub.model_name,
        "submitter": sub.submitter,
        "baseline": sub.baseline,
        "dataset_config": _lookup(record, "dataset.config") or sub.dataset_config,
        "dataset_version": _lookup(record, "dataset.version") or sub.dataset_version,
        "split": _lookup(record, "dataset.split"),
        "evaluator_version": _lookup(record, "evaluator_version"),
        "framework": arch.get("framework") or model.get("framework"),
        "activation": arch.get("activation") or (model.get("spec") or {}).get("activation"),
        "first_layer_pool": _int(arch.get("first_layer_pool")),
        "params": _int(arch.get("params")),
        "n_filters": _int(model.get("n_filters")),
        "sha256": sub.sha256,
        "submitted_at": _ts(sub.created_at),
        "finished_at": _ts(sub.finished_at),
        "record_file": f"{RESULTS_DIR}/{sub.id}.json",
        "coverage_count": _int(_lookup(record, "results.motif_recovery.coverage_count")),
    }
    for column, paths in _SCORE_PATHS.items():
        row[column] = next((v for v in (_number(_lookup(record, p)) for p in paths) if v is not None), None)
    return row


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".export.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_result_json(sub: Submission, root: Path | None = None) -> Path:
    """``results/<id>.json``: the stored record, byte-for-byte what the evaluator returned (sorted keys)."""
    path = results_dir(root) / f"{sub.id}.json"
    _atomic_write_bytes(path, (json.dumps(sub.record, indent=2, sort_keys=True, default=str) + "\n").encode())
    return path


def write_leaderboard(store: Store, root: Path | None = None) -> Path:
    """Rebuild ``leaderboard.parquet`` from every FINISHED submission (call under :func:`_locked`)."""
    rows = [leaderboard_row(s) for s in store.list([FINISHED])]
    table = pa.Table.from_pylist(rows, schema=LEADERBOARD_SCHEMA)
    path = leaderboard_path(root)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    _atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return path


def export_submission(store: Store, submission_id: str, root: Path | None = None) -> None:
    """After a job ends: its JSON (if FINISHED) and a fresh leaderboard table."""
    root = root or submissions_home()
    sub = store.get(submission_id)
    if sub is None or sub.state != FINISHED:
        return
    with _locked(root):
        write_result_json(sub, root)
        write_leaderboard(store, root)


def export_all(store: Store, root: Path | None = None) -> Path:
    """Rewrite every result JSON and the table (after a restore or an export format change)."""
    root = root or submissions_home()
    with _locked(root):
        for sub in store.list([FINISHED]):
            write_result_json(sub, root)
        return write_leaderboard(store, root)


def read_leaderboard(root: Path | None = None) -> pa.Table:
    """The leaderboard table (empty, with the schema, when nothing has finished yet)."""
    path = leaderboard_path(root)
    if not path.is_file():
        return LEADERBOARD_SCHEMA.empty_table()
    return pq.read_table(path)
