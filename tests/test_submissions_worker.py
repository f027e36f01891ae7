"""The worker: hostile jobs end FAILED with a reason and the next job still runs;
a SIGKILLed worker's job is finished by another, once; 50 concurrent submissions
are each evaluated exactly once. Evaluations are the real evaluator, kept small
(``limit`` rows, no attribution, no artifacts)."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import corpus
from submissions.public_record import public_record
from submissions.export import read_leaderboard, results_dir
from submissions.store import FAILED, FINISHED, RUNNING, submissions_home
from submissions.sqlite_store import open_store
from submissions.worker import Worker, WorkerConfig

SMALL_EVAL = {"limit": 60, "attribution": False}
MANIFEST = {
    "model_name": "worker test",
    "submitter": "tests",
    "dataset": {"config": "synthetic", "version": "1.0.0"},
    "output_kind": "probabilities",
    "license": "MIT",
}



def _enqueue(store, model, name: str, data, tmp: Path, **manifest_patch) -> str:
    """Queue a model directly (as if intake had let it through) to test the worker's own defences."""
    return corpus.enqueue_unvalidated(store, model, {**MANIFEST, "model_name": name, **manifest_patch}, data, tmp)


def test_worker_survives_hostile_jobs_and_serves_the_next(home, tmp_path, synthetic_repo):
    with open_store() as store:
        ids = {
            "hang": _enqueue(store, corpus.slow_loop_model(1), "hang", synthetic_repo, tmp_path),
            "oom": _enqueue(store, corpus.memory_bomb_model(2), "oom", synthetic_repo, tmp_path),
            "nan": _enqueue(store, corpus.nan_model(3), "nan", synthetic_repo, tmp_path),
            "bad tap": _enqueue(store, corpus.cnn_model(4), "bad tap", synthetic_repo, tmp_path, first_layer_tap="nope"),
            "good": _enqueue(store, corpus.cnn_model(5), "good", synthetic_repo, tmp_path),
        }
        missing = _enqueue(store, corpus.cnn_model(6), "missing", synthetic_repo, tmp_path)
        path = store.checkpoints.path(store.get(missing).sha256)
        path.chmod(0o644)
        path.unlink()
        # the hanging job costs the whole time limit; a good 60-row evaluation takes ~0.3 s (2 s on a busy machine)
        config = WorkerConfig(eval_params=SMALL_EVAL, time_limit=4.0, memory_limit=2 * 1024**3, hidden=False, intervals=None,
                              heartbeat_seconds=0.5, artifacts=False)
        done = Worker(store, config).run(once=True)
        assert [r.id for r in done] == [*ids.values(), missing], "every job was served, in order"
        subs = {k: store.get(i) for k, i in ids.items()}
        assert subs["hang"].state == FAILED and "timed out" in subs["hang"].reason and "4 s" in subs["hang"].reason
        assert subs["oom"].state == FAILED and "out of memory" in subs["oom"].reason
        assert subs["nan"].state == FAILED and "NaN" in subs["nan"].reason
        assert subs["bad tap"].state == FAILED and "nope" in subs["bad tap"].reason
        assert store.get(missing).state == FAILED and "missing" in store.get(missing).reason
        good = subs["good"]
        assert good.state == FINISHED and good.reason is None and good.attempts == 1
        assert good.record["results"]["classification"]["macro_auroc"] is not None
        assert good.record["dataset"]["n_sequences"] == SMALL_EVAL["limit"]
    exported = json.loads((results_dir() / f"{good.id}.json").read_text())
    assert exported == public_record(good.record)  # the public copy: the same record without server paths
    assert str(home) not in json.dumps(exported) and str(synthetic_repo) not in json.dumps(exported)
    table = read_leaderboard().to_pylist()
    assert [row["id"] for row in table] == [good.id]
    assert table[0]["auroc"] == pytest.approx(good.record["results"]["classification"]["macro_auroc"])
    assert table[0]["evaluator_version"] == good.record["evaluator_version"]


