"""Jobs per minute of `motifbench worker` on small baseline-size models, one vs two workers,
warm fork server (default) vs a fresh interpreter per job (`--no-warm`, the obvious alternative).

Builds a small synthetic dataset (koo2019 preset, N=2,000: 400 test rows) in a
temporary data home, queues ``--jobs`` distinct cnn-25-shaped ONNX models
(30 filters of width 19, pool 25; random weights) through the real intake, and
times worker processes (``python -m submissions.cli worker --once``) from start
until every job is FINISHED. Evaluations are the real evaluator; by default
with attribution off and no artifacts (the service default turns both on, see
``--full``).

    python perf/worker_throughput.py --jobs 8
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures (corpus, seed, bundles) live with the tests


def _queue(n: int, data: Path, tmp: Path) -> None:
    import corpus
    from submissions.intake import submit
    from submissions.validate import ValidationLimits

    limits = ValidationLimits(trial_launcher="forkserver")
    for seed in range(n):
        path = corpus.save(corpus.cnn_model(seed, filters=30, kernel=19, pool=25), tmp / f"m{seed}.onnx")
        manifest = {"model_name": f"perf {seed}", "submitter": "perf", "output_kind": "probabilities",
                    "dataset": {"config": "synthetic", "version": "1.0.0"}, "license": "MIT"}
        submit(path, manifest, data=data, limits=limits)


def _run(n_workers: int, warm: bool, full: bool, limit: int | None) -> float:
    from submissions.store import FINISHED
    from submissions.sqlite_store import open_store

    cmd = [sys.executable, "-m", "submissions.cli", "worker", "--once", "--heartbeat", "1"]
    if not full:
        cmd += ["--no-attribution", "--no-artifacts"]
    if limit:
        cmd += ["--limit", str(limit)]
    if not warm:
        cmd.append("--no-warm")
    start = time.perf_counter()
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(n_workers)]
    for p in procs:
        p.wait()
    seconds = time.perf_counter() - start
    with open_store() as store:
        counts = store.counts()
    if counts[FINISHED] != sum(counts.values()):
        raise SystemExit(f"not every job finished: {counts}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=8, help="models queued per measurement (default 8)")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N test rows (default all 400)")
    parser.add_argument("--full", action="store_true", help="attribution and artifacts on (the service default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="worker-perf-") as tmp_name:
        tmp = Path(tmp_name)
        from benchmark.synthetic import build_synthetic

        data = tmp / "dataset"
        build_synthetic(data, preset="koo2019", n=2_000)
        print(f"{args.jobs} cnn-25-shaped models per run, {'full evaluation' if args.full else 'no attribution, no artifacts'}, "
              f"test rows: {args.limit or 400}, CPUs: {os.cpu_count()}")
        print(f"{'workers':>8} {'launcher':>12} {'seconds':>9} {'jobs/min':>9}")
        for warm in (True, False):
            for n_workers in (1, 2):
                os.environ["MOTIFBENCH_HOME"] = str(tmp / f"home-{n_workers}-{warm}")
                _queue(args.jobs, data, tmp)
                seconds = _run(n_workers, warm, args.full, args.limit)
                launcher = "warm fork" if warm else "fresh python"
                print(f"{n_workers:>8} {launcher:>12} {seconds:>9.1f} {60 * args.jobs / seconds:>9.1f}", flush=True)


if __name__ == "__main__":
    main()
