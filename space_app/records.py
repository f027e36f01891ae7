"""Finding a finished submission's result record and the pictures the evaluator drew for it.

The record is the JSON :mod:`submissions.export` wrote (``results/<id>.json``),
or, if that file is missing, the copy in the store. Its ``artifacts`` names
files (the filter-logo and ground-truth-logo PNGs) relative to the folder the
evaluator wrote into; the export copies them, under those names, to the
stable folder ``results/<id>/`` (the worker's run folders are its own
business). When a picture cannot be found there (a record imported from
elsewhere, a worker run with ``--no-artifacts``), the logos are drawn again
from the record's own per-filter PPMs into a cache folder, with the
evaluator's own drawing code. Records evaluated before the evaluator drew
each filter beside its ground-truth match (their filter artifact is the old
grid, not ``*.filter_pairs.png``), and ground-truth grids narrower than
:data:`MIN_LOGO_WIDTH` pixels, are redrawn the same way, so every model's page
shows the same sharp pictures.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np

from submissions.export import artifacts_dir, results_dir
from submissions.public_record import public_record
from submissions.store import Store, submissions_home

log = logging.getLogger(__name__)

FILTER_LOGOS, GROUND_TRUTH_LOGOS = "filter_logos", "ground_truth_logos"
#: Pixels: a logo PNG narrower than this predates the 2x drawings and is redrawn.
MIN_LOGO_WIDTH = 1000
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def safe_id(submission_id: str | None) -> str | None:
    """The id if it can be used in a file name (ids come from the browser), else None."""
    return submission_id if submission_id and _SAFE_ID.match(submission_id) and ".." not in submission_id else None


def record_path(submission_id: str, root: Path | None = None) -> Path | None:
    """``results/<id>.json`` if it exists."""
    sid = safe_id(submission_id)
    path = results_dir(root) / f"{sid}.json" if sid else None
    return path if path is not None and path.is_file() else None


def load_record(submission_id: str, root: Path | None = None, store: Store | None = None) -> dict[str, Any] | None:
    """The result record of a FINISHED submission, or None."""
    path = record_path(submission_id, root)
    if path is not None:
        try:
            return public_record(json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            log.warning("cannot read %s: %s", path, exc)
    if store is not None and safe_id(submission_id):
        sub = store.get(submission_id)
        if sub is not None and sub.record:
            return public_record(sub.record)
    return None


def artifact_path(record: dict[str, Any], name: str, submission_id: str, root: Path | None = None) -> Path | None:
    """Where an artifact named in ``record["artifacts"]`` lives on this machine, or None."""
    sid = safe_id(submission_id)
    rel = (record.get("artifacts") or {}).get(name)
    if not sid or not rel:
        return None
    rel_path = Path(rel)
    if rel_path.is_absolute() or ".." in rel_path.parts:
        return None
    path = artifacts_dir(sid, root or submissions_home()) / rel_path
    return path if path.is_file() else None


def png_width(path: Path) -> int:
    """Width in pixels from a PNG's header (0 when the file is not a PNG)."""
    with open(path, "rb") as handle:
        head = handle.read(24)
    return int.from_bytes(head[16:20], "big") if head[:8] == b"\x89PNG\r\n\x1a\n" else 0


def logo_images(record: dict[str, Any], submission_id: str, root: Path | None = None,
                cache: Path | None = None) -> tuple[Path | None, Path | None]:
    """(filter/ground-truth pairs PNG, ground-truth logos PNG) for a record: the evaluator's files, else redrawn."""
    from evaluator.logo_pairs import PAIRS_SUFFIX

    filters = artifact_path(record, FILTER_LOGOS, submission_id, root)
    truth = artifact_path(record, GROUND_TRUTH_LOGOS, submission_id, root)
    if filters is not None and not filters.name.endswith(PAIRS_SUFFIX):
        filters = None  # the old grid of filters alone
    if truth is not None and png_width(truth) < MIN_LOGO_WIDTH:
        truth = None
    if filters is not None and truth is not None:
        return filters, truth
    sid = safe_id(submission_id)
    if sid is None:
        return filters, truth
    cache = cache or (root or submissions_home()) / "space_cache" / sid
    try:
        if filters is None:
            filters = _redraw_filters(record, cache / f"filters{PAIRS_SUFFIX}")
        if truth is None:
            truth = _redraw_truth(cache.parent / "ground_truth_logos.png")
    except Exception:  # a broken record must not break the page: show what exists
        log.exception("cannot draw logos for %s", submission_id)
    return filters, truth


def _redraw_filters(record: dict[str, Any], path: Path) -> Path | None:
    if path.is_file():
        return path
    recovery = ((record.get("results") or {}).get("motif_recovery")) or {}
    entries = recovery.get("filters") or []
    ppms = [np.asarray(e.get("ppm") or [[0.25] * 4], dtype=np.float64) for e in entries]
    if not entries:
        return None
    from benchmark.motifs import load_motif_set
    from evaluator.logo_pairs import filter_match_pairs, jaspar_targets_by_id

    try:
        targets = jaspar_targets_by_id(int((record.get("jaspar") or {}).get("release") or 2016))
    except Exception as exc:  # no JASPAR here: hits on the embedded motifs' own IDs are still aligned
        log.warning("JASPAR targets unavailable (%s): ground-truth logos of other accepted IDs are not aligned", exc)
        targets = None
    return _atomic_draw(path, lambda tmp: filter_match_pairs(ppms, recovery, load_motif_set(), tmp, targets=targets))


def _redraw_truth(path: Path) -> Path:
    if path.is_file() and png_width(path) >= MIN_LOGO_WIDTH:
        return path
    from benchmark.motifs import load_motif_set
    from evaluator.logos import ground_truth_logos

    return _atomic_draw(path, lambda tmp: ground_truth_logos(load_motif_set(), tmp))


def _atomic_draw(path: Path, draw) -> Path:
    """Draw into a temporary name and rename, so a concurrent page view never reads half a PNG."""
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(fd)
    try:
        draw(Path(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path
