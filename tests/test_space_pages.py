"""The Space's pages without a browser: detail view, submit form, queue, About, CLI and start-up."""
from __future__ import annotations

import argparse
import json

import numpy as np
import onnx
import pytest

from space_app import detail, plots, service
from space_app.about import about_markdown
from space_app.queue_view import queue_summary, queue_table
from leaderboard_seed import seed_results
from space_app.submit import RateLimit, build_manifest, plain_words, submit_form
from corpus import cnn_model
from submissions.errors import SubmissionRejected
from submissions.sqlite_store import open_store


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path))
    return tmp_path


def _frame(home):
    from space_app.leaderboard import LeaderboardSource
    from submissions.export import leaderboard_path

    return LeaderboardSource(leaderboard_path(home / "submissions")).frame()


def test_detail_shows_logos_charts_and_the_record(home):
    (sid,) = seed_results(1, home, names=["detail-model"])
    with open_store(home) as store:
        d = detail.build_detail(sid, _frame(home), store=store)
        record = store.get(sid).record
    assert "detail-model" in d.header and sid in d.header
    for png in (d.filter_logos, d.truth_logos):
        assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    n_filters = record["results"]["motif_recovery"]["n_filters"]
    assert len(d.filters) == n_filters
    truth_rows = d.filters[d.filters["Ground truth"].str.startswith("yes")]
    assert len(truth_rows) == record["results"]["motif_recovery"]["n_match_ground_truth"]
    assert json.loads(d.record_file.read_text()) == record
    assert len(d.per_class.axes[0].patches) == 24  # AUROC and auPR for 12 classes
    tfs, filters, matrix, per_tf = plots.coverage_matrix(record)
    assert len(tfs) == 12 and matrix.shape == (len(filters), 12)
    assert per_tf.tolist() == [record["results"]["motif_recovery"]["filters_per_tf"][tf] for tf in tfs]
    assert np.array_equal(matrix.sum(axis=0), per_tf)


def test_detail_of_unknown_or_unsafe_ids(home):
    frame = _frame(home)
    assert "No finished result" in detail.build_detail("sub-000000000000", frame).header
    for bad in ("../../etc/passwd", "", None, "a/b"):
        d = detail.build_detail(bad, frame)
        assert d.filter_logos is None and d.record_file is None


def test_manifest_from_form_fields():
    m = build_manifest(model_name=" cnn ", submitter="ann", dataset_config="synthetic", dataset_version="1.0.0",
                       output_kind="logits", license="MIT", links="https://a.org  https://b.org", activation="exp",
                       first_layer_pool=4.0, params=None)
    assert m["model_name"] == "cnn" and m["links"] == ["https://a.org", "https://b.org"]
    assert m["architecture"] == {"activation": "exp", "first_layer_pool": 4}
    assert "first_layer_tap" not in m
    with pytest.raises(SubmissionRejected, match="Parameters must be a whole number"):
        build_manifest(model_name="x", submitter="a", dataset_config="synthetic", dataset_version="1.0.0",
                       output_kind="logits", license="MIT", params=1.5)


def test_plain_words_names_form_labels():
    exc = SubmissionRejected("manifest_invalid_field", "manifest field 'model_name' is invalid ('!'); expected a name")
    assert plain_words(exc).startswith("the field “Model name” is invalid")


FIELDS = {"model_name": "tiny-cnn", "dataset_config": "synthetic", "output_kind": "probabilities", "license": "MIT",
          "first_layer_tap": "", "description": "", "links": "", "framework": "onnx", "activation": "relu",
          "first_layer_pool": 4, "params": None}


