"""Issue 12, items 1, 3, 4, 6 and 11 (parquet) without a browser: what the page handlers produce.

User-controlled text is rendered with a real Markdown renderer (markdown-it,
GFM with autolinks, like the browser's) and must come out as text; the CSV
is built once per table version in a bounded cache and is formula-safe; the
file route serves no worker folder and public records carry no server path;
a damaged ``leaderboard.parquet`` is rebuilt as soon as it is read.
"""
from __future__ import annotations

import csv
import json

import pytest
from markdown_it import MarkdownIt
from markup_payloads import EVIL_HOST, PAYLOADS

from space_app import detail
from space_app.queue_view import queue_table
from leaderboard_seed import fake_record
from space_app.submit import Outcome, status_text, submit_form
from submissions import export
from submissions.sqlite_store import open_store
from submissions.store import FAILED, submissions_home

try:  # the one escaping rule and the public-record filter (absent before issue 12: each test then fails)
    from space_app import csv_cache, safe_text
    from submissions.public_record import public_record
except ImportError:  # pragma: no cover - only on code without them
    csv_cache = safe_text = public_record = None

RENDER = MarkdownIt("gfm-like")
TAGS_OF_MARKUP = ("<a", "<img", "<form", "<input", "<svg", "<iframe", "<style", "<em", "<strong", "<code", "<del",
                  "<h1", "<table", "<b>")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path))
    return tmp_path


def _hostile_row(home, payload: str, i: int = 0) -> str:
    """A FINISHED row whose manifest, record and model facts all carry ``payload`` (as an old or forged row might)."""
    import numpy as np

    record = fake_record(payload, np.random.default_rng(i))
    record["model"].update(framework=payload, producer=payload, tap_name=payload, given_path="/srv/secret/model.onnx")
    record["dataset"]["source"] = str(home / "datasets" / "motifbench")
    manifest = {"model_name": payload, "submitter": payload, "dataset": {"config": "synthetic", "version": "1.0.0"},
                "output_kind": "probabilities", "license": payload,
                "architecture": {"framework": payload, "activation": payload, "first_layer_pool": 4, "params": 9}}
    with open_store(home) as store:
        sub, _ = store.add(manifest=manifest, sha256=f"{i:064x}", size_bytes=10)
        store.claim("w")
        store.finish(sub.id, "w", record)
        export.export_all(store)
    return sub.id


def _frame(home):
    from space_app.leaderboard import LeaderboardSource

    return LeaderboardSource(export.leaderboard_path(submissions_home(home))).frame()


def _swap(obj, payload: str):
    """``obj`` (JSON-like) with the payload replaced by plain letters: the view's own markup, for comparison."""
    return json.loads(json.dumps(obj, default=str).replace(json.dumps(payload)[1:-1], "plainpayload"))


def _assert_text_only(markdown: str, baseline: str) -> None:
    """``markdown`` renders to the same elements as ``baseline`` (the same view with harmless text)."""
    html = RENDER.render(markdown)
    own = RENDER.render(baseline)
    for tag in TAGS_OF_MARKUP:
        assert html.count(tag) == own.count(tag), (tag, html)
    assert "evil.example" not in "".join(part for part in html.split('"') if part.startswith(("http", "//"))), html
    assert "katex" not in html


def test_markdown_views_render_user_text_as_text(home):
    ids = [_hostile_row(home, p, i) for i, p in enumerate(PAYLOADS)]
    frame = _frame(home)
    with open_store(home) as store:
        for sid, payload in zip(ids, PAYLOADS):
            sub = store.get(sid)
            row = frame[frame["id"] == sid].iloc[0].to_dict()
            record = json.loads((export.results_dir() / f"{sid}.json").read_text())
            _assert_text_only(detail.header(record, sid, row), detail.header(_swap(record, payload), sid,
                                                                              _swap(row, payload)))
            plain = sub.__class__(**{**sub.__dict__, "model_name": "plainpayload"})
            _assert_text_only(status_text(sub), status_text(plain))
            failed = sub.__class__(**{**sub.__dict__, "state": FAILED, "reason": f"evaluation error: {payload}"})
            failed_plain = sub.__class__(**{**plain.__dict__, "state": FAILED, "reason": "evaluation error: plain"})
            _assert_text_only(status_text(failed), status_text(failed_plain))
    d = detail.build_detail(ids[0], frame)  # the full detail view goes through the same header
    assert "&lt;img" in d.header and "<img" not in d.header


def test_every_view_shows_the_payload_characters_capped(home):
    ids = [_hostile_row(home, p, i) for i, p in enumerate(PAYLOADS)]
    frame = _frame(home)
    from space_app import leaderboard as lb

    table = lb.display_table(lb.select_rows(frame, lb.views(frame)[0]), [*lb.DEFAULT_COLUMNS, "Framework"])
    for p in PAYLOADS:  # table cells and dropdown labels are text (Gradio renders them as such): unchanged
        assert p in set(table["Model"]) and p in set(table["Framework"])
    labels = [label for label, _ in detail.choices(frame)]
    assert all(any(label.startswith(p) for label in labels) for p in PAYLOADS)
    with open_store(home) as store:
        store.add(manifest={"model_name": "x", "submitter": "\u202e" + "y" * 10_000,
                            "dataset": {"config": "synthetic", "version": "1.0.0"}}, sha256="f" * 64, size_bytes=1)
        queue = queue_table(store)
    long = queue[queue["Model"] == "x"]["Submitter"].iloc[0]
    assert len(long) <= safe_text.DISPLAY_CHARS and "\u202e" not in long and long.endswith("…")
    assert len(ids) == len(PAYLOADS)


