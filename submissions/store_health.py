"""Keeping the queue database healthy: integrity checks, online backups and rebuilding exports.

A damaged ``queue.sqlite`` (a torn header, a truncated file, a bad page) must
be noticed when it is opened, refused with a clear message, and never written
into further. The operator's recovery path (docs/submissions.md, "Recovery"):

1. ``motifbench queue --check`` runs SQLite's full ``integrity_check`` and
   says what is wrong;
2. restore the newest good backup (``<submissions>/backups/``, written by the
   worker with SQLite's online backup API, or ``motifbench queue --backup
   FILE`` at any time) over ``queue.sqlite``;
3. ``motifbench queue --export`` rebuilds ``results/*.json`` and
   ``leaderboard.parquet`` from the records the store keeps.

A truncated or garbage ``leaderboard.parquet`` is rebuilt from the store as
soon as a reader meets it (:func:`submissions.leaderboard_repair.rebuild_leaderboard`).
"""
from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from submissions.errors import StoreError

log = logging.getLogger(__name__)

BACKUP_DIR = "backups"
#: Seconds between automatic backups, and how many are kept.
BACKUP_EVERY = 3600.0
BACKUPS_KEPT = 5
_RECOVERY = ("run `motifbench queue --check` for details; restore the newest file from {backups} over it "
             "(or move it aside to start an empty queue), then `motifbench queue --export` rebuilds the leaderboard")


def corrupt_message(path: Path, detail: str) -> str:
    """The refusal every command prints for a damaged database, with the recovery path."""
    backups = Path(path).parent / BACKUP_DIR
    return f"the submissions database {path} is damaged ({detail[:200]}); " + _RECOVERY.format(backups=backups)


def quick_check(conn: sqlite3.Connection) -> str | None:
    """None when SQLite's ``quick_check`` passes, else its first complaint."""
    try:
        rows = conn.execute("PRAGMA quick_check(5)").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    problems = [str(r[0]) for r in rows if str(r[0]).lower() != "ok"]
    return "; ".join(problems) or None


def integrity_report(path: Path) -> list[str]:
    """Problems SQLite's full ``integrity_check`` finds in the database at ``path`` (empty = healthy)."""
    path = Path(path)
    if not path.is_file():
        return [f"{path} does not exist"]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        rows = conn.execute("PRAGMA integrity_check(50)").fetchall()
        problems = [str(r[0]) for r in rows if str(r[0]).lower() != "ok"]
        if not problems:
            conn.execute("SELECT COUNT(*) FROM submissions").fetchone()
        return problems
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()


def backup(source: Path, dest: Path) -> Path:
    """Copy a live database to ``dest`` with SQLite's online backup API (consistent while others write)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    try:
        out = sqlite3.connect(tmp)
        try:
            src.backup(out)
        finally:
            out.close()
    finally:
        src.close()
    problems = integrity_report(tmp)
    if problems:
        tmp.unlink(missing_ok=True)
        raise StoreError(corrupt_message(Path(source), "; ".join(problems)))
    tmp.replace(dest)
    return dest


def rotate_backups(source: Path, every: float = BACKUP_EVERY, keep: int = BACKUPS_KEPT,
                   now: float | None = None) -> Path | None:
    """Back up ``source`` into ``backups/`` beside it if the newest backup is older than ``every`` s.

    Keeps the newest ``keep`` files. Returns the new backup, or None when none was due.
    """
    now = time.time() if now is None else now
    folder = Path(source).parent / BACKUP_DIR
    existing = sorted(folder.glob("queue-*.sqlite")) if folder.is_dir() else []
    if existing and now - existing[-1].stat().st_mtime < every:
        return None
    dest = backup(source, folder / time.strftime("queue-%Y%m%dT%H%M%SZ.sqlite", time.gmtime(now)))
    for old in sorted(folder.glob("queue-*.sqlite"))[:-keep]:
        old.unlink(missing_ok=True)
    return dest
