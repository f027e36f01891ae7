"""A bad DeepSEA bundle gives one clear error naming the file and never a half-written dataset.

Every case builds into a copy of a dataset folder that already holds the
`synthetic` config and a good `deepsea` config, and checks that every file in
it (manifest, card, parquet) is byte-identical afterwards.
"""
from __future__ import annotations

import hashlib
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import scipy.io

from benchmark.deepsea import build_deepsea
from benchmark.deepsea_source import LABEL_COLUMNS, MATLAB_USERBLOCK
from benchmark.errors import DatasetError
from deepsea_fixtures import deepsea_one_hot, write_bundle, write_classic_mat, write_train_mat
from motifbench.cli import main

N_TRAIN = 200


def _split(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = deepsea_one_hot(rng.integers(0, 4, size=(n, 1000)))
    y = np.zeros((n, 919), np.uint8)
    y[np.arange(n), np.asarray(LABEL_COLUMNS)[rng.integers(0, 12, n)]] = rng.random(n) < 0.5
    return x, y


@pytest.fixture(scope="module")
def arrays() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    return {"train": _split(rng, N_TRAIN), "validation": _split(rng, 6), "test": _split(rng, 6)}


@pytest.fixture(scope="module")
def base_repo(arrays, synthetic_repo, tmp_path_factory) -> Path:
    """synthetic + a good deepsea config, built once."""
    bundle = write_bundle(tmp_path_factory.mktemp("good") / "deepsea_train", *arrays.values())
    out = tmp_path_factory.mktemp("base") / "motifbench"
    shutil.copytree(synthetic_repo, out)
    build_deepsea(bundle, out, chunk_rows=50)
    return out


@pytest.fixture
def repo(base_repo, tmp_path) -> Path:
    out = tmp_path / "out" / "motifbench"
    shutil.copytree(base_repo, out)
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ---- mutations of a good bundle ------------------------------------------------------------


def _h5_with(path: Path, datasets: dict[str, np.ndarray]) -> None:
    with h5py.File(path, "w", userblock_size=MATLAB_USERBLOCK) as fh:
        for key, value in datasets.items():
            fh.create_dataset(key, data=value)


def missing_test(folder, a):
    (folder / "test.mat").unlink()


def wrong_key_train(folder, a):
    with h5py.File(folder / "train.mat", "r+") as fh:
        fh.move("trainxdata", "xdata")


def wrong_key_valid(folder, a):
    x, y = a["validation"]
    scipy.io.savemat(folder / "valid.mat", {"validx": x, "validdata": y})


def wrong_shape_train(folder, a):  # someone saved it already transposed to (N, 4, 1000)
    x, y = a["train"]
    _h5_with(folder / "train.mat", {"trainxdata": x, "traindata": y.T})


def wrong_shape_valid(folder, a):
    x, y = a["validation"]
    scipy.io.savemat(folder / "valid.mat", {"validxdata": x.transpose(0, 2, 1), "validdata": y})


def truncated_train(folder, a):
    path = folder / "train.mat"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def narrow_labels_train(folder, a):
    x, y = a["train"]
    write_train_mat(folder / "train.mat", x, y)
    with h5py.File(folder / "train.mat", "r+") as fh:
        del fh["traindata"]
        fh.create_dataset("traindata", data=y[:, :918].T)


def narrow_labels_test(folder, a):
    x, y = a["test"]
    scipy.io.savemat(folder / "test.mat", {"testxdata": x, "testdata": y[:, :918]})


def mismatched_n_train(folder, a):
    x, y = a["train"]
    _h5_with(folder / "train.mat", {"trainxdata": x.transpose(2, 1, 0), "traindata": y[:-1].T})


def mismatched_n_valid(folder, a):
    x, y = a["validation"]
    scipy.io.savemat(folder / "valid.mat", {"validxdata": x, "validdata": y[:-2]})


def train_not_hdf5(folder, a):
    x, y = a["train"]
    scipy.io.savemat(folder / "train.mat", {"trainxdata": x, "traindata": y})


def corrupt_train_chunk(folder, a):
    """Garbage inside the last compressed chunk of trainxdata: only found when the stream gets there."""
    path = folder / "train.mat"
    with h5py.File(path, "r") as fh:
        ds = fh["trainxdata"]
        info = ds.id.get_chunk_info(ds.id.get_num_chunks() - 1)
    with open(path, "r+b") as fh:
        fh.seek(info.byte_offset + 8)
        fh.write(b"\xff" * (info.size - 16))


def truncated_valid(folder, a):  # classic v5: found when the file's elements are walked, before writing
    path = folder / "valid.mat"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1000])


