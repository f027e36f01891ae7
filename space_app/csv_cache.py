"""The leaderboard's "Download CSV" file: written once per table version, in a bounded cache.

The Leaderboard tab's handler runs on every page load, selector change and
anonymous API call, so it must not write a new file each time (repeated calls
would fill the disk). The CSV of a view is keyed by the exported table's
version (the parquet file's mtime and size) and the selectors: the same view
of the same table is one file, built on first request and reused after. At
most :data:`MAX_ENTRIES` views are kept; the least recently used go first.
Cells are written through :func:`space_app.safe_text.csv_cell`, so no
spreadsheet runs a submitted name as a formula.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pandas as pd

from space_app.safe_text import csv_cell

#: Views whose CSV is kept on disk at once.
MAX_ENTRIES = 32
_LOCK = threading.Lock()


def csv_key(table_version: object, *selectors: object) -> str:
    """A short stable key for one table version and one set of selectors."""
    return hashlib.sha256(repr((table_version, selectors)).encode()).hexdigest()[:24]


def safe_frame(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell made formula-safe (OWASP CSV injection rule)."""
    return table.apply(lambda column: column.map(csv_cell)) if len(table.columns) else table


def cached_csv(folder: Path, key: str, file_name: str, table: pd.DataFrame) -> Path:
    """The CSV of ``table`` under ``folder/<key>/file_name``, written only when that key has none yet.

    Parameters
    ----------
    folder : Path
        The cache folder (``<submissions>/space_cache/csv``).
    key : str
        :func:`csv_key` of the table version and selectors.
    file_name : str
        What the downloaded file is called (no path separators).
    table : DataFrame
        The rows and columns shown.
    """
    entry = folder / key
    path = entry / Path(file_name).name
    with _LOCK:
        if path.is_file():
            os.utime(entry)  # recently used: evicted last
            return path
        folder.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(dir=folder, prefix=".stage-"))
        try:
            safe_frame(table).to_csv(stage / path.name, index=False)
            os.replace(stage, entry)
        except OSError:
            shutil.rmtree(stage, ignore_errors=True)
            if not path.is_file():
                raise
        _evict(folder)
        return path


def _evict(folder: Path) -> None:
    entries = sorted((p for p in folder.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in entries[: max(0, len(entries) - MAX_ENTRIES)]:
        shutil.rmtree(old, ignore_errors=True)
