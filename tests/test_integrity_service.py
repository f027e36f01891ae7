"""Hidden rounds through the real service parts on a fresh data home.

A serve-like flow (round opened as ``serve`` does, a real upload through
intake, the real worker with its sandbox, the exports, the pages) scores on
the hidden round; the secret appears in no file or table it writes;
``rescore`` is idempotent; ``round rotate`` re-scores everything (the
published seed reproducing the ended round's records is checked through the
served app in ``test_integrity_served.py``).
"""
from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import numpy as np
import onnx
import pytest

from benchmark import rounds
from motifbench.cli import main
import corpus
from submissions.export import export_all, read_leaderboard
from submissions.intake import submit
from submissions.rescore import current_context, rescore, rotate_round, stale_ids
from submissions.sqlite_store import open_store
from submissions.store import FINISHED, submissions_home
from submissions.worker import Worker, WorkerConfig

EVAL = {"limit": 300, "ism_sequences": 4}
INTERVALS = {"resamples": 200, "recovery_resamples": 5, "seed": 7}
MANIFEST = {
    "model_name": "integrity upload",
    "submitter": "tests",
    "dataset": {"config": "synthetic", "version": "1.0.0"},
    "output_kind": "probabilities",
    "license": "MIT",
    "family": "integrity-cnn",
    "seed": 3,
}


def seed_forms(seed: bytes) -> list[bytes]:
    """Every way the seed could be written: hex (both cases), base64 (both alphabets), integers, raw, its words."""
    words = np.frombuffer(seed, dtype="<u4")
    texts = [seed.hex(), seed.hex().upper(), base64.b64encode(seed).decode(), base64.urlsafe_b64encode(seed).decode(),
             str(int.from_bytes(seed, "big")), str(int.from_bytes(seed, "little")),
             f"{words[0]}, {words[1]}", f"{words[0]} {words[1]}", seed.hex()[:32], seed.hex()[32:]]
    return [t.encode() for t in texts] + [seed]


def everything_written(home: Path, captured: str) -> list[tuple[str, bytes]]:
    """Every file under the data home (except the secret itself), every SQLite table dumped, and the logs."""
    found = []
    for path in home.rglob("*"):
        if path.is_file() and path != home / "rounds" / rounds.SECRET_FILE:
            found.append((str(path), path.read_bytes()))
    db = submissions_home(home) / "queue.sqlite"
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608 - names from sqlite_master
            found.append((f"sqlite:{table}", repr(rows).encode()))
    found.append(("leaderboard table", repr(read_leaderboard(submissions_home(home)).to_pylist()).encode()))
    found.append(("captured logs and output", captured.encode()))
    return found


def assert_secret_absent(seed: bytes, home: Path, captured: str, pages: list[str]) -> int:
    items = everything_written(home, captured) + [(f"page {i}", p.encode()) for i, p in enumerate(pages)]
    forms = seed_forms(seed)
    for where, blob in items:
        for form in forms:
            assert form not in blob, f"the round secret leaked into {where}"
    return len(items)


