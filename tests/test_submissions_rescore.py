"""Re-scoring plumbing without evaluations: claim order, requeue rules, score keys, the round and rescore commands."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from benchmark import rounds
from benchmark.errors import MotifbenchError
from motifbench.cli import main
from submissions.rescore import Context, rescore
from submissions.sqlite_store import open_store
from submissions.store import FAILED, FINISHED, PENDING, RUNNING, ScoreKey, score_key

MANIFEST = {"model_name": "m", "submitter": "t", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}


def _record(major: int = 2, round_id: str | None = "r1", version: str = "1.0.0") -> dict:
    record = {"evaluator_version": f"{major}.1.0", "dataset": {"version": version}}
    if round_id:
        record["round"] = {"id": round_id, "commitment": "0" * 64}
    return record


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(rounds.SECRET_ENV, raising=False)
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _add(store, n: int) -> str:
    sub, _ = store.add(manifest={**MANIFEST, "model_name": f"m{n}"}, sha256=f"{n:064x}", size_bytes=1)
    time.sleep(0.01)  # distinct created_at
    return sub.id


def _finish(store, sid: str, record: dict) -> None:
    job = store.claim("w")
    assert job.id == sid
    assert store.finish(sid, "w", record)


def test_score_key_reads_the_record():
    assert score_key("s", "synthetic", "0.9.0", _record()) == ScoreKey("s", "synthetic", "1.0.0", 2, "r1")
    assert score_key("s", "deepsea", "1.0.0", _record(round_id=None)).round_id == ""


def test_new_work_first_then_rescores_newest_first_and_history_is_kept(home):
    with open_store() as store:
        old, mid = _add(store, 1), _add(store, 2)
        _finish(store, old, _record())
        _finish(store, mid, _record())
        assert store.requeue([old, mid, "sub-nope"], "re-score") == [old, mid]
        assert store.requeue([old], "again") == []  # PENDING already: not queued twice
        fresh = _add(store, 3)
        order = [store.claim("w").id for _ in range(3)]
        assert order == [fresh, mid, old]
        assert store.get(old).rescore and store.get(old).record == _record()  # old record shown meanwhile
        assert store.finish(old, "w", _record(round_id="r2"))
        assert [k.round_id for k in store.scored_keys(old)] == ["r1", "r2"]
        assert store.score(ScoreKey(f"{1:064x}", "synthetic", "1.0.0", 2, "r1")) == _record()
        assert not store.get(old).rescore


def test_first_record_of_a_key_is_kept(home):
    with open_store() as store:
        sid = _add(store, 4)
        _finish(store, sid, _record())
        store.requeue([sid], "x")
        assert store.claim("w").id == sid
        store.finish(sid, "w", {**_record(), "note": "second"})
        assert "note" not in store.score(store.scored_keys(sid)[0])
        assert len(store.history(sid)) == 1


def test_rescore_rules(home):
    context = Context(evaluator_major=2, dataset_versions={"synthetic": "1.0.0"}, round_id="r2")
    with open_store() as store:
        a, b, c = _add(store, 5), _add(store, 6), _add(store, 7)
        _finish(store, a, _record(round_id="r2"))  # current
        _finish(store, b, _record(round_id="r1"))  # older round: stale
        assert store.claim("w").id == c and store.fail(c, "w", "boom")
        assert rescore(store, stale=True, context=context) == [b]
        assert store.get(b).state == PENDING
        assert rescore(store, stale=True, context=context) == []
        assert rescore(store, [a, c], context=context) == [c]  # a is current: nothing to do; failed c retries
        with pytest.raises(MotifbenchError, match="exactly one"):
            rescore(store, [a], stale=True, context=context)
        with pytest.raises(MotifbenchError, match="no submission"):
            rescore(store, ["sub-missing"], context=context)
        assert [store.get(i).state for i in (a, b, c)] == [FINISHED, PENDING, PENDING]
        assert store.counts()[RUNNING] == 0 and store.counts()[FAILED] == 0


def test_round_and_rescore_commands(home, capsys):
    assert main(["round", "show"]) == 0 and "no round yet" in capsys.readouterr().out
    r1 = rounds.ensure_round()
    assert main(["round", "rotate"]) == 0
    out = capsys.readouterr().out
    seed = rounds.read_ledger()[0].seed
    assert f"round r1 ended; its seed is now public: {seed}" in out and "queued 0 submission(s)" in out
    assert main(["round", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown[0]["commitment"] == r1.commitment and shown[0]["seed"] == seed and "seed" not in shown[1]
    assert rounds.load_secret().hex() not in json.dumps(shown)
    assert main(["round", "show"]) == 0 and "(verified)" in capsys.readouterr().out
    assert main(["rescore", "--stale"]) == 0 and "queued 0" in capsys.readouterr().out


def test_a_failed_rescore_keeps_the_row_finished_with_its_earlier_record(home):
    """A re-score that fails (or keeps killing workers) never removes a finished row from the leaderboard."""
    from submissions.export import read_leaderboard, write_leaderboard

    with open_store() as store:
        sid, killer = _add(store, 1), _add(store, 3)
        _finish(store, sid, _record())
        _finish(store, killer, _record())
        assert store.requeue([sid, killer], "re-score on r2") == [sid, killer]
        fresh = _add(store, 2)
        assert store.claim("w").id == fresh
        assert store.fail(fresh, "w", "evaluation error: boom")  # a first evaluation: FAILED as before
        assert store.get(fresh).state == FAILED and store.get(fresh).reason == "evaluation error: boom"
        assert store.claim("w").id == killer and store.claim("w").id == sid
        assert store.fail(sid, "w", "evaluation error: boom")
        kept = store.get(sid)
        assert kept.state == FINISHED and kept.record == _record() and not kept.rescore
        assert kept.reason == "re-scoring failed, the earlier record stays: evaluation error: boom"
        time.sleep(0.05)  # the killer's worker goes silent past its attempts
        recovered = store.recover_stale(stale_after=0.01, max_attempts=1)
        assert [(r.id, r.new_state) for r in recovered] == [(killer, FINISHED)]
        assert store.get(killer).record == _record() and store.get(killer).reason.startswith("re-scoring failed")
        write_leaderboard(store)
    assert sorted(read_leaderboard().column("id").to_pylist()) == sorted([sid, killer])
