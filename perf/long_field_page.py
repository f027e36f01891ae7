"""Page weight and first render of the leaderboard: a clean table vs. the same table plus one 10,000-character field.

Issue 12 item 2: a 40 MB ``producer_name`` once made every page load move
41 MB. Intake now caps every string, but the page must also stay light if a
long value reaches the store some other way (an old row, an import): display
text is cut to ``space_app.safe_text.DISPLAY_CHARS`` characters.

Two data homes are seeded with the same N finished rows (``space_app.seed``);
the second gets one more row whose submitter, framework, activation and
record fields are 10,000 characters each, written straight into the store
(bypassing intake, as an old row would be). Each home is served by its own
``motifbench serve --no-worker`` on a free localhost port. In headless
Chromium the two pages are loaded alternately (A, B, A, B, ...), measuring
for each load the bytes received (Chrome DevTools ``Network.dataReceived``)
and the time from the request to the table showing every row. Medians are
printed side by side with their ratio; the issue's bar is within 10 %.

Usage: python perf/long_field_page.py [--rows 50] [--loads 7] [--chars 10000]
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures (corpus, seed) live with the tests

from leaderboard_render import CHROMIUM_ARGS, free_port, wait_for_table  # noqa: E402  (same folder)


def _add_long_row(home: Path, chars: int) -> None:
    import numpy as np

    from leaderboard_seed import fake_record
    from submissions import export
    from submissions.sqlite_store import open_store

    long = ("<b>" + "L" * chars)[:chars]
    record = fake_record("long-field-model", np.random.default_rng(1))
    record["model"].update(framework=long, producer=long, tap_name=long)
    manifest = {"model_name": "long-field-model", "submitter": long, "license": long, "output_kind": "probabilities",
                "dataset": {"config": "synthetic", "version": "1.0.0"},
                "architecture": {"framework": long, "activation": long, "first_layer_pool": 4, "params": 1}}
    with open_store(home) as store:
        sub, _ = store.add(manifest=manifest, sha256="e" * 64, size_bytes=1)
        store.claim("perf")
        store.finish(sub.id, "perf", record)
        export.export_all(store, export.submissions_home(home))


def _serve(home: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "MOTIFBENCH_HOME": str(home), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env.pop("SPACE_ID", None)
    proc = subprocess.Popen([sys.executable, "-m", "motifbench", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--no-worker", "--no-build", "--no-baselines"], env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"serve did not start: {log.read_text()[-2000:]}")


def _load(browser, url: str, n_rows: int) -> tuple[float, int]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    received = [0]
    cdp.on("Network.dataReceived", lambda e: received.__setitem__(0, received[0] + int(e.get("dataLength", 0))))
    t = time.perf_counter()
    page.goto(url)
    wait_for_table(page, n_rows)
    seconds = time.perf_counter() - t
    page.wait_for_timeout(300)  # let trailing responses land in the byte count
    page.close()
    return seconds, received[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50)
    parser.add_argument("--loads", type=int, default=7, help="page loads per variant (alternating; medians)")
    parser.add_argument("--chars", type=int, default=10_000)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from leaderboard_seed import seed_results

    root = Path(tempfile.mkdtemp(prefix="mb-perf-longfield-"))
    homes = {"clean": root / "clean", "long field": root / "long"}
    for name, home in homes.items():
        seed_results(args.rows, home, seed=0)
    _add_long_row(homes["long field"], args.chars)
    rows = {"clean": args.rows, "long field": args.rows + 1}
    servers = {name: _serve(home, root / f"{name.replace(' ', '-')}.log") for name, home in homes.items()}
    results: dict[str, list[tuple[float, int]]] = {name: [] for name in homes}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            for name in homes:  # one warm-up load each (Gradio's first request compiles its routes)
                _load(browser, servers[name][1], rows[name])
            for _ in range(args.loads):
                for name in homes:
                    results[name].append(_load(browser, servers[name][1], rows[name]))
            browser.close()
    finally:
        for proc, _ in servers.values():
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)

    print(f"leaderboard page, {args.rows} rows, vs. the same plus one row with {args.chars:,}-character fields "
          f"(median of {args.loads} alternating loads)")
    print(f"{'table':<12} {'bytes received':>15} {'request -> table visible':>26}")
    med = {}
    for name, loads in results.items():
        seconds = statistics.median(s for s, _ in loads)
        weight = statistics.median(b for _, b in loads)
        med[name] = (seconds, weight)
        print(f"{name:<12} {weight / 1e3:>12.1f} kB {seconds * 1e3:>23.0f} ms")
    (s0, w0), (s1, w1) = med["clean"], med["long field"]
    print(f"\nlong field / clean: page weight {w1 / w0:.3f}x, first render {s1 / s0:.3f}x "
          f"({'within' if max(w1 / w0, s1 / s0) <= 1.10 else 'NOT within'} 10 %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
