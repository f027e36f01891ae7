"""The SQLite store: states, atomic claims across processes, ownership, stale-job recovery."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from submissions.errors import StoreError
from submissions.store import FAILED, FINISHED, PENDING, RUNNING
from submissions.sqlite_store import open_store


def _manifest(name: str = "m", version: str = "1.0.0") -> dict:
    return {"model_name": name, "submitter": "t", "dataset": {"config": "synthetic", "version": version},
            "output_kind": "probabilities", "license": "MIT"}


@pytest.fixture()
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path))
    s = open_store()
    yield s
    s.close()


def _add(store, i: int, version: str = "1.0.0"):
    sub, created = store.add(manifest=_manifest(f"m{i}", version), sha256=f"{i:064x}", size_bytes=10)
    assert created
    return sub


def test_life_cycle_and_ownership(store):
    sub = _add(store, 1)
    assert sub.state == PENDING and sub.attempts == 0
    job = store.claim("w1")
    assert job.id == sub.id and job.state == RUNNING and job.attempts == 1 and job.worker_id == "w1"
    assert store.claim("w2") is None
    # another worker can neither heartbeat, finish nor fail it
    assert not store.heartbeat(sub.id, "w2")
    assert not store.finish(sub.id, "w2", {"x": 1})
    assert not store.fail(sub.id, "w2", "no")
    assert store.heartbeat(sub.id, "w1")
    assert store.finish(sub.id, "w1", {"results": {"classification": {"macro_auroc": 0.9}}})
    done = store.get(sub.id)
    assert done.state == FINISHED and done.record["results"]["classification"]["macro_auroc"] == 0.9
    assert done.finished_at >= done.started_at >= done.created_at
    assert not store.finish(sub.id, "w1", {"again": True}), "a finished job cannot be finished twice"
    assert store.counts() == {PENDING: 0, RUNNING: 0, FINISHED: 1, FAILED: 0}


def test_duplicates_per_dataset_version(store):
    a = _add(store, 7)
    again, created = store.add(manifest=_manifest("other name"), sha256=a.sha256, size_bytes=10)
    assert not created and again.id == a.id
    other_version, created = store.add(manifest=_manifest("m", "2.0.0"), sha256=a.sha256, size_bytes=10)
    assert created and other_version.id != a.id


def test_claims_are_oldest_first_and_release_keeps_attempts(store):
    ids = [_add(store, i).id for i in range(3)]
    job = store.claim("w")
    assert job.id == ids[0]
    assert store.release(job.id, "w")
    again = store.get(job.id)
    assert again.state == PENDING and again.attempts == 0
    assert store.claim("w").id == ids[0]


def test_stale_jobs_are_requeued_then_failed(store):
    now = [1_000_000.0]
    store.clock = lambda: now[0]  # an injected clock: no wall-clock waits
    sub = _add(store, 1)
    store.claim("dead-1")
    now[0] += 0.15
    assert [r.new_state for r in store.recover_stale(0.1, max_attempts=2)] == [PENDING]
    assert store.get(sub.id).state == PENDING
    store.claim("dead-2")
    assert store.recover_stale(10.0, max_attempts=2) == [], "a fresh heartbeat is not stale"
    now[0] += 0.15
    assert [r.new_state for r in store.recover_stale(0.1, max_attempts=2)] == [FAILED]
    failed = store.get(sub.id)
    assert failed.state == FAILED and failed.attempts == 2 and "killed or outlived its worker 2 times" in failed.reason
    assert not store.finish(sub.id, "dead-2", {}), "the dead worker cannot resurrect it"


def test_unknown_state_filter(store):
    with pytest.raises(StoreError, match="unknown state"):
        store.list(["DONE"])


_CLAIMER = """
import json, sys
from submissions.sqlite_store import open_store
s = open_store(); got = []
while (job := s.claim(sys.argv[1])) is not None:
    got.append(job.id); s.finish(job.id, sys.argv[1], {"by": sys.argv[1]})
print(json.dumps(got))
"""


def test_concurrent_claims_never_share_a_job(store):
    ids = {_add(store, i).id for i in range(60)}
    procs = [subprocess.Popen([sys.executable, "-c", _CLAIMER, f"w{k}"], stdout=subprocess.PIPE, text=True)
             for k in range(4)]
    claimed = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    flat = [i for part in claimed for i in part]
    assert len(flat) == len(set(flat)) == 60 and set(flat) == ids
    for part, k in zip(claimed, range(4)):
        for i in part:
            assert store.get(i).record == {"by": f"w{k}"}
