"""Build and load figures for the synthetic dataset, each against the obvious alternative.

Prints:
- generator throughput: koo2019 (faithful, per-sequence loop) vs fast (vectorised);
- full build time (generate + parquet + card) for the 25,000-sequence set;
- load-to-one-hot time for the train split: motifbench's pyarrow loader vs
  `datasets.load_dataset(...).with_format("numpy")`, the obvious way.

Run: python perf/dataset_speed.py
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np


def timed(fn, repeat: int = 3):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    from benchmark.generator import generate_fast, generate_koo2019
    from benchmark.loader import load_split
    from benchmark.motifs import load_motif_set
    from benchmark.synthetic import build_synthetic

    entries = load_motif_set().generator_entries()
    t_koo, _ = timed(lambda: generate_koo2019(entries, n=25_000), repeat=2)
    t_fast, _ = timed(lambda: generate_fast(entries, n=25_000, seed=0))
    t_fast_1m, _ = timed(lambda: generate_fast(entries, n=1_000_000, seed=0), repeat=1)
    print("generator (25,000 x 200 nt)")
    print(f"  koo2019 (faithful loop) : {t_koo:7.3f} s  {25_000 / t_koo:12,.0f} seq/s")
    print(f"  fast (vectorised)       : {t_fast:7.3f} s  {25_000 / t_fast:12,.0f} seq/s  ({t_koo / t_fast:.0f}x)")
    print(f"  fast, 1,000,000 seqs    : {t_fast_1m:7.3f} s  {1_000_000 / t_fast_1m:12,.0f} seq/s")

    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "motifbench"
        t_build, _ = timed(lambda: build_synthetic(repo), repeat=2)
        print(f"full build, koo2019 25,000 seqs -> parquet + manifest + card: {t_build:.2f} s")

        t_ours, ours = timed(lambda: load_split(repo, "synthetic", "train"))

        def via_datasets():
            from datasets import load_dataset

            ds = load_dataset(str(repo), "synthetic", split="train").with_format("numpy")
            seqs = ds["sequence"]
            lut = np.zeros(256, dtype=np.int64)
            lut[np.frombuffer(b"ACGT", np.uint8)] = np.arange(4)
            codes = lut[np.frombuffer("".join(seqs).encode(), np.uint8).reshape(len(seqs), -1)]
            x = np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1)
            y = np.asarray(ds["labels"], dtype=np.float32)
            motifs = ds.with_format(None)["motifs"]
            mask = np.zeros(codes.shape, bool)
            for i, ms in enumerate(motifs):
                for m in ms:
                    mask[i, m["start"] : m["end"]] = True
            return x, y, mask

        t_hf, (x, y, mask) = timed(via_datasets)
        assert np.array_equal(x, ours.x) and np.array_equal(y, ours.y) and np.array_equal(mask, ours.mask)
        print("load train split (17,500) to one-hot x, labels y, ground-truth mask")
        print(f"  motifbench loader (pyarrow, column-wise) : {t_ours:6.3f} s")
        print(f"  datasets.load_dataset + with_format      : {t_hf:6.3f} s  ({t_hf / t_ours:.1f}x slower)")


if __name__ == "__main__":
    main()
