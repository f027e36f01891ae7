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
#: Records every text Gradio's screen-reader status element (role=status) announces; each lasts ~1 s.
ANNOUNCEMENTS_JS = """window.__announced = [];
new MutationObserver((changes) => { for (const c of changes) {
  const node = c.target.nodeType === 3 ? c.target.parentElement : c.target;
  const status = node && node.closest && node.closest('[role=status]');
  if (status && status.textContent.trim()) window.__announced.push(status.textContent.trim());
} }).observe(document, {subtree: true, childList: true, characterData: true});"""


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


def _stop_server(proc: subprocess.Popen) -> None:
    """Stop a ``motifbench serve`` subprocess (SIGTERM stops its worker child too; SIGKILL its group after 30 s)."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


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
        _stop_server(proc)


@pytest.fixture(scope="module")
def browser_page(server):
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.add_init_script(ANNOUNCEMENTS_JS)
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
    for header in ("AUROC", "GT match", "Coverage (/12)", "JASPAR match", "Activation", "Submitter", "Date"):
        assert header in text
    assert "alpha-relu" in text and "motifbench baselines" in text  # Type is under Columns (width)
    assert f"data v{server['version']}" in page.locator("#lb-version input").input_value()
    page.screenshot(path=str(artifacts_dir / "space-01-leaderboard.png"), full_page=True)


def test_default_columns_fit_1400_px_without_horizontal_scroll(browser_page):
    """Item 2: every default column, ID last, is visible in a 1,400 px window; the model column is pinned."""
    page, _ = browser_page
    assert page.viewport_size["width"] == 1400
    overflow = page.evaluate("""() => [...document.querySelectorAll('#leaderboard-table *')]
        .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX) && e.scrollWidth > e.clientWidth + 1)
        .map(e => [e.className, e.scrollWidth, e.clientWidth])""")
    assert overflow == [], f"the table scrolls sideways: {overflow}"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    headers = page.locator("#leaderboard-table th")
    last = headers.last.bounding_box()
    table = page.locator("#leaderboard-table").bounding_box()
    assert headers.last.inner_text().strip().startswith("ID") and last["x"] + last["width"] <= table["x"] + table["width"] + 1


def test_model_column_stays_pinned_when_extra_columns_scroll(browser_page, artifacts_dir):
    """Item 2: with every column shown the table scrolls sideways, and the Model column stays in view."""
    page, _ = browser_page
    extra = ("Framework", "Filters", "Dataset", "Version", "Split", "Evaluator", "SHA256")
    page.get_by_text("Columns", exact=True).click()
    for name in extra:
        page.locator("#lb-columns label", has_text=name).first.click()
    page.wait_for_function("[...document.querySelectorAll('#leaderboard-table th')].some(th => th.innerText.includes('SHA256'))")
    viewport = page.locator("#leaderboard-table .virtual-table-viewport")
    first = page.locator("#leaderboard-table [role=gridcell][data-col='1']").first  # Model (after Rank)
    before = first.bounding_box()["x"]
    viewport.evaluate("v => { v.scrollLeft = 400; }")
    page.wait_for_timeout(300)
    assert viewport.evaluate("v => v.scrollLeft") > 0, "the wide table should scroll"
    left_edge = viewport.bounding_box()["x"]
    after = first.bounding_box()["x"]
    assert left_edge - 1 <= after <= before + 1, "the Model column scrolled away"
    page.screenshot(path=str(artifacts_dir / "space-01c-pinned-model-column.png"))
    viewport.evaluate("v => { v.scrollLeft = 0; }")
    for name in extra:
        page.locator("#lb-columns label", has_text=name).first.click()
    page.wait_for_function("![...document.querySelectorAll('#leaderboard-table th')].some(th => th.innerText.includes('SHA256'))")
    page.get_by_text("Columns", exact=True).click()


def test_numbers_are_explained_and_printed_alike(browser_page, artifacts_dir):
    """Item 3: a legend and header tooltips with About's names; three decimals; thousands separators."""
    from space_app.glossary import DEFINITIONS, GT_MATCH

    page, _ = browser_page
    legend = page.locator("#lb-legend")
    assert "What the numbers mean" in legend.inner_text()
    for name in ("GT match", "Coverage (/12)", "JASPAR match", "Attribution"):
        assert f"{name}:" in legend.inner_text(), name
    header = page.locator("#leaderboard-table th", has_text=GT_MATCH).first
    page.wait_for_function("[...document.querySelectorAll('#leaderboard-table th')].some(th => th.title)")
    assert header.get_attribute("title") == DEFINITIONS[GT_MATCH]
    cells = page.locator("#leaderboard-table .virtual-row").first.locator("[role=gridcell]").all_inner_texts()
    scores = [c.strip() for c in cells[2:8] if c.strip() and c.strip()[0].isdigit() and "." in c]
    assert scores and all(len(c.split(".")[1]) == 3 for c in scores), cells
    assert any("," in c and c.replace(",", "").isdigit() for c in cells), cells  # Params, e.g. 100,000
    header.hover()
    page.screenshot(path=str(artifacts_dir / "space-01b-legend-and-plots.png"), full_page=True)


