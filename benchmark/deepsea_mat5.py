"""A streaming reader for classic MATLAB v5 ``.mat`` files (DeepSEA's ``valid.mat`` / ``test.mat``).

``scipy.io.loadmat`` reads a variable whole: the real ``test.mat`` holds
``testxdata`` (455,024 x 4 x 1000, 1.8 GB as uint8) and ``testdata``
(455,024 x 919), of which the builder needs 23,768 rows and 12 columns.
This module reads only what is asked for, in bounded blocks:

- :meth:`Mat5File.read_columns` (labels): a few columns of a 2-D matrix,
  dense or sparse. MATLAB stores arrays column-major, so a column is one
  contiguous run of N values: a seek (or, compressed, a skip) and one read each.
- :meth:`Mat5File.read_rows` (sequences): given rows of an (N, ...) array.
  A row is scattered over the whole array (one value every N), so the array is
  walked once, a block of whole columns at a time, and only the wanted rows
  of each block are kept. Uncompressed data is memory-mapped and the mapped
  pages are dropped after each block (``madvise(MADV_DONTNEED)``), so the
  resident set does not grow with the file; compressed data (``miCOMPRESSED``,
  what MATLAB ``save`` writes by default and ``savemat(do_compression=True)``
  writes) is inflated with ``zlib.decompressobj`` in bounded blocks. Memory:
  the rows returned plus one block (about 16 MB, at least one column).
- :meth:`Mat5File.read`: a whole variable, as ``loadmat`` returns it (tests).

Arrays come back in the type they are stored in, as ``loadmat`` does by
default (``mat_dtype=False``): MATLAB may store a ``double`` 0/1 matrix as
``miUINT8``, and logical arrays are stored as uint8.

The format itself is described in :mod:`benchmark.mat5_format`.
"""
from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from benchmark.errors import DatasetError
from benchmark.mat5_format import (HEADER_BYTES, MI_COMPRESSED, MI_DTYPES, MI_MATRIX, MX_CLASSES, _BytesStream, _ceil8,
                                   _FileStream, _FLAG_COMPLEX, _FLAG_LOGICAL, _InflateStream, _NUMERIC_NAMES, _SPARSE)

#: Bytes of column data handled at once (a block is at least one whole column).
BLOCK_BYTES = 16 << 20
#: What the kernel maps around each page fault of a file mapping (fault-around, 64 kB by default).
_FAULT_AROUND = 64 << 10


# ----------------------------------------------------------------------------------------------
# variables


@dataclass(frozen=True)
class MatVariable:
    """One top-level variable of a v5 file, as found by walking its elements (no data read).

    Attributes
    ----------
    name: the variable name.
    mclass: the class as ``scipy.io.whosmat`` names it (``double``, ``uint8``, ``logical``, ``sparse``, ...;
        a logical sparse matrix is ``logical``, as whosmat has it).
    shape: MATLAB's dimensions, which is also the shape ``loadmat`` gives.
    complex: whether it has an imaginary part (refused by the readers).
    compressed: stored in an ``miCOMPRESSED`` element.
    offset: file offset of the element's tag; nbytes: the element's byte count after its tag.
    sparse: a sparse matrix (ir / jc / pr elements); nzmax: its allocated non-zeros (0 if dense).
    dtype: a dense numeric array's stored type (native byte order), which is what the readers
        return (None for sparse and non-numeric variables).
    """

    name: str
    mclass: str
    shape: tuple[int, ...]
    complex: bool
    compressed: bool
    offset: int
    nbytes: int
    sparse: bool = False
    nzmax: int = 0
    dtype: np.dtype | None = None


@dataclass(frozen=True)
class _Data:
    """Where one numeric data element's values are: a stream positioned at them, their type and count."""

    stream: _Stream
    dtype: np.dtype
    count: int


