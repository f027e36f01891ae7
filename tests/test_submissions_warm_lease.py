"""A claimed job's lease never waits on the fork server's imports.

The worker starts its warm fork server before it claims a job, and a server
started while a job is held (a restart mid-job) heartbeats the job while its
imports run. Before this, a busy machine's slow server start could outlive
``stale_after`` and another worker took the job as orphaned (attempts 2).
"""
from __future__ import annotations

import corpus
from submissions import sandbox
from submissions.sqlite_store import open_store
from submissions.store import FINISHED
from submissions.worker import Worker, WorkerConfig

MANIFEST = {"model_name": "lease test", "submitter": "tests", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}


def test_a_starting_server_heartbeats_its_caller_until_ready(monkeypatch):
    monkeypatch.setattr(sandbox, "_WARM", {})  # a fresh server, whatever this process started before
    beats = []
    server = sandbox.warm_up("trial", heartbeat=lambda: beats.append(1), every=0.02)
    try:
        assert server.alive
        assert beats, "the imports take far longer than 20 ms: the caller was heartbeaten meanwhile"
        assert sandbox.warm_up("trial", heartbeat=lambda: beats.append(2)) is server  # reused, no new start
        assert 2 not in beats
    finally:
        server.close()


def test_the_worker_claims_only_once_its_fork_server_is_up(home, tmp_path, synthetic_repo, monkeypatch):
    monkeypatch.setattr(sandbox, "_WARM", {})
    with open_store() as store:
        job = corpus.enqueue_unvalidated(store, corpus.cnn_model(7), MANIFEST, synthetic_repo, tmp_path)
        seen = []
        claim = store.claim

        def claim_and_look(worker_id):
            server = sandbox._WARM.get("evaluate")
            seen.append(server is not None and server.alive)
            return claim(worker_id)

        monkeypatch.setattr(store, "claim", claim_and_look)
        config = WorkerConfig(eval_params={"limit": 60, "attribution": False}, hidden=False, intervals=None,
                              artifacts=False, launcher="forkserver")
        try:
            done = Worker(store, config).run(once=True)
        finally:
            for server in sandbox._WARM.values():
                server.close()
        assert seen and seen[0], "the server was started before the first claim"
        assert [r.id for r in done] == [job] and store.get(job).state == FINISHED and store.get(job).attempts == 1
