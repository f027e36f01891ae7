"""How fast does the `deepsea` builder stream, how much memory does it hold, and what does FIMO cost?

Writes a synthetic DeepSEA bundle in the real layout into a temporary folder
(train.mat: MATLAB v7.3 / HDF5 behind the 512-byte MATLAB header, h5py shapes
(1000, 4, N) and (919, N), gzip-compressed chunks; valid.mat / test.mat:
classic v5), random one-hot sequences with ``--keep`` of the rows carrying one
of the 12 labels, then times in separate child processes (so each peak RSS is
its own):

- ``imports``: the interpreter plus every library the build loads (h5py, scipy, pyarrow, memelite
  with its numba kernels, the JASPAR matrices): the floor of the build's RSS;
- ``read``: the chunked reader alone (labels, filter, kept sequences, channel reorder);
- ``build --no-fimo``: the whole build with the FIMO scan switched off;
- ``build``: the whole build, FIMO on (the default);
- ``whole-file``: the obvious alternative, ``h5py`` read of all of ``trainxdata``
  and ``traindata`` at once, transpose and filter (what most DeepSEA loaders do).

Then projects the real bundle (train.mat 4,400,000 rows of which 270,382 are
kept; test.mat 455,024 rows of which 23,768 are kept) from the per-source-row
and per-kept-row costs measured here.

Run: ``python perf/deepsea_build_speed.py [--rows 200000] [--keep 0.2] [--chunk-rows 20000]``
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures (corpus, seed, bundles) live with the tests

REAL_TRAIN_ROWS, REAL_TRAIN_KEPT = 4_400_000, 270_382


def _generate(folder: Path, rows: int, keep: float, seed: int = 0) -> None:
    import numpy as np

    from benchmark.deepsea_source import LABEL_COLUMNS
    from deepsea_fixtures import deepsea_one_hot, write_classic_mat, write_train_mat

    rng = np.random.default_rng(seed)

    def split(n: int):
        x = deepsea_one_hot(rng.integers(0, 4, size=(n, 1000), dtype=np.uint8))
        y = (rng.random((n, 919)) < 0.02).astype(np.uint8)
        y[:, list(LABEL_COLUMNS)] = 0
        hit = np.flatnonzero(rng.random(n) < keep)
        y[hit, np.asarray(LABEL_COLUMNS)[rng.integers(0, 12, hit.size)]] = 1
        return x, y

    folder.mkdir(parents=True, exist_ok=True)
    batch = 10_000
    write_train_mat(folder / "train.mat", n=rows,
                    batches=(split(min(batch, rows - i)) for i in range(0, rows, batch)))
    write_classic_mat(folder / "valid.mat", "valid", *split(2_000))
    write_classic_mat(folder / "test.mat", "test", *split(2_000))


def _child(mode: str, bundle: Path, out: Path, chunk_rows: int) -> dict:
    """Run one measurement in this (child) process; returns seconds, peak RSS and row counts."""
    t0 = time.perf_counter()
    import numpy as np  # noqa: F401

    import benchmark.deepsea  # noqa: F401  (all the builder's imports, for the floor)
    from benchmark.deepsea_source import LABEL_COLUMNS, inspect_bundle, iter_chunks

    result: dict = {"mode": mode}
    if mode == "imports":
        import h5py  # noqa: F401
        import scipy.io  # noqa: F401

        from benchmark.motifs import load_motif_set
        from memelite import fimo

        load_motif_set().pwms
        fimo({"m": np.full((4, 6), 0.25)}, np.eye(4, dtype=np.uint8)[:, :, None].repeat(10, axis=2)[:1])
    elif mode == "read":
        src = inspect_bundle(bundle)["train"]
        t0 = time.perf_counter()
        kept = sum(len(c.source_index) for _, c in iter_chunks(src, chunk_rows))
        result.update(source_rows=src.n_rows, kept_rows=kept)
    elif mode in ("build", "build-nofimo"):
        from benchmark.deepsea import build_deepsea

        from memelite import fimo  # compile/load numba kernels before timing
        import numpy as np

        fimo({"m": np.full((4, 6), 0.25)}, np.eye(4, dtype=np.uint8)[:, :, None].repeat(10, axis=2)[:1])
        t0 = time.perf_counter()
        manifest = build_deepsea(bundle, out, chunk_rows=chunk_rows, annotate=mode == "build")
        counts = manifest["configs"]["deepsea"]["counts"]
        result.update(source_rows=sum(c["source_rows"] for c in counts.values()),
                      kept_rows=sum(c["kept_rows"] for c in counts.values()),
                      train_source_rows=counts["train"]["source_rows"], train_kept=counts["train"]["kept_rows"],
                      sites=sum(sum(c["putative_sites"].values()) for c in counts.values()))
    elif mode == "whole-file":
        import h5py
        import numpy as np

        t0 = time.perf_counter()
        with h5py.File(bundle / "train.mat", "r") as fh:
            y = np.asarray(fh["traindata"]).T[:, list(LABEL_COLUMNS)]
            x = np.asarray(fh["trainxdata"]).transpose(2, 1, 0)
        keep = y.any(axis=1)
        x = np.ascontiguousarray(x[keep][:, [0, 2, 1, 3], :])
        result.update(source_rows=len(y), kept_rows=int(keep.sum()))
    else:
        raise ValueError(mode)
    result["seconds"] = time.perf_counter() - t0
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _peak_rss_mb() -> float:
    """This process's own peak RSS: VmHWM (ru_maxrss would carry over the parent's peak across fork + exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(mode: str, bundle: Path, out: Path, chunk_rows: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--bundle", str(bundle), "--out", str(out),
           "--chunk-rows", str(chunk_rows)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="rows of the generated train.mat")
    parser.add_argument("--keep", type=float, default=0.2, help="fraction of rows with one of the 12 labels")
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--workdir", help="where to write the bundle (default: a temporary folder, removed after)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--bundle", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, Path(args.bundle), Path(args.out), args.chunk_rows)))
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="deepsea-perf-"))
    try:
        bundle = work / "deepsea_train"
        t = time.perf_counter()
        _generate(bundle, args.rows, args.keep)
        size = (bundle / "train.mat").stat().st_size
        print(f"generated train.mat: {args.rows:,} rows, {size / 1e6:,.0f} MB on disk (gzip chunks), "
              f"keep fraction {args.keep:.0%}, in {time.perf_counter() - t:.1f} s")
        runs = {}
        for mode in ("imports", "read", "build-nofimo", "build", "whole-file"):
            out = work / f"repo-{mode}"
            runs[mode] = r = _run_child(mode, bundle, out, args.chunk_rows)
            rate = f"{r['source_rows'] / r['seconds']:>9,.0f} source rows/s" if "source_rows" in r else " " * 24
            kept = f"{r['kept_rows']:>8,} kept" if "kept_rows" in r else ""
            print(f"  {mode:<13} {r['seconds']:7.2f} s  {rate}  peak RSS {r['peak_rss_mb']:7.0f} MB  {kept}")
            shutil.rmtree(out, ignore_errors=True)

        b, nb, rd = runs["build"], runs["build-nofimo"], runs["read"]
        floor = runs["imports"]["peak_rss_mb"]
        fimo_per_kept = (b["seconds"] - nb["seconds"]) / b["kept_rows"]
        read_per_source = rd["seconds"] / rd["source_rows"]
        rest_per_kept = max(nb["seconds"] - rd["seconds"], 0.0) / nb["kept_rows"]
        print(f"\nFIMO adds {b['seconds'] - nb['seconds']:.2f} s ({fimo_per_kept * 1e6:.0f} us per kept row, "
              f"{b['sites']:,} putative sites).\nThe build peaks at {b['peak_rss_mb']:.0f} MB, of which "
              f"{floor:.0f} MB is the libraries it loads: the stream itself holds {b['peak_rss_mb'] - floor:.0f} MB "
              f"at --chunk-rows {args.chunk_rows:,}.\nThe whole-file read peaks at {runs['whole-file']['peak_rss_mb']:.0f} MB "
              f"without numba/memelite loaded, and grows with N.")
        projected = (REAL_TRAIN_ROWS * read_per_source
                     + REAL_TRAIN_KEPT * (rest_per_kept + fimo_per_kept))
        print(f"projection for the real train.mat ({REAL_TRAIN_ROWS:,} rows, {REAL_TRAIN_KEPT:,} kept): "
              f"read {REAL_TRAIN_ROWS * read_per_source / 60:.1f} min + rows/parquet "
              f"{REAL_TRAIN_KEPT * rest_per_kept / 60:.1f} min + FIMO {REAL_TRAIN_KEPT * fimo_per_kept / 60:.1f} min "
              f"= {projected / 60:.1f} min; the whole-file alternative would need "
              f"{REAL_TRAIN_ROWS * (4000 + 12) / 1e9:.1f} GB for the arrays alone")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
