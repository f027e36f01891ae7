"""Issue 12, items 9-12: full disks, orphaned and dead workers, damaged stores, tampered datasets.

Faults are real, only made small: the kernel's ``/dev/full`` (every write
fails with ENOSPC) stands in for a full data home where a file is written,
SQLite's own ``max_page_count`` makes the database answer "database or disk
is full", ``RLIMIT_FSIZE`` = 0 makes every write of a process fail, files are
damaged byte by byte, and processes are killed with SIGKILL.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from benchmark.errors import DatasetError
import corpus
from submissions import export
from submissions.errors import StoreError
from submissions.sqlite_store import open_store
from submissions.store import FINISHED, PENDING, RUNNING, submissions_home
from submissions.worker import Worker, WorkerConfig

SMALL_EVAL = {"limit": 60, "attribution": False}
MANIFEST = {"model_name": "m", "submitter": "tests", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}



def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _queue_one(store, synthetic_repo, tmp_path, seed: int = 1) -> str:
    return corpus.enqueue_unvalidated(store, corpus.cnn_model(seed), {**MANIFEST, "model_name": f"m{seed}"},
                                      synthetic_repo, tmp_path)


def _config(**kw) -> WorkerConfig:
    base = dict(eval_params=SMALL_EVAL, time_limit=120.0, heartbeat_seconds=0.5, launcher="spawn", artifacts=True,
                fault_backoff=0.05, fault_backoff_max=0.1, max_faults_once=1, record_retries=2, backups=False)
    known = WorkerConfig.__dataclass_fields__
    return WorkerConfig(**{k: v for k, v in {**base, **kw}.items() if k in known})


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except OSError:
        return False


# -- item 9: a full disk is the server's fault, retried, and named ---------------------------------------------------
@pytest.mark.slow  # two real evaluations in fresh interpreters: ~15-25 s on a busy 2-core machine
@pytest.mark.parametrize("where", ["evaluator output (child)", "task file (worker)"])
def test_disk_full_hands_the_job_back_instead_of_failing_it(where, home, tmp_path, synthetic_repo):
    with open_store() as store:
        job = _queue_one(store, synthetic_repo, tmp_path)
        attempt = export.attempt_dir(job, 1)
        target = attempt / "out" / "result.filters.meme" if where.startswith("evaluator") else attempt / "task.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to("/dev/full")  # every write there fails with ENOSPC, as on a full disk
        done = Worker(store, _config()).run(once=True)
        sub = store.get(job)
        assert done == [] and sub.state == PENDING and sub.attempts == 0, (sub.state, sub.reason)
        target.unlink()  # space freed: the same job now finishes, no resubmission needed
        done = Worker(store, _config()).run(once=True)
        assert [r.state for r in done] == [FINISHED] and store.get(job).state == FINISHED


@pytest.mark.slow  # two real evaluations: ~15-20 s on a busy 2-core machine
def test_worker_survives_a_database_that_cannot_be_written(home, tmp_path, synthetic_repo):
    with open_store() as store:
        job = _queue_one(store, synthetic_repo, tmp_path)
        worker = Worker(store, _config(artifacts=False))
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLITE_FULL: "database or disk is full"
        results = worker.run(once=True)  # must return, not raise sqlite3.OperationalError
        assert results == [] and worker.faults >= 1
        assert store.get(job).state in (PENDING, RUNNING)
        store._conn.execute("PRAGMA max_page_count = 1073741823")
        store._conn.execute(f"UPDATE submissions SET state = '{PENDING}', worker_id = NULL WHERE id = ?", (job,))
        assert [r.state for r in Worker(store, _config(artifacts=False)).run(once=True)] == [FINISHED]


def test_store_names_a_full_disk_as_such(home):
    with open_store() as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(StoreError, match="disk") as info:
            store.add(manifest={**MANIFEST, "description": "x" * 200_000}, sha256="a" * 64, size_bytes=1)
        assert not isinstance(info.value, sqlite3.Error)


def test_commands_fail_at_once_when_nothing_can_be_written(home):
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            "resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0)); from submissions.cli import main; "
            "sys.exit(main(['queue']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=45,
                          env={**os.environ, "MOTIFBENCH_HOME": str(home)})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert "disk" in proc.stderr and "locked" not in proc.stderr, proc.stderr


def test_infrastructure_faults_are_told_apart_from_model_faults():
    import errno

    from submissions.infra import is_infrastructure_fault

    assert is_infrastructure_fault(OSError(errno.ENOSPC, "No space left on device"))
    assert is_infrastructure_fault(sqlite3.OperationalError("database or disk is full"))
    wrapped = RuntimeError("evaluation failed")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert is_infrastructure_fault(wrapped)
    assert not is_infrastructure_fault(RuntimeError("output 'No space left on device' contains NaN"))
    assert not is_infrastructure_fault(ValueError("[Errno 28] in a tensor name"))


# -- items 9 and 10: serve supervises its worker; the worker dies with serve ------------------------------------------
_PARENT = """
import sys, time
from space_app.service import WorkerProcess
proc = WorkerProcess(["--poll", "0.5"]).start()
print(proc.proc.pid, flush=True)
time.sleep(600)
"""


def test_worker_dies_with_a_sigkilled_serve(home):
    env = {**os.environ, "MOTIFBENCH_HOME": str(home)}
    parent = subprocess.Popen([sys.executable, "-c", _PARENT], env=env, stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    try:
        _wait_for(lambda: (submissions_home(home) / "queue.sqlite").exists(), 60, "the worker to open the store")
        assert _alive(worker_pid)
        parent.kill()  # SIGKILL: no clean-up code runs in the parent
        parent.wait()
        _wait_for(lambda: not _alive(worker_pid), 30, "the orphaned worker to exit")
    finally:
        if _alive(worker_pid):
            os.kill(worker_pid, signal.SIGKILL)


def test_serve_restarts_a_dead_worker(home):
    from space_app.service import WorkerProcess

    proc = WorkerProcess(["--poll", "0.5"]).start()
    proc.supervise(check_every=0.2, backoff=0.1)
    try:
        first = proc.proc.pid
        _wait_for(lambda: (submissions_home(home) / "queue.sqlite").exists(), 60, "the worker to start")
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: proc.proc.pid != first and proc.alive(), 30, "a new worker")
        assert proc.restarts == 1
    finally:
        proc.stop()
    assert not proc.alive()


# -- item 11: a damaged queue database is refused with a recovery path ------------------------------------------------
def _damage(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    page = 4096
    if how == "header":
        data[:16] = b"not a database!!"
    elif how == "truncated":
        data = data[: page + 100]
    elif how == "page":
        for p in range(1, len(data) // page):  # every page but the first (the schema) overwritten
            data[p * page:(p + 1) * page] = b"\xa5" * page
    path.write_bytes(bytes(data))


def _filled_store(home, n: int = 40) -> Path:
    with open_store() as store:
        for i in range(n):
            store.add(manifest={**MANIFEST, "description": "d" * 300}, sha256=f"{i:064x}", size_bytes=1)
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        path = store.path
    assert not (path.parent / "backups").exists()
    return path


@pytest.mark.parametrize("how", ["header", "truncated", "page"])
def test_damaged_store_is_refused_clearly_and_checked(how, home):
    from submissions import sqlite_store

    path = _filled_store(home)
    _damage(path, how)
    getattr(sqlite_store, "_CHECKED", set()).clear()  # a fresh process checks the file when it opens it
    size = path.stat().st_size
    with pytest.raises(StoreError, match="damaged") as info:
        open_store()
    assert "queue --check" in str(info.value) and path.stat().st_size == size, "nothing written into it"
    env = {**os.environ, "MOTIFBENCH_HOME": str(home)}
    listing = subprocess.run([sys.executable, "-m", "submissions.cli", "queue"], capture_output=True, text=True,
                             env=env, timeout=60)
    assert listing.returncode != 0 and "Traceback" not in listing.stderr and "damaged" in listing.stderr
    check = subprocess.run([sys.executable, "-m", "submissions.cli", "queue", "--check"], capture_output=True,
                           text=True, env=env, timeout=60)
    assert check.returncode == 3 and "DAMAGED" in check.stderr and "backup" in check.stderr


def test_backup_restore_and_rebuild_path(home, tmp_path):
    from leaderboard_seed import seed_results
    from submissions import sqlite_store
    from submissions.store_health import rotate_backups

    ids = seed_results(3, home)
    path = submissions_home(home) / "queue.sqlite"
    env = {**os.environ, "MOTIFBENCH_HOME": str(home)}
    ok = subprocess.run([sys.executable, "-m", "submissions.cli", "queue", "--check"], capture_output=True, text=True,
                        env=env, timeout=60)
    assert ok.returncode == 0 and "ok" in ok.stdout
    made = rotate_backups(path)
    assert made is not None and rotate_backups(path) is None, "one backup per interval"
    by_cli = tmp_path / "manual.sqlite"
    assert subprocess.run([sys.executable, "-m", "submissions.cli", "queue", "--backup", str(by_cli)], env=env,
                          timeout=60).returncode == 0
    _damage(path, "header")
    export.leaderboard_path().write_bytes(b"garbage")
    shutil.copyfile(made, path)  # the documented recovery: restore the newest backup ...
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    sqlite_store._CHECKED.clear()
    rebuilt = subprocess.run([sys.executable, "-m", "submissions.cli", "queue", "--export"], env=env, timeout=120,
                             capture_output=True, text=True)  # ... then rebuild the exports from its records
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert sorted(pq.read_table(export.leaderboard_path()).column("id").to_pylist()) == sorted(ids)
    with sqlite3.connect(by_cli) as conn:
        assert conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 3


def test_worker_keeps_backups(home, tmp_path, synthetic_repo):
    with open_store() as store:
        _queue_one(store, synthetic_repo, tmp_path, 9)
        Worker(store, _config(backups=True, artifacts=False)).run(once=True)
    backups = list((submissions_home(home) / "backups").glob("queue-*.sqlite"))
    assert len(backups) == 1
    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- item 12: the evaluator scores only the dataset its manifest describes -------------------------------------------
def test_tampered_test_split_is_refused_and_records_carry_measured_hashes(tmp_path, synthetic_repo):
    from benchmark.loader import load_split
    from evaluator import evaluate
    from evaluator.params import EvalParams

    repo = tmp_path / "repo"
    shutil.copytree(synthetic_repo, repo)
    arrays = load_split(repo, "synthetic", "test", limit=10)
    (rel, measured), = arrays.info.files_sha256.items()
    assert measured == hashlib.sha256((repo / rel).read_bytes()).hexdigest()
    model = corpus.save(corpus.cnn_model(3), tmp_path / "m.onnx")
    record = evaluate(model, data=repo, params=EvalParams(limit=40, attribution=False), progress=False).to_record()
    assert record["dataset"]["files_sha256"] == {rel: measured}
    table = pq.read_table(repo / rel)
    pq.write_table(table.slice(0, 50), repo / rel)  # cut to 50 rows, manifest untouched
    with pytest.raises(DatasetError, match="sha256"):
        load_split(repo, "synthetic", "test")
    with pytest.raises(DatasetError, match="manifest"):
        evaluate(model, data=repo, params=EvalParams(attribution=False), progress=False)
    assert json.loads((repo / "manifest.json").read_text())  # the manifest is left as it was


def test_worker_claims_nothing_while_the_data_home_is_nearly_full(home, tmp_path, synthetic_repo):
    from submissions.infra import free_bytes

    with open_store() as store:
        job = _queue_one(store, synthetic_repo, tmp_path, 11)
        nearly_full = free_bytes(submissions_home()) + 2**40  # a threshold above what is free: the disk counts as full
        worker = Worker(store, _config(min_free_bytes=nearly_full, max_faults_once=2))
        assert worker.run(once=True) == [] and worker.faults == 2
        sub = store.get(job)
        assert sub.state == PENDING and sub.attempts == 0 and sub.reason is None


@pytest.mark.parametrize("reason,requeued", [
    ("evaluation error: OSError: [Errno 28] No space left on device: 'out/result.filters.meme'", True),
    ("worker error: OSError: [Errno 28] No space left on device", True),
    ("evaluation error: ModelOutputError: output '[Errno 28] No space left on device' contains NaN", False),
    ("timed out: still running after the 1800 s wall-time limit", False),
])
def test_a_job_the_disk_failed_can_be_submitted_again(reason, requeued, home, tmp_path, synthetic_repo):
    """Jobs a full disk failed before this fix were stuck as duplicates; resubmitting the file requeues them."""
    from submissions.errors import SubmissionRejected
    from submissions.intake import submit
    from submissions.validate import ValidationLimits

    model = corpus.cnn_model(21)
    with open_store() as store:
        job = _queue_one(store, synthetic_repo, tmp_path, 21)
        store.claim("old-worker")
        store.fail(job, "old-worker", reason)
    path = corpus.save(model, tmp_path / "again.onnx")
    if requeued:
        sub = submit(path, MANIFEST, data=synthetic_repo, limits=ValidationLimits(trial_seconds=30))
        assert sub.id == job and sub.state == PENDING and sub.attempts == 0 and sub.reason is None
    else:
        with pytest.raises(SubmissionRejected) as info:
            submit(path, MANIFEST, data=synthetic_repo, limits=ValidationLimits(trial_seconds=30))
        assert info.value.code == "duplicate" and info.value.existing_id == job
