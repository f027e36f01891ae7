"""Cost of the exports the worker writes on every finish: model facts, the table rebuild, artifact copies.

Builds a temporary data home with N FINISHED submissions (default 300) whose
manifests give no architecture (the case model facts exist for), each with a
real stored ONNX checkpoint, and measures:

1. model facts for one row (``model_facts.record_facts``) for three
   checkpoint sizes:
   - ``memory cache``: a long-running worker (each ONNX parsed once);
   - ``disk cache``: a fresh worker (facts read from ``model_facts/<sha256>.json``);
   - ``no cache``: the obvious alternative, parse the ONNX on every rebuild;
2. one leaderboard rebuild (``write_leaderboard``, what every finish pays)
   with N rows: model facts off (the export before facts) vs on (memory cache);
3. copying one job's evaluator artifacts (the real evaluator's output) to
   ``results/<id>/`` (``copy_artifacts``), per job.

Usage: python perf/export_rebuild.py [--rows 300] [--repeats 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures (corpus, seed, bundles) live with the tests

#: (label, cnn_model kwargs): a small model, a baseline-sized one, one near the 50 MiB cap's scale.
SIZES = (
    ("small", {"filters": 30, "kernel": 19, "pool": 25}),
    ("baseline-sized", {"filters": 64, "kernel": 19, "pool": 1}),
    ("large", {"filters": 1000, "kernel": 19, "pool": 1}),
)


def _median_seconds(fn, repeats: int, before=None) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="motifbench-perf-export-"))
    os.environ["MOTIFBENCH_HOME"] = str(tmp / "home")
    try:
        import numpy as np

        from leaderboard_seed import fake_record
        import corpus
        from submissions import export, model_facts
        from submissions.store import submissions_home
        from submissions.sqlite_store import open_store

        root = submissions_home()
        cache_dir = root / model_facts.FACTS_DIR
        rng = np.random.default_rng(0)
        manifest = {"submitter": "perf", "dataset": {"config": "synthetic", "version": "1.0.0"},
                    "output_kind": "probabilities", "license": "MIT"}
        store = open_store()

        def add(i: int, model_kwargs: dict) -> tuple[str, dict, int]:
            blob = corpus.cnn_model(i, **model_kwargs).SerializeToString()
            path = tmp / "model.onnx"
            path.write_bytes(blob)
            sha = hashlib.sha256(blob).hexdigest()
            store.checkpoints.put(path, sha)
            record = fake_record(f"perf-{i}", rng, n_filters=model_kwargs["filters"])
            record["model"].update(onnx_sha256=sha, checkpoint_sha256=sha, framework=None, producer="",
                                   tap_path=["Conv", "Relu"], tap_name="first_layer")
            sub, _ = store.add(manifest={**manifest, "model_name": f"perf-{i}"}, sha256=sha, size_bytes=len(blob))
            store.claim("perf")
            store.finish(sub.id, "perf", record)
            return sha, record, len(blob)

        print(f"model facts for one row (median of {args.repeats}):")
        print(f"  {'checkpoint':28s} {'memory cache':>13s} {'disk cache':>11s} {'no cache':>11s}")
        for n, (label, kwargs) in enumerate(SIZES):
            sha, record, size = add(10_000 + n, kwargs)
            checkpoint = store.checkpoints.path(sha)
            facts = lambda: model_facts.record_facts(record, checkpoint, sha, cache_dir)  # noqa: E731
            facts()
            memory = _median_seconds(facts, args.repeats)
            disk = _median_seconds(facts, args.repeats, before=model_facts.clear_memory_cache)

            def forget() -> None:
                model_facts.clear_memory_cache()
                shutil.rmtree(cache_dir, ignore_errors=True)

            with mock.patch.object(model_facts, "atomic_write"):  # never cached on disk
                uncached = _median_seconds(facts, args.repeats, before=forget)
            print(f"  {label + f' ({size / 1024:,.0f} kB)':28s} {memory * 1e3:10.3f} ms {disk * 1e3:8.3f} ms "
                  f"{uncached * 1e3:8.2f} ms")

        for i in range(args.rows - len(SIZES)):
            add(i, SIZES[0][1])
        rebuild = lambda: export.write_leaderboard(store, root)  # noqa: E731
        rebuild()  # first call: imports, facts of every model computed and cached
        no_facts = dict.fromkeys(("framework", "activation", "first_layer_pool", "params", "n_filters"))
        with mock.patch.object(model_facts, "record_facts", return_value=no_facts):
            without = _median_seconds(rebuild, args.repeats)
        with_facts = _median_seconds(rebuild, args.repeats)
        row = export.read_leaderboard(root).to_pylist()[-1]
        print(f"\none leaderboard rebuild with {args.rows} rows (median of {args.repeats}):")
        print(f"  {'model facts off':34s} {without * 1000:8.0f} ms")
        print(f"  {'model facts on (memory cache)':34s} {with_facts * 1000:8.0f} ms")
        print(f"  (filled: activation={row['activation']} pool={row['first_layer_pool']} params={row['params']})")

        from benchmark.synthetic import build_synthetic
        from evaluator import EvalParams, evaluate

        build_synthetic(tmp / "data", preset="koo2019", n=2000)
        model = corpus.save(corpus.cnn_model(1, **SIZES[0][1]), tmp / "eval.onnx")
        out = tmp / "out"
        record = evaluate(model, data=tmp / "data", params=EvalParams(limit=200, attribution=False),
                          out_dir=out, progress=False).to_record()
        sub = dataclasses.replace(store.list(["FINISHED"])[0], record=record)
        copied: dict = {}

        def copy() -> None:
            copied.update(export.copy_artifacts(sub, out, root))

        fresh = _median_seconds(copy, args.repeats,
                                before=lambda: shutil.rmtree(export.artifacts_dir(sub.id, root), ignore_errors=True))
        again = _median_seconds(copy, args.repeats)
        size = sum(p.stat().st_size for p in copied.values())
        print(f"\ncopying one job's artifacts ({len(copied)} files, {size / 1024:.0f} kB) to results/<id>/:")
        print(f"  {'new folder (staged, renamed whole)':34s} {fresh * 1000:8.1f} ms")
        print(f"  {'re-export (files replaced)':34s} {again * 1000:8.1f} ms")
        print(f"  (the evaluation that wrote them: {record['timings_seconds']['total']:.2f} s, "
              f"of which logos {record['timings_seconds'].get('logos', 0):.2f} s)")
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