def test_leaderboard_plots_are_drawn(browser_page):
    """Item 9: AUROC vs GT match and GT match vs pool size, as images a person can look at."""
    page, _ = browser_page
    for elem in ("#lb-scatter img", "#lb-by-pool img"):
        page.wait_for_selector(elem)
        page.wait_for_function(f"document.querySelector('{elem}').naturalWidth > 500")


def test_bold_text_uses_the_page_font_and_no_raw_i18n_key(browser_page):
    """Item 7: bold runs use the complete bold face of the page font; no ``common.*`` key is shown or read."""
    page, _ = browser_page
    families = page.evaluate("""() => [...document.querySelectorAll('strong, b, h1, h2, h3, th')]
        .map(e => getComputedStyle(e).fontFamily.split(',')[0].replace(/["']/g, '').trim())""")
    assert families and set(families) <= {"Source Sans Pro"}, set(families)
    faces = page.evaluate("""async () => { await document.fonts.ready;
        return [...document.fonts].filter(f => f.family.replace(/["']/g, '') === 'Source Sans Pro')
            .map(f => [f.weight, f.status]); }""")
    assert ["700", "loaded"] in faces, faces
    assert not any(w == "600" for w, _ in faces), f"the 55-glyph semibold subset is declared: {faces}"
    raw = page.evaluate(r"""() => { const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
        const out = []; let n; while ((n = w.nextNode())) { if (/\bcommon\.[a-z_]+/.test(n.textContent)) out.push(n.textContent); }
        return out; }""")
    assert raw == []
    # the status is announced throttled (~5 s) and may pass through "In queue" on a busy machine
    page.wait_for_function("window.__announced.includes('Complete')", timeout=60000)
    announced = page.evaluate("window.__announced")
    assert not [a for a in announced if "common." in a], announced


def test_detail_opened_directly_shows_the_leader(browser_page, artifacts_dir):
    """Item 5: the Model detail tab opened before any click shows the table's leader, not blanks."""
    page, _ = browser_page
    leader = page.locator("#leaderboard-table .virtual-row").first.locator("[role=gridcell]").nth(1).inner_text().strip()
    _open_tab(page, "Model detail")
    page.wait_for_function("(name) => (document.querySelector('#detail-model input') || {}).value?.includes(name)",
                           arg=leader)
    page.wait_for_selector("#detail-header h3")
    assert leader in page.locator("#detail-header h3").inner_text()
    page.wait_for_function("document.querySelector('#filter-logos img') && "
                           "document.querySelector('#filter-logos img').naturalWidth > 0")
    page.screenshot(path=str(artifacts_dir / "space-03a-detail-preselected.png"), full_page=True)
    _open_tab(page, "Leaderboard")


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
    model = first_row.locator("[role=gridcell]").nth(1).inner_text().strip()  # Rank, then Model
    first_row.locator("[role=gridcell]").nth(1).click()
    page.wait_for_selector("#detail-header h3")
    assert model in page.locator("#detail-header").inner_text()
    for elem in ("#filter-logos img", "#truth-logos img"):  # item 1: large and sharp at their natural size
        page.wait_for_selector(elem)
        page.wait_for_function(f"document.querySelector('{elem}').naturalWidth >= 1000")
        shown = page.evaluate(f"(() => {{ const i = document.querySelector('{elem}'); "
                              f"return [i.naturalWidth, i.clientWidth]; }})()")
        assert shown[1] >= 1000 and shown[0] >= shown[1], shown  # shown full width, never upscaled
    page.wait_for_selector("#detail-per-class img")
    filters = page.locator("#detail-filters").inner_text()
    assert "MA0" in filters and "Why it counts" in filters and "own motif" in filters  # item 4
    page.screenshot(path=str(artifacts_dir / "space-03-detail.png"), full_page=True)
    page.locator("#filter-logos").screenshot(path=str(artifacts_dir / "space-03b-filter-logos.png"))


