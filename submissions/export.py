"""Exports the leaderboard reads: one JSON per result record, its artifacts, and one flat parquet table.

``<data home>/submissions/results/<id>.json`` is the evaluator's record as it
was stored; ``results/<id>/`` holds copies of the files the evaluator wrote
beside it (filter and ground-truth logo PNGs, ``filters.meme``,
``tomtom.tsv``), under the names the record's ``artifacts`` gives, so a
reader never looks into the worker's run folders (``runs/<id>/attempt-<n>/``,
an internal layout that keeps every attempt); ``leaderboard.parquet`` has one
row per FINISHED submission (plus its latest earlier record in every other
version view, kept when it is re-scored) with flat, typed columns
(:data:`LEADERBOARD_SCHEMA`). Model facts the manifest leaves out are filled
from the record and the stored ONNX (:mod:`submissions.model_facts`).

The table is rebuilt from the store on every finish, written to a temporary
file and renamed into place under a file lock, so a reader always sees a whole
table and two workers finishing at once cannot drop each other's rows. An
artifact folder appears whole (staged, then renamed into place) before the
JSON and the row that name it. The leaderboard only reads these files; it
never recomputes a score.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmark.files import atomic_write, exclusive_lock

from submissions import model_facts
from submissions.public_record import public_record
from submissions.store import FINISHED, CheckpointFiles, Store, Submission, submissions_home

log = logging.getLogger(__name__)

LEADERBOARD_FILE = "leaderboard.parquet"
RESULTS_DIR = "results"
RUNS_DIR = "runs"
#: Record ``artifacts`` entries not copied: the record itself is ``results/<id>.json``.
_NOT_COPIED = frozenset({"record"})
#: Record ``artifacts`` name -> leaderboard column holding the stable copy's path.
ARTIFACT_COLUMNS: dict[str, str] = {
    "filter_logos": "filter_logos_file",
    "ground_truth_logos": "ground_truth_logos_file",
    "filters_meme": "filters_meme_file",
    "tomtom_tsv": "tomtom_tsv_file",
    "pattern_logos": "pattern_logos_file",
    "attribution_examples": "attribution_examples_file",
}
#: Attribution-benchmark columns: per method family the corrected twin's class-specific AUROC / AUPR.
ATTRIBUTION_FAMILIES = ("saliency", "grad_x_input", "integrated_gradients", "deeplift_shap")

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
        *((column, pa.string()) for column in ARTIFACT_COLUMNS.values()),
        # integrity (issue 10): round, bootstrap intervals, public-test scores, families; null for older records
        ("round_id", pa.string()),
        ("round_commitment", pa.string()),
        ("current", pa.bool_()),
        *((f"{column}_{end}", pa.float64()) for column in ("auroc", "aupr", "match_ground_truth", "coverage",
                                                           "match_jaspar", "attribution_score") for end in ("lo", "hi")),
        ("public_auroc", pa.float64()),
        ("public_aupr", pa.float64()),
        ("public_match_ground_truth", pa.float64()),
        ("public_coverage", pa.float64()),
        ("family", pa.string()),
        ("seed", pa.int64()),
        # appended (evaluator 2.2, issue 11): the attribution benchmark and motif discovery
        *((f"attr_{fam}_{metric}", pa.float64()) for fam in ATTRIBUTION_FAMILIES for metric in ("auroc", "aupr")),
        ("discovery_match", pa.float64()),
        ("discovery_coverage", pa.int64()),
    ]
)
#: Where each score's bootstrap interval sits in a record (schema 1.1.0 ``results.uncertainty``).
_INTERVAL_PATHS: dict[str, str] = {
    "auroc": "results.uncertainty.classification.macro_auroc",
    "aupr": "results.uncertainty.classification.macro_aupr",
    "match_ground_truth": "results.uncertainty.motif_recovery.match_ground_truth_fraction",
    "coverage": "results.uncertainty.motif_recovery.coverage",
    "match_jaspar": "results.uncertainty.motif_recovery.match_jaspar_fraction",
    "attribution_score": "results.uncertainty.attribution.mean_auroc",
}
_PUBLIC_PATHS: dict[str, str] = {
    "public_auroc": "public_test.macro_auroc",
    "public_aupr": "public_test.macro_aupr",
    "public_match_ground_truth": "public_test.match_ground_truth_fraction",
    "public_coverage": "public_test.coverage",
}

# Where each score sits in the evaluator's record: the first path present wins.
_SCORE_PATHS: dict[str, tuple[str, ...]] = {
    "auroc": ("results.classification.macro_auroc",),
    "aupr": ("results.classification.macro_aupr",),
    "match_ground_truth": ("results.motif_recovery.match_ground_truth_fraction",),
    "coverage": ("results.motif_recovery.coverage",),
    "match_jaspar": ("results.motif_recovery.match_jaspar_fraction",),
    "attribution_score": ("results.attribution.mean_auroc",),
    **{f"attr_{fam}_{metric}": (f"results.gradient_attribution.methods.{fam}_corrected.{metric}.mean",)
       for fam in ATTRIBUTION_FAMILIES for metric in ("auroc", "aupr")},
    "discovery_match": ("results.discovery.match_ground_truth_fraction",),
}


def record_scores(record: dict[str, Any]) -> dict[str, float | None]:
    """The leaderboard's score columns of one evaluator record (None where the record has no value)."""
    return {column: next((v for v in (_number(_lookup(record, p)) for p in paths) if v is not None), None)
            for column, paths in _SCORE_PATHS.items()}


