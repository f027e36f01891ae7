"""The Space in a real headless Chromium: `motifbench serve` with its real worker and evaluator.

One server (a subprocess on a free localhost port, with its own data home
holding a small synthetic dataset and seeded result rows) serves every test
in this module, in order: leaderboard, search, detail view, a garbage upload,
a real upload that must end as a FINISHED row, and finally a check that the
page never requested anything from another host. Screenshots of each step go
to ``test-artifacts/``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import onnx
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SEEDED = ["alpha-relu", "alpha-exp", "beta-relu", "beta-exp", "gamma-relu", "gamma-exp", "delta-relu"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
UPLOADED = "uploaded-tiny-cnn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"motifbench serve exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"the app did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def server(tmp_path_factory, artifacts_dir):
    """``motifbench serve`` (app + worker) against a temporary data home with seeded rows."""
    from benchmark.synthetic import build_synthetic
    from leaderboard_seed import seed_results

    home = tmp_path_factory.mktemp("space_home")
    manifest = build_synthetic(home / "datasets" / "motifbench", n=2_000)
    version = manifest.get("version") or "1.0.0"
    seed_results(len(SEEDED), home, names=SEEDED, dataset_version=version)
    port = _free_port()
    env = {**os.environ, "MOTIFBENCH_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    env.pop("SPACE_ID", None)
    log = artifacts_dir / "space-server.log"
    with log.open("w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "motifbench", "serve", "--host", "127.0.0.1", "--port", str(port), "--no-build", "--no-baselines",
             "--worker-args", "--poll 0.5"],
            env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url, proc, log)
        yield {"url": url, "home": home, "version": version}
    finally:
        proc.send_signal(signal.SIGTERM)  # serve stops its worker child on SIGTERM
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="module")
def browser_page(server):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("request", lambda r: outside.append(r.url)
                if urlparse(r.url).scheme in ("http", "https", "ws", "wss")
                and urlparse(r.url).hostname not in LOCAL_HOSTS else None)
        page.set_default_timeout(60_000)  # generous: the CI machine may be busy
        page.goto(server["url"])
        yield page, outside
        browser.close()


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request, artifacts_dir):
    """A failing step leaves a screenshot of what the browser showed."""
    failed_before = request.session.testsfailed
    yield
    if request.session.testsfailed > failed_before and "browser_page" in request.fixturenames:
        page, _ = request.getfixturevalue("browser_page")
        page.screenshot(path=str(artifacts_dir / f"space-failed-{request.node.name}.png"), full_page=True)


def _row_count(page) -> int:
    """Rows the leaderboard grid holds (aria-rowcount counts the header row too)."""
    return int(page.locator("#leaderboard-table [role=grid]").get_attribute("aria-rowcount")) - 1


def _wait_rows(page, predicate, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        n = _row_count(page)
        if predicate(n) or time.monotonic() > deadline:
            return n
        page.wait_for_timeout(200)


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_leaderboard_renders_seeded_rows(server, browser_page, artifacts_dir):
    page, _ = browser_page
    page.wait_for_selector("#leaderboard-table [role=gridcell]")
    assert _wait_rows(page, lambda n: n == len(SEEDED)) == len(SEEDED)
    text = page.locator("#leaderboard-table").inner_text()
    for header in ("AUROC", "GT match", "Coverage (/12)", "JASPAR match", "Activation", "Type"):
        assert header in text
    assert "alpha-relu" in text and "baseline" in text and "community" in text
    assert f"data v{server['version']}" in page.locator("#lb-version input").input_value()
    page.screenshot(path=str(artifacts_dir / "space-01-leaderboard.png"), full_page=True)


def test_search_narrows_the_table(browser_page, artifacts_dir):
    page, _ = browser_page
    search = page.locator("#leaderboard-table input.search-input")
    search.fill("alpha")
    assert _wait_rows(page, lambda n: n == 2) == 2
    rows = page.locator("#leaderboard-table .virtual-row").all_inner_texts()
    assert rows and all("alpha" in r for r in rows)
    page.screenshot(path=str(artifacts_dir / "space-02-search.png"), full_page=True)
    search.fill("")
    assert _wait_rows(page, lambda n: n == len(SEEDED)) == len(SEEDED)


def test_detail_view_shows_logo_images(browser_page, artifacts_dir):
    page, _ = browser_page
    first_row = page.locator("#leaderboard-table .virtual-row").first
    model = first_row.locator("[role=gridcell]").first.inner_text().strip()
    first_row.locator("[role=gridcell]").nth(1).click()
    page.wait_for_selector("#detail-header h3")
    assert model in page.locator("#detail-header").inner_text()
    for elem in ("#filter-logos img", "#truth-logos img"):
        page.wait_for_selector(elem)
        page.wait_for_function(f"document.querySelector('{elem}').naturalWidth > 100")
    page.wait_for_selector("#detail-per-class img, #detail-per-class svg, #detail-per-class canvas")
    assert "MA0" in page.locator("#detail-filters").inner_text()  # best-match JASPAR IDs in the filter table
    page.screenshot(path=str(artifacts_dir / "space-03-detail.png"), full_page=True)


def _upload(page, path: Path, name: str, submitter: str = "browser-test") -> None:
    _open_tab(page, "Submit")
    page.locator("#submit-file input[type=file]").set_input_files(str(path))
    page.wait_for_selector(f"#submit-file :text('{path.name}')")
    page.locator("#submit-name textarea, #submit-name input").first.fill(name)
    page.locator("#submit-submitter textarea, #submit-submitter input").first.fill(submitter)
    page.locator("#submit-button").click()


def test_garbage_upload_shows_the_validation_error(browser_page, artifacts_dir, tmp_path):
    page, _ = browser_page
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"PK\x03\x04 definitely not an ONNX model" * 20)
    _upload(page, garbage, "garbage-model")
    result = page.locator("#submit-result")
    result.get_by_text("Not accepted", exact=True).wait_for()
    text = result.inner_text()
    assert "not_onnx" in text and "zip archive" in text, text
    page.screenshot(path=str(artifacts_dir / "space-04-garbage-rejected.png"), full_page=True)
    page.locator("#submit-file button[aria-label='Clear']").first.click()


def test_uploaded_model_becomes_a_finished_leaderboard_row(browser_page, artifacts_dir, tmp_path):
    from corpus import cnn_model

    page, _ = browser_page
    model = tmp_path / "tiny_cnn.onnx"
    onnx.save(cnn_model(seed=7), model)
    _upload(page, model, UPLOADED)
    page.locator("#submit-result").get_by_text("Accepted", exact=True).wait_for(timeout=60_000)
    page.screenshot(path=str(artifacts_dir / "space-05-accepted.png"), full_page=True)
    _open_tab(page, "Queue")  # evaluation takes > 10 s: the job is still waiting or running
    row = page.locator("#queue-table .virtual-row", has_text=UPLOADED)
    row.wait_for()
    queued = row.inner_text()
    assert "PENDING" in queued or "RUNNING" in queued, queued
    page.screenshot(path=str(artifacts_dir / "space-06-queue.png"), full_page=True)
    _open_tab(page, "Submit")
    status = page.locator("#submit-status")
    deadline = time.monotonic() + 120
    while "FINISHED" not in status.inner_text() and time.monotonic() < deadline:
        assert "FAILED" not in status.inner_text(), status.inner_text()
        page.wait_for_timeout(500)
    assert "FINISHED" in status.inner_text(), status.inner_text()
    page.screenshot(path=str(artifacts_dir / "space-07-finished.png"), full_page=True)
    _open_tab(page, "Leaderboard")
    assert _wait_rows(page, lambda n: n == len(SEEDED) + 1) == len(SEEDED) + 1
    page.locator("#leaderboard-table input.search-input").fill(UPLOADED)
    assert _wait_rows(page, lambda n: n == 1) == 1
    row = page.locator("#leaderboard-table .virtual-row").first.inner_text()
    assert UPLOADED in row and "community" in row and "browser-test" in row
    page.screenshot(path=str(artifacts_dir / "space-08-new-row.png"), full_page=True)


def test_page_loaded_nothing_from_other_hosts(browser_page, artifacts_dir):
    page, outside = browser_page
    _open_tab(page, "About")
    page.get_by_text("Citation").first.wait_for()
    figure = page.locator("#about-figure img").first  # the results page's GT-vs-pool figure, served locally
    figure.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=figure.element_handle(), timeout=15000)
    page.screenshot(path=str(artifacts_dir / "space-09-about.png"), full_page=True)
    assert outside == [], f"requests to other hosts: {sorted(set(outside))[:10]}"