def test_form_error_messages_are_text_and_capped(home, tmp_path, synthetic_repo):
    bad = tmp_path / "m.onnx"
    bad.write_bytes(b"\x08\x07" + b"x" * 100)
    fields = {"model_name": "ok", "dataset_config": "synthetic", "output_kind": "probabilities", "license": "MIT",
              "framework": "<img src=http://evil.example/a.png>" * 3, "submitter": "<b>ann</b>"}
    with open_store(home) as store:
        out = submit_form(str(bad), fields, store, data=synthetic_repo)
    assert isinstance(out, Outcome) and not out.accepted
    assert "evil.example" in out.message  # echoed, but as text
    _assert_text_only(out.message, "**Not accepted** (code): a message")
    assert len(out.message) < 800


def test_csv_is_written_once_per_table_version_and_the_cache_is_bounded(home, monkeypatch):
    from space_app import app

    _hostile_row(home, "=HYPERLINK(\"http://evil.example\",\"x\")", 0)
    _hostile_row(home, "+1+cmd|' /C calc'!A0", 1)
    _hostile_row(home, "@SUM(A1)", 2)
    _hostile_row(home, "-2+3", 3)
    _hostile_row(home, "\tTab", 4)
    folder = submissions_home(home) / "space_cache" / "csv"
    columns = ["Model", "Submitter", "AUROC"]
    first = app.leaderboard_view(None, None, "all", "all", columns)[4]
    for _ in range(10):  # anonymous calls of the same view write nothing new
        again = app.leaderboard_view(None, None, "all", "all", columns)[4]
        assert again.value == first.value
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) == 1
    monkeypatch.setattr(csv_cache, "MAX_ENTRIES", 3)
    for k in range(5):  # many distinct views: at most MAX_ENTRIES files stay
        app.leaderboard_view(None, None, "all", "all", columns + [f"nonexistent-{k}"])
    assert len([p for p in folder.iterdir() if p.is_dir()]) <= 3
    path = app.leaderboard_view(None, None, "all", "all", columns)[4].value["path"]
    rows = list(csv.reader(open(path, newline="")))
    cells = [c for r in rows[1:] for c in r[:2]]
    for cell in cells:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells and "'-2+3" in cells and "'@SUM(A1)" in cells
    assert [safe_text.csv_cell(v) for v in ("\tx", "\rx", "=1", "ok", -1.5)] == ["'\tx", "'\rx", "'=1", "ok", -1.5]


def test_public_records_and_file_route_keep_server_paths_out(home):
    from space_app import app, settings

    sid = _hostile_row(home, "pathless")
    text = (export.results_dir() / f"{sid}.json").read_text()
    assert "/srv/secret" not in text and str(home) not in text
    record = json.loads(text)
    assert record["model"]["given_path"] == "model.onnx" and record["dataset"]["source"] == "motifbench"
    assert public_record({"tap_name": "/conv/Conv_output_0"}) == {"tap_name": "/conv/Conv_output_0"}
    kwargs = app.launch_kwargs()
    root = submissions_home()
    assert str(root / "runs") not in kwargs["allowed_paths"]
    assert not any(str(root / "runs").startswith(p) for p in kwargs["allowed_paths"])
    assert str(root / "runs") in kwargs["blocked_paths"] and str(root / "queue.sqlite") in kwargs["blocked_paths"]
    assert set(settings.allowed_paths()) == {str(root / "results"), str(root / "space_cache")}


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_a_damaged_leaderboard_table_is_rebuilt_when_read(home, damage):
    from space_app.leaderboard import LeaderboardSource

    ids = [_hostile_row(home, f"row{i}", i) for i in range(3)]
    path = export.leaderboard_path()
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00garbage" * 100, "empty": b""}[damage])
    frame = LeaderboardSource(path).frame()
    assert sorted(frame["id"]) == sorted(ids)
    import pyarrow.parquet as pq

    assert pq.read_table(path).num_rows == 3  # fixed on disk at once, not at the next job


@pytest.mark.parametrize("text", PAYLOADS + ["1.0.0", "1. item", "2) x", "- y", "+ z", "> q", "a\\b", "x_y_z",
                                             "http://a.example/c", "<>&\"'", "===", "a  b", "***", "<!-- c -->"])
def test_md_renders_exactly_the_characters_given(text):
    import html

    out = RENDER.render(safe_text.md(text)).strip()
    assert out.startswith("<p>") and out.endswith("</p>") and out.count("<") == 2, out
    assert html.unescape(out[3:-4]) == safe_text.clean(text)


def test_selector_labels_from_user_values_are_text_and_capped(home):
    from space_app import app

    _hostile_row(home, "<b>" + "A" * 5000 + "\u202e", 0)
    outputs = app.leaderboard_view(None, None, "all", "all", ["Model"])
    activation = outputs[2]
    labels = [label for label, _ in activation.choices]
    values = [value for _, value in activation.choices]
    assert any(v.startswith("<b>AAA") and len(v) > 5000 for v in values), "the value filters rows exactly"
    assert all(len(label) <= safe_text.DISPLAY_CHARS and "\u202e" not in label for label in labels)