def results_dir(root: Path | None = None) -> Path:
    """Folder of ``<id>.json`` result records and ``<id>/`` artifact folders."""
    return (root or submissions_home()) / RESULTS_DIR


def artifacts_dir(submission_id: str, root: Path | None = None) -> Path:
    """``results/<id>/``: the stable copies of one submission's evaluator artifacts."""
    return results_dir(root) / submission_id


def attempt_dir(submission_id: str, attempt: int, root: Path | None = None) -> Path:
    """``runs/<id>/attempt-<n>/``: the worker's working folder for one attempt (task, log, ``out/``)."""
    return (root or submissions_home()) / RUNS_DIR / submission_id / f"attempt-{attempt}"


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


def _given(value: Any) -> bool:
    return value is not None and value != ""


def _safe_relative(name: Any) -> Path | None:
    """An artifact file name from a record, if it stays inside its folder."""
    if not isinstance(name, str) or not name:
        return None
    path = Path(name)
    return None if path.is_absolute() or ".." in path.parts else path


def artifact_files(sub: Submission, root: Path | None = None) -> dict[str, str]:
    """Record ``artifacts`` name -> ``results/<id>/<file>`` (relative to the submissions folder) for copies present."""
    root = root or submissions_home()
    found: dict[str, str] = {}
    for name, rel in ((sub.record or {}).get("artifacts") or {}).items():
        rel_path = _safe_relative(rel)
        if name in _NOT_COPIED or rel_path is None:
            continue
        if (artifacts_dir(sub.id, root) / rel_path).is_file():
            found[name] = (Path(RESULTS_DIR) / sub.id / rel_path).as_posix()
    return found


def leaderboard_row(sub: Submission, root: Path | None = None, checkpoints: CheckpointFiles | None = None) -> dict[str, Any]:
    """One flat row from a FINISHED submission: manifest facts, then record facts, then scores.

    Parameters
    ----------
    sub : Submission
        A FINISHED submission (with its record).
    root : Path, optional
        The submissions folder (default: the data home's): where artifact
        copies are looked for and model facts cached.
    checkpoints : CheckpointFiles, optional
        The store's checkpoint files: lets ``params`` and ``first_layer_pool``
        be read from the stored ONNX when the manifest does not give them.
    """
    root = root or submissions_home()
    record = sub.record or {}
    arch = dict(sub.manifest.get("architecture") or {})
    model = record.get("model") if isinstance(record.get("model"), dict) else {}
    checkpoint = checkpoints.path(sub.sha256) if checkpoints is not None else None
    derived = model_facts.record_facts(record, checkpoint, sub.sha256, root / model_facts.FACTS_DIR)

    def fact(key: str) -> Any:
        if key == "params" and derived.get("params") is not None:
            return derived["params"]  # counted from the ONNX the same way for every model, not as declared
        return arch[key] if _given(arch.get(key)) else derived.get(key)

    row: dict[str, Any] = {
        "id": sub.id,
        "model_name": sub.model_name,
        "submitter": sub.submitter,
        "baseline": sub.baseline,
        "dataset_config": _lookup(record, "dataset.config") or sub.dataset_config,
        "dataset_version": _lookup(record, "dataset.version") or sub.dataset_version,
        "split": _lookup(record, "dataset.split"),
        "evaluator_version": _lookup(record, "evaluator_version"),
        "framework": fact("framework"),
        "activation": fact("activation"),
        "first_layer_pool": _int(fact("first_layer_pool")),
        "params": _int(fact("params")),
        "n_filters": _int(model.get("n_filters")),
        "sha256": sub.sha256,
        "submitted_at": _ts(sub.created_at),
        "finished_at": _ts(sub.finished_at),
        "record_file": f"{RESULTS_DIR}/{sub.id}.json",
        "coverage_count": _int(_lookup(record, "results.motif_recovery.coverage_count")),
        "discovery_coverage": _int(_lookup(record, "results.discovery.coverage_count")),
    }
    row.update(record_scores(record))
    files = artifact_files(sub, root)
    for name, column in ARTIFACT_COLUMNS.items():
        row[column] = files.get(name)
    for column, path in _INTERVAL_PATHS.items():
        bounds = _lookup(record, path)
        lo, hi = bounds if isinstance(bounds, list) and len(bounds) == 2 else (None, None)
        row[f"{column}_lo"], row[f"{column}_hi"] = _number(lo), _number(hi)
    for column, path in _PUBLIC_PATHS.items():
        row[column] = _number(_lookup(record, path))
    row["round_id"] = _lookup(record, "round.id")
    row["round_commitment"] = _lookup(record, "round.commitment")
    row["current"] = True
    row["family"] = sub.manifest.get("family") or None
    row["seed"] = _int(sub.manifest.get("seed"))
    return row


