"""What each submitter has asked of the service: rejected attempts and compute used.

Two limits read this log:

- the Space's per-user rate limit (``space_app.submit.RateLimit``) counts
  *rejected* attempts as well as queued submissions, so trying garbage
  uploads over and over is limited like submitting models;
- the per-submitter compute budget (:class:`ComputeBudget`) adds up the
  seconds of every trial run (accepted or not) and of every evaluation in a
  sliding window, and refuses new submissions once it is spent.

The log is its own small SQLite file (``<submissions>/intake_log.sqlite``,
WAL), apart from the queue: it holds no submission, and losing it only resets
the counts.
"""
from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from submissions.errors import StoreError, SubmissionRejected
from submissions.sqlite_wal import enable_wal
from submissions.store import FAILED, FINISHED, RUNNING, Store, submissions_home

DAY = 24 * 3600.0
#: Seconds a connection waits for another one's lock (SQLite's busy timeout, and the WAL switch's).
_BUSY_SECONDS = 30.0
REJECTED, TRIAL = "rejected", "trial"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    submitter TEXT NOT NULL,
    at        REAL NOT NULL,
    kind      TEXT NOT NULL,
    code      TEXT,
    seconds   REAL NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS attempts_by_submitter ON attempts (submitter, at);
"""


class IntakeLog:
    """Rejections and trial seconds per submitter (one connection per instance; use ``with``)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else submissions_home() / "intake_log.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=_BUSY_SECONDS, isolation_level=None,
                                         check_same_thread=False)
            enable_wal(self._conn, self.path, _BUSY_SECONDS)  # concurrent first opens: waits out "locked"
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the intake log {self.path}: {exc}") from exc

    def record(self, submitter: str, kind: str, code: str | None = None, seconds: float = 0.0,
               at: float | None = None) -> None:
        """Note one event (``"rejected"`` with its code, or ``"trial"`` with its seconds)."""
        try:
            self._conn.execute("INSERT INTO attempts (submitter, at, kind, code, seconds) VALUES (?, ?, ?, ?, ?)",
                               (submitter[:200], time.time() if at is None else at, kind, code, float(seconds)))
        except sqlite3.Error:  # a full disk must not turn a rejection into a crash
            pass

    def count(self, submitter: str, kind: str, since: float) -> int:
        row = self._conn.execute("SELECT COUNT(*) FROM attempts WHERE submitter = ? AND kind = ? AND at > ?",
                                 (submitter[:200], kind, since)).fetchone()
        return int(row[0])

    def seconds(self, submitter: str, kind: str, since: float) -> float:
        row = self._conn.execute("SELECT COALESCE(SUM(seconds), 0) FROM attempts WHERE submitter = ? AND kind = ? "
                                 "AND at > ?", (submitter[:200], kind, since)).fetchone()
        return float(row[0])

    def oldest(self, submitter: str, kind: str, since: float) -> float | None:
        row = self._conn.execute("SELECT MIN(at) FROM attempts WHERE submitter = ? AND kind = ? AND at > ?",
                                 (submitter[:200], kind, since)).fetchone()
        return row[0]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> IntakeLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def evaluation_seconds(store: Store, submitter: str, since: float, now: float | None = None) -> float:
    """Worker seconds spent on ``submitter``'s jobs that started after ``since`` (running ones up to now)."""
    now = time.time() if now is None else now
    total = 0.0
    for sub in store.list([RUNNING, FINISHED, FAILED]):
        if sub.submitter != submitter or sub.started_at is None or sub.started_at <= since:
            continue
        end = sub.finished_at if sub.state != RUNNING and sub.finished_at else now
        total += max(0.0, end - sub.started_at)
    return total


@dataclass(frozen=True)
class ComputeBudget:
    """At most ``seconds`` of trial + evaluation time per submitter within ``window_seconds``.

    ``from_env`` reads ``MOTIFBENCH_COMPUTE_SECONDS_PER_DAY`` (default 6 h a
    day; ``0`` = unlimited). Baseline submissions are not counted against it.
    """

    seconds: float = 6 * 3600.0
    window_seconds: float = DAY

    @classmethod
    def from_env(cls) -> ComputeBudget | None:
        value = float(os.environ.get("MOTIFBENCH_COMPUTE_SECONDS_PER_DAY", str(cls.seconds)))
        return cls(value) if value > 0 else None

    def used(self, store: Store, log: IntakeLog, submitter: str, now: float | None = None) -> float:
        now = time.time() if now is None else now
        since = now - self.window_seconds
        return log.seconds(submitter, TRIAL, since) + evaluation_seconds(store, submitter, since, now)

    def check(self, store: Store, log: IntakeLog, submitter: str, now: float | None = None) -> None:
        """Raise ``SubmissionRejected("compute_budget_exceeded")`` when ``submitter`` has spent the budget."""
        used = self.used(store, log, submitter, now)
        if used >= self.seconds:
            raise SubmissionRejected(
                "compute_budget_exceeded",
                f"this submitter's trials and evaluations used {used / 60:.0f} min of compute in the last "
                f"{self.window_seconds / 3600:g} h; the budget is {self.seconds / 60:.0f} min. Try again later.",
            )
