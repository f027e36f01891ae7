"""Issue 10's first "Done when", end to end through the real service on a fresh data home.

``motifbench serve`` (real Gradio over HTTP, its real worker child and
sandbox) starts on an empty data home: it builds the dataset, opens round r1
(creating the secret), queues two of the bundled baselines, and takes a new
upload through the page's own submit endpoint. The page's data, read over
HTTP with ``gradio_client`` (the calls the browser makes), ranks the three
rows by their hidden-test scores with intervals. ``motifbench round rotate``
(a separate process, as an operator runs it) publishes r1's seed and the
running worker re-scores everything on r2. The published seed then reproduces
every number of each r1 record through ``motifbench evaluate --hidden-seed``.
At both moments, nothing the service wrote or served holds the running
round's seed, in any encoding.

Reduced settings keep it to a few minutes: 200 hidden sequences scored, 4 ISM
sequences, no gradient attribution, 200 / 3 bootstrap resamples.
"""
from __future__ import annotations

import json
import math
import re
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import onnx
import pytest

import corpus
from test_integrity_service import seed_forms
from test_space_browser import _free_port, _stop_server, _wait_http

pytestmark = pytest.mark.slow

BUNDLE = Path(__file__).resolve().parent.parent / "space_app" / "baseline_models"
BASELINES = ("cnn-25-exp-seed0", "cnn-25-relu-seed0")
UPLOAD = "served-upload"
EVAL_FLAGS = ["--limit", "200", "--ism-sequences", "4", "--no-gradient-attribution", "--bootstrap-resamples", "200",
              "--recovery-resamples", "3", "--bootstrap-seed", "7"]
COLUMNS = ["Rank", "Model", "AUROC", "AUROC ±", "GT match", "GT match ±", "Round", "Gap AUROC", "Type"]
#: Record parts that describe the run, not the score: when and where it ran, how long it took,
#: the public-test pass the service adds for the gap column, and the file paths of artifacts.
RUN_FACTS = ("created", "environment", "timings_seconds", "public_test", "artifacts", "model.given_path")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``motifbench serve`` on an empty data home with a two-run baseline bundle; yields url, home, log, proc."""
    root = tmp_path_factory.mktemp("served")
    home, bundle = root / "home", root / "bundle"
    for run in BASELINES:
        (bundle / run).mkdir(parents=True)
        for name in ("model.onnx", "spec.json"):
            shutil.copy2(BUNDLE / run / name, bundle / run / name)
    port = _free_port()
    env = {**os.environ, "MOTIFBENCH_HOME": str(home), "OMP_NUM_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    for name in ("SPACE_ID", "MOTIFBENCH_ROUND_SECRET"):
        env.pop(name, None)
    log = root / "serve.log"
    worker_args = " ".join(["--poll", "0.5", "--fast-attribution", "--no-artifacts", *EVAL_FLAGS])
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "motifbench", "serve", "--host", "127.0.0.1",
                                 "--port", str(port), "--baselines-from", str(bundle), "--worker-args", worker_args],
                                env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url, proc, log, timeout=180)  # the first start builds the dataset
        yield {"url": url, "home": home, "log": log, "bundle": bundle, "env": env, "root": root}
    finally:
        _stop_server(proc)


def _client(url: str):
    from gradio_client import Client

    return Client(url, verbose=False)


def _table(client, columns=COLUMNS) -> tuple[list[dict], list, str]:
    """The Leaderboard tab's table as its rows (header -> cell), plus everything the call returned."""
    out = client.predict(None, None, "all", "all", columns, False, None, api_name="/leaderboard_view")
    table = out[3]
    return [dict(zip(table["headers"], row)) for row in table["data"]], out, json.dumps(out, default=str)


def _wait_rows(client, predicate, timeout: float, log: Path) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        rows, _, _ = _table(client)
        if predicate(rows):
            return rows
        assert time.monotonic() < deadline, f"the page never got there: {rows}\n{log.read_text()[-4000:]}"
        time.sleep(1.0)


