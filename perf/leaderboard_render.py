"""First render of the leaderboard with many result rows: exported parquet vs. JSON records at load.

Seeds N FINISHED submissions (default 1,000) through the real store and
export into a temporary data home, then measures, for two ways of building
the table:

- ``parquet``: what the Space does, read ``leaderboard.parquet`` (one file,
  flat typed columns written by ``submissions.export``);
- ``json``: the obvious alternative, read every ``results/<id>.json`` record
  on each page load and flatten it into the same table.

Two figures each: the server-side table build (the Leaderboard tab's
``leaderboard_view`` handler, cold and warm), and in a headless Chromium the
time from the HTTP request for the page to the table being visible with all N
rows (median of several page loads). Both apps run in this process on free
localhost ports; the only difference is the table source.

Usage: python perf/leaderboard_render.py [--rows 1000] [--loads 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures (corpus, seed, bundles) live with the tests

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]


class JsonRecordsSource:
    """The alternative: rebuild the table from every result JSON on each call (no cache)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self._calls = 0

    def version(self) -> tuple[int, int]:
        """A new version on every call: nothing derived from the table (the CSV download) is reused."""
        self._calls += 1
        return (self._calls, 0)

    def frame(self):
        import pandas as pd

        from space_app.leaderboard import prepare
        from submissions.export import leaderboard_row
        from submissions.sqlite_store import open_store

        with open_store(self.home) as store:  # manifest facts (submitter, baseline, architecture) live in the store
            subs = {s.id: s for s in store.list(["FINISHED"])}
        rows = []
        for path in sorted((self.home / "submissions" / "results").glob("*.json")):
            sub = subs[path.stem]
            record = json.loads(path.read_text())
            rows.append(leaderboard_row(dataclasses.replace(sub, record=record)))
        return prepare(pd.DataFrame(rows))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _time_handler(app, columns, repeats: int = 3) -> tuple[float, float]:
    """(cold, warm median) seconds of the Leaderboard tab's handler."""
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        out = app.leaderboard_view(None, None, "all", "all", columns)
        times.append(time.perf_counter() - t)
    return times[0], statistics.median(times[1:]), len(getattr(out[3], "data", out[3]))  # a Styler: .data


def wait_for_table(page, n_rows: int) -> None:
    """Block until the leaderboard grid shows ``n_rows`` rows (plus its header) with cells drawn."""
    page.wait_for_function(
        f"""() => {{ const g = document.querySelector('#leaderboard-table [role=grid]');
            return g && g.getAttribute('aria-rowcount') == '{n_rows + 1}'
                && document.querySelector('#leaderboard-table [role=gridcell]'); }}""",
        timeout=120_000,
    )


def _time_page(url: str, n_rows: int, loads: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
        for _ in range(loads):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t = time.perf_counter()
            page.goto(url)
            wait_for_table(page, n_rows)
            out.append(time.perf_counter() - t)
            page.close()
        browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5, help="page loads per variant (median reported)")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="mb-perf-space-"))
    os.environ["MOTIFBENCH_HOME"] = str(home)
    from leaderboard_seed import seed_results

    t = time.perf_counter()
    seed_results(args.rows, home, seed=0)
    print(f"seeded {args.rows} finished submissions (store + export) in {time.perf_counter() - t:.1f} s")
    parquet = home / "submissions" / "leaderboard.parquet"
    json_bytes = sum(p.stat().st_size for p in (home / "submissions" / "results").glob("*.json"))
    print(f"leaderboard.parquet {parquet.stat().st_size / 1e3:.0f} kB; {args.rows} result JSONs {json_bytes / 1e6:.1f} MB")

    from space_app import app, leaderboard
    from space_app.settings import allowed_paths

    columns = list(leaderboard.DEFAULT_COLUMNS)
    results = {}
    original_source = app.source
    for variant in ("parquet", "json"):
        app._SOURCE = None
        if variant == "json":
            alt = JsonRecordsSource(home)
            app.source = lambda: alt
        else:
            app.source = original_source
        cold, warm, n = _time_handler(app, columns)
        assert n == args.rows, f"{variant}: table has {n} rows"
        demo = app.build_demo()
        port = free_port()
        demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True,
                    **{**app.launch_kwargs(), "allowed_paths": allowed_paths()})
        try:
            loads = _time_page(f"http://127.0.0.1:{port}/", args.rows, args.loads)
        finally:
            demo.close()
        results[variant] = (cold, warm, loads)
    app.source = original_source

    print(f"\nfirst render of the leaderboard with {args.rows} rows (median of {args.loads} page loads)")
    print(f"{'source':<10} {'handler cold':>13} {'handler warm':>13} {'request -> table visible':>26}")
    for variant, (cold, warm, loads) in results.items():
        print(f"{variant:<10} {cold * 1e3:>10.0f} ms {warm * 1e3:>10.0f} ms {statistics.median(loads) * 1e3:>17.0f} ms "
              f"(min {min(loads) * 1e3:.0f})")
    p, j = results["parquet"], results["json"]
    print(f"\nparquet vs json: handler {j[1] / p[1]:.1f}x faster warm, {j[0] / p[0]:.1f}x cold; "
          f"page {statistics.median(j[2]) / statistics.median(p[2]):.2f}x faster to a visible table")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
