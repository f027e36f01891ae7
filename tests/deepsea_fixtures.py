"""Writers of DeepSEA bundle files in the exact upstream layout, for tests and perf scripts.

Test fixtures, not product code: ``train.mat`` (MATLAB -v7.3, HDF5 behind a
512-byte header), ``valid.mat`` / ``test.mat`` (MATLAB 5) and the bundle
folder, so the builder can be exercised on small hand-made data.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from benchmark.deepsea_source import (
    AGCT_TO_ACGT,
    MATLAB_USERBLOCK,
    N_TASKS,
    SEQUENCE_LENGTH,
)


def _matlab_header(text: str = "MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Thu Jan  1 00:00:00 2015 "
                                "HDF5 schema 1.00 .") -> bytes:
    head = text.encode("ascii")[:116].ljust(116, b" ")
    return (head + b" " * 8 + (0x0200).to_bytes(2, "little") + b"IM").ljust(MATLAB_USERBLOCK, b"\0")


def write_train_mat(path: str | Path, x: np.ndarray | None = None, y: np.ndarray | None = None,
                    n: int | None = None, chunk_rows: int = 10_000,
                    batches: Iterator[tuple[np.ndarray, np.ndarray]] | None = None) -> Path:
    """Write ``train.mat`` as MATLAB -v7.3 does: HDF5 behind a 512-byte MATLAB header.

    Parameters
    ----------
    x: shape=(N, 4, 1000), one-hot A,G,C,T (DeepSEA order); stored as h5py shape (1000, 4, N).
    y: shape=(N, 919), 0/1 labels; stored as h5py shape (919, N).
    n, batches: instead of ``x``/``y``, the total N and an iterator of ``(x, y)``
        slices in the same layout, for files larger than memory.
    """
    import h5py

    path = Path(path)
    if batches is None:
        if x is None or y is None:
            raise ValueError("pass x and y, or n and batches")
        n = x.shape[0]
        batches = ((x[i : i + chunk_rows], y[i : i + chunk_rows]) for i in range(0, n, chunk_rows))
    with h5py.File(path, "w", userblock_size=MATLAB_USERBLOCK, libver="earliest") as fh:
        xds = fh.create_dataset("trainxdata", shape=(SEQUENCE_LENGTH, 4, n), dtype=np.uint8,
                                chunks=(SEQUENCE_LENGTH, 4, min(n, 64)) if n else None, compression="gzip",
                                compression_opts=3)
        yds = fh.create_dataset("traindata", shape=(N_TASKS, n), dtype=np.uint8,
                                chunks=(N_TASKS, min(n, 1024)) if n else None, compression="gzip",
                                compression_opts=3)
        for ds in (xds, yds):
            ds.attrs["MATLAB_class"] = np.bytes_(b"uint8")
        at = 0
        for bx, by in batches:
            k = bx.shape[0]
            xds[:, :, at : at + k] = np.asarray(bx, np.uint8).transpose(2, 1, 0)
            yds[:, at : at + k] = np.asarray(by, np.uint8).T
            at += k
        if at != n:
            raise ValueError(f"batches held {at} rows, expected {n}")
    with open(path, "r+b") as fh:
        fh.write(_matlab_header())
    return path


def write_classic_mat(path: str | Path, stem: str, x: np.ndarray, y: np.ndarray, compress: bool = False) -> Path:
    """Write ``valid.mat`` / ``test.mat`` as classic MATLAB v5: ``{stem}xdata`` (N, 4, 1000), ``{stem}data`` (N, 919)."""
    import scipy.io

    path = Path(path)
    scipy.io.savemat(path, {f"{stem}xdata": np.asarray(x, np.uint8), f"{stem}data": np.asarray(y, np.uint8)},
                     do_compression=compress)
    return path


def deepsea_one_hot(codes: np.ndarray) -> np.ndarray:
    """Letter codes (0..3 = A,C,G,T, 4 = N), shape=(n, L) -> DeepSEA one-hot, uint8 shape=(n, 4, L), A,G,C,T."""
    codes = np.asarray(codes)
    n, length = codes.shape
    x = np.zeros((n, 4, length), dtype=np.uint8)
    rows, cols = np.nonzero(codes < 4)
    x[rows, np.asarray(AGCT_TO_ACGT)[codes[rows, cols]], cols] = 1  # the permutation is its own inverse
    return x


def write_bundle(folder: str | Path, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray],
                 test: tuple[np.ndarray, np.ndarray], compress_classic: bool = False) -> Path:
    """Write ``train.mat``, ``valid.mat`` and ``test.mat`` in the bundle's layout from ``(x (N, 4, 1000) A,G,C,T, y (N, 919))``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_train_mat(folder / "train.mat", *train)
    write_classic_mat(folder / "valid.mat", "valid", *validation, compress=compress_classic)
    write_classic_mat(folder / "test.mat", "test", *test, compress=compress_classic)
    return folder