def corrupt_compressed_test(folder, a):
    """Garbage inside testxdata's zlib stream (past its header): found mid-stream, after train is staged."""
    from benchmark.deepsea_mat5 import Mat5File

    x, y = a["test"]
    y = y.copy()
    y[:, 592] = 1  # every row kept, so the sequences are read
    write_classic_mat(folder / "test.mat", "test", x, y, compress=True)
    with Mat5File(folder / "test.mat") as mat:
        var = mat.variable("testxdata")
    with open(folder / "test.mat", "r+b") as fh:
        fh.seek(var.offset + 8 + var.nbytes // 2)
        fh.write(b"\xff" * 32)


def complex_sequences_valid(folder, a):
    x, y = a["validation"]
    scipy.io.savemat(folder / "valid.mat", {"validxdata": x.astype(np.complex128), "validdata": y})


def bad_label_value_valid(folder, a):  # found while writing validation, after train is staged
    x, y = a["validation"]
    y = y.copy()
    y[3, 592] = 2
    write_classic_mat(folder / "valid.mat", "valid", x, y)


def two_channels_test(folder, a):
    x, y = a["test"]
    x, y = x.copy(), y.copy()
    y[5, 592] = 1
    x[5, :, 17] = 1
    write_classic_mat(folder / "test.mat", "test", x, y)


CASES: list[tuple[Callable, str, str]] = [
    (missing_test, "test.mat", "missing"),
    (wrong_key_train, "train.mat", "no dataset 'trainxdata'"),
    (wrong_key_valid, "valid.mat", "no variable 'validxdata'"),
    (wrong_shape_train, "train.mat", "expected (1000, 4, N)"),
    (wrong_shape_valid, "valid.mat", "expected (N, 4, 1000)"),
    (truncated_train, "train.mat", "truncated or corrupt"),
    (narrow_labels_train, "train.mat", "919 label columns (found 918)"),
    (narrow_labels_test, "test.mat", "919 label columns (found 918)"),
    (mismatched_n_train, "train.mat", "expected the same N"),
    (mismatched_n_valid, "valid.mat", "expected the same N"),
    (train_not_hdf5, "train.mat", "not a MATLAB v7.3 (HDF5) file"),
    (corrupt_train_chunk, "train.mat", "cannot read trainxdata"),
    (truncated_valid, "valid.mat", "the file looks truncated"),
    (corrupt_compressed_test, "test.mat", "corrupt compressed data"),
    (complex_sequences_valid, "valid.mat", "validxdata is complex; expected a real numeric 0/1 array (dense)"),
    (bad_label_value_valid, "valid.mat", "holds the value 2; expected only 0 and 1"),
    (two_channels_test, "test.mat", "row 5 position 17 sets more than one channel"),
]


@pytest.mark.parametrize("mutate, file, expected", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_bundle_is_a_clear_error_and_leaves_the_folder_as_it_was(mutate, file, expected, arrays, repo, tmp_path):
    bundle = write_bundle(tmp_path / "deepsea_train", *arrays.values())
    mutate(bundle, arrays)
    before = _snapshot(repo.parent)
    with pytest.raises(DatasetError) as err:
        build_deepsea(bundle, repo, chunk_rows=50)
    message = str(err.value)
    assert file in message and expected in message, message
    assert _snapshot(repo.parent) == before  # nothing staged, nothing half-replaced, synthetic untouched
    assert not [p for p in repo.iterdir() if p.name.startswith(".")]
    assert main(["data", "verify", str(repo)]) == 0


def test_the_cli_prints_one_line_and_exits_2(arrays, repo, tmp_path, capsys):
    bundle = write_bundle(tmp_path / "deepsea_train", *arrays.values())
    narrow_labels_test(bundle, arrays)
    assert main(["data", "build", "deepsea", "--bundle", str(bundle), "--out", str(repo), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "test.mat" in err and len(err.splitlines()) == 1


def test_a_missing_bundle_or_a_bad_option_is_named(repo, tmp_path, arrays):
    with pytest.raises(DatasetError, match="no such file or folder"):
        build_deepsea(tmp_path / "nowhere", repo)
    bundle = write_bundle(tmp_path / "deepsea_train", *arrays.values())
    with pytest.raises(DatasetError, match="not a folder"):
        build_deepsea(bundle / "train.mat", repo)
    with pytest.raises(DatasetError, match="fimo-threshold"):
        build_deepsea(bundle, repo, fimo_threshold=0)
    with pytest.raises(DatasetError, match="chunk-rows"):
        build_deepsea(bundle, repo, chunk_rows=0)


def test_an_archive_without_every_file_is_named_and_leaves_no_temp_folder(arrays, repo, tmp_path):
    bundle = write_bundle(tmp_path / "deepsea_train", *arrays.values())
    archive = tmp_path / "bundle.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bundle / "train.mat", arcname="deepsea_train/train.mat")
        tar.add(bundle / "test.mat", arcname="deepsea_train/test.mat")
    before = _snapshot(repo.parent)
    with pytest.raises(DatasetError, match=r"bundle.tar.gz: the archive has no valid.mat"):
        build_deepsea(archive, repo)
    assert _snapshot(repo.parent) == before and sorted(p.name for p in repo.parent.iterdir()) == ["motifbench"]
    archive.write_bytes(b"not a tar file at all" * 10)
    with pytest.raises(DatasetError, match="cannot read as a tar archive"):
        build_deepsea(archive, repo)
