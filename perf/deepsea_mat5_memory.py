"""Peak memory and time of reading a classic v5 ``test.mat``: the streaming reader vs ``scipy.io.loadmat``.

Writes a ``test.mat`` in the real layout (``testxdata`` (N, 4, 1000) uint8 one-hot,
``testdata`` (N, 919) uint8) twice: uncompressed, and zlib-compressed as MATLAB's
default ``save`` (v7) and ``savemat(do_compression=True)`` write it. Two label
matrices: ``testdata`` with the real test.mat's keep fraction (23,768 of
455,024 rows = 5.2% carry one of the 12 labels) and ``testdataall`` where every
row is kept (the worst case: 100% of the sequences must come out, so the
compressed array needs several passes of ``_PASS_BYTES``).

Each measurement runs in its own child process (peak RSS = the child's VmHWM):

- ``floor``: the interpreter plus numpy, scipy.io and the builder's reader modules;
- ``loadmat``: the previous reader: ``loadmat`` the label matrix, take the 12
  columns, ``loadmat`` the sequence array, keep the kept rows, reorder channels
  per slice (what ``benchmark.deepsea_source`` did before the streaming reader);
- ``stream``: ``iter_chunks`` over the file with the streaming reader (the same rows out);
- ``stream, no madvise``: the same without dropping mapped pages after each block
  (uncompressed only), to show why the reader does.

Run: ``python perf/deepsea_mat5_memory.py [--rows 100000] [--chunk-rows 20000]``
(about 1 - 2 minutes, mostly writing the compressed file).
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # fixtures (corpus, seed, bundles) live with the tests

REAL_TEST_ROWS, REAL_TEST_KEPT = 455_024, 23_768


def _generate(path: Path, rows: int, compress: bool, seed: int = 0) -> None:
    import numpy as np
    import scipy.io

    from benchmark.deepsea_source import LABEL_COLUMNS
    from deepsea_fixtures import deepsea_one_hot

    rng = np.random.default_rng(seed)
    x = np.empty((rows, 4, 1000), np.uint8)
    for i in range(0, rows, 10_000):
        x[i:i + 10_000] = deepsea_one_hot(rng.integers(0, 4, size=(min(10_000, rows - i), 1000), dtype=np.uint8))
    y = (rng.random((rows, 919)) < 0.02).astype(np.uint8)
    y[:, list(LABEL_COLUMNS)] = 0
    hit = np.flatnonzero(rng.random(rows) < REAL_TEST_KEPT / REAL_TEST_ROWS)
    y[hit, np.asarray(LABEL_COLUMNS)[rng.integers(0, 12, hit.size)]] = 1
    yall = y.copy()
    yall[:, LABEL_COLUMNS[0]] = 1
    scipy.io.savemat(path, {"testxdata": x, "testdata": y, "testdataall": yall}, do_compression=compress)


def _loadmat_chunks(src, chunk_rows: int):
    """The previous reader, kept here as the alternative: whole variables through scipy.io.loadmat."""
    import numpy as np
    import scipy.io

    from benchmark.deepsea_source import LABEL_COLUMNS, agct_to_acgt, select_labels

    sf, path = src.file, src.path
    y = scipy.io.loadmat(path, variable_names=[sf.y_key])[sf.y_key]
    keep, labels = select_labels(np.asarray(y[:, list(LABEL_COLUMNS)]), path, sf.y_key)
    del y
    kept = np.flatnonzero(keep)
    x = scipy.io.loadmat(path, variable_names=[sf.x_key])[sf.x_key][kept]
    for lo in range(0, src.n_rows, chunk_rows):
        i, j = np.searchsorted(kept, [lo, min(lo + chunk_rows, src.n_rows)])
        if i < j:
            yield agct_to_acgt(x[i:j], path, sf.x_key, kept[i:j])[0]


def _child(mode: str, path: Path, y_key: str, rows: int, chunk_rows: int) -> dict:
    import hashlib

    import scipy.io  # noqa: F401

    import benchmark.deepsea_mat5  # noqa: F401
    from benchmark.deepsea_source import SourceSplit, SplitFile, iter_chunks

    src = SourceSplit(SplitFile("test", "test.mat", "testxdata", y_key, hdf5=False), path, rows)
    result: dict = {"mode": mode}
    t0 = time.perf_counter()
    digest, kept = hashlib.sha256(), 0
    if mode == "floor":
        pass
    elif mode == "loadmat":
        for onehot in _loadmat_chunks(src, chunk_rows):
            digest.update(onehot.tobytes())
            kept += len(onehot)
    elif mode in ("stream", "stream-no-madvise"):
        if mode == "stream-no-madvise":
            import mmap

            del mmap.MADV_DONTNEED
        for _, chunk in iter_chunks(src, chunk_rows):
            digest.update(chunk.onehot.tobytes())
            kept += len(chunk.onehot)
    else:
        raise ValueError(mode)
    result.update(seconds=time.perf_counter() - t0, peak_rss_mb=_peak_rss_mb(), kept=kept,
                  sha256=digest.hexdigest()[:16])
    return result


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def _run_child(mode: str, path: Path, y_key: str, rows: int, chunk_rows: int) -> dict:
    cmd = [sys.executable, __file__, "--child", mode, "--path", str(path), "--y-key", y_key,
           "--rows", str(rows), "--chunk-rows", str(chunk_rows)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the generated test.mat")
    parser.add_argument("--chunk-rows", type=int, default=20_000)
    parser.add_argument("--workdir", help="where to write the files (kept and reused by later runs with the same "
                        "--rows; default: a temporary folder, removed after)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--y-key", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, Path(args.path), args.y_key, args.rows, args.chunk_rows)))
        return

    work = Path(args.workdir or tempfile.mkdtemp(prefix="deepsea-mat5-perf-"))
    try:
        files = {}
        for compress in (False, True):
            path = work / ("test-zlib.mat" if compress else "test-plain.mat")
            t = time.perf_counter()
            stamp = path.with_suffix(".rows")
            if not (path.exists() and stamp.exists() and stamp.read_text() == str(args.rows)):  # reuse a --workdir
                _generate(path, args.rows, compress)
                stamp.write_text(str(args.rows))
            files[compress] = path
            print(f"{path.name}: {args.rows:,} rows, {path.stat().st_size / 1e6:,.0f} MB "
                  f"({'zlib-compressed' if compress else 'uncompressed'}) in {time.perf_counter() - t:.1f} s")
        floor = _run_child("floor", files[False], "testdata", args.rows, args.chunk_rows)["peak_rss_mb"]
        print(f"floor (interpreter + numpy + scipy.io + reader modules): {floor:.0f} MB\n")
        print(f"{'file':<6} {'kept':<6} {'reader':<18} {'time':>7} {'peak RSS':>9} {'above floor':>12}  output")
        for compress, path in files.items():
            for y_key, label in (("testdata", "5.2%"), ("testdataall", "100%")):
                modes = ["loadmat", "stream"] + (["stream-no-madvise"] if not compress and y_key == "testdata" else [])
                digests = set()
                for mode in modes:
                    r = _run_child(mode, path, y_key, args.rows, args.chunk_rows)
                    digests.add(r["sha256"])
                    print(f"{'zlib' if compress else 'plain':<6} {label:<6} {mode:<18} {r['seconds']:6.2f}s "
                          f"{r['peak_rss_mb']:7.0f} MB {r['peak_rss_mb'] - floor:9.0f} MB  "
                          f"{r['kept']:,} rows sha256 {r['sha256']}")
                assert len(digests) == 1, "the readers disagree"
        print(f"\nloadmat holds the whole sequence array ({args.rows * 4000 / 1e6:,.0f} MB here, "
              f"{REAL_TEST_ROWS * 4000 / 1e9:.2f} GB for the real test.mat); the stream holds the kept rows of one "
              f"slice (uncompressed) or of one pass (compressed, at most _PASS_BYTES) plus one 16 MB block.")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
