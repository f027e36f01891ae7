"""Rebuilding ``leaderboard.parquet`` from the store when a reader finds it truncated or garbage.

The table is only an export: every row comes from the records the store keeps,
so a damaged file is rewritten whole (:func:`submissions.export.export_all`)
as soon as the Space meets it, instead of staying broken until the next job.
"""
from __future__ import annotations

from pathlib import Path

from submissions.export import export_all
from submissions.sqlite_store import open_store


def rebuild_leaderboard(root: Path) -> Path:
    """Rewrite ``root/leaderboard.parquet`` (and the result JSONs) from the store's kept records.

    Parameters
    ----------
    root : Path
        The submissions folder (``<data home>/submissions``).
    """
    root = Path(root)
    with open_store(root.parent if root.name == "submissions" else None) as store:
        return export_all(store, root)
