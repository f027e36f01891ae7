"""The MATLAB v5 format: type codes, and byte streams over one element, for :mod:`benchmark.deepsea_mat5`.

Plain file bytes (:class:`_FileStream`), an inflated ``miCOMPRESSED`` zlib
stream read strictly sequentially (:class:`_InflateStream`), or a few inline
bytes (:class:`_BytesStream`). Every short read is a :class:`DatasetError`
naming the file and the byte offset.

The format (MathWorks, "MAT-File Format", the v5 chapter): a 128-byte header
(text, subsystem offset, version, the endian indicator ``IM``/``MI``), then
data elements, each a tag (uint32 type, uint32 byte count; or the "small
element" form: byte count and type packed in one uint32, up to 4 data bytes in
the next 4) followed by its data padded to 8 bytes. A variable is an
``miMATRIX`` element (array flags, dimensions, name, then the real part; for
sparse: row indices ``ir``, column pointers ``jc``, values ``pr``), or an
``miCOMPRESSED`` element whose zlib stream holds one ``miMATRIX`` element.
"""
from __future__ import annotations

import zlib
from typing import BinaryIO

from benchmark.errors import DatasetError

MI_MATRIX, MI_COMPRESSED = 14, 15
#: miXXX data types of numeric data -> numpy type (byte order added per file).
MI_DTYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8", 12: "i8", 13: "u8"}
#: mxXXX array classes, named as ``scipy.io.whosmat`` names them.
MX_CLASSES = {1: "cell", 2: "struct", 3: "object", 4: "char", 5: "sparse", 6: "double", 7: "single",
              8: "int8", 9: "uint8", 10: "int16", 11: "uint16", 12: "int32", 13: "uint32", 14: "int64", 15: "uint64"}
_NUMERIC = {6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
_SPARSE = 5
_NUMERIC_NAMES = {MX_CLASSES[c] for c in _NUMERIC} | {"logical"}
_FLAG_COMPLEX, _FLAG_LOGICAL = 0x08, 0x02
HEADER_BYTES = 128
#: Compressed input fed to zlib at once, and most inflated bytes taken from it at once.
_INFLATE_INPUT = 1 << 20
_INFLATE_OUTPUT = 1 << 20


def _ceil8(n: int) -> int:
    return (n + 7) // 8 * 8


# ----------------------------------------------------------------------------------------------
# byte streams over one element: plain file bytes, an inflated zlib stream, or a few inline bytes


class _FileStream:
    """Sequential reads of ``nbytes`` file bytes from ``start``; seekable (positions are file offsets)."""

    seekable = True

    def __init__(self, fh: BinaryIO, start: int, nbytes: int, where: str) -> None:
        self._fh, self._pos, self._end, self._where = fh, start, start + nbytes, where

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int) -> None:
        self._pos = pos

    def read(self, n: int) -> bytes:
        if self._pos + n > self._end:
            raise DatasetError(f"{self._where}: an element needs {n:,} bytes at byte {self._pos:,} but its "
                               f"enclosing element ends at byte {self._end:,}; the file looks truncated or corrupt")
        self._fh.seek(self._pos)
        data = self._fh.read(n)
        if len(data) != n:
            raise DatasetError(f"{self._where}: the file ends at byte {self._pos + len(data):,}, inside an element "
                               "that should go on; the file looks truncated")
        self._pos += n
        return data

    def skip(self, n: int) -> None:
        self._pos += n


class _InflateStream:
    """Sequential reads of the inflated bytes of one ``miCOMPRESSED`` element, never inflating ahead."""

    seekable = False

    def __init__(self, fh: BinaryIO, start: int, nbytes: int, where: str) -> None:
        self._fh, self._next, self._end, self._where = fh, start, start + nbytes, where
        self._z = zlib.decompressobj()
        self._pos = 0

    def tell(self) -> int:
        return self._pos

    def _inflate(self, want: int) -> bytes:
        """Up to ``want`` more inflated bytes (b"" only at the end of the stream)."""
        while True:
            if self._z.unconsumed_tail:
                data = self._z.unconsumed_tail
            elif self._next < self._end:
                self._fh.seek(self._next)
                data = self._fh.read(min(_INFLATE_INPUT, self._end - self._next))
                if not data:
                    raise DatasetError(f"{self._where}: the file ends inside a compressed variable; "
                                       "the file looks truncated")
                self._next += len(data)
            else:
                data = b""
            try:
                out = self._z.decompress(data, want)
            except zlib.error as exc:
                raise DatasetError(f"{self._where}: corrupt compressed data ({exc}); "
                                   "the file looks truncated or corrupt") from exc
            if out or (not data and not self._z.unconsumed_tail):
                return out

    def read(self, n: int) -> bytes | bytearray:
        """Exactly ``n`` inflated bytes, built in place (zlib's output comes at most ``_INFLATE_OUTPUT`` at a time)."""
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            out = self._inflate(min(n - got, _INFLATE_OUTPUT))
            if not out:
                raise DatasetError(f"{self._where}: a compressed variable ends after {self._pos + got:,} inflated "
                                   f"bytes, {n - got:,} short of its own element sizes; "
                                   "the file looks truncated or corrupt")
            view[got:got + len(out)] = out
            got += len(out)
        self._pos += n
        return buf

    def skip(self, n: int) -> None:
        while n > 0:
            step = min(n, _INFLATE_OUTPUT)
            self.read(step)
            n -= step


class _BytesStream:
    """The few inline bytes of a small data element, read like a stream."""

    seekable = False

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def tell(self) -> int:
        return self._pos

    def read(self, n: int) -> bytes:
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def skip(self, n: int) -> None:
        self._pos += n


_Stream = _FileStream | _InflateStream | _BytesStream