def wait_uploaded(page, path: Path) -> None:
    """Wait until the Submit tab's file box holds ``path`` as an uploaded file (served back as a download link).

    The preview writes the name as two spans (stem, extension) with a space between them, so the name is
    never one text node: ``:text('model.onnx')`` never matches the finished preview (only, by luck, a
    transient upload line). The download link names the file exactly and exists only once the upload is done.
    """
    page.locator(f"#submit-file a[download='{path.name}']").wait_for()


def _upload(page, path: Path, name: str, submitter: str = "browser-test") -> None:
    _open_tab(page, "Submit")
    page.locator("#submit-file input[type=file]").set_input_files(str(path))
    wait_uploaded(page, path)
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
    # item 6: not only the live job (seeded rows are listed as finished, or as re-scoring jobs when the
    # integrity worker re-queues them; queue_view's ordering is unit-tested in test_space_pages)
    assert page.locator("#queue-table .virtual-row").count() >= 2
    page.screenshot(path=str(artifacts_dir / "space-06-queue.png"), full_page=True)
    _open_tab(page, "Submit")
    status = page.locator("#submit-status")
    # the served worker scores with the full settings (attribution, discovery, intervals): about 30 s here,
    # several times that on a busy CI machine
    deadline = time.monotonic() + 420
    while "FINISHED" not in status.inner_text() and time.monotonic() < deadline:
        assert "FAILED" not in status.inner_text(), status.inner_text()
        page.wait_for_timeout(500)
    assert "FINISHED" in status.inner_text(), status.inner_text()
    page.screenshot(path=str(artifacts_dir / "space-07-finished.png"), full_page=True)
    _open_tab(page, "Leaderboard")
    if _wait_rows(page, lambda n: n == len(SEEDED) + 1) != len(SEEDED) + 1:
        page.locator("#lb-refresh").click()  # a busy machine: the export may land after the tab opened
    assert _wait_rows(page, lambda n: n == len(SEEDED) + 1, timeout=30) == len(SEEDED) + 1
    page.locator("#leaderboard-table input.search-input").fill(UPLOADED)
    assert _wait_rows(page, lambda n: n == 1) == 1
    row = page.locator("#leaderboard-table .virtual-row").first.inner_text()
    assert UPLOADED in row and "browser-test" in row
    page.screenshot(path=str(artifacts_dir / "space-08-new-row.png"), full_page=True)
    # its detail: the real evaluator's pictures of a real model
    page.locator("#leaderboard-table .virtual-row").first.locator("[role=gridcell]").nth(1).click()
    page.wait_for_function(f"document.querySelector('#detail-header h3') && "
                           f"document.querySelector('#detail-header h3').innerText.includes('{UPLOADED}')")
    page.wait_for_function("document.querySelector('#filter-logos img') && "
                           "document.querySelector('#filter-logos img').naturalWidth >= 1000")
    assert "filter_pairs.png" in page.locator("#filter-logos img").get_attribute("src")  # the evaluator's own file
    page.screenshot(path=str(artifacts_dir / "space-08b-uploaded-detail.png"), full_page=True)


def test_page_loaded_nothing_from_other_hosts(browser_page, artifacts_dir):
    page, outside = browser_page
    _open_tab(page, "About")
    page.get_by_text("Citation").first.wait_for()
    figure = page.locator("#about-figure img").first  # the results page's GT-vs-pool figure, served locally
    figure.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=figure.element_handle(), timeout=15000)
    about = page.locator("#about").inner_text()
    assert "GT match:" in about and "Coverage (/12):" in about and "accepted IDs" in about
    page.screenshot(path=str(artifacts_dir / "space-09-about.png"), full_page=True)
    assert outside == [], f"requests to other hosts: {sorted(set(outside))[:10]}"