def history_file(submission_id: str, key) -> str:
    """``results/history/<id>/<version>-e<major>-<round>.json`` (relative): an earlier record kept for its view."""
    name = f"{key.dataset_version}-e{key.evaluator_major}-{key.round_id or 'public'}.json"
    return (Path(RESULTS_DIR) / "history" / submission_id / name).as_posix()


def submission_rows(store: Store, sub: Submission, root: Path | None = None) -> list[dict[str, Any]]:
    """A submission's leaderboard rows: its current record, plus its latest earlier record in every other
    (dataset version, evaluator major) view, so a re-score never removes a row from an older view.

    The current record counts while the submission is FINISHED or queued/running as a re-score.
    """
    from dataclasses import replace

    root = root or submissions_home()
    rows: list[dict[str, Any]] = []
    current_view = None
    if sub.record is not None and (sub.state == FINISHED or sub.rescore):
        rows.append(leaderboard_row(sub, root, store.checkpoints))
        current_view = (rows[0]["dataset_version"], _major(rows[0]["evaluator_version"]))
    latest: dict[tuple, tuple] = {}
    for key, record, _ in store.history(sub.id):  # oldest first: later records win
        latest[(key.dataset_version, key.evaluator_major)] = (key, record)
        if record != sub.record:  # every earlier record (an ended round's too) stays downloadable
            _write_history(root, sub.id, key, record)
    for view, (key, record) in latest.items():
        if view == current_view:
            continue
        row = leaderboard_row(replace(sub, record=record), root, store.checkpoints)
        row["current"] = False
        row["record_file"] = history_file(sub.id, key)
        _write_history(root, sub.id, key, record)
        rows.append(row)
    return rows


def _write_history(root: Path, submission_id: str, key, record: dict[str, Any]) -> None:
    """``results/history/...``: an earlier record as the public may read it (no server paths), written once."""
    path = root / history_file(submission_id, key)
    if not path.is_file():
        public = public_record(record)
        atomic_write(path, (json.dumps(public, indent=2, sort_keys=True, default=str) + "\n").encode())


def _major(version: Any) -> int | None:
    try:
        return int(str(version).lstrip("v").split(".")[0])
    except ValueError:
        return None


def write_result_json(sub: Submission, root: Path | None = None) -> Path:
    """``results/<id>.json``: the stored record (sorted keys) as the public may read it: no server paths."""
    path = results_dir(root) / f"{sub.id}.json"
    public = public_record(sub.record)
    atomic_write(path, (json.dumps(public, indent=2, sort_keys=True, default=str) + "\n").encode())
    return path


