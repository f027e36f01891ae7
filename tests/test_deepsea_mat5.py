"""The streaming v5 reader against ``scipy.io.loadmat`` on files scipy writes (and a hand-written big-endian one).

Every variable kind the DeepSEA classic files may hold (uint8 / logical / double
sequences, dense or sparse labels, compressed or not) plus odd sizes (one row,
small-element data of at most 4 bytes, an empty sparse matrix, 4-D arrays) must
read back exactly as ``loadmat`` gives it: same shape, same (stored) dtype, same
values; and bad files are a DatasetError naming the file.
"""
from __future__ import annotations

import struct
import zlib
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io
import scipy.sparse

import benchmark.deepsea_mat5 as mat5
import benchmark.mat5_format as mat5_format
from benchmark.deepsea_mat5 import Mat5File, whos
from benchmark.errors import DatasetError

COLUMNS = [592, 602, 344, 345, 635, 636, 349, 642, 359, 361, 661, 369]


def _variables(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x = (rng.random((n, 4, 1000)) < 0.25).astype(np.uint8)
    y = (rng.random((n, 919)) < 0.05).astype(np.uint8)
    return {
        "xdata": x,  # the real layout
        "xdouble": (rng.random((n, 4, 37)) < 0.3).astype(np.float64),
        "xlogical": rng.random((n, 3, 11)) < 0.5,
        "x4d": rng.integers(0, 200, size=(n, 2, 3, 5)).astype(np.int16),
        "ydata": y,
        "ydouble": y.astype(np.float64),
        "ysparse": scipy.sparse.csc_matrix(y.astype(np.float64)),
        "ylogical": scipy.sparse.csc_matrix(y.astype(bool)),
        "yempty": scipy.sparse.csc_matrix((n, 919)),
        "tiny": np.array([[1, 0, 1]], np.uint8),  # 3 bytes: a small data element
        "text": "not numeric",
    }


@pytest.fixture(scope="module", params=[(False, 13), (True, 13), (False, 1), (True, 1)],
                ids=["plain-13", "zlib-13", "plain-1", "zlib-1"])
def matfile(request, tmp_path_factory) -> tuple[Path, dict]:
    compress, n = request.param
    path = tmp_path_factory.mktemp("mat5") / "f.mat"
    scipy.io.savemat(path, _variables(n, seed=n), do_compression=compress)
    return path, scipy.io.loadmat(path)


def _same(got, want) -> None:
    if scipy.sparse.issparse(want):
        assert scipy.sparse.issparse(got) and got.shape == want.shape and got.dtype == want.dtype
        assert (got != want).nnz == 0
    else:
        assert got.shape == want.shape and got.dtype == want.dtype
        assert np.array_equal(got, want)


NUMERIC = ["xdata", "xdouble", "xlogical", "x4d", "ydata", "ydouble", "ysparse", "ylogical", "yempty", "tiny"]


def test_whole_variables_read_exactly_as_loadmat_gives_them(matfile):
    path, ref = matfile
    with Mat5File(path) as mat:
        for name in NUMERIC:
            _same(mat.read(name), ref[name])
    listed = {name: (tuple(shape), cls) for name, shape, cls in scipy.io.whosmat(path)}
    assert {k: v for k, v in whos(path).items() if k != "text"} == {k: v for k, v in listed.items() if k != "text"}
    assert whos(path)["text"] == ((1, 11), "char")  # MATLAB's dimensions (whosmat shows a char array as (1,))


@pytest.mark.parametrize("name", ["ydata", "ydouble", "ysparse", "ylogical", "yempty", "xdouble"])
def test_label_columns_read_as_loadmat_columns(matfile, name):
    path, ref = matfile
    want = ref[name] if name != "xdouble" else None
    with Mat5File(path) as mat:
        if want is None:  # a 3-D array has no "columns"
            with pytest.raises(DatasetError, match=r"f\.mat: xdouble has shape .* expected a 2-D matrix"):
                mat.read_columns(name, [0])
            return
        cols = COLUMNS + [0, 918, 592]  # unsorted, with a repeat and both ends
        got = mat.read_columns(name, cols)
    want = want[:, cols]
    want = want.toarray() if scipy.sparse.issparse(want) else want
    _same(got, want)


@pytest.mark.parametrize("name", ["xdata", "xdouble", "xlogical", "x4d", "ydata", "tiny"])
def test_rows_read_as_loadmat_rows(matfile, name):
    path, ref = matfile
    n = ref[name].shape[0]
    with Mat5File(path) as mat:
        for rows in (np.arange(n), np.array([n - 1]), np.arange(0, n, 3), np.array([], np.int64)):
            _same(np.ascontiguousarray(mat.read_rows(name, rows)), ref[name][rows])


def test_tiny_blocks_and_zlib_feeds_stitch_the_same_rows(matfile, monkeypatch):
    """One column per block and 7-byte compressed reads: every block / feed boundary is crossed."""
    path, ref = matfile
    monkeypatch.setattr(mat5, "BLOCK_BYTES", 1)
    monkeypatch.setattr(mat5_format, "_INFLATE_INPUT", 7)
    n = ref["xdata"].shape[0]
    rows = np.arange(0, n, 2)
    with Mat5File(path) as mat:
        _same(np.ascontiguousarray(mat.read_rows("xdata", rows)), ref["xdata"][rows])
        _same(mat.read_columns("ysparse", COLUMNS), ref["ysparse"][:, COLUMNS].toarray())
        _same(mat.read("x4d"), ref["x4d"])


def test_metadata_says_how_each_variable_is_stored(matfile):
    path, ref = matfile
    with Mat5File(path) as mat:
        x, ys = mat.variable("xdata"), mat.variable("ysparse")
        compressed = x.compressed
        assert x.shape == ref["xdata"].shape and x.mclass == "uint8" and x.dtype == np.uint8
        assert ys.sparse and ys.dtype is None and ys.nzmax >= ref["ysparse"].nnz
        assert mat.variable("xdouble").dtype == np.float64 and mat.variable("xlogical").mclass == "logical"
        assert all(v.compressed == compressed for v in mat.variables.values())
        with pytest.raises(DatasetError, match=r"f\.mat: text is a MATLAB char; expected a numeric"):
            mat.read("text")
        with pytest.raises(DatasetError, match=r"f\.mat: ysparse is sparse; expected a dense array"):
            mat.read_rows("ysparse", np.arange(1))
        with pytest.raises(DatasetError, match="must be sorted, distinct"):
            mat.read_rows("xdata", np.array([0, 0]))


# ---- a big-endian file, written by hand (scipy only writes native order) --------------------


def _be_element(mi_type: int, data: bytes) -> bytes:
    return struct.pack(">II", mi_type, len(data)) + data + b"\0" * (-len(data) % 8)


def _be_matrix(name: str, values: np.ndarray) -> bytes:
    """A dense double miMATRIX element in big-endian order."""
    body = (_be_element(6, struct.pack(">II", 6, 0))  # array flags: mxDOUBLE_CLASS
            + _be_element(5, np.asarray(values.shape, ">i4").tobytes())
            + _be_element(1, name.encode())
            + _be_element(9, values.astype(">f8").tobytes(order="F")))
    return struct.pack(">II", 14, len(body)) + body


def test_a_big_endian_file_reads_like_loadmat(tmp_path):
    rng = np.random.default_rng(5)
    a, b = rng.random((6, 919)), rng.random((5, 4, 9))
    header = b"MATLAB 5.0 MAT-file, big-endian, written by hand".ljust(116) + b" " * 8 + b"\x01\x00" + b"MI"
    zipped = zlib.compress(_be_matrix("b", b))
    path = tmp_path / "be.mat"
    path.write_bytes(header + _be_matrix("a", a) + struct.pack(">II", 15, len(zipped)) + zipped)
    ref = scipy.io.loadmat(path)
    with Mat5File(path) as mat:
        assert np.array_equal(mat.read("a"), ref["a"]) and np.array_equal(mat.read("b"), ref["b"])
        assert np.array_equal(mat.read_columns("a", COLUMNS), ref["a"][:, COLUMNS])
        assert np.array_equal(mat.read_rows("b", np.array([1, 4])), ref["b"][[1, 4]])
        assert mat.read("a").dtype == np.float64 and mat.variable("b").compressed


# ---- bad files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict[bool, bytes]:
    folder = tmp_path_factory.mktemp("good")
    out = {}
    for compress in (False, True):
        v = _variables(40, seed=2)
        scipy.io.savemat(folder / "g.mat", {"xdata": v["xdata"], "ydata": v["ydata"]}, do_compression=compress)
        out[compress] = (folder / "g.mat").read_bytes()
    return out


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "zlib"])
def test_a_truncated_file_is_named_when_opened(good, tmp_path, compress):
    path = tmp_path / "test.mat"
    data = good[compress]
    for cut in (len(data) // 2, len(data) - 3, 100):
        path.write_bytes(data[:cut])
        with pytest.raises(DatasetError, match=r"test\.mat: .*(truncated|shorter than the 128-byte)"):
            Mat5File(path)


def test_corrupt_compressed_data_is_found_while_streaming(good, tmp_path):
    path = tmp_path / "test.mat"
    data = bytearray(good[True])
    middle = 128 + 8 + 4000  # inside the first (xdata) compressed element, past its header
    data[middle:middle + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with Mat5File(path) as mat:  # the header inflates fine ...
        with pytest.raises(DatasetError, match=r"test\.mat: .*(corrupt|truncated)"):
            mat.read_rows("xdata", np.arange(40))  # ... the data does not


def test_wrong_names_and_formats_are_named(good, tmp_path):
    path = tmp_path / "valid.mat"
    path.write_bytes(good[False])
    with Mat5File(path) as mat:
        with pytest.raises(DatasetError, match=r"valid\.mat: no variable 'validxdata'; found \['xdata', 'ydata'\]"):
            mat.read_rows("validxdata", np.arange(3))
        with pytest.raises(DatasetError, match=r"ydata has 919 columns; column 919 asked for"):
            mat.read_columns("ydata", [919])
    with h5py.File(tmp_path / "v73.mat", "w", userblock_size=512) as fh:
        fh.create_dataset("x", data=np.zeros(3))
    with open(tmp_path / "v73.mat", "r+b") as fh:
        fh.write(b"MATLAB 7.3 MAT-file".ljust(124) + b"\x00\x02IM")
    with pytest.raises(DatasetError, match=r"v73\.mat: a MATLAB v7\.3 \(HDF5\) file; expected a classic MATLAB v5"):
        Mat5File(tmp_path / "v73.mat")
    (tmp_path / "junk.mat").write_bytes(b"x" * 500)
    with pytest.raises(DatasetError, match=r"junk\.mat: no MATLAB endian indicator"):
        Mat5File(tmp_path / "junk.mat")