def _http_texts(url: str, client) -> list[tuple[str, bytes]]:
    """What the served app hands out: the page, its config and API description, every view's data and
    the CSV download (the table's file, fetched over HTTP like the download button does)."""
    texts = [(path, _get(url + path)) for path in ("", "config", "gradio_api/info", "gradio_api/openapi.json")]
    rows, out, raw = _table(client)
    texts.append(("leaderboard_view", raw.encode()))
    csv = out[4].get("value") if isinstance(out[4], dict) else None
    if csv:
        texts.append(("csv download", Path(csv).read_bytes()))  # gradio_client downloaded it over HTTP
    families = client.predict(None, None, "all", "all", COLUMNS, True, None, api_name="/leaderboard_view")
    texts.append(("families view", json.dumps(families, default=str).encode()))
    for name in ("/rounds_markdown", "/queue_view", "/dataset_note"):
        texts.append((name, json.dumps(client.predict(api_name=name), default=str).encode()))
    for row in rows:
        detail = client.predict(row["ID"], api_name="/detail_view")
        texts.append((f"detail {row['ID']}", json.dumps(detail, default=str).encode()))
        for item in detail:  # files the detail hands out (record JSON, pictures), downloaded over HTTP
            path = item.get("value") if isinstance(item, dict) else item
            if isinstance(path, str) and os.path.isfile(path):
                texts.append((f"detail file {path}", Path(path).read_bytes()))
    from gradio_client.exceptions import AppError

    try:  # an error path: whatever the app answers to a hostile id
        bad = client.predict("../../rounds/secret", api_name="/detail_view")
    except AppError as exc:
        bad = str(exc)
    texts.append(("detail of a bad id", json.dumps(bad, default=str).encode()))
    return texts


def _assert_secret_absent(seed: bytes, home: Path, extra: list[tuple[str, bytes]]) -> int:
    """No form of ``seed`` in any file under the data home (but the secret itself) nor in ``extra``."""
    items = []
    for path in home.rglob("*"):
        if path.is_file() and path != home / "rounds" / "secret":
            try:
                items.append((str(path), path.read_bytes()))
            except FileNotFoundError:  # removed since the listing (a rotated backup): nothing left to leak
                continue
    items += extra
    forms = seed_forms(seed)
    for where, blob in items:
        for form in forms:
            assert form not in blob, f"the running round's secret leaked into {where}"
    return len(items)


def _numbers(value, path: str = "") -> dict[str, object]:
    """Every leaf of a record, by path (floats kept exact, NaN as a marker)."""
    if isinstance(value, dict):
        return {k: v for key, item in value.items() for k, v in _numbers(item, f"{path}.{key}").items()}
    if isinstance(value, list):
        return {k: v for i, item in enumerate(value) for k, v in _numbers(item, f"{path}[{i}]").items()}
    if isinstance(value, float) and math.isnan(value):
        return {path: "nan"}
    return {path: value}


def _band_rule(rows: list[dict], records: dict[str, dict]) -> list[int]:
    """The arena rule from the records: 1 + rows whose GT-match interval lies entirely above this row's."""
    spans = []
    for row in rows:
        results = records[row["ID"]]["results"]
        lo, hi = results["uncertainty"]["motif_recovery"]["match_ground_truth_fraction"]
        spans.append((lo, hi))
    return [1 + sum(other_lo > hi for other_lo, _ in spans) for _, hi in spans]


def _cli_texts(ids, capsys) -> list[tuple[str, bytes]]:
    """What the operator's commands print about the service (queue, records, rounds, re-scoring)."""
    from motifbench.cli import main

    capsys.readouterr()
    texts = []
    for argv in (["queue"], ["queue", "--json"], ["round", "show"], ["round", "show", "--json"],
                 ["rescore", "--stale"], *(["queue", "--id", sid, "--record"] for sid in ids)):
        code = main(argv)
        out = capsys.readouterr()
        assert code == 0, (argv, out.err)
        texts.append((" ".join(argv), (out.out + out.err).encode()))
    return texts


