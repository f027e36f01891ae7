"""Reading the DeepSEA training bundle (``deepsea_train/``) in bounded chunks.

The bundle (Zhou & Troyanskaya 2015) holds three MATLAB files, each with a
one-hot sequence array and a 919-column label matrix (REFERENCE.md section 3):

================  ======================  =====================  ==================
file              format                  sequences (as read)    labels (as read)
================  ======================  =====================  ==================
``train.mat``     MATLAB v7.3 = HDF5      ``trainxdata``         ``traindata``
                  (512-byte MATLAB         (1000, 4, N) via h5py  (919, N) via h5py
                  header userblock)
``valid.mat``     classic MATLAB v5       ``validxdata``         ``validdata``
                                          (N, 4, 1000)           (N, 919)
``test.mat``      classic MATLAB v5       ``testxdata``          ``testdata``
                                          (N, 4, 1000)           (N, 919)
================  ======================  =====================  ==================

Channels are A,G,C,T (DeepSEA's order); an all-zero column is an N.
``train.mat`` (4.4 M rows, several GB) is read with h5py one slice of
``chunk_rows`` source rows at a time, labels first, so the sequences of a
slice with no kept row are never read. ``valid.mat`` / ``test.mat`` are
streamed by :mod:`benchmark.deepsea_mat5` (the 12 label columns, then the kept
rows of the sequences; memory-mapped when stored uncompressed, inflated in
bounded blocks when compressed), never loaded whole.

Everything is validated before the first row is written (:func:`inspect_bundle`),
and any read error later on is re-raised as a :class:`DatasetError` naming the
file, so a bad bundle never leaves a half-written dataset behind.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from benchmark.errors import DatasetError
from benchmark.datasets import DATASET_CONFIGS

#: DeepSEA label columns (0-based) of the 12 classes, in the class order of REFERENCE.md section 1.
LABEL_COLUMNS: tuple[int, ...] = (592, 602, 344, 345, 635, 636, 349, 642, 359, 361, 661, 369)
#: DeepSEA's name of each of those columns (all K562), and its treatment.
DEEPSEA_NAMES: tuple[str, ...] = (
    "ARID3A", "CEBPB", "FOSL1", "GABP", "MafK", "Max", "MEF2A", "NF-YB", "SP1", "SRF", "STAT1", "YY1",
)
TREATMENTS: tuple[str | None, ...] = (None,) * 10 + ("IFNa30", None)
CELL_TYPE = "K562"
N_TASKS = 919
SEQUENCE_LENGTH = DATASET_CONFIGS["deepsea"].length
#: DeepSEA's A,G,C,T channels -> motifbench's A,C,G,T.
AGCT_TO_ACGT: tuple[int, ...] = (0, 2, 1, 3)
#: The byte MATLAB v7.3 files reserve before the HDF5 superblock (the "userblock").
MATLAB_USERBLOCK = 512
#: Most source columns of trainxdata read at once (16 MB of uint8): bounds the read buffer.
_X_BLOCK = 4096
#: Most bytes of kept sequences gathered by one pass over a compressed classic (v5) sequence array.
_PASS_BYTES = 128 << 20
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SplitFile:
    """One file of the bundle: which split it feeds, its variable names and its layout."""

    split: str
    name: str
    x_key: str
    y_key: str
    hdf5: bool

    @property
    def stem(self) -> str:
        return self.name.removesuffix(".mat")


#: The bundle's files, in the dataset's split order (DeepSEA's own split is kept).
SPLIT_FILES: tuple[SplitFile, ...] = (
    SplitFile("train", "train.mat", "trainxdata", "traindata", hdf5=True),
    SplitFile("validation", "valid.mat", "validxdata", "validdata", hdf5=False),
    SplitFile("test", "test.mat", "testxdata", "testdata", hdf5=False),
)


@dataclass(frozen=True)
class SourceSplit:
    """A validated bundle file: its path, its number of source rows and how its variables are stored."""

    file: SplitFile
    path: Path
    n_rows: int
    storage: str = ""

    @property
    def split(self) -> str:
        return self.file.split


class SourceChunk(NamedTuple):
    """The kept rows of one slice of a bundle file.

    Attributes
    ----------
    source_index: int64, shape=(k,): row of each kept sequence in its .mat file.
    onehot: uint8, shape=(k, 4, 1000): A,C,G,T channel-first, N all zeros (what FIMO scans).
    codes: uint8, shape=(k, 1000): 0..3 = A,C,G,T, 4 = N (what the sequence strings are made of).
    labels: int8, shape=(k, 12): the 12 DeepSEA columns in class order.
    """

    source_index: np.ndarray
    onehot: np.ndarray
    codes: np.ndarray
    labels: np.ndarray


# ----------------------------------------------------------------------------------------------
# validation before anything is read


def _h5_datasets(path: Path, keys: tuple[str, str]) -> dict[str, tuple[tuple[int, ...], str]]:
    import h5py

    if not h5py.is_hdf5(path):
        raise DatasetError(
            f"{path}: not a MATLAB v7.3 (HDF5) file; expected train.mat as saved by MATLAB -v7.3 "
            "(HDF5 with a 512-byte MATLAB header), holding trainxdata and traindata"
        )
    try:
        with h5py.File(path, "r") as fh:
            found = {}
            for key in keys:
                if key not in fh or not isinstance(fh[key], h5py.Dataset):
                    raise DatasetError(f"{path}: no dataset {key!r}; expected {list(keys)}, found {sorted(fh.keys())}")
                found[key] = (tuple(fh[key].shape), str(fh[key].dtype))
            return found
    except OSError as exc:
        raise DatasetError(f"{path}: cannot open as HDF5 ({exc}); the file looks truncated or corrupt") from exc


def _mat5_variables(path: Path, sf: SplitFile) -> dict[str, tuple[tuple[int, ...], str, str]]:
    """name -> (MATLAB dimensions, class, how it is stored) of every variable, no data read.

    Also refuses, before anything is written, sequences that are not a dense real
    numeric array and labels that are neither that nor a real sparse matrix.
    """
    from benchmark.deepsea_mat5 import Mat5File

    with Mat5File(path) as mat:
        found = {v.name: v for v in mat.variables.values()}
    for key, sparse_ok in ((sf.x_key, False), (sf.y_key, True)):
        v = found.get(key)
        if v is None:
            continue
        if v.complex or (v.sparse and not sparse_ok) or (not v.sparse and v.dtype is None):
            kind = "complex" if v.complex else ("sparse" if v.sparse else f"a MATLAB {v.mclass}")
            raise DatasetError(f"{path}: {key} is {kind}; expected a real numeric 0/1 array"
                               + (" (dense or sparse)" if sparse_ok else " (dense)"))
    return {v.name: (v.shape, v.mclass, ("sparse" if v.sparse else f"{v.mclass} stored as {v.dtype}")
                     + (", zlib-compressed" if v.compressed else ", uncompressed"))
            for v in found.values()}


def _check_shapes(path: Path, sf: SplitFile, x_shape: tuple[int, ...], y_shape: tuple[int, ...]) -> int:
    if sf.hdf5:
        x_expected, y_expected = "(1000, 4, N)", "(919, N)"
        ok_x = len(x_shape) == 3 and x_shape[:2] == (SEQUENCE_LENGTH, 4)
        ok_y = len(y_shape) == 2 and y_shape[0] == N_TASKS
        n_x, n_y = (x_shape[2] if ok_x else None), (y_shape[1] if ok_y else None)
        how = "as h5py shows MATLAB v7.3 arrays"
    else:
        x_expected, y_expected = "(N, 4, 1000)", "(N, 919)"
        ok_x = len(x_shape) == 3 and x_shape[1:] == (4, SEQUENCE_LENGTH)
        ok_y = len(y_shape) == 2 and y_shape[1] == N_TASKS
        n_x, n_y = (x_shape[0] if ok_x else None), (y_shape[0] if ok_y else None)
        how = "(MATLAB's dimensions, as scipy.io.loadmat shows them)"
    if not ok_x:
        raise DatasetError(f"{path}: {sf.x_key} has shape {x_shape}, expected {x_expected} {how} "
                           "(one-hot A,G,C,T, 1000 nt)")
    if not ok_y:
        width = y_shape[0] if sf.hdf5 and len(y_shape) == 2 else (y_shape[-1] if y_shape else None)
        raise DatasetError(f"{path}: {sf.y_key} has shape {y_shape}, expected {y_expected} {how}: "
                           f"DeepSEA's {N_TASKS} label columns (found {width})")
    if n_x != n_y:
        raise DatasetError(f"{path}: {sf.x_key} has {n_x:,} sequences but {sf.y_key} has {n_y:,} label rows; "
                           "expected the same N")
    return int(n_x)


def inspect_bundle(folder: str | Path) -> dict[str, SourceSplit]:
    """Check the bundle's files, keys, shapes and row counts without reading any data.

    Returns split name -> :class:`SourceSplit`. Raises :class:`DatasetError`
    naming the file and what was expected for a missing file, a missing key,
    a wrong shape or label width, mismatched N, or a file that cannot be opened.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; expected the unpacked deepsea_train/ folder "
                           "(train.mat, valid.mat, test.mat) or its .tar.gz")
    sources = {}
    for sf in SPLIT_FILES:
        path = folder / sf.name
        if not path.is_file():
            raise DatasetError(f"{path}: missing; the DeepSEA bundle folder must hold "
                               f"{', '.join(s.name for s in SPLIT_FILES)}")
        found = _h5_datasets(path, (sf.x_key, sf.y_key)) if sf.hdf5 else _mat5_variables(path, sf)
        for key in (sf.x_key, sf.y_key):
            if key not in found:
                raise DatasetError(f"{path}: no variable {key!r}; expected {sf.x_key} and {sf.y_key}, "
                                   f"found {sorted(found)}")
        n = _check_shapes(path, sf, found[sf.x_key][0], found[sf.y_key][0])
        storage = "" if sf.hdf5 else f"{sf.x_key}: {found[sf.x_key][2]}; {sf.y_key}: {found[sf.y_key][2]}"
        sources[sf.split] = SourceSplit(sf, path, n, storage)
    return sources