class Mat5File:
    """A classic MATLAB v5 file, opened for bounded reads of its variables.

    Parameters
    ----------
    path: the ``.mat`` file. Opening reads the header and walks the top-level
        elements (inflating only the first bytes of compressed ones); a file
        that is not classic v5, or whose elements run past its end, is a
        :class:`DatasetError` naming it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._fh = open(self.path, "rb")
        except OSError as exc:
            raise DatasetError(f"{self.path}: cannot open ({exc})") from exc
        self._map: mmap.mmap | None = None
        try:
            self._size = self.path.stat().st_size
            self._bo = self._read_header()
            self.variables: dict[str, MatVariable] = self._walk()
        except BaseException:
            self._fh.close()
            raise

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> Mat5File:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # an array still views it; the mapping goes when that array does
                pass
            self._map = None
        self._fh.close()

    # -- structure -------------------------------------------------------------------------

    def _read_header(self) -> str:
        head = self._fh.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES:
            raise DatasetError(f"{self.path}: {len(head)} bytes, shorter than the 128-byte MATLAB header; "
                               "expected a classic MATLAB v5 .mat file")
        indicator = head[126:128]
        if indicator not in (b"IM", b"MI"):
            raise DatasetError(f"{self.path}: no MATLAB endian indicator ('IM'/'MI') at byte 126; "
                               "expected a classic MATLAB v5 .mat file")
        bo = "<" if indicator == b"IM" else ">"
        version = struct.unpack(bo + "H", head[124:126])[0]
        if version != 0x0100:
            what = "a MATLAB v7.3 (HDF5) file" if version == 0x0200 else f"MAT-file version {version:#06x}"
            raise DatasetError(f"{self.path}: {what}; expected a classic MATLAB v5 .mat file (version 0x0100, "
                               "as save -v7 / -v6 or scipy.io.savemat write it)")
        return bo

    def _walk(self) -> dict[str, MatVariable]:
        found: dict[str, MatVariable] = {}
        pos = HEADER_BYTES
        while pos < self._size:
            if pos + 8 > self._size:
                raise DatasetError(f"{self.path}: {self._size - pos} stray bytes at byte {pos:,}, too few for an "
                                   "element tag; the file looks truncated")
            self._fh.seek(pos)
            mi_type, nbytes = struct.unpack(self._bo + "II", self._fh.read(8))
            end = pos + 8 + nbytes
            if end > self._size:
                raise DatasetError(f"{self.path}: the element at byte {pos:,} needs {nbytes:,} bytes but the file "
                                   f"ends at byte {self._size:,}; the file looks truncated")
            if mi_type in (MI_MATRIX, MI_COMPRESSED):
                compressed = mi_type == MI_COMPRESSED
                stream = self._element_stream(pos, nbytes, compressed)
                var = self._parse_header(stream, pos, nbytes, compressed)
                if not var.sparse and var.mclass in _NUMERIC_NAMES and not var.complex:
                    mi, _, _ = self._tag(stream)
                    if mi in MI_DTYPES:
                        var = replace(var, dtype=np.dtype(MI_DTYPES[mi]).newbyteorder("="))
                found[var.name] = var
            pos = end if mi_type == MI_COMPRESSED else pos + 8 + _ceil8(nbytes)
        return found

    def _element_stream(self, pos: int, nbytes: int, compressed: bool) -> _Stream:
        if compressed:
            return _InflateStream(self._fh, pos + 8, nbytes, str(self.path))
        return _FileStream(self._fh, pos, 8 + nbytes, str(self.path))

    def _tag(self, stream: _Stream) -> tuple[int, int, bytes | None]:
        """(type, byte count, inline data of a small element or None)."""
        raw = stream.read(8)
        first, second = struct.unpack(self._bo + "II", raw)
        if first >> 16:  # small data element: byte count in the upper 16 bits, data in the next 4 bytes
            nbytes = first >> 16
            if nbytes > 4:
                raise DatasetError(f"{self.path}: a small data element claims {nbytes} bytes (at most 4); "
                                   "the file looks corrupt")
            return first & 0xFFFF, nbytes, raw[4:4 + nbytes]
        return first, second, None

    def _element(self, stream: _Stream) -> tuple[int, bytes]:
        """A whole (small) sub-element: (type, data bytes), the stream left after its padding."""
        mi_type, nbytes, inline = self._tag(stream)
        if inline is not None:
            return mi_type, inline
        data = stream.read(nbytes)
        stream.skip(_ceil8(nbytes) - nbytes)
        return mi_type, data

    def _parse_header(self, stream: _Stream, pos: int, nbytes: int, compressed: bool) -> MatVariable:
        """Read a matrix element's tag, array flags, dimensions and name; leave ``stream`` at its data."""
        mi_type, _, _ = self._tag(stream)
        if mi_type != MI_MATRIX:
            raise DatasetError(f"{self.path}: the variable at byte {pos:,} is a data element of type {mi_type}, "
                               "expected miMATRIX (14); the file looks corrupt")
        _, flags = self._element(stream)
        _, dims = self._element(stream)
        _, name = self._element(stream)
        if len(flags) != 8 or not dims or len(dims) % 4:
            raise DatasetError(f"{self.path}: the variable at byte {pos:,} has malformed array flags or "
                               "dimensions; the file looks corrupt")
        word, nzmax = struct.unpack(self._bo + "II", flags)
        cls, bits = word & 0xFF, (word >> 8) & 0xFF
        shape = tuple(int(d) for d in np.frombuffer(dims, self._bo + "i4"))
        mclass = MX_CLASSES.get(cls, f"class {cls}")
        if bits & _FLAG_LOGICAL:
            mclass = "logical"
        return MatVariable(name=name.decode("latin-1"), mclass=mclass, shape=shape,
                           complex=bool(bits & _FLAG_COMPLEX), compressed=compressed, offset=pos, nbytes=nbytes,
                           sparse=cls == _SPARSE, nzmax=int(nzmax) if cls == _SPARSE else 0)

    def variable(self, name: str) -> MatVariable:
        """The variable ``name``; a :class:`DatasetError` naming the file and the variables found if absent."""
        if name not in self.variables:
            raise DatasetError(f"{self.path}: no variable {name!r}; found {sorted(self.variables)}")
        return self.variables[name]

    def _open(self, name: str) -> tuple[MatVariable, _Stream]:
        """The variable and a fresh stream positioned just after its name."""
        var = self.variable(name)
        if var.complex:
            raise DatasetError(f"{self.path}: {name} is complex; expected a real array")
        if not (var.sparse or var.mclass in _NUMERIC_NAMES):
            raise DatasetError(f"{self.path}: {name} is a MATLAB {var.mclass}; expected a numeric, logical "
                               "or sparse array")
        stream = self._element_stream(var.offset, var.nbytes, var.compressed)
        self._parse_header(stream, var.offset, var.nbytes, var.compressed)
        return var, stream

    def _data(self, stream: _Stream, what: str, expected: int | None = None) -> _Data:
        """The next numeric data element: its values' stream, type and count (the stream is left at them)."""
        mi_type, nbytes, inline = self._tag(stream)
        if mi_type not in MI_DTYPES:
            raise DatasetError(f"{self.path}: {what} is stored as data type {mi_type}; expected a numeric "
                               "miXXX type (1-13)")
        dtype = np.dtype(self._bo + MI_DTYPES[mi_type])
        count = nbytes // dtype.itemsize
        if expected is not None and count != expected:
            raise DatasetError(f"{self.path}: {what} holds {count:,} values, expected {expected:,} "
                               "from its dimensions; the file looks corrupt")
        return _Data(_BytesStream(inline) if inline is not None else stream, dtype, count)

    def _finish(self, data: _Data) -> None:
        """Move the stream past the element whose values ``data`` starts at (with padding)."""
        nbytes = data.count * data.dtype.itemsize
        if isinstance(data.stream, _FileStream):
            data.stream.seek(data.stream.tell() + _ceil8(nbytes))
        elif isinstance(data.stream, _InflateStream):
            data.stream.skip(_ceil8(nbytes))

    # -- reading ---------------------------------------------------------------------------

    def read(self, name: str):
        """The whole variable as ``scipy.io.loadmat(path)[name]`` gives it (stored dtype, native byte order).

        Returns an ndarray of the variable's shape, or a ``scipy.sparse.csc_matrix`` for a sparse one.
        Memory: the whole variable (use :meth:`read_rows` / :meth:`read_columns` for large ones).
        """
        var, stream = self._open(name)
        if var.sparse:
            import scipy.sparse

            ir, jc, pr = self._sparse_parts(var, stream, whole=True)
            nnz = int(jc[-1]) if len(jc) else 0
            return scipy.sparse.csc_matrix((pr[:nnz], ir[:nnz], jc), shape=var.shape)
        data = self._data(stream, name, expected=int(np.prod(var.shape)))
        flat = np.frombuffer(data.stream.read(data.count * data.dtype.itemsize), data.dtype)
        return flat.astype(data.dtype.newbyteorder("="), copy=True).reshape(var.shape, order="F")

    def _sparse_parts(self, var: MatVariable, stream: _Stream, whole: bool,
                      columns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray | list]:
        """ir, jc and pr of a sparse matrix: all of them, or (``columns``) the ir/pr ranges of those columns.

        Sparse elements come as ir (row indices), jc (column pointers, width + 1), pr (values). On a
        seekable file ir is skipped and read back by ranges once jc is known; in a compressed stream
        ir comes before jc and is kept whole (4 bytes per stored non-zero; pr is read by ranges).
        """
        width = var.shape[1]
        ir_data = self._data(stream, f"{var.name} row indices (ir)")
        ir_start = stream.tell()
        if whole or not stream.seekable or ir_data.stream is not stream:  # (an inline ir is 4 bytes at most)
            ir_all = self._read_all(ir_data)
        else:
            ir_all = None
            self._finish(ir_data)
        jc_data = self._data(stream, f"{var.name} column pointers (jc)", expected=width + 1)
        jc = self._read_all(jc_data).astype(np.int64)
        nnz = int(jc[-1])
        if np.any(np.diff(jc) < 0) or (len(jc) and jc[0] != 0):
            raise DatasetError(f"{self.path}: {var.name} has decreasing column pointers; the file looks corrupt")
        pr_data = self._data(stream, f"{var.name} values (pr)")
        if nnz > pr_data.count or nnz > ir_data.count:
            raise DatasetError(f"{self.path}: {var.name} claims {nnz:,} non-zeros but stores "
                               f"{min(ir_data.count, pr_data.count):,}; the file looks corrupt")
        if whole:
            return ir_all, jc, self._read_all(pr_data)
        ranges = [(int(jc[c]), int(jc[c + 1])) for c in columns]
        if ir_all is not None:
            ir_parts = [ir_all[a:b] for a, b in ranges]
        else:
            ir_parts = self._file_ranges(ir_start, ir_data.dtype, ranges)
        pr_parts = self._ranges(pr_data, ranges)
        return ir_parts, jc, pr_parts

    def _read_all(self, data: _Data) -> np.ndarray:
        nbytes = data.count * data.dtype.itemsize
        values = np.frombuffer(data.stream.read(nbytes), data.dtype)
        data.stream.skip(_ceil8(nbytes) - nbytes)  # the padding (none after inline data: harmless there)
        return values.astype(data.dtype.newbyteorder("="), copy=False)

    def _file_ranges(self, start: int, dtype: np.dtype, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        size, out = dtype.itemsize, []
        for a, b in ranges:
            self._fh.seek(start + a * size)
            raw = self._fh.read((b - a) * size)
            out.append(np.frombuffer(raw, dtype).astype(dtype.newbyteorder("="), copy=False))
        return out

    def _ranges(self, data: _Data, ranges: list[tuple[int, int]]) -> list[np.ndarray]:
        """Values of ascending, disjoint index ranges of a data element, reading nothing else of it."""
        if isinstance(data.stream, _FileStream):
            return self._file_ranges(data.stream.tell(), data.dtype, ranges)
        size, at, out = data.dtype.itemsize, 0, []
        for a, b in ranges:
            data.stream.skip((a - at) * size)
            raw = data.stream.read((b - a) * size)
            out.append(np.frombuffer(raw, data.dtype).astype(data.dtype.newbyteorder("="), copy=False))
            at = b
        return out

    def read_columns(self, name: str, columns: list[int] | tuple[int, ...] | np.ndarray) -> np.ndarray:
        """Columns of a 2-D matrix, dense or sparse: ``loadmat(path)[name][:, columns]`` as a dense array.

        Parameters
        ----------
        columns: column indices, any order, repeats allowed.

        Returns
        -------
        shape=(N, len(columns)), the stored dtype (a sparse matrix's values dtype): only those
        columns are read (a compressed variable is inflated up to the last one asked for).
        """
        var, stream = self._open(name)
        if len(var.shape) != 2:
            raise DatasetError(f"{self.path}: {name} has shape {var.shape}; expected a 2-D matrix")
        n, width = var.shape
        columns = np.asarray(columns, dtype=np.int64).reshape(-1)
        if columns.size and (columns.min() < 0 or columns.max() >= width):
            raise DatasetError(f"{self.path}: {name} has {width} columns; column {int(columns.max())} asked for")
        wanted, back = np.unique(columns, return_inverse=True)
        if var.sparse:
            ir_parts, _, pr_parts = self._sparse_parts(var, stream, whole=False, columns=wanted)
            dtype = pr_parts[0].dtype if pr_parts else np.dtype(np.float64)
            out = np.zeros((n, len(wanted)), dtype)
            for j, (ir, pr) in enumerate(zip(ir_parts, pr_parts)):
                if ir.size and (ir.min() < 0 or ir.max() >= n):
                    raise DatasetError(f"{self.path}: {name} has a row index outside 0..{n - 1}; "
                                       "the file looks corrupt")
                out[ir, j] = pr
        else:
            data = self._data(stream, name, expected=n * width)
            parts = self._ranges(data, [(int(c) * n, (int(c) + 1) * n) for c in wanted])
            out = np.stack(parts, axis=1) if parts else np.zeros((n, 0), data.dtype.newbyteorder("="))
        return out[:, back]

    def read_rows(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Rows of a dense (N, d1, d2, ...) array: ``loadmat(path)[name][rows]``, in one pass over it.

        Parameters
        ----------
        rows: sorted row indices (int).

        Returns
        -------
        shape=(len(rows), d1, d2, ...), the stored dtype; a view with C-contiguous
        memory in MATLAB's (reversed) trailing order: for (N, 4, 1000) it is a
        (k, 1000, 4) buffer seen as (k, 4, 1000).

        Column-major storage puts the value (i, c, p) of an (N, 4, 1000) array at
        i + N (c + 4 p): each "column" m = c + 4 p holds all N rows. The array is
        walked a block of whole columns at a time (``BLOCK_BYTES``) and the
        wanted rows of each block are copied into the result, so memory is the
        result plus one block. Uncompressed data is memory-mapped, only the span
        from the first to the last wanted row of each column is touched, and
        those pages are released after each block.
        """
        var, stream = self._open(name)
        if var.sparse or len(var.shape) < 2:
            raise DatasetError(f"{self.path}: {name} is {'sparse' if var.sparse else f'of shape {var.shape}'}; "
                               "expected a dense array of at least 2 dimensions")
        n, rest = var.shape[0], var.shape[1:]
        m_total = int(np.prod(rest))
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows[0] < 0 or rows[-1] >= n or np.any(np.diff(rows) <= 0)):
            raise DatasetError(f"{self.path}: rows of {name} must be sorted, distinct and in 0..{n - 1}")
        data = self._data(stream, name, expected=n * m_total)
        out = np.empty((rows.size, m_total), data.dtype.newbyteorder("="))
        if rows.size:
            if isinstance(data.stream, _FileStream):
                self._gather_mapped(data, n, m_total, rows, out)
            else:
                self._gather_stream(data, n, m_total, rows, out)
        k = rows.size
        # out[j, m] with m Fortran-ordered over `rest` == a C array (k, *reversed(rest)), axes flipped back
        return out.reshape((k,) + rest[::-1]).transpose((0,) + tuple(range(len(rest), 0, -1)))

    def _gather_stream(self, data: _Data, n: int, m_total: int, rows: np.ndarray, out: np.ndarray) -> None:
        size = data.dtype.itemsize
        per_block = max(1, BLOCK_BYTES // max(1, n * size))
        for m0 in range(0, m_total, per_block):
            m1 = min(m0 + per_block, m_total)
            block = np.frombuffer(data.stream.read((m1 - m0) * n * size), data.dtype).reshape(m1 - m0, n)
            out[:, m0:m1] = block[:, rows].T

    def _gather_mapped(self, data: _Data, n: int, m_total: int, rows: np.ndarray, out: np.ndarray) -> None:
        if self._map is None:
            self._map = mmap.mmap(self._fh.fileno(), 0, access=mmap.ACCESS_READ)
        size, start = data.dtype.itemsize, data.stream.tell()
        values = np.frombuffer(self._map, data.dtype, count=n * m_total, offset=start).reshape(m_total, n)
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        local = rows - lo
        # each column's span is one run of pages, mapped with up to 64 kB of fault-around on each side
        per_block = max(1, BLOCK_BYTES // ((hi - lo) * size + 2 * _FAULT_AROUND))
        dontneed = getattr(mmap, "MADV_DONTNEED", None)
        for m0 in range(0, m_total, per_block):
            m1 = min(m0 + per_block, m_total)
            out[:, m0:m1] = values[m0:m1, lo:hi][:, local].T
            if dontneed is not None:  # drop the pages just read from this process's resident set
                first = start + (m0 * n + lo) * size
                last = start + ((m1 - 1) * n + hi) * size
                first -= first % mmap.PAGESIZE
                self._map.madvise(dontneed, first, last - first)
        del values


def whos(path: str | Path) -> dict[str, tuple[tuple[int, ...], str]]:
    """name -> (shape, class) of every variable, like ``scipy.io.whosmat`` (no data read)."""
    with Mat5File(path) as mat:
        return {v.name: (v.shape, v.mclass) for v in mat.variables.values()}