def test_serve_scores_rotates_and_the_published_seed_reproduces(served, tmp_path, monkeypatch, capsys):
    from benchmark.rounds import SECRET_FILE, parse_seed, read_ledger
    from gradio_client import handle_file

    from motifbench.cli import main
    from submissions.public_record import public_record
    from submissions.rescore import current_context, rescore, stale_ids
    from submissions.sqlite_store import open_store
    from submissions.store import FINISHED

    url, home, log = served["url"], served["home"], served["log"]
    monkeypatch.setenv("MOTIFBENCH_HOME", str(home))
    client = _client(url)
    seed1 = parse_seed((home / "rounds" / SECRET_FILE).read_text())
    assert (home / "rounds" / SECRET_FILE).stat().st_mode & 0o777 == 0o600

    # a new upload through the page's submit endpoint (what the Submit button calls)
    upload = tmp_path / "upload.onnx"
    onnx.save(corpus.cnn_model(21, filters=6), upload)
    answer = client.predict(handle_file(str(upload)), "served-tests", UPLOAD, "synthetic", "probabilities", "", "MIT",
                            "", "", "", "relu", "", "", api_name="/submit_local")
    assert "Not accepted" not in str(answer[0]), answer

    # the worker scores the two bundled baselines and the upload on the hidden round r1
    rows = _wait_rows(client, lambda r: len(r) == 3, 600, log)
    assert {r["Model"] for r in rows} == {*BASELINES, UPLOAD} and {r["Round"] for r in rows} == {"r1"}
    with open_store(home) as store:
        subs = {s.id: s for s in store.list([FINISHED])}
        r1 = {sid: store.score(store.scored_keys(sid)[0]) for sid in subs}
    assert set(r1) == {r["ID"] for r in rows}
    for row in rows:  # the page shows the hidden scores, their intervals and the public-minus-hidden gap
        record = r1[row["ID"]]
        assert record["dataset"]["split"] == "hidden" and record["round"]["id"] == "r1"
        auroc = record["results"]["classification"]["macro_auroc"]
        lo, hi = record["results"]["uncertainty"]["classification"]["macro_auroc"]
        assert row["AUROC"] == round(auroc, 3) and row["AUROC ±"] == round((hi - lo) / 2, 3) and lo <= auroc <= hi
        gt = record["results"]["motif_recovery"]["match_ground_truth_fraction"]
        gt_lo, gt_hi = record["results"]["uncertainty"]["motif_recovery"]["match_ground_truth_fraction"]
        assert row["GT match"] == round(gt, 3) and row["GT match ±"] == round((gt_hi - gt_lo) / 2, 3)
        assert row["Gap AUROC"] == round(record["public_test"]["macro_auroc"] - auroc, 3)
        assert row["Type"] == ("baseline" if row["Model"] in BASELINES else "community")
    # the public numbers differ, so the equalities above say the page shows the hidden ones
    assert any(round(r1[r["ID"]]["public_test"]["macro_auroc"], 3) != r["AUROC"] for r in rows)
    # ranked by hidden GT match with shared bands, then AUROC
    assert [r["Rank"] for r in rows] == _band_rule(rows, r1) == sorted(r["Rank"] for r in rows)
    keys = [(r["Rank"], -r1[r["ID"]]["results"]["motif_recovery"]["match_ground_truth_fraction"],
             -r1[r["ID"]]["results"]["classification"]["macro_auroc"]) for r in rows]
    assert keys == sorted(keys)  # within a band: GT match, then AUROC
    n = _assert_secret_absent(seed1, home, [("serve log", log.read_bytes()), *_http_texts(url, client),
                                            *_cli_texts(sorted(r1), capsys)])
    assert n > 30

    # the operator ends the round: r1's seed is published, r2 starts, the running worker re-scores all three
    rotate = subprocess.run([sys.executable, "-m", "motifbench", "round", "rotate"], env=served["env"],
                            capture_output=True, text=True, timeout=120)
    assert rotate.returncode == 0, rotate.stderr
    assert seed1.hex() in rotate.stdout and "queued 3 submission(s)" in rotate.stdout, rotate.stdout
    ended, current = read_ledger(home)
    assert ended.seed == seed1.hex() and current.id == "r2" and current.seed is None
    rows = _wait_rows(client, lambda r: len(r) == 3 and {x["Round"] for x in r} == {"r2"}, 600, log)
    seed2 = parse_seed((home / "rounds" / SECRET_FILE).read_text())
    with open_store(home) as store:
        for sid in r1:
            keys = store.scored_keys(sid)
            assert [k.round_id for k in keys] == ["r1", "r2"]
            assert store.score(keys[0]) == r1[sid]  # the ended round's record is kept as it was
            assert store.get(sid).record["round"]["id"] == "r2"
        checkpoints = {sid: store.checkpoints.path(subs[sid].sha256) for sid in r1}
    with open_store(home) as store:  # nothing left stale, and the idle worker queues nothing twice
        assert stale_ids(store, current_context()) == [] and rescore(store, stale=True) == []

    # the page links each model's r1 record (an earlier record now); a verifier downloads it over HTTP
    published = {}
    for sid in r1:
        header = client.predict(sid, api_name="/detail_view")[0]
        link = re.search(r"\[round r1, dataset v[^\]]*\]\((/gradio_api/file=[^)]+)\)", header)
        assert link, header
        published[sid] = json.loads(_get(url.rstrip("/") + link.group(1)))
        assert published[sid] == public_record(r1[sid])  # the stored r1 record, minus server paths
    # anyone can regenerate r1's hidden test from the published seed and get every number again
    files = {sid: (served["bundle"] / subs[sid].model_name / "model.onnx" if subs[sid].model_name in BASELINES
                   else upload) for sid in r1}
    for sid, record in published.items():
        assert files[sid].read_bytes() == checkpoints[sid].read_bytes()  # the file the verifier holds
        out = tmp_path / "verify" / f"{sid}.json"
        model = record["model"]  # what the submission declared, as docs/rounds.md tells a verifier to pass
        declared = ((["--tap", model["tap_name"]] if model["tap_source"] == "declared" else [])
                    + (["--output-kind", model["output_kind"]] if model["output_kind_source"] == "declared" else [])
                    + (["--logits-output", model["logits_output"]] if model["logits_output_source"] == "declared"
                       else []))
        code = main(["evaluate", str(files[sid]), "--hidden-seed", ended.seed, "--out", str(out), "--threads", "1",
                     "--quiet", "--name", model["name"], *declared, *EVAL_FLAGS])
        assert code == 0
        again = public_record(json.loads(out.read_text()))
        mine = {k: v for k, v in _numbers(again).items() if not k.lstrip(".").startswith(RUN_FACTS)}
        theirs = {k: v for k, v in _numbers(record).items() if not k.lstrip(".").startswith(RUN_FACTS)}
        assert len(theirs) > 200 and mine == theirs, sorted(set(mine.items()) ^ set(theirs.items()))[:10]

    # the one-command check (`round verify`, seed from the ledger) on the upload's downloaded r1 record
    upload_id = next(sid for sid in r1 if subs[sid].model_name == UPLOAD)
    record_file = tmp_path / "r1-record.json"
    record_file.write_text(json.dumps(published[upload_id]))
    capsys.readouterr()
    assert main(["round", "verify", str(upload), str(record_file)]) == 0
    assert "every value of the record reproduced exactly" in capsys.readouterr().out

    # and the new round's secret is as absent as the old one was
    _assert_secret_absent(seed2, home, [("serve log", log.read_bytes()), *_http_texts(url, client),
                                        *_cli_texts(sorted(r1), capsys)])