def _worker_cmd(*extra: str, stale_after: float = 1.5) -> list[str]:
    return [sys.executable, "-m", "submissions.cli", "worker", "--heartbeat", "0.3", "--stale-after", str(stale_after),
            "--memory-gb", "3", "--no-artifacts", "--no-hidden", "--no-intervals", *extra]


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_sigkilled_worker_job_is_finished_once_by_another(home, tmp_path, synthetic_repo):
    with open_store() as store:
        # the full evaluation (attribution on) keeps the job RUNNING long enough to kill its worker
        job = _enqueue(store, corpus.cnn_model(21, filters=16), "long", synthetic_repo, tmp_path)
    first = subprocess.Popen(_worker_cmd("--max-jobs", "1", "--limit", "150"), env=os.environ.copy(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    attempt1 = submissions_home() / "runs" / job / "attempt-1"
    with open_store() as store:
        _wait_for(lambda: (attempt1 / "child.log").exists(), 90, "the first worker to start evaluating")
        # kill at once: the evaluation (attribution on) takes seconds, and the job is RUNNING from its claim
        first.send_signal(signal.SIGKILL)
        first.wait()
        assert not (attempt1 / "result.json").exists(), "killed before the evaluation could finish"
        assert store.get(job).state == RUNNING, "a dead worker cannot record anything"
        _wait_for(lambda: time.time() - store.get(job).heartbeat_at > 1.5, 30, "the heartbeat to go stale")
        # the second worker runs in this process: it reuses the warm fork server earlier tests started
        config = WorkerConfig(eval_params={"limit": 150, "attribution": False}, heartbeat_seconds=0.3, hidden=False, intervals=None,
                              stale_after=1.5, memory_limit=3 * 1024**3, artifacts=False)
        second = Worker(store, config)
        assert [(r.id, r.state) for r in second.run(once=True)] == [(job, FINISHED)]
        done = store.get(job)
        assert done.state == FINISHED and done.attempts == 2 and done.worker_id == second.worker_id, done
    # the first evaluation died with its worker: it never wrote a result, not even later
    assert not (attempt1 / "result.json").exists()
    assert sorted(p.name for p in results_dir().iterdir()) == [f"{job}.json"]
    assert [r["id"] for r in read_leaderboard().to_pylist()] == [job]


_SUBMITTER = """
import json, sys
from pathlib import Path
import corpus
from submissions.intake import submit
from submissions.validate import ValidationLimits
first, count, data, tmp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
ids = []
for seed in range(first, first + count):
    path = corpus.save(corpus.cnn_model(1000 + seed, filters=4), tmp / f"m{seed}.onnx")
    manifest = {"model_name": f"concurrent {seed}", "submitter": "tests", "output_kind": "probabilities",
                "dataset": {"config": "synthetic", "version": "1.0.0"}, "license": "MIT"}
    ids.append(submit(path, manifest, data=data, limits=ValidationLimits(trial_launcher="forkserver")).id)
print(json.dumps(ids))
"""


def test_fifty_concurrent_submissions_each_evaluated_once(home, tmp_path, synthetic_repo):
    env = os.environ.copy()
    tests_dir = str(Path(__file__).resolve().parent)  # the submitters import the corpus fixture
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tests_dir, env.get("PYTHONPATH")) if p)
    # no worker dies here, so the default lease: a 1.5 s one would let a busy machine's stall of a
    # second look like a dead worker and run its job twice (the claim's atomicity is what this tests)
    workers = [subprocess.Popen(_worker_cmd("--poll", "0.2", "--limit", "30", "--no-attribution", stale_after=60),
                                env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    submitters = [subprocess.Popen([sys.executable, "-c", _SUBMITTER, str(10 * k), "10", str(synthetic_repo),
                                    str(tmp_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                  for k in range(5)]
    submitted = []
    for p in submitters:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        submitted += json.loads(out)
    assert len(submitted) == len(set(submitted)) == 50
    with open_store() as store:
        _wait_for(lambda: store.counts()[FINISHED] == 50, 240, "50 finished jobs")
        for w in workers:
            w.send_signal(signal.SIGTERM)
        logs = [w.communicate(timeout=30)[1] for w in workers]
        assert [w.returncode for w in workers] == [0, 0], "idle workers stop cleanly on SIGTERM"
        subs = store.list()
    assert len(subs) == 50 and {s.state for s in subs} == {FINISHED}
    twice = [s.id for s in subs if s.attempts != 1]
    assert not twice, ("no job was claimed twice", twice, [line for log in logs for line in log.splitlines()
                                                           if any(i in line for i in twice)][:20])
    finished = [m for log in logs for m in re.findall(r"job (sub-\w+) FINISHED", log)]
    assert sorted(finished) == sorted(submitted), "each job evaluated by exactly one worker, once"
    assert all(log.count("FINISHED") > 0 for log in logs), "both workers took part"
    assert len(list(results_dir().glob("*.json"))) == 50
    table = read_leaderboard()
    assert table.num_rows == 50 and sorted(table.column("id").to_pylist()) == sorted(submitted)
