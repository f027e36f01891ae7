"""Switching a SQLite file to WAL when several processes may open it for the first time at once.

Setting ``journal_mode = WAL`` needs a moment with no other connection
writing, and under concurrent first opens SQLite may answer "database is
locked" at once instead of calling the busy handler. :func:`enable_wal` waits
that out (and only that: a full disk or a damaged file is raised at once).
Every database the service writes (the queue, the intake log) opens through it.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from submissions.errors import StoreError

#: Seconds between tries while another connection holds the lock.
_RETRY_SECONDS = 0.05


def is_busy(exc: BaseException | str) -> bool:
    """Whether a SQLite error (or its text) says the database is locked by another connection."""
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def enable_wal(conn: sqlite3.Connection, path: Path, busy_timeout: float) -> None:
    """Put ``conn``'s database in WAL mode, retrying for up to ``busy_timeout`` seconds while it is locked.

    Raises
    ------
    sqlite3.DatabaseError
        Any error other than "locked"/"busy", as SQLite raised it (callers name it for the user).
    StoreError
        The database stayed locked for ``busy_timeout`` seconds.
    """
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() == "wal":
                return
        except sqlite3.DatabaseError as exc:
            if not is_busy(exc):
                raise
            if time.monotonic() > deadline:
                raise StoreError(f"cannot switch {path} to WAL mode: the database stays locked") from None
        time.sleep(_RETRY_SECONDS)