def test_submit_form_rejects_garbage_and_accepts_a_model(home, synthetic_repo, tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"this is not a model at all" * 10)
    with open_store(home) as store:
        out = submit_form(str(garbage), {**FIELDS, "submitter": "ann"}, store, data=synthetic_repo)
        assert not out.accepted and "Not accepted" in out.message and "not_onnx" in out.message
        out = submit_form(None, {**FIELDS, "submitter": "ann"}, store, data=synthetic_repo)
        assert not out.accepted and "choose the model" in out.message
        out = submit_form(str(garbage), {**FIELDS, "submitter": " "}, store, data=synthetic_repo)
        assert "Submitter" in out.message
        out = submit_form(str(garbage), {**FIELDS, "model_name": "bad/name!", "submitter": "ann"}, store,
                          data=synthetic_repo)
        assert "“Model name”" in out.message
        assert store.counts()["PENDING"] == 0, "rejections store nothing"

        model = tmp_path / "model.onnx"
        onnx.save(cnn_model(), model)
        out = submit_form(str(model), {**FIELDS, "submitter": "ann"}, store, data=synthetic_repo)
        assert out.accepted and out.submission_id.startswith("sub-"), out.message
        sub = store.get(out.submission_id)
        assert sub.state == "PENDING" and sub.manifest["architecture"]["first_layer_pool"] == 4
        out = submit_form(str(model), {**FIELDS, "submitter": "ann"}, store, data=synthetic_repo)
        assert not out.accepted and "duplicate" in out.message

        limited = submit_form(str(model), {**FIELDS, "submitter": "ann", "model_name": "again"}, store,
                              data=synthetic_repo, rate_limit=RateLimit(max_submissions=1))
        assert "rate_limited" in limited.message and "the limit is 1" in limited.message


def test_rate_limit_window(home):
    with open_store(home) as store:
        seed_results(2, home, store=store)  # submitters: "motifbench baselines", "seed"
        RateLimit(2).check(store, "seed")
        RateLimit(1).check(store, "seed", now=store.list()[-1].created_at + 2 * 86400)  # window passed
        with pytest.raises(SubmissionRejected, match="rate_limited"):
            RateLimit(1).check(store, "seed")


def test_rate_limit_only_on_a_space(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    assert RateLimit.from_env() is None
    monkeypatch.setenv("SPACE_ID", "org/motifbench")
    monkeypatch.setenv("MOTIFBENCH_SUBMISSIONS_PER_DAY", "3")
    assert RateLimit.from_env() == RateLimit(3)


def test_queue_lists_live_jobs_then_recent_finished_and_failed(home):
    """Item 6: an idle queue is not an empty table: the latest outcomes follow the live jobs, newest first."""
    manifest = {"model_name": "m", "submitter": "s", "dataset": {"config": "synthetic", "version": "1.0.0"},
                "output_kind": "probabilities", "license": "MIT"}
    with open_store(home) as store:
        a, _ = store.add(manifest=manifest, sha256="a" * 64, size_bytes=1)
        b, _ = store.add(manifest=manifest, sha256="b" * 64, size_bytes=1)
        store.add(manifest=manifest, sha256="c" * 64, size_bytes=1)
        store.claim("w1")
        store.fail(a.id, "w1", "the model produced NaN")
        store.claim("w1")
        table = queue_table(store)
        assert table["State"].tolist() == ["RUNNING", "PENDING", "FAILED"]
        assert table.loc[table["ID"] == a.id, "Reason"].item() == "the model produced NaN"
        assert table.loc[table["ID"] == b.id, "State"].item() == "RUNNING"
        assert table.loc[table["ID"] == a.id, "Finished"].item().endswith("Z")
        assert queue_summary(store).startswith("1 pending · 1 running · 0 finished · 1 failed.")
        store.finish(b.id, "w1", {"results": {}})  # finished after the failure: listed before it
        table = queue_table(store)
        assert table["State"].tolist() == ["PENDING", "FINISHED", "FAILED"]
        assert table["ID"].tolist()[1] == b.id
        assert len(queue_table(store, recent=1)) == 2  # the live job and the newest outcome


def test_about_states_tomtom_settings_jaspar_release_and_citations():
    text = about_markdown()
    for needle in ("tomtom -evalue -thresh 0.1", "JASPAR CORE vertebrates **2016**", "Euclidean", "min overlap 1",
                   "pseudocount 0.1", "torch.onnx.export", "tf2onnx", "e1007560", "258--266", "@software{motifbench"):
        assert needle in text, needle


def test_serve_command_and_share_refused(capsys):
    from space_app.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["serve", "--port", "9999", "--no-worker"])
    assert (args.host, args.port, args.no_worker) == ("127.0.0.1", 9999, True)
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--share"])
    assert "--share is not allowed" in capsys.readouterr().err


