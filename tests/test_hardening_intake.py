"""Issue 12, items 2, 5, 7, 8 and 10 (intake side): caps, parser bombs, trial evasion, budgets, clean-up.

Every case goes through the real intake (``submissions.intake.submit``: static
checks, then the sandboxed trial in a child process) or the real Space form
logic; nothing is mocked.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import corpus
from submissions.errors import SubmissionRejected
from submissions.intake import submit
from submissions.manifest import load_manifest
from submissions.sqlite_store import open_store
from submissions.store import submissions_home
from submissions.validate import ValidationLimits

LIMITS = ValidationLimits(trial_seconds=20.0, trial_memory_bytes=3 * 1024**3)
MANIFEST = {"model_name": "hardening", "submitter": "tests", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}


@pytest.fixture()
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SPACE_ID", raising=False)
    return tmp_path / "home"


def _rejected(model, tmp_path, synthetic_repo, manifest=None, **kw) -> SubmissionRejected:
    path = corpus.save(model, tmp_path / "m.onnx")
    with pytest.raises(SubmissionRejected) as info:
        submit(path, manifest or MANIFEST, data=synthetic_repo, limits=LIMITS, **kw)
    return info.value


# -- item 2: strings from the model are capped in length and characters ---------------------------------------------
STRING_CASES = {
    "2 MB producer_name": ("producer_name", "p" * 2_000_000, "string_too_long"),
    "300-character tensor name": ("tap_name", "t" * 300, "string_too_long"),
    "100 kB doc_string": ("doc_string", "d" * 100_000, "string_too_long"),
    "10 kB metadata value": ("metadata", "m" * 10_000, "string_too_long"),
    "1,000-character graph name": ("graph_name", "g" * 1000, "string_too_long"),
    "terminal escape in producer": ("producer_name", "torch\x1b[2J", "string_invalid_characters"),
    "bidi override in a tensor name": ("tap_name", "first\u202elayer", "string_invalid_characters"),
    "zero-width space in metadata": ("metadata", "a\u200bb", "string_invalid_characters"),
    "NUL in producer_version": ("producer_version", "1.0\x00", "string_invalid_characters"),
}


@pytest.mark.parametrize("case", list(STRING_CASES))
def test_model_strings_are_capped_at_intake(case, home, tmp_path, synthetic_repo):
    where, text, code = STRING_CASES[case]
    err = _rejected(corpus.with_strings(corpus.cnn_model(1), text, where), tmp_path, synthetic_repo)
    assert err.code == code, err.detail
    assert len(str(err)) <= SubmissionRejected.max_message_chars + 40 and text not in err.detail  # echo capped
    assert not list((submissions_home(home) / "checkpoints").rglob("*.onnx")) if (submissions_home(home) / "checkpoints").exists() else True


def test_markup_in_model_strings_is_stored_as_plain_text(home, tmp_path, synthetic_repo):
    """Printable markup is not refused (a name may hold < or [); the page escapes it (test_hardening_pages)."""
    model = corpus.with_strings(corpus.cnn_model(2), "<img src=http://evil.example/x.png>", "producer_name")
    sub = submit(corpus.save(model, tmp_path / "m.onnx"), MANIFEST, data=synthetic_repo, limits=LIMITS)
    assert sub.state == "PENDING"


def test_error_messages_never_echo_a_huge_value(home):
    err = SubmissionRejected("x", "y" * 1_000_000)
    assert len(err.detail) == SubmissionRejected.max_message_chars


# -- item 5: manifest parser bombs ------------------------------------------------------------------------------------
ALIAS_BOMB = "\n".join(["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
                       + [f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]" for p, c in zip("abcdefgh", "bcdefghi")]) + "\n"


@pytest.mark.parametrize("name,text,words", [
    ("bomb.yaml", ALIAS_BOMB, "alias"),
    ("merge.yaml", "base: &b {submitter: x}\nother:\n  <<: *b\n", "alias"),
    ("deep.json", "[" * 50_000 + "]" * 50_000, "nested"),
    ("deep.yaml", "a: " + "[" * 50_000 + "]" * 50_000 + "\n", "nested"),
    ("deep-block.yaml", "".join("  " * i + f"k{i}:\n" for i in range(400)) + "  " * 400 + "v: 1\n", "nested"),
])
def test_manifest_parser_bombs_are_refused_at_once(name, text, words, tmp_path):
    path = tmp_path / name
    path.write_text(text)
    start = time.process_time()
    with pytest.raises(SubmissionRejected) as info:
        load_manifest(path)
    assert info.value.code == "manifest_unreadable" and words in info.value.detail, info.value.detail
    assert len(info.value.detail) < 500 and "\n" not in info.value.detail
    assert time.process_time() - start < 5, "bounded work, not a minute of CPU"  # generous: it takes milliseconds


def test_huge_values_in_a_manifest_are_not_echoed(tmp_path):
    path = tmp_path / "m.json"
    import json

    path.write_text(json.dumps({**MANIFEST, "model_name": "x" * 100_000, "k" * 50_000: 1}))
    with pytest.raises(SubmissionRejected) as info:
        load_manifest(path)
    assert len(str(info.value)) < 1100


# -- item 7: trial evasion and compute --------------------------------------------------------------------------------
@pytest.mark.parametrize("make,code", [
    (corpus.batch_loop_model, "loop_unbounded"),      # trip count computed from the batch size
    (corpus.slow_loop_model, "loop_too_long"),        # a constant but huge trip count
    (corpus.sequence_op_model, "unsupported_op"),     # sequence containers
    (corpus.batch_nan_model, "non_finite_output"),    # finite for 8 rows, NaN for the evaluator's batches
])
def test_graphs_that_evade_an_eight_row_trial_are_refused(make, code, home, tmp_path, synthetic_repo):
    err = _rejected(make(), tmp_path, synthetic_repo)
    assert err.code == code, err.detail


def test_trial_runs_the_evaluators_batch_sizes_and_logs_its_seconds(home, tmp_path, synthetic_repo):
    from evaluator.params import EvalParams

    sub = submit(corpus.save(corpus.cnn_model(3), tmp_path / "m.onnx"), MANIFEST, data=synthetic_repo, limits=LIMITS)
    params = EvalParams()
    ism = max(1, params.ism_batch_mutants // 600) * 600
    assert set(sub.trial.get("batches", [])) >= {1, 8, params.batch_size, ism}
    from submissions.intake_log import TRIAL, IntakeLog

    with IntakeLog() as log:
        assert log.seconds("tests", TRIAL, 0) > 0


def test_compute_budget_refuses_a_submitter_who_spent_it(home, tmp_path, synthetic_repo):
    from submissions.intake_log import TRIAL, ComputeBudget, IntakeLog

    with IntakeLog() as log:
        log.record("heavy user", TRIAL, seconds=3 * 3600)
    manifest = {**MANIFEST, "submitter": "heavy user"}
    err = _rejected(corpus.cnn_model(4), tmp_path, synthetic_repo, manifest, budget=ComputeBudget(2 * 3600))
    assert err.code == "compute_budget_exceeded" and "180 min" in err.detail
    other = submit(corpus.save(corpus.cnn_model(4), tmp_path / "n.onnx"), {**MANIFEST, "submitter": "light user"},
                   data=synthetic_repo, limits=LIMITS, budget=ComputeBudget(2 * 3600))
    assert other.state == "PENDING"


def test_space_submit_returns_at_once_and_checks_in_the_background(home, tmp_path, synthetic_repo):
    import shutil

    from benchmark.paths import default_dataset_dir
    from space_app import app
    from space_app.intake_queue import TICKETS, is_ticket

    shutil.copytree(synthetic_repo, default_dataset_dir())  # the app scores against the data home's dataset
    model = corpus.save(corpus.cnn_model(5), tmp_path / "m.onnx")
    fields = ["bg model", "synthetic", "probabilities", "", "MIT", "", "", "", "", "", ""]
    message, tracked, status, timer = app.submit_local(str(model), "bg user", *fields)
    assert is_ticket(tracked) and "Checking" in message and timer.active
    outcome = TICKETS.result(tracked, timeout=120)
    assert outcome is not None and outcome.accepted, outcome
    message, tracked, status, timer = app.poll_status(tracked)
    assert message == outcome.message and tracked == outcome.submission_id and "PENDING" in status
    # later ticks leave the tracked id alone (a stale tick must not overwrite a newer upload's ticket)
    message, kept, status, timer = app.poll_status(tracked)
    assert kept == {"__type__": "update"} and message == {"__type__": "update"} and "PENDING" in status


def test_background_intake_stores_nothing_until_it_passes(home, tmp_path, synthetic_repo):
    from space_app.intake_queue import TICKETS
    from space_app.submit import submit_form

    fields = {"model_name": "bg", "dataset_config": "synthetic", "output_kind": "probabilities", "license": "MIT",
              "submitter": "bg"}
    good = corpus.save(corpus.cnn_model(6), tmp_path / "good.onnx")
    bad = corpus.save(corpus.nan_model(6), tmp_path / "bad.onnx")
    with open_store() as store:
        out_good = submit_form(str(good), fields, store, data=synthetic_repo, background=True)
        out_bad = submit_form(str(bad), {**fields, "model_name": "bg2"}, store, data=synthetic_repo, background=True)
        assert out_good.pending and out_bad.pending and not out_good.accepted
        assert out_good.submission_id.startswith("intake-")
        done_good = TICKETS.result(out_good.submission_id, timeout=120)
        done_bad = TICKETS.result(out_bad.submission_id, timeout=120)
        assert done_good.accepted and store.get(done_good.submission_id).state == "PENDING"
        assert not done_bad.accepted and "non_finite_output" in done_bad.message
        assert [s.model_name for s in store.list()] == ["bg"]


# -- item 8: rejected attempts count toward the Space's rate limit ----------------------------------------------------
def test_rejected_submissions_count_toward_the_rate_limit(home, tmp_path, synthetic_repo, monkeypatch):
    from space_app.submit import RateLimit, submit_form

    monkeypatch.setenv("SPACE_ID", "org/motifbench")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"PK\x03\x04 not a model" * 10)
    fields = {"model_name": "g", "dataset_config": "synthetic", "output_kind": "probabilities", "license": "MIT",
              "submitter": "spammer"}
    limit = RateLimit(max_submissions=3)
    with open_store() as store:
        codes = []
        for _ in range(5):
            out = submit_form(str(garbage), fields, store, data=synthetic_repo, rate_limit=limit)
            codes.append(out.message.split("(")[1].split(")")[0])
        other = submit_form(str(garbage), {**fields, "submitter": "someone else"}, store, data=synthetic_repo,
                            rate_limit=limit)
    assert codes == ["not_onnx", "not_onnx", "not_onnx", "rate_limited", "rate_limited"]
    assert "(not_onnx)" in other.message


# -- item 10: staged uploads and trial folders of an interrupted intake are cleaned ----------------------------------
def test_killed_intake_leaves_nothing_behind(home, tmp_path, synthetic_repo):
    from submissions.intake import sweep_incoming

    model = corpus.save(corpus.heavy_loop_model(7), tmp_path / "slow.onnx")
    manifest = tmp_path / "m.json"
    import json

    manifest.write_text(json.dumps(MANIFEST))
    env = {**os.environ, "MOTIFBENCH_HOME": str(home)}
    proc = subprocess.Popen([sys.executable, "-m", "submissions.cli", "submit", str(model), "--manifest",
                             str(manifest), "--data", str(synthetic_repo), "--trial-seconds", "120"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    incoming = submissions_home(home) / "incoming"
    deadline = time.monotonic() + 90
    while not list(incoming.glob("intake-*/trial/task.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    folders = list(incoming.glob("intake-*"))
    assert folders, "the intake staged the upload and started its trial"
    assert sweep_incoming(incoming) == [] and folders[0].exists(), "a live intake's folder is never swept"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert folders[0].exists()  # SIGKILL: no clean-up ran
    (incoming / "incoming-old.onnx").write_bytes(b"x")
    os.utime(incoming / "incoming-old.onnx", (0, 0))
    removed = sweep_incoming(incoming)
    assert folders[0] in removed and not folders[0].exists() and not (incoming / "incoming-old.onnx").exists()
