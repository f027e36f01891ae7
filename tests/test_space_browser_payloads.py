"""Issue 12, item 1 in a real headless Chromium: markup submitted through the CLI and the web form is text.

One ``motifbench serve`` (app + real worker) runs on a free localhost port
with its own data home. Every payload of :mod:`markup_payloads` goes in
twice: through ``motifbench submit`` (manifest submitter, framework and
activation, plus the ONNX producer name and metadata) and through the web
form (the same fields), and once more as a declared first-layer tensor so a
rejection message quotes it. The worker scores the accepted models; then the
leaderboard, every model's detail view, the queue and the form's messages are
read in the browser: each payload must show as its own characters, nothing
may render as an element (no image, link, form, frame, SVG handler, KaTeX),
and no request may leave localhost.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from urllib.parse import urlparse

import pytest
from markup_payloads import EVIL_HOST, PAYLOADS, RENDERED_SELECTORS
from test_space_browser import CHROMIUM, CHROMIUM_ARGS, LOCAL_HOSTS, _free_port, _stop_server, _wait_http, wait_uploaded

pytestmark = pytest.mark.browser
GROUPS = [PAYLOADS[i:i + 3] for i in range(0, len(PAYLOADS), 3)]  # (submitter, framework, activation) per model


@pytest.fixture(scope="module")
def server(tmp_path_factory, artifacts_dir):
    from benchmark.synthetic import build_synthetic

    home = tmp_path_factory.mktemp("payload_home")
    manifest = build_synthetic(home / "datasets" / "motifbench", n=600)
    port = _free_port()
    env = {**os.environ, "MOTIFBENCH_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    env.pop("SPACE_ID", None)
    log = artifacts_dir / "space-payloads-server.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "motifbench", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-build",
             "--no-baselines", "--worker-args", "--poll 0.5 --limit 60 --no-attribution --no-artifacts"],
            env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url, proc, log)
        yield {"url": url, "home": home, "env": env, "version": manifest.get("version") or "1.0.0"}
    finally:
        _stop_server(proc)


def _model(tmp_path, seed: int, producer: str):
    from corpus import cnn_model, save, with_strings

    return save(with_strings(with_strings(cnn_model(seed=seed), producer, "producer_name"), producer, "metadata"),
                tmp_path / f"model-{seed}.onnx")


def test_cli_submissions_carry_the_payloads(server, tmp_path):
    for k, (submitter, framework, activation) in enumerate(GROUPS):
        manifest = {"model_name": f"cli-payload-{k}", "submitter": submitter, "output_kind": "probabilities",
                    "dataset": {"config": "synthetic", "version": server["version"]}, "license": "MIT",
                    "description": framework, "architecture": {"framework": framework, "activation": activation}}
        path = tmp_path / f"m{k}.json"
        path.write_text(json.dumps(manifest))
        out = subprocess.run([sys.executable, "-m", "motifbench", "submit", str(_model(tmp_path, 100 + k, framework)),
                              "--manifest", str(path)], env=server["env"], capture_output=True, text=True, timeout=180)
        assert out.returncode == 0, out.stderr


@pytest.fixture(scope="module")
def browser_page(server):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        page.on("request", lambda r: outside.append(r.url)
                if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                and urlparse(r.url).hostname not in LOCAL_HOSTS else None)
        page.set_default_timeout(60_000)
        page.goto(server["url"])
        yield page, outside
        browser.close()


def _nothing_rendered(page, where: str) -> None:
    for selector in RENDERED_SELECTORS:
        assert page.locator(selector).count() == 0, f"{where}: a payload rendered as {selector}"


def _fill(page, elem_id: str, value: str) -> None:
    page.locator(f"#{elem_id} textarea, #{elem_id} input").first.fill(value)


def _upload(page, path, name: str, submitter: str, framework: str = "", activation: str = "", tap: str = "") -> None:
    page.get_by_role("tab", name="Submit").click()
    page.locator("#submit-file input[type=file]").set_input_files(str(path))
    wait_uploaded(page, path)
    _fill(page, "submit-name", name)
    _fill(page, "submit-submitter", submitter)
    _fill(page, "submit-framework", framework)
    _fill(page, "submit-activation", activation)
    _fill(page, "submit-tap", tap)
    page.locator("#submit-button").click()
    page.locator("#submit-result").get_by_text("Checking").wait_for()  # this upload's answer, not the last one's


def _clear_upload(page) -> None:
    page.locator("#submit-file button[aria-label='Clear']").first.click()
    page.locator("#submit-file input[type=file]").wait_for(state="attached")


def test_web_form_submissions_and_messages_show_payloads_as_text(server, browser_page, tmp_path, artifacts_dir):
    page, _ = browser_page
    try:
        _web_form(page, tmp_path)
    finally:
        page.screenshot(path=str(artifacts_dir / "space-payloads-01-form.png"), full_page=True)


def _web_form(page, tmp_path) -> None:
    for k, (submitter, framework, activation) in enumerate(GROUPS):
        _upload(page, _model(tmp_path, 200 + k, activation), f"web-payload-{k}", submitter, framework, activation)
        page.locator("#submit-result").get_by_text("Accepted", exact=True).wait_for(timeout=120_000)
        _nothing_rendered(page, "submit result")
        _clear_upload(page)
    _upload(page, _model(tmp_path, 300, "x"), "web-rejected", "rejecter", tap=PAYLOADS[0])
    for j, payload in enumerate(PAYLOADS[:4]):  # a rejection message quotes what was typed: still text
        if j:
            _fill(page, "submit-tap", payload)
            page.locator("#submit-button").click()
            page.locator("#submit-result").get_by_text("Checking").wait_for()
        result = page.locator("#submit-result")
        result.get_by_text("Not accepted", exact=True).wait_for(timeout=120_000)
        assert payload in result.inner_text(), result.inner_text()
        _nothing_rendered(page, "rejection message")
    _clear_upload(page)


def test_queue_shows_payloads_as_text(server, browser_page, artifacts_dir):
    from submissions.sqlite_store import open_store

    page, _ = browser_page
    with open_store(server["home"]) as store:  # rows as the store holds them (their checkpoints are missing: FAILED)
        for k, payload in enumerate(PAYLOADS):
            store.add(manifest={"model_name": f"queue-payload-{k}", "submitter": payload,
                                "dataset": {"config": "synthetic", "version": server["version"]}},
                      sha256=f"{k:064x}", size_bytes=1)
    page.get_by_role("tab", name="Queue").click()
    page.locator("#queue-refresh").click()
    # the page load's queue already lists the CLI rows (payload submitters too): wait for the rows added here
    page.wait_for_function("[...document.querySelectorAll('#queue-table .virtual-row')]"
                           ".some(r => r.innerText.includes('queue-payload-'))")
    text = page.locator("#queue-table").inner_text()
    assert any(p in text for p in PAYLOADS), text[:500]
    _nothing_rendered(page, "queue")
    page.screenshot(path=str(artifacts_dir / "space-payloads-02-queue.png"), full_page=True)


def _finished(server) -> int:
    from submissions.sqlite_store import open_store

    with open_store(server["home"]) as store:
        return store.counts()["FINISHED"]


def test_leaderboard_and_every_detail_view_show_payloads_as_text(server, browser_page, artifacts_dir):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    page, outside = browser_page
    deadline = time.monotonic() + 240
    while _finished(server) < 2 * len(GROUPS) and time.monotonic() < deadline:
        time.sleep(1)
    assert _finished(server) == 2 * len(GROUPS)
    page.get_by_role("tab", name="Leaderboard").click()
    page.get_by_text("Columns", exact=True).click()  # Framework is not a default column: show it
    page.locator("#lb-columns").get_by_label("Framework", exact=True).check()
    shown = (f"document.querySelectorAll('#leaderboard-table .virtual-row').length >= {2 * len(GROUPS)}"
             " && [...document.querySelectorAll('#leaderboard-table [role=columnheader]')]"
             ".some(h => h.innerText.trim().startsWith('Framework'))")
    for attempt in range(3):  # the worker marks a job FINISHED just before it exports the leaderboard row
        page.locator("#lb-refresh").click()
        try:
            page.wait_for_function(shown, timeout=20_000)
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    headers = [h.strip() for h in page.locator("#leaderboard-table [role=columnheader]").all_inner_texts()]
    model_col = next(i for i, h in enumerate(headers) if h.startswith("Model"))
    table = page.locator("#leaderboard-table").inner_text()
    for payload in PAYLOADS:
        assert payload in table, payload
    _nothing_rendered(page, "leaderboard")
    page.screenshot(path=str(artifacts_dir / "space-payloads-03-leaderboard.png"), full_page=True)
    rows = page.locator("#leaderboard-table .virtual-row")
    for i in range(rows.count()):
        row = rows.nth(i)
        name = row.locator("[role=gridcell]").nth(model_col).inner_text().strip()
        row.locator("[role=gridcell]").nth(model_col + 1).click()
        page.wait_for_function("n => document.querySelector('#detail-header h3')?.innerText.includes(n)", arg=name)
        header = page.locator("#detail-header").inner_text()
        group = GROUPS[int(name.rsplit("-", 1)[1])]
        for payload in group:
            assert payload in header, (payload, header)
        _nothing_rendered(page, f"detail of {name}")
        if i == 0:
            page.screenshot(path=str(artifacts_dir / "space-payloads-04-detail.png"), full_page=True)
        page.get_by_role("tab", name="Leaderboard").click()
    assert not [u for u in outside if EVIL_HOST in u], outside
    assert outside == [], f"requests to other hosts: {sorted(set(outside))[:10]}"


def test_file_route_does_not_serve_worker_folders(server):
    import urllib.error
    import urllib.request

    home = server["home"] / "submissions"
    task = next((home / "runs").rglob("task.json"), None) if (home / "runs").exists() else None
    targets = [home / "queue.sqlite"] + ([task] if task else [])
    for target in targets:
        url = f"{server['url']}gradio_api/file={target}"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=10)
        assert info.value.code in (403, 404), (target, info.value.code)
    assert task is not None, "the worker wrote run folders (the case the route must refuse)"