def test_first_start_builds_the_synthetic_dataset(home, monkeypatch):
    import benchmark.synthetic

    built = []
    monkeypatch.setattr(benchmark.synthetic, "build_synthetic", lambda out, **kw: built.append(out))
    folder = service.ensure_dataset(progress=False)
    assert built == [home / "datasets" / "motifbench"] and folder == built[0]


def test_app_builds_and_serves_views_with_empty_and_full_stores(home):
    from space_app import app, leaderboard

    empty = app.leaderboard_view(None, None, "all", "all", list(leaderboard.DEFAULT_COLUMNS))
    assert empty[3].data.empty and "No finished evaluations" in empty[5]
    assert empty[6].value is None  # nothing to preselect
    seed_results(3, home)
    full = app.leaderboard_view(None, None, "all", "all", list(leaderboard.DEFAULT_COLUMNS))
    assert len(full[3].data) == 3 and "3 model(s)" in full[5]
    leader = full[3].data["ID"].iloc[0]
    assert full[6].value is None  # a page load builds no detail ...
    assert app.preselect_leader(None, None, None, "all", "all") == leader  # item 5: ... the detail tab opens on the leader
    other = full[3].data["ID"].iloc[-1]
    kept = app.leaderboard_view(None, None, "all", "all", list(leaderboard.DEFAULT_COLUMNS), picked=other)
    # a model the user picked stays picked: the view sends no value, so landing after a newer row click
    # (open_detail runs in another queue) cannot switch the detail back to the model it started with
    assert "value" not in kept[6].constructor_args and other in [v for _, v in kept[6].constructor_args["choices"]]
    gone = app.leaderboard_view(None, None, "all", "all", list(leaderboard.DEFAULT_COLUMNS), picked="sub-gone")
    assert "value" in gone[6].constructor_args and gone[6].value is None  # a model no longer listed is cleared
    assert app.preselect_leader(other, None, None, "all", "all") == app.gr.skip()  # nothing to change
    scatter, by_pool = app.plots_view(None, None, "all", "all")  # item 9: drawn from the same rows
    assert sum(len(c.lines[0].get_xydata()) for c in scatter.axes[0].containers) == 3
    csv_path = full[4].value["path"] if isinstance(full[4].value, dict) else full[4].value
    assert csv_path and open(csv_path).read().startswith("Rank,Model,AUROC,AUROC ±")
    assert isinstance(app.build_demo(), app.gr.Blocks)


def test_space_bundle_is_self_contained(tmp_path):
    import subprocess
    import sys

    import yaml

    from space_app.bundle import bundle

    out = bundle(tmp_path / "space", dataset_repo="acme/motifbench")
    header = yaml.safe_load((out / "README.md").read_text().split("---")[1])
    import gradio

    assert header["sdk"] == "gradio" and header["sdk_version"] == gradio.__version__
    assert header["app_file"] == "app.py" and (out / "app.py").is_file()
    assert header["datasets"] == ["acme/motifbench"] and header["license"] == "mit" and header["tags"]
    assert f"gradio[oauth]=={gradio.__version__}" in (out / "requirements.txt").read_text()
    assert not (out / "baselines").exists(), "the Space does not need torch"
    probe = "import benchmark, evaluator, submissions, space_app.leaderboard as m; print(m.__file__)"
    found = subprocess.run([sys.executable, "-c", probe], cwd=out, capture_output=True, text=True, check=True)
    assert found.stdout.strip().startswith(str(out)), found.stdout
    # the worker the Space starts (space_app.service.WorkerProcess) runs without baselines
    worker = subprocess.run([sys.executable, "-m", "submissions.cli", "worker", "--help"], cwd=out,
                            capture_output=True, text=True)
    assert worker.returncode == 0 and "--evalue-thresh" in worker.stdout, worker.stderr[-2000:]
    from benchmark.errors import MotifbenchError

    with pytest.raises(MotifbenchError, match="not empty"):
        bundle(out)
