"""The SQLite implementation of :class:`~submissions.store.Store`: all SQL lives here.

One file in the data home, in WAL mode (readers never block the writer) with
a generous busy timeout (writers queue instead of failing). Every state change
is one ``BEGIN IMMEDIATE`` transaction, which takes SQLite's single write lock
up front: a claim reads the oldest PENDING row and marks it RUNNING with no
other writer in between, so two workers never take the same job. Each process
(and each thread) opens its own connection.
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from submissions.errors import StoreError
from submissions.infra import describe, disk_full, is_infrastructure_fault, is_infrastructure_message
from submissions.sqlite_schema import ADDED_COLUMNS, COLUMNS, SCHEMA, SCHEMA_VERSION, row_to_submission
from submissions.sqlite_wal import enable_wal, is_busy
from submissions.store_health import corrupt_message, quick_check
from submissions.store import (
    FAILED,
    FINISHED,
    PENDING,
    RUNNING,
    STATES,
    CheckpointFiles,
    Recovered,
    ScoreKey,
    Store,
    Submission,
    score_key,
    submissions_home,
)

#: Databases that passed ``quick_check`` in this process (checked once: handlers open a store per call).
_CHECKED: set[str] = set()


def _rollback(cur: sqlite3.Cursor) -> None:
    try:
        cur.execute("ROLLBACK")
    except sqlite3.Error:  # the failed statement may have rolled back already
        pass


def new_submission_id() -> str:
    """Short random ids (``sub-`` + 12 hex digits): unguessable, safe in file names."""
    return f"sub-{uuid.uuid4().hex[:12]}"


#: A job that fails ends FAILED, except a re-score of a row that has a record: that row stays FINISHED with
#: its earlier record (still ranked in its own view; the reason says the re-score failed). Parameters: _failed().
_END_FAILED = ("state = CASE WHEN rescore = 1 AND record_json IS NOT NULL THEN ? ELSE ? END, "
               "reason = CASE WHEN rescore = 1 AND record_json IS NOT NULL THEN ? ELSE ? END, rescore = 0")


def _failed(reason: str) -> tuple:
    return (FINISHED, FAILED, f"re-scoring failed, the earlier record stays: {reason}", reason)


class SQLiteStore(Store):
    """The default store. See the module docstring for the locking story.

    Parameters
    ----------
    path : Path
        The database file (created with its folder if missing).
    checkpoints : CheckpointFiles
        Where checkpoint bytes live.
    busy_timeout : float
        Seconds a writer waits for the lock before giving up with StoreError.
    """

    def __init__(self, path: Path, checkpoints: CheckpointFiles, busy_timeout: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock  # seconds since the epoch; tests inject a settable clock
        self.checkpoints = checkpoints
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the submissions database {self.path}: {exc}") from exc
        self._conn.row_factory = sqlite3.Row
        try:
            self._check_health()
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            self._set_wal(busy_timeout)
            self._conn.execute("PRAGMA synchronous = NORMAL")
            with self._tx() as cur:
                for statement in filter(str.strip, SCHEMA.split(";")):
                    cur.execute(statement)
                present = {row["name"] for row in cur.execute("PRAGMA table_info(submissions)")}
                for name, definition in ADDED_COLUMNS.items():
                    if name not in present:
                        cur.execute(f"ALTER TABLE submissions ADD COLUMN {name} {definition}")
                cur.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))
                self._backfill_scores(cur)
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise self._store_error(exc) from None
        except BaseException:
            self._conn.close()
            raise

    def _check_health(self) -> None:
        """Refuse a damaged file before anything is written into it (``quick_check`` once per process)."""
        key = str(self.path.resolve())
        if key in _CHECKED or not self.path.is_file() or self.path.stat().st_size == 0:
            return
        try:
            problem = quick_check(self._conn)
        except sqlite3.OperationalError as exc:  # locked by a writer: it is being used, so it opened fine
            if is_busy(exc):
                return
            problem = str(exc)
        if problem:
            if is_busy(problem):
                return
            if disk_full(self.path) or is_infrastructure_message(problem):  # cannot even read: the disk, not the file
                raise StoreError(f"the submissions database cannot be opened: "
                                 f"{describe(self.path, sqlite3.OperationalError(problem))}")
            raise StoreError(corrupt_message(self.path, problem))
        _CHECKED.add(key)

    def _set_wal(self, busy_timeout: float) -> None:
        try:
            enable_wal(self._conn, self.path, busy_timeout)
        except sqlite3.DatabaseError as exc:  # not a lock: a full disk or a damaged file, named at once
            raise self._store_error(exc) from None

    def _store_error(self, exc: BaseException) -> StoreError:
        """A raw SQLite error as a one-line StoreError that names a full disk or a damaged file."""
        if is_infrastructure_fault(exc) or disk_full(self.path):
            return StoreError(f"the submissions database cannot be written: {describe(self.path, exc)}")
        text = str(exc)
        if not isinstance(exc, sqlite3.OperationalError) or "malformed" in text or "not a database" in text:
            return StoreError(corrupt_message(self.path, text))
        return StoreError(f"the submissions database {self.path} failed: {text}")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction holding SQLite's write lock from its first statement."""
        cur = self._conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            if is_busy(exc):
                raise StoreError(f"the submissions database {self.path} is locked: {exc}") from exc
            raise self._store_error(exc) from exc
        try:
            yield cur
            cur.execute("COMMIT")
        except sqlite3.DatabaseError as exc:  # full disk, damaged page: a named StoreError, never a raw traceback
            _rollback(cur)
            raise self._store_error(exc) from exc
        except BaseException:
            _rollback(cur)
            raise
        finally:
            cur.close()

    @contextmanager
    def _reading(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise self._store_error(exc) from exc

    # -- reads ---------------------------------------------------------------------------
    def get(self, submission_id: str) -> Submission | None:
        with self._reading():
            row = self._conn.execute(f"SELECT {COLUMNS} FROM submissions WHERE id = ?", (submission_id,)).fetchone()
        return row_to_submission(row) if row else None

    def find(self, sha256: str, dataset_config: str, dataset_version: str) -> Submission | None:
        with self._reading():
            row = self._conn.execute(
                f"SELECT {COLUMNS} FROM submissions WHERE sha256 = ? AND dataset_config = ? AND dataset_version = ?",
                (sha256, dataset_config, dataset_version),
            ).fetchone()
        return row_to_submission(row) if row else None

    def list(self, states: Sequence[str] | None = None, limit: int | None = None) -> list[Submission]:
        sql, params = f"SELECT {COLUMNS} FROM submissions", []
        if states:
            unknown = set(states) - set(STATES)
            if unknown:
                raise StoreError(f"unknown state(s) {sorted(unknown)}; states are {', '.join(STATES)}")
            sql += f" WHERE state IN ({', '.join('?' * len(states))})"
            params += list(states)
        sql += " ORDER BY created_at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._reading():
            return [row_to_submission(r) for r in self._conn.execute(sql, params).fetchall()]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATES, 0)
        with self._reading():
            for state, n in self._conn.execute("SELECT state, COUNT(*) FROM submissions GROUP BY state"):
                out[state] = n
        return out

    # -- writes --------------------------------------------------------------------------
    def add(
        self,
        *,
        manifest: dict[str, Any],
        sha256: str,
        size_bytes: int,
        baseline: bool = False,
        data_source: str | None = None,
        trial: dict[str, Any] | None = None,
    ) -> tuple[Submission, bool]:
        config, version = manifest["dataset"]["config"], manifest["dataset"]["version"]
        with self._tx() as cur:
            existing = cur.execute(
                f"SELECT {COLUMNS} FROM submissions WHERE sha256 = ? AND dataset_config = ? AND dataset_version = ?",
                (sha256, config, version),
            ).fetchone()
            if existing:
                return row_to_submission(existing), False
            row = cur.execute(
                f"""INSERT INTO submissions (id, state, model_name, submitter, dataset_config, dataset_version,
                        sha256, size_bytes, baseline, manifest_json, data_source, trial_json, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {COLUMNS}""",
                (
                    new_submission_id(), PENDING, manifest["model_name"], manifest["submitter"], config, version,
                    sha256, int(size_bytes), int(bool(baseline)), json.dumps(manifest, sort_keys=True),
                    data_source, json.dumps(trial or {}), self.clock(),
                ),
            ).fetchone()
        return row_to_submission(row), True

    def claim(self, worker_id: str) -> Submission | None:
        # new submissions first (oldest first); then re-scores, newest submission first
        now = self.clock()
        with self._tx() as cur:
            row = cur.execute(
                f"""UPDATE submissions
                       SET state = ?, worker_id = ?, started_at = ?, heartbeat_at = ?, attempts = attempts + 1
                     WHERE id = (SELECT id FROM submissions WHERE state = ?
                                  ORDER BY rescore, CASE WHEN rescore = 0 THEN created_at ELSE -created_at END, id
                                  LIMIT 1)
                       AND state = ?
                 RETURNING {COLUMNS}""",
                (RUNNING, worker_id, now, now, PENDING, PENDING),
            ).fetchone()
        return row_to_submission(row) if row else None

    def _owned_update(self, sets: str, params: tuple, submission_id: str, worker_id: str) -> bool:
        with self._tx() as cur:
            cur.execute(
                f"UPDATE submissions SET {sets} WHERE id = ? AND worker_id = ? AND state = ?",
                (*params, submission_id, worker_id, RUNNING),
            )
            return cur.rowcount == 1

    def heartbeat(self, submission_id: str, worker_id: str) -> bool:
        return self._owned_update("heartbeat_at = ?", (self.clock(),), submission_id, worker_id)

    def finish(self, submission_id: str, worker_id: str, record: dict[str, Any]) -> bool:
        now = self.clock()
        text = json.dumps(record, sort_keys=True, default=str)
        with self._tx() as cur:
            cur.execute(
                "UPDATE submissions SET state = ?, finished_at = ?, heartbeat_at = ?, record_json = ?, reason = NULL, "
                "rescore = 0 WHERE id = ? AND worker_id = ? AND state = ?",
                (FINISHED, now, now, text, submission_id, worker_id, RUNNING),
            )
            if cur.rowcount != 1:
                return False
            row = cur.execute("SELECT sha256, dataset_config, dataset_version FROM submissions WHERE id = ?",
                              (submission_id,)).fetchone()
            self._insert_score(cur, submission_id, row, record, text, now)
            return True

    @staticmethod
    def _insert_score(cur: sqlite3.Cursor, submission_id: str, row: sqlite3.Row, record: dict[str, Any], text: str,
                      now: float) -> None:
        """Keep the record in the score history; the first record of a key stays (a key is scored once)."""
        key = score_key(row["sha256"], row["dataset_config"], row["dataset_version"], record)
        cur.execute(
            "INSERT OR IGNORE INTO scores (sha256, dataset_config, dataset_version, evaluator_major, round_id, "
            "submission_id, record_json, scored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (*key, submission_id, text, now),
        )

    def _backfill_scores(self, cur: sqlite3.Cursor) -> None:
        """Records finished before the score history existed join it (once)."""
        rows = cur.execute(
            "SELECT id, sha256, dataset_config, dataset_version, record_json, finished_at FROM submissions "
            "WHERE record_json IS NOT NULL AND id NOT IN (SELECT submission_id FROM scores)"
        ).fetchall()
        for row in rows:
            try:
                record = json.loads(row["record_json"])
            except ValueError:
                continue
            self._insert_score(cur, row["id"], row, record, row["record_json"], row["finished_at"] or self.clock())

    # -- re-scoring ----------------------------------------------------------------------
    def scored_keys(self, submission_id: str) -> list[ScoreKey]:
        rows = self._conn.execute(
            "SELECT sha256, dataset_config, dataset_version, evaluator_major, round_id FROM scores "
            "WHERE submission_id = ? ORDER BY scored_at", (submission_id,)).fetchall()
        return [ScoreKey(*tuple(r)) for r in rows]

    def score(self, key: ScoreKey) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT record_json FROM scores WHERE sha256 = ? AND dataset_config = ? AND dataset_version = ? "
            "AND evaluator_major = ? AND round_id = ?", tuple(key)).fetchone()
        return json.loads(row["record_json"]) if row else None

    def history(self, submission_id: str) -> list[tuple[ScoreKey, dict[str, Any], float]]:
        rows = self._conn.execute(
            "SELECT sha256, dataset_config, dataset_version, evaluator_major, round_id, record_json, scored_at "
            "FROM scores WHERE submission_id = ? ORDER BY scored_at", (submission_id,)).fetchall()
        return [(ScoreKey(*tuple(r)[:5]), json.loads(r["record_json"]), r["scored_at"]) for r in rows]

    def requeue(self, submission_ids: Sequence[str], reason: str) -> list[str]:
        done: list[str] = []
        with self._tx() as cur:
            for sid in submission_ids:
                cur.execute(
                    "UPDATE submissions SET state = ?, rescore = 1, attempts = 0, worker_id = NULL, started_at = NULL, "
                    "heartbeat_at = NULL, reason = ? WHERE id = ? AND state IN (?, ?)",
                    (PENDING, reason, sid, FINISHED, FAILED),
                )
                if cur.rowcount == 1:
                    done.append(sid)
        return done

    def fail(self, submission_id: str, worker_id: str, reason: str) -> bool:
        now = self.clock()
        return self._owned_update(f"{_END_FAILED}, finished_at = ?, heartbeat_at = ?", (*_failed(reason), now, now),
                                  submission_id, worker_id)

    def release(self, submission_id: str, worker_id: str) -> bool:
        return self._owned_update(
            "state = ?, worker_id = NULL, started_at = NULL, heartbeat_at = NULL, attempts = MAX(attempts - 1, 0)",
            (PENDING,),
            submission_id,
            worker_id,
        )

    def requeue_failed(self, submission_id: str) -> Submission | None:
        with self._tx() as cur:
            row = cur.execute(
                f"""UPDATE submissions
                       SET state = ?, attempts = 0, reason = NULL, worker_id = NULL, started_at = NULL,
                           finished_at = NULL, heartbeat_at = NULL
                     WHERE id = ? AND state = ?
                 RETURNING {COLUMNS}""",
                (PENDING, submission_id, FAILED),
            ).fetchone()
        return row_to_submission(row) if row else None

    def recover_stale(self, stale_after: float, max_attempts: int) -> list[Recovered]:
        now = self.clock()
        out: list[Recovered] = []
        with self._tx() as cur:
            stale = cur.execute(
                "SELECT id, attempts, worker_id, heartbeat_at FROM submissions WHERE state = ? AND heartbeat_at < ?",
                (RUNNING, now - stale_after),
            ).fetchall()
            for row in stale:
                if row["attempts"] < max_attempts:
                    cur.execute(
                        "UPDATE submissions SET state = ?, worker_id = NULL, reason = ? WHERE id = ? AND state = ?",
                        (PENDING, f"requeued: worker {row['worker_id']} stopped heartbeating", row["id"], RUNNING),
                    )
                    out.append(Recovered(row["id"], PENDING, row["attempts"]))
                else:
                    reason = (
                        f"the evaluation killed or outlived its worker {row['attempts']} times "
                        f"(last worker {row['worker_id']}, silent for {now - row['heartbeat_at']:.0f} s); "
                        "it was not retried again. Check that the model runs in bounded time and memory."
                    )
                    cur.execute(
                        f"UPDATE submissions SET {_END_FAILED}, finished_at = ? WHERE id = ? AND state = ?",
                        (*_failed(reason), now, row["id"], RUNNING),
                    )
                    state = cur.execute("SELECT state FROM submissions WHERE id = ?", (row["id"],)).fetchone()[0]
                    out.append(Recovered(row["id"], state, row["attempts"]))
        return out

    def backup(self, dest: Path) -> Path:
        """A consistent copy of the live database at ``dest`` (SQLite's online backup API)."""
        from submissions.store_health import backup

        return backup(self.path, dest)

    def close(self) -> None:
        self._conn.close()


def open_store(home: Path | None = None) -> Store:
    """The default store: SQLite in ``<data home>/submissions/queue.sqlite``."""
    root = submissions_home(home)
    return SQLiteStore(root / "queue.sqlite", CheckpointFiles(root / "checkpoints"))