def copy_artifacts(sub: Submission, source: Path, root: Path | None = None) -> dict[str, Path]:
    """Copy the files the record's ``artifacts`` names from ``source`` to ``results/<id>/``.

    The copies keep the record's file names, so ``record["artifacts"][name]``
    resolves inside ``results/<id>/``. The folder is staged next to its final
    place and renamed in whole when it does not exist yet; an existing folder
    (a re-export) has each file replaced atomically. Files missing from
    ``source`` (``--no-artifacts``, a cleaned run folder) are skipped; nothing
    is created when there is nothing to copy.

    Returns
    -------
    dict
        Record ``artifacts`` name -> the copy's path, for every file copied.
    """
    root = root or submissions_home()
    wanted = {name: rel for name, rel in ((sub.record or {}).get("artifacts") or {}).items()
              if name not in _NOT_COPIED and _safe_relative(rel) is not None}
    present = {name: Path(rel) for name, rel in wanted.items() if (source / rel).is_file()}
    for name in wanted.keys() - present.keys():
        log.warning("submission %s: artifact %s (%s) not found in %s", sub.id, name, wanted[name], source)
    if not present:
        return {}
    final = artifacts_dir(sub.id, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{sub.id}."))
    try:
        for rel in present.values():
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / rel, stage / rel)
        try:
            os.rename(stage, final)  # atomic; fails if a previous export left the folder
        except OSError:
            for rel in present.values():
                (final / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(stage / rel, final / rel)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return {name: final / rel for name, rel in present.items()}


def _has_artifact_copies(sub: Submission, root: Path) -> bool:
    names = [n for n, rel in ((sub.record or {}).get("artifacts") or {}).items()
             if n not in _NOT_COPIED and _safe_relative(rel) is not None]
    return len(artifact_files(sub, root)) == len(names)


def write_leaderboard(store: Store, root: Path | None = None) -> Path:
    """Rebuild ``leaderboard.parquet`` from every FINISHED submission (call under :func:`_locked`)."""
    root = root or submissions_home()
    rows = [row for s in store.list() for row in submission_rows(store, s, root)]
    table = pa.Table.from_pylist(rows, schema=LEADERBOARD_SCHEMA)
    table = table.sort_by([("submitted_at", "ascending"), ("id", "ascending")])
    path = leaderboard_path(root)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write(path, sink.getvalue().to_pybytes())
    return path


def export_submission(store: Store, submission_id: str, root: Path | None = None,
                      artifacts_from: Path | None = None, artifacts: bool = True) -> None:
    """After a job ends: its artifacts and JSON (if FINISHED), then a fresh leaderboard table.

    Parameters
    ----------
    artifacts_from : Path, optional
        The folder the evaluator wrote into; default the finishing attempt's
        ``runs/<id>/attempt-<n>/out``.
    artifacts : bool
        False: leave ``results/<id>/`` as it is (a failed re-score kept the earlier record, whose
        artifacts are already there; the failed attempt's files must not replace them).
    """
    root = root or submissions_home()
    sub = store.get(submission_id)
    if sub is None or sub.state != FINISHED:
        return
    with exclusive_lock(root / ".export.lock"):
        if artifacts:
            copy_artifacts(sub, artifacts_from or attempt_dir(sub.id, sub.attempts, root) / "out", root)
        write_result_json(sub, root)
        upsert_leaderboard_row(store, sub, root)


def upsert_leaderboard_row(store: Store, sub: Submission, root: Path | None = None) -> Path:
    """Replace or add one submission's row in ``leaderboard.parquet`` (call under :func:`_locked`).

    A finish costs one small parquet read/write instead of decoding every
    stored record again (the full rebuild took ~2.3 ms per finished row). The
    rows are those :func:`write_leaderboard` would write, ordered by submission
    time (to the second), then id. A missing or older-format file falls back to
    the full rebuild.
    """
    root = root or submissions_home()
    path = leaderboard_path(root)
    try:
        existing = pq.read_table(path)
    except (FileNotFoundError, pa.ArrowInvalid, OSError):
        return write_leaderboard(store, root)
    if not existing.schema.remove_metadata().equals(LEADERBOARD_SCHEMA.remove_metadata()):
        return write_leaderboard(store, root)
    others = existing.filter(pc.invert(pc.is_in(existing.column("id"), pa.array([sub.id], pa.string()))))
    row = pa.Table.from_pylist(submission_rows(store, sub, root), schema=LEADERBOARD_SCHEMA)
    table = pa.concat_tables([others.cast(LEADERBOARD_SCHEMA), row])
    table = table.sort_by([("submitted_at", "ascending"), ("id", "ascending")])
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write(path, sink.getvalue().to_pybytes())
    return path


def export_all(store: Store, root: Path | None = None) -> Path:
    """Rewrite every result JSON and the table (after a restore or an export format change).

    Artifact folders missing a file are filled from the finishing attempt's
    run folder (so exports made before artifacts were copied catch up).
    """
    root = root or submissions_home()
    with exclusive_lock(root / ".export.lock"):
        for sub in store.list([FINISHED]):
            if not _has_artifact_copies(sub, root):
                copy_artifacts(sub, attempt_dir(sub.id, sub.attempts, root) / "out", root)
            write_result_json(sub, root)
        return write_leaderboard(store, root)


def read_leaderboard(root: Path | None = None) -> pa.Table:
    """The leaderboard table (empty, with the schema, when nothing has finished yet)."""
    path = leaderboard_path(root)
    if not path.is_file():
        return LEADERBOARD_SCHEMA.empty_table()
    return pq.read_table(path)
