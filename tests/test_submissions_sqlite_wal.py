"""Every database the service writes switches to WAL through one helper that waits out concurrent first opens.

SQLite may answer "database is locked" at once (without its busy handler) when
several processes set ``journal_mode = WAL`` on a new file together; the intake
log once refused a user's upload that way while another upload was being checked.
"""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from submissions.errors import StoreError
from submissions.sqlite_wal import enable_wal


class _Conn:
    """Answers ``PRAGMA journal_mode`` with the given errors first, then "wal"."""

    def __init__(self, errors: list[Exception]) -> None:
        self.errors, self.calls = errors, 0

    def execute(self, sql: str):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self

    def fetchone(self):
        return ("wal",)


def test_locked_is_waited_out_and_anything_else_is_raised_at_once(tmp_path):
    locked = sqlite3.OperationalError("database is locked")
    conn = _Conn([locked, locked])
    enable_wal(conn, tmp_path / "x.sqlite", busy_timeout=5)
    assert conn.calls == 3
    full = _Conn([sqlite3.OperationalError("database or disk is full")])
    with pytest.raises(sqlite3.OperationalError, match="disk is full"):
        enable_wal(full, tmp_path / "x.sqlite", busy_timeout=5)
    assert full.calls == 1
    with pytest.raises(StoreError, match="stays locked"):
        enable_wal(_Conn([locked] * 1000), tmp_path / "x.sqlite", busy_timeout=0.2)


#: One process of the race: waits for the start file, then opens the log and records one event.
_OPENER = """
import sys, time
from pathlib import Path
from submissions.intake_log import IntakeLog
go, path = Path(sys.argv[1]), Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
with IntakeLog(path) as log:
    log.record("someone", "trial", seconds=1.0)
"""


def test_intake_logs_opened_for_the_first_time_by_eight_processes_at_once(tmp_path):
    # fresh interpreters, not forks: forking a pytest worker (it has threads) can deadlock the child
    failures = []
    for trial in range(4):  # with a bare PRAGMA (before the helper) this failed in 3 runs of 3
        go, path = tmp_path / f"go{trial}", tmp_path / f"log{trial}" / "intake_log.sqlite"
        procs = [subprocess.Popen([sys.executable, "-c", _OPENER, str(go), str(path)], stderr=subprocess.PIPE,
                                  text=True) for _ in range(8)]
        time.sleep(2.0)  # let every process import and reach the start line
        go.touch()
        refused = []
        for proc in procs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode != 0:
                refused.append(err.strip().splitlines()[-1])
        failures += refused
        if not refused:
            with sqlite3.connect(path) as conn:
                assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 8
    assert failures == []
