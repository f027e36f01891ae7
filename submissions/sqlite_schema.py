"""The queue's SQLite table layout: the schema, later-added columns, and row -> :class:`Submission`.

Kept apart from :mod:`submissions.sqlite_store` (the transactions) so the layout reads in one place.
"""
from __future__ import annotations

import json
import sqlite3

from submissions.store import STATES, Submission

SCHEMA_VERSION = 2

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS submissions (
    id              TEXT PRIMARY KEY,
    state           TEXT NOT NULL CHECK (state IN ({", ".join(repr(s) for s in STATES)})),
    model_name      TEXT NOT NULL,
    submitter       TEXT NOT NULL,
    dataset_config  TEXT NOT NULL,
    dataset_version TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    size_bytes      INTEGER NOT NULL,
    baseline        INTEGER NOT NULL DEFAULT 0,
    manifest_json   TEXT NOT NULL,
    data_source     TEXT,
    trial_json      TEXT,
    created_at      REAL NOT NULL,
    started_at      REAL,
    finished_at     REAL,
    heartbeat_at    REAL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    worker_id       TEXT,
    reason          TEXT,
    record_json     TEXT,
    UNIQUE (sha256, dataset_config, dataset_version)
);
CREATE INDEX IF NOT EXISTS submissions_by_state ON submissions (state, created_at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
CREATE TABLE IF NOT EXISTS scores (
    sha256           TEXT NOT NULL,
    dataset_config   TEXT NOT NULL,
    dataset_version  TEXT NOT NULL,
    evaluator_major  INTEGER NOT NULL,
    round_id         TEXT NOT NULL,
    submission_id    TEXT NOT NULL,
    record_json      TEXT NOT NULL,
    scored_at        REAL NOT NULL,
    PRIMARY KEY (sha256, dataset_config, dataset_version, evaluator_major, round_id)
);
CREATE INDEX IF NOT EXISTS scores_by_submission ON scores (submission_id, scored_at)
"""
#: Columns added after schema 1, with their definitions (added in place to an older database).
ADDED_COLUMNS = {"rescore": "INTEGER NOT NULL DEFAULT 0"}

COLUMNS = (
    "id, state, model_name, submitter, dataset_config, dataset_version, sha256, size_bytes, baseline, "
    "manifest_json, data_source, trial_json, created_at, started_at, finished_at, heartbeat_at, attempts, "
    "worker_id, reason, record_json, rescore"
)


def row_to_submission(row: sqlite3.Row) -> Submission:
    return Submission(
        id=row["id"],
        state=row["state"],
        model_name=row["model_name"],
        submitter=row["submitter"],
        dataset_config=row["dataset_config"],
        dataset_version=row["dataset_version"],
        sha256=row["sha256"],
        size_bytes=row["size_bytes"],
        baseline=bool(row["baseline"]),
        manifest=json.loads(row["manifest_json"]),
        data_source=row["data_source"],
        trial=json.loads(row["trial_json"]) if row["trial_json"] else {},
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        heartbeat_at=row["heartbeat_at"],
        attempts=row["attempts"],
        worker_id=row["worker_id"],
        reason=row["reason"],
        record=json.loads(row["record_json"]) if row["record_json"] else None,
        rescore=bool(row["rescore"]),
    )
