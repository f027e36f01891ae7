"""How long a new user waits on the first ``motifbench serve``: until the page answers, until the baselines are scored.

Starts ``motifbench serve`` on a free port with a fresh, empty data home (so
it builds the synthetic dataset, starts the worker and queues the bundled
baselines, exactly as after ``pip install``), then records:

- ``page``: seconds from the command to the first HTTP 200 on ``/``;
- ``baselines``: seconds until every queued bundled baseline is FINISHED
  (or FAILED), polled from the store every 2 s.

Usage: ``python perf/first_serve.py [--timeout 1200] [--keep HOME]``.
Prints one line per milestone and a summary; the machine's CPU count is
printed too, since the scoring time is CPU bound.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from leaderboard_render import free_port  # same folder


def _counts(home: Path) -> dict[str, int]:
    from submissions import open_store

    os.environ["MOTIFBENCH_HOME"] = str(home)
    with open_store(home) as store:
        return store.counts()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=1200.0, help="give up after this many seconds")
    parser.add_argument("--keep", type=Path, default=None, help="use (and keep) this data home instead of a temp one")
    args = parser.parse_args()
    home = args.keep or Path(tempfile.mkdtemp(prefix="motifbench-first-serve-"))
    port = free_port()
    env = {**os.environ, "MOTIFBENCH_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
    log = home.parent / f"{home.name}-serve.log"
    print(f"cpus: {os.cpu_count()}  data home: {home}  log: {log}", flush=True)
    start = time.monotonic()
    with open(log, "w") as handle:
        proc = subprocess.Popen([sys.executable, "-m", "motifbench", "serve", "--port", str(port)], env=env,
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    from space_app.bundled_baselines import bundled_runs

    expected = len(bundled_runs())
    page = baselines = None
    try:
        while time.monotonic() - start < args.timeout:
            if proc.poll() is not None:
                print(f"serve exited with {proc.returncode}; see {log}")
                return 1
            now = time.monotonic() - start
            if page is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                        if r.status == 200:
                            page = now
                            print(f"page answers after {page:.1f} s", flush=True)
                except OSError:
                    pass
            if (home / "submissions" / "queue.sqlite").is_file():
                c = _counts(home)
                queued = sum(c.values())
                if queued >= expected and c["PENDING"] == 0 and c["RUNNING"] == 0 and page is not None:
                    baselines = now
                    print(f"{c['FINISHED']} baselines finished, {c['FAILED']} failed, after {baselines:.1f} s",
                          flush=True)
                    break
            time.sleep(0.5 if page is None else 2.0)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    print(f"summary: page {page if page is None else round(page, 1)} s, baselines scored "
          f"{baselines if baselines is None else round(baselines, 1)} s (cpus {os.cpu_count()})")
    return 0 if baselines is not None else 1


if __name__ == "__main__":
    sys.exit(main())
