"""The detail view's attribution and discovery figures in a real headless Chromium.

A shipped baseline (the ReLU CNN-25 ONNX file) is submitted on a small synthetic dataset and scored by the
real worker with the service settings (counts reduced); ``motifbench serve`` then serves that data home
and the browser opens the model's detail view: the scores table, the pattern logos beside their
ground-truth match and the example maps must load as images of a readable size. Screenshots go to
``test-artifacts/``.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from submissions.cli import SERVICE_EVAL_PARAMS
from test_space_browser import CHROMIUM, CHROMIUM_ARGS, _free_port, _open_tab, _stop_server, _wait_http

pytestmark = [pytest.mark.browser, pytest.mark.slow]

RUN = "cnn-25-relu-seed0"
EVAL = {**SERVICE_EVAL_PARAMS, "attribution_sequences": 150, "bootstrap_resamples": 100,
        "randomisation_sequences": 20, "ism_sequences": 10}


@pytest.fixture(scope="module")
def served(tmp_path_factory, artifacts_dir):
    from benchmark.synthetic import build_synthetic
    from space_app.bundled_baselines import BUNDLE_DIR
    from submissions.intake import baseline_manifest, submit
    from submissions.sqlite_store import open_store
    from submissions.store import FINISHED
    from submissions.worker import Worker, WorkerConfig

    home = tmp_path_factory.mktemp("attr_space_home")
    data = home / "datasets" / "motifbench"
    build_synthetic(data, n=2_000)
    spec = json.loads((BUNDLE_DIR / RUN / "spec.json").read_text())
    before = os.environ["MOTIFBENCH_HOME"]
    os.environ["MOTIFBENCH_HOME"] = str(home)  # the worker exports the leaderboard into the served home
    try:
        with open_store(home) as store:
            sub = submit(BUNDLE_DIR / RUN / "model.onnx", baseline_manifest(spec, spec["dataset"]["version"]),
                         data=data, store=store, baseline=True)
            Worker(store, WorkerConfig(eval_params=EVAL, time_limit=600, heartbeat_seconds=1.0)).run(once=True)
            done = store.get(sub.id)
    finally:
        os.environ["MOTIFBENCH_HOME"] = before
    assert done.state == FINISHED, done.reason
    port = _free_port()
    env = {**os.environ, "MOTIFBENCH_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": "1"}
    env.pop("SPACE_ID", None)
    log = artifacts_dir / "attribution-server.log"
    with log.open("w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "motifbench", "serve", "--host", "127.0.0.1", "--port", str(port),
                                 "--no-build", "--no-baselines", "--worker-args", "--poll 5"],
                                env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_http(url, proc, log)
        yield {"url": url, "id": sub.id, "record": done.record}
    finally:
        _stop_server(proc)


def test_attribution_and_discovery_figures_load_in_the_detail_view(served, artifacts_dir):
    from playwright.sync_api import sync_playwright

    record = served["record"]
    disc = record["results"]["discovery"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(served["url"])
        page.on("pageerror", lambda exc: print("page error:", exc))
        try:
            page.wait_for_selector("#leaderboard-table .virtual-row")
        except Exception:
            page.screenshot(path=str(artifacts_dir / "attribution-failed.png"), full_page=True)
            raise
        page.locator("#leaderboard-table .virtual-row").first.locator("[role=gridcell]").nth(1).click()
        page.wait_for_selector("#detail-header h3")
        _open_tab(page, "Model detail")
        text = page.locator("#detail-attribution").inner_text()
        assert "Class-specific attribution" in text and "DeepLIFT/SHAP (corrected)" in text
        assert text.index("saliency") < text.index("grad × input") < text.index("DeepLIFT/SHAP") < text.index("ISM")
        assert f"coverage {disc['coverage_count']}/12" in text
        sizes = {}
        for elem in ("#pattern-logos img", "#attribution-examples img"):
            page.wait_for_function(f"document.querySelector('{elem}') && "
                                   f"document.querySelector('{elem}').complete && "
                                   f"document.querySelector('{elem}').naturalWidth > 0")
            sizes[elem] = page.evaluate(f"(() => {{ const i = document.querySelector('{elem}'); "
                                        "return [i.naturalWidth, i.naturalHeight, i.clientWidth]; })()")
        page.locator("#detail-attribution").scroll_into_view_if_needed()
        page.screenshot(path=str(artifacts_dir / "attribution-detail.png"), full_page=True)
        page.locator("#pattern-logos").screenshot(path=str(artifacts_dir / "attribution-patterns.png"))
        page.locator("#attribution-examples").screenshot(path=str(artifacts_dir / "attribution-examples.png"))
        browser.close()
    # shown at the page's full width like the filter logos (read without zooming), and never upscaled
    for elem, (width, height, shown) in sizes.items():
        assert shown >= 1000 and width >= shown and height > 200, (elem, width, height, shown)