def pages() -> list[str]:
    from space_app import app, leaderboard
    from space_app.about import about_markdown
    from space_app.integrity_view import rounds_markdown

    frame = app.source().frame()
    shown = app.leaderboard_view(None, None, "all", "all", list(leaderboard.OPTIONAL_COLUMNS))
    families = app.leaderboard_view(None, None, "all", "all", [], True)

    def text(table) -> str:  # the page's table: a Styler (formatted cells) or a plain frame
        return table.to_string() if hasattr(table, "data") and hasattr(table, "format") else table.to_csv()

    texts = [about_markdown(), rounds_markdown(), text(shown[3]), text(families[3]), shown[5]]
    for sid in frame["id"]:
        texts.append(app.detail_view(sid)[0])
    return texts


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.delenv(rounds.SECRET_ENV, raising=False)
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_hidden_rounds_end_to_end(home, tmp_path, synthetic_repo, capfd, caplog):
    caplog.set_level("DEBUG")
    # serve's first start opens round r1 (and creates the 0600 secret)
    r1 = rounds.ensure_round()
    seed1 = rounds.load_secret()
    model_path = tmp_path / "upload.onnx"
    onnx.save(corpus.cnn_model(11, filters=6), model_path)
    with open_store() as store:
        sub = submit(model_path, MANIFEST, data=synthetic_repo, store=store)
        config = WorkerConfig(eval_params=EVAL, intervals=INTERVALS, heartbeat_seconds=0.5, time_limit=600,
                              data=str(synthetic_repo))
        worker = Worker(store, config)
        done = worker.run(once=True)
        assert [(r.id, r.state) for r in done] == [(sub.id, FINISHED)], done
        first = store.get(sub.id).record
        # scored on the hidden round, with intervals and the public-test gap
        assert first["round"] == {"id": "r1", "commitment": r1.commitment}
        assert first["dataset"]["split"] == "hidden" and first["dataset"]["version"] == "1.0.0"
        assert first["public_test"]["dataset"]["split"] == "test"
        ci = first["results"]["uncertainty"]
        lo, hi = ci["classification"]["macro_auroc"]
        assert lo <= first["results"]["classification"]["macro_auroc"] <= hi
        assert ci["motif_recovery"]["resamples"] == 5 and ci["attribution"] is not None
        assert not list(submissions_home().rglob("hidden-test.npz")), "the draw handed to the child is deleted"

        # the leaderboard row carries round, interval, gap and family
        row = read_leaderboard().to_pylist()[0]
        assert row["round_id"] == "r1" and row["family"] == "integrity-cnn" and row["seed"] == 3
        assert row["auroc_lo"] == lo and row["public_auroc"] == first["public_test"]["macro_auroc"]

        # nothing is scored twice for one (model, dataset version, evaluator major, round)
        assert rescore(store, stale=True) == [] and rescore(store, [sub.id]) == []
        assert worker.run(once=True) == []

        # no trace of the running round's seed anywhere
        n = assert_secret_absent(seed1, home, capfd.readouterr().out + caplog.text, pages())
        assert n > 20

        # round rotate: r1's seed is published, r2 starts, every finished row is re-scored on r2
        rotation = rotate_round(store, data=synthetic_repo)
        assert rotation.ended_id == "r1" and rotation.ended_seed == seed1.hex() and rotation.requeued == [sub.id]
        assert store.get(sub.id).record == first  # the old record stays until the new one is in
        assert [r.id for r in worker.run(once=True)] == [sub.id]
        second = store.get(sub.id).record
        assert second["round"]["id"] == "r2" and second["results"] != first["results"]
        assert [k.round_id for k in store.scored_keys(sub.id)] == ["r1", "r2"]
        assert rescore(store, stale=True) == [] and stale_ids(store, current_context(synthetic_repo)) == []
        export_all(store)
    seed2 = rounds.load_secret()
    assert_secret_absent(seed2, home, capfd.readouterr().out + caplog.text, pages())

    # reproducing r1's records from the published seed: tests/test_integrity_served.py (through `serve`)


def test_old_records_stay_in_their_version_view(home, tmp_path, synthetic_repo):
    """A re-score under a new evaluator major keeps the old record as a row of the old view."""
    from space_app import leaderboard as lb

    with open_store() as store:
        sid = corpus.enqueue_unvalidated(store, corpus.cnn_model(12), {**MANIFEST, "model_name": "versioned"},
                                         synthetic_repo, tmp_path)
        worker = Worker(store, WorkerConfig(eval_params={"limit": 60, "attribution": False}, intervals=None,
                                            hidden=False, heartbeat_seconds=0.5, data=str(synthetic_repo)))
        assert [r.state for r in worker.run(once=True)] == [FINISHED]
        # pretend the stored score came from evaluator 1.x: the running 2.x makes the row stale
        with sqlite3.connect(submissions_home() / "queue.sqlite") as conn:
            record = json.loads(conn.execute("SELECT record_json FROM scores").fetchone()[0])
            record["evaluator_version"] = "1.0.0"
            conn.execute("UPDATE scores SET evaluator_major = 1, record_json = ?", (json.dumps(record),))
            conn.execute("UPDATE submissions SET record_json = ?", (json.dumps(record),))
        context = current_context(synthetic_repo, hidden=False)
        assert rescore(store, stale=True, context=context) == [sid]
        assert rescore(store, stale=True, context=context) == []  # queued already: not twice
        assert [r.state for r in worker.run(once=True)] == [FINISHED]
        assert rescore(store, stale=True, context=context) == []
    frame = lb.prepare(read_leaderboard().to_pandas())
    majors = sorted(frame["evaluator_major"])
    assert majors == ["1", "2"] and frame["id"].tolist() == [sid, sid]
    old = frame[frame["evaluator_major"] == "1"].iloc[0]
    assert not old["current"] and (submissions_home() / old["record_file"]).is_file()


@pytest.mark.parametrize("form", range(8))
def test_the_scan_finds_a_planted_seed(home, form):
    """The leak scan is not vacuous: each written form of the seed, planted in a log, is caught."""
    rounds.ensure_round()
    seed = rounds.load_secret()
    with open_store():
        pass
    (home / "planted.log").write_bytes(b"worker started " + seed_forms(seed)[form] + b"\n")
    with pytest.raises(AssertionError, match="planted.log"):
        assert_secret_absent(seed, home, "", [])