# ----------------------------------------------------------------------------------------------
# turning raw slices into kept rows


def _binary(values: np.ndarray, path: Path, what: str) -> np.ndarray:
    """``values`` as uint8 after checking it holds only 0 and 1 (MATLAB logical, uint8 or double)."""
    if values.dtype == np.bool_:
        return values.view(np.uint8)
    if values.dtype == np.uint8:  # MATLAB logical / uint8, the bundle's own dtype: one cheap pass
        if values.size == 0 or values.max() <= 1:
            return values
    ok = np.isin(values, (0, 1))
    if not ok.all():
        bad = values[~ok][0].item()
        raise DatasetError(f"{path}: {what} holds the value {bad!r}; expected only 0 and 1")
    return values.astype(np.uint8, copy=False)


def select_labels(y12: np.ndarray, path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """The keep rule: a row is kept iff at least one of the 12 columns is 1.

    Parameters
    ----------
    y12: shape=(n, 12): the 12 DeepSEA columns of n source rows, in class order.

    Returns
    -------
    keep: bool, shape=(n,); labels: int8, shape=(k, 12) of the kept rows.
    """
    y12 = _binary(y12, path, f"{key} (the 12 label columns used)")
    keep = y12.any(axis=1)
    return keep, y12[keep].astype(np.int8)


def agct_to_acgt(x: np.ndarray, path: Path, key: str, source_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeepSEA one-hot (A,G,C,T) -> motifbench one-hot (A,C,G,T) and letter codes.

    Parameters
    ----------
    x: shape=(k, 4, 1000), channels A,G,C,T; a column is one-hot or all zero (N).
    source_rows: shape=(k,): the rows' indices in the file (for error messages).

    Returns
    -------
    onehot: uint8, shape=(k, 4, 1000), channels A,C,G,T; codes: uint8, shape=(k, 1000), 4 = N.
    """
    x = _binary(x, path, key)
    onehot = np.ascontiguousarray(x[:, AGCT_TO_ACGT, :])
    per_column = onehot.sum(axis=1, dtype=np.uint8)
    if np.any(per_column > 1):
        row, col = (int(v[0]) for v in np.nonzero(per_column > 1))
        raise DatasetError(f"{path}: {key} row {int(source_rows[row])} position {col} sets more than one channel; "
                           "expected one-hot columns (or all zeros for N)")
    codes = onehot[:, 1] + 2 * onehot[:, 2] + 3 * onehot[:, 3]  # the set channel's index (A = 0)
    codes[per_column == 0] = 4
    return onehot, codes


# ----------------------------------------------------------------------------------------------
# chunked readers


def _iter_hdf5(src: SourceSplit, chunk_rows: int) -> Iterator[tuple[int, SourceChunk]]:
    import h5py

    sf, path = src.file, src.path
    cols = np.asarray(LABEL_COLUMNS)
    # a chunk cache larger than h5py's 1 MB default, so an HDF5 chunk that straddles two reads of a
    # large file is not decompressed twice (64 MB measured ~110 MB more RSS for no gain on 256 kB chunks)
    with h5py.File(path, "r", rdcc_nbytes=16 << 20) as fh:
        xds, yds = fh[sf.x_key], fh[sf.y_key]
        for lo in range(0, src.n_rows, chunk_rows):
            hi = min(lo + chunk_rows, src.n_rows)
            try:
                y12 = yds[:, lo:hi][cols].T  # (919, n) -> the 12 columns, (n, 12)
            except (OSError, ValueError, RuntimeError) as exc:
                raise DatasetError(f"{path}: cannot read {sf.y_key}[:, {lo}:{hi}] ({exc}); "
                                   "the file looks truncated or corrupt") from exc
            keep, labels = select_labels(y12, path, sf.y_key)
            kept = np.flatnonzero(keep)
            if kept.size == 0:
                yield hi - lo, _empty_chunk()
                continue
            rows = lo + kept.astype(np.int64)
            x = _read_kept_columns(xds, rows, path, sf.x_key)
            onehot, codes = agct_to_acgt(x, path, sf.x_key, rows)
            yield hi - lo, SourceChunk(rows, onehot, codes, labels)


def _read_kept_columns(xds, rows: np.ndarray, path: Path, key: str) -> np.ndarray:
    """Sequences of ``rows`` (sorted) from an h5py dataset of shape (1000, 4, N) -> (k, 4, 1000).

    Reads the span from the first to the last kept row in blocks of at most
    ``_X_BLOCK`` columns and keeps only the wanted ones, so the transient
    buffer is 4 kB x ``_X_BLOCK`` whatever ``chunk_rows`` is.
    """
    parts = []
    start = int(rows[0])
    while start <= rows[-1]:
        stop = min(start + _X_BLOCK, int(rows[-1]) + 1)
        i, j = np.searchsorted(rows, [start, stop])
        if i < j:
            try:
                block = xds[:, :, start:stop]  # (1000, 4, stop - start)
            except (OSError, ValueError, RuntimeError) as exc:
                raise DatasetError(f"{path}: cannot read {key}[:, :, {start}:{stop}] ({exc}); "
                                   "the file looks truncated or corrupt") from exc
            parts.append(block[:, :, rows[i:j] - start].transpose(2, 1, 0))
        start = stop if j >= len(rows) else max(stop, int(rows[j]))
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


def _iter_mat5(src: SourceSplit, chunk_rows: int) -> Iterator[tuple[int, SourceChunk]]:
    """Slices of a classic v5 file, streamed with :class:`~benchmark.deepsea_mat5.Mat5File`.

    The 12 label columns are read first (12 contiguous runs of the column-major
    label matrix, or those columns of a sparse one). Sequences: MATLAB stores
    (N, 4, 1000) column-major, so one row is spread over the whole array. An
    uncompressed array is memory-mapped and read one slice of ``chunk_rows``
    source rows at a time (its kept rows only). A compressed one can only be
    inflated front to back, so each pass over it gathers the kept rows of as many
    consecutive slices as fit ``_PASS_BYTES`` (128 MB; at least one slice): one pass
    for the real test.mat (23,768 kept rows, 95 MB), more passes, each inflating the
    whole variable again, only when the kept rows would not fit.
    """
    from benchmark.deepsea_mat5 import Mat5File

    sf, path = src.file, src.path
    with Mat5File(path) as mat:
        try:
            y12 = mat.read_columns(sf.y_key, LABEL_COLUMNS)
            keep, labels = select_labels(y12, path, sf.y_key)
            del y12
            kept = np.flatnonzero(keep).astype(np.int64)
            xvar = mat.variable(sf.x_key)
            bounds = [(lo, min(lo + chunk_rows, src.n_rows)) for lo in range(0, src.n_rows, chunk_rows)]
            cuts = np.searchsorted(kept, [lo for lo, _ in bounds] + [src.n_rows])  # kept rows before each slice
            row_bytes = SEQUENCE_LENGTH * 4 * (xvar.dtype.itemsize if xvar.dtype is not None else 8)
            per_pass = max(1, _PASS_BYTES // row_bytes) if xvar.compressed else 1
            groups, first = [], 0
            for c in range(1, len(bounds) + 1):  # consecutive slices whose kept rows fit one pass
                if c == len(bounds) or cuts[c + 1] - cuts[first] > per_pass:
                    groups.append((first, c))
                    first = c
            if xvar.compressed and len(kept):
                _log.info("%s: %s is compressed: %d pass(es) over it for %d kept rows", path, sf.x_key,
                          len([g for g in groups if cuts[g[1]] > cuts[g[0]]]), len(kept))
            for g0, g1 in groups:
                i, j = int(cuts[g0]), int(cuts[g1])
                x = mat.read_rows(sf.x_key, kept[i:j]) if i < j else None
                for c in range(g0, g1):
                    (lo, hi), a, b = bounds[c], int(cuts[c]), int(cuts[c + 1])
                    if a == b:
                        yield hi - lo, _empty_chunk()
                        continue
                    onehot, codes = agct_to_acgt(x[a - i:b - i], path, sf.x_key, kept[a:b])
                    yield hi - lo, SourceChunk(kept[a:b], onehot, codes, labels[a:b])
                del x
        except (OSError, ValueError, MemoryError) as exc:
            raise DatasetError(f"{path}: cannot read {sf.x_key} / {sf.y_key} ({exc}); "
                               "the file looks truncated or corrupt") from exc


def _empty_chunk() -> SourceChunk:
    return SourceChunk(np.zeros(0, np.int64), np.zeros((0, 4, SEQUENCE_LENGTH), np.uint8),
                       np.zeros((0, SEQUENCE_LENGTH), np.uint8), np.zeros((0, 12), np.int8))


def iter_chunks(src: SourceSplit, chunk_rows: int = 20_000) -> Iterator[tuple[int, SourceChunk]]:
    """Yield ``(source rows scanned, kept rows)`` for consecutive slices of ``chunk_rows`` source rows.

    Rows come out in source order. A slice with no kept row yields an empty
    chunk, so a progress bar can still advance.
    """
    if chunk_rows < 1:
        raise DatasetError(f"--chunk-rows must be at least 1 (got {chunk_rows})")
    reader = _iter_hdf5 if src.file.hdf5 else _iter_mat5
    yield from reader(src, chunk_rows)