def test_record_differences_see_every_value_but_run_facts():
    from evaluator.hidden import record_differences

    record = {"results": {"a": [0.5, float("nan")], "b": {"c": 1}}, "timings_seconds": {"total": 3.0},
              "created": "2026-01-01", "model": {"given_path": "x.onnx", "onnx_sha256": "ab"}}
    same = json.loads(json.dumps(record))
    same.update(timings_seconds={"total": 9.0}, created="2027-01-01",
                model={"given_path": "y.onnx", "onnx_sha256": "ab"})
    assert record_differences(record, same) == []
    tampered = json.loads(json.dumps(same))
    tampered["results"]["a"][0] = 0.5000000001
    tampered["model"]["onnx_sha256"] = "cd"
    del tampered["results"]["b"]["c"]
    paths = [d[0] for d in record_differences(record, tampered)]
    assert paths == ["model.onnx_sha256", "results.a[0]", "results.b.c"]


def test_one_bootstrap_count_for_every_interval():
    """--bootstrap-resamples sets results.uncertainty's count and the attribution benchmark's (EvalParams) alike."""
    import argparse

    from evaluator.params import EvalParams
    from evaluator.params_cli import add_eval_params_arguments, add_interval_arguments, eval_params_overrides, \
        interval_settings

    parser = argparse.ArgumentParser()
    add_eval_params_arguments(parser)
    add_interval_arguments(parser)
    args = parser.parse_args(["--bootstrap-resamples", "200"])
    assert interval_settings(args).resamples == 200
    assert EvalParams.from_dict(eval_params_overrides(args)).bootstrap_resamples == 200
    defaults = parser.parse_args([])
    assert EvalParams.from_dict(eval_params_overrides(defaults)).bootstrap_resamples == EvalParams().bootstrap_resamples


def test_a_round_ended_by_a_new_space_secret_is_published_by_its_owner(home, monkeypatch, capsys):
    """A Space ends a round by changing $MOTIFBENCH_ROUND_SECRET; the old seed is then published, checked."""
    from space_app.integrity_view import rounds_markdown

    seeds = [bytes([i]) * 32 for i in (1, 2, 3)]
    monkeypatch.setenv(rounds.SECRET_ENV, seeds[0].hex())
    rounds.ensure_round()
    monkeypatch.setenv(rounds.SECRET_ENV, seeds[1].hex())
    assert rounds.ensure_round().id == "r2" and rounds.read_ledger()[0].seed is None  # r1 ended unrevealed
    with pytest.raises(rounds.RoundError, match="r2 is still running"):
        rounds.reveal(seeds[1])
    with pytest.raises(rounds.RoundError, match="no round"):
        rounds.reveal(seeds[2])
    assert main(["round", "reveal", seeds[0].hex()]) == 0 and "round r1: seed published" in capsys.readouterr().out
    first = rounds.read_ledger()[0]
    assert first.seed == seeds[0].hex() and rounds.verify_round(first)
    # the next change of secret publishes the previous one on start, through $MOTIFBENCH_REVEAL_SEEDS
    monkeypatch.setenv(rounds.SECRET_ENV, seeds[2].hex())
    monkeypatch.setenv(rounds.REVEAL_ENV, f"{seeds[0].hex()}, {seeds[1].hex()}")
    assert rounds.ensure_round().id == "r3"
    assert [r.seed for r in rounds.read_ledger()] == [seeds[0].hex(), seeds[1].hex(), None]
    assert rounds_markdown().count("(matches)") == 2
    monkeypatch.setenv(rounds.REVEAL_ENV, seeds[2].hex())  # the running round's seed: refused, never published
    with pytest.raises(rounds.RoundError, match="r3 is still running"):
        rounds.ensure_round()
    assert rounds.read_ledger()[2].seed is None
    monkeypatch.setenv(rounds.REVEAL_ENV, "zz" * 32)
    with pytest.raises(rounds.RoundError, match="MOTIFBENCH_REVEAL_SEEDS") as err:
        rounds.ensure_round()
    assert "zz" not in str(err.value)


def test_a_dead_workers_hidden_draw_is_deleted_when_its_job_is_recovered(home, tmp_path, synthetic_repo):
    """A worker killed mid-job never deletes the round's test it handed its child; recovery does."""
    import time

    from submissions.export import attempt_dir
    from submissions.worker import HIDDEN_DRAW

    with open_store() as store:
        sid = corpus.enqueue_unvalidated(store, corpus.cnn_model(4), MANIFEST, synthetic_repo, tmp_path)
        job = store.claim("dead-worker")
        assert job.id == sid
        draw = attempt_dir(sid, job.attempts) / HIDDEN_DRAW
        draw.parent.mkdir(parents=True)
        draw.write_bytes(b"the round's sequences and labels")
        time.sleep(0.05)
        worker = Worker(store, WorkerConfig(stale_after=0.01, hidden=False))
        worker.recover()
        assert store.get(sid).state == "PENDING" and not draw.exists()
