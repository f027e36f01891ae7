"""The `deepsea` builder on a small bundle written in the real formats, with planted rows.

The fixture writes train.mat as MATLAB v7.3 does (HDF5 behind a 512-byte MATLAB
header, h5py shapes (1000, 4, N) and (919, N)) and valid.mat / test.mat as
classic v5 files (scipy), with rows whose fate is known in advance.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmark.deepsea import build_deepsea
from benchmark.deepsea_source import LABEL_COLUMNS, MATLAB_USERBLOCK
from deepsea_fixtures import write_bundle, write_classic_mat
from benchmark.motifs import load_motif_set
from motifbench.cli import main

L = 1000
STEMS = {"train": "train", "validation": "valid", "test": "test"}
CEBPB, GABPA, STAT1 = 1, 3, 10
#: DeepSEA's channel of each letter (its order is A,G,C,T), written out independently of the builder.
DEEPSEA_CHANNEL = {"A": 0, "G": 1, "C": 2, "T": 3}


def deepsea_one_hot(codes: np.ndarray) -> np.ndarray:
    """ACGT codes (n, L), 4 = N -> DeepSEA one-hot (n, 4, L) in A,G,C,T order, N all zero."""
    x = np.zeros((codes.shape[0], 4, codes.shape[1]), np.uint8)
    for code, letter in enumerate("ACGT"):
        x[:, DEEPSEA_CHANNEL[letter], :] = codes == code
    return x


def _consensus(k: int) -> np.ndarray:
    return load_motif_set().pwms[k].argmax(axis=0)


def _make_split(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random ACGT codes (n, L) and labels (n, 919): about 40% of rows get one of the 12 columns."""
    codes = rng.integers(0, 4, size=(n, L)).astype(np.uint8)
    y = (rng.random((n, 919)) < 0.01).astype(np.uint8)
    y[:, list(LABEL_COLUMNS)] = 0
    for i in np.flatnonzero(rng.random(n) < 0.4):
        y[i, LABEL_COLUMNS[rng.integers(12)]] = 1
    return codes, y


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """The bundle folder plus, per split, the letter codes and 919-column labels that went into it."""
    rng = np.random.default_rng(7)
    splits = {"train": _make_split(rng, 40), "validation": _make_split(rng, 9), "test": _make_split(rng, 11)}
    codes, y = splits["train"]
    y[0, :] = 0
    y[0, [0, 100, 918]] = 1  # other DeepSEA labels only: dropped
    y[1, :] = 0
    y[1, 592] = 1  # only the first of the 12 (Arid3a): kept
    y[2, :] = 0
    y[2, 602] = 1  # CEBPB, with its consensus planted at 100 (forward)
    codes[2, 100:110] = _consensus(CEBPB)
    y[3, :] = 0
    y[3, [661, 369, 5]] = 1  # STAT1 and YY1; N at 500..509; Gabpa consensus reverse-complemented at 300
    codes[3, 500:510] = 4
    codes[3, 300:311] = (3 - _consensus(GABPA))[::-1]
    y[4, :] = 0  # no label at all: dropped
    vcodes, vy = splits["validation"]
    vy[0, :] = 0
    vy[0, [344, 642]] = 1  # FOSL1 + NFYB in validation
    folder = tmp_path_factory.mktemp("deepsea_bundle") / "deepsea_train"
    write_bundle(folder, *[(deepsea_one_hot(c), yy) for c, yy in splits.values()], compress_classic=False)
    # the test split's file compressed, as `save -v7` would: both classic variants must read
    write_classic_mat(folder / "test.mat", "test", deepsea_one_hot(splits["test"][0]), splits["test"][1], compress=True)
    expected = {}
    for split, (c, yy) in splits.items():
        y12 = yy[:, list(LABEL_COLUMNS)]
        keep = np.flatnonzero(y12.any(axis=1))
        expected[split] = {"index": keep, "codes": c[keep], "labels": y12[keep], "n": len(c)}
    return {"folder": folder, "expected": expected}


@pytest.fixture(scope="module")
def repo(planted, synthetic_repo, tmp_path_factory) -> tuple[Path, dict]:
    """A copy of the small synthetic repo with the deepsea config built into it (7-row chunks)."""
    out = tmp_path_factory.mktemp("deepsea_repo") / "motifbench"
    shutil.copytree(synthetic_repo, out)
    manifest = build_deepsea(planted["folder"], out, chunk_rows=7)
    return out, manifest


def _rows(repo: Path, split: str) -> list[dict]:
    return pq.read_table(repo / "deepsea" / f"{split}.parquet").to_pylist()


def test_the_fixture_has_the_v73_layout(planted):
    import h5py

    path = planted["folder"] / "train.mat"
    assert path.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    with h5py.File(path, "r") as fh:
        assert fh.userblock_size == MATLAB_USERBLOCK
        assert fh["trainxdata"].shape == (1000, 4, 40) and fh["traindata"].shape == (919, 40)


def test_filter_keeps_rows_with_any_of_the_12_labels_in_their_own_split(repo, planted):
    out, _ = repo
    for split, exp in planted["expected"].items():
        rows = _rows(out, split)
        assert [r["source_index"] for r in rows] == exp["index"].tolist()
        assert [r["id"] for r in rows] == [f"deepsea-{STEMS[split]}-{i:07d}" for i in exp["index"]]
    train = [r["source_index"] for r in _rows(out, "train")]
    assert 0 not in train and 4 not in train and {1, 2, 3} <= set(train)


def test_sequences_are_reordered_to_acgt_with_n_for_empty_columns(repo, planted):
    out, _ = repo
    for split, exp in planted["expected"].items():
        got = [r["sequence"] for r in _rows(out, split)]
        want = [np.frombuffer(b"ACGTN", np.uint8)[c].tobytes().decode() for c in exp["codes"]]
        assert got == want
    row3 = next(r for r in _rows(out, "train") if r["source_index"] == 3)
    assert row3["sequence"][500:510] == "N" * 10 and "N" not in row3["sequence"][:500]


def test_labels_are_the_12_deepsea_columns_in_class_order(repo, planted):
    out, _ = repo
    for split, exp in planted["expected"].items():
        assert np.array([r["labels"] for r in _rows(out, split)]).tolist() == exp["labels"].tolist()
    by_index = {r["source_index"]: r["labels"] for r in _rows(out, "train")}
    assert by_index[1] == [1] + [0] * 11
    assert by_index[3] == [0] * 10 + [1, 1]  # STAT1, YY1 (column 5 is not one of the 12)
    assert _rows(out, "validation")[0]["labels"] == [0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_planted_motifs_are_found_as_putative_fimo_sites(repo):
    out, _ = repo
    by_index = {r["source_index"]: r["motifs"] for r in _rows(out, "train")}
    cebpb = [m for m in by_index[2] if m["tf"] == "CEBPB" and m["start"] == 100]
    assert cebpb and cebpb[0]["end"] == 110 and cebpb[0]["jaspar_id"] == "MA0466.2"
    assert {m["strand"] for m in cebpb} >= {"+"} and all(m["p_value"] < 1e-5 for m in cebpb)
    gabpa = [m for m in by_index[3] if m["tf"] == "Gabpa" and m["start"] == 300]
    assert [(m["end"], m["strand"]) for m in gabpa] == [(311, "-")]
    for motifs in by_index.values():
        assert all(m["putative"] is True and 0 < m["p_value"] < 1e-4 for m in motifs)
        assert motifs == sorted(motifs, key=lambda m: (m["start"], load_motif_set().index_of(m["tf"]), m["strand"]))


def test_sites_match_a_direct_fimo_scan_of_every_kept_row(repo, planted):
    """Chunks of 7 rows must attach each hit to its own row: compare with one scan of the whole split."""
    from memelite import fimo

    out, _ = repo
    ms = load_motif_set()
    for split, exp in planted["expected"].items():
        onehot = np.zeros((len(exp["codes"]), 4, L), np.uint8)
        r, c = np.nonzero(exp["codes"] < 4)
        onehot[r, exp["codes"][r, c], c] = 1
        hits = fimo(dict(zip(ms.jaspar_ids, ms.pwms)), onehot, threshold=1e-4)
        want = {(int(s), ms.names[k], int(a), int(b), st)
                for k, df in enumerate(hits) for s, a, b, st in zip(df["sequence_name"], df["start"], df["end"], df["strand"])}
        got = {(i, m["tf"], m["start"], m["end"], m["strand"]) for i, row in enumerate(_rows(out, split))
               for m in row["motifs"]}
        assert got == want and len(want) > 0


def test_manifest_records_classes_counts_fimo_and_source_hashes(repo, planted):
    _, manifest = repo
    cfg = manifest["configs"]["deepsea"]
    assert cfg["kind"] == "deepsea" and cfg["ground_truth"] is False and cfg["sequence_length"] == 1000
    assert cfg["jaspar_release"] == 2016
    assert [c["deepsea_column"] for c in cfg["classes"]] == list(LABEL_COLUMNS)
    assert all(c["cell_type"] == "K562" for c in cfg["classes"])
    assert [c["treatment"] for c in cfg["classes"]].count("IFNa30") == 1 and cfg["classes"][STAT1]["treatment"] == "IFNa30"
    assert cfg["fimo"]["threshold"] == 1e-4 and cfg["fimo"]["putative"] is True and cfg["fimo"]["tool"] == "memelite.fimo"
    for split, exp in planted["expected"].items():
        counts = cfg["counts"][split]
        assert counts["source_rows"] == exp["n"] and counts["kept_rows"] == len(exp["index"]) == cfg["splits"][split]["rows"]
        assert list(counts["per_class"].values()) == exp["labels"].sum(axis=0).tolist()
    assert cfg["counts"]["train"]["rows_with_n"] == 1
    files = {f["file"]: f for f in cfg["sources"]["files"]}
    for name in ("train.mat", "valid.mat", "test.mat"):
        path = planted["folder"] / name
        assert files[name]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert files[name]["bytes"] == path.stat().st_size
    assert files["train.mat"]["rows"] == 40 and cfg["sources"]["archive"] is None
    assert sum(cfg["counts"]["train"]["putative_sites"].values()) == sum(len(r["motifs"]) for r in _rows(repo[0], "train"))


def test_load_split_verify_and_load_dataset_read_it_next_to_synthetic(repo, planted):
    from datasets import load_dataset

    from benchmark.loader import load_split

    out, _ = repo
    arrays = load_split(out, config="deepsea", split="train")
    n = len(planted["expected"]["train"]["index"])
    assert arrays.x.shape == (n, 4, 1000) and arrays.y.shape == (n, 12)
    assert arrays.info.ground_truth is False and arrays.info.sequence_length == 1000
    row3 = arrays.ids.index("deepsea-train-0000003")
    assert arrays.x[row3, :, 500:510].sum() == 0 and np.all(arrays.x[row3, :, :500].sum(axis=0) == 1)
    # channel order: the letter codes of the fixture are the argmax of the loaded one-hot
    assert np.array_equal(arrays.x[row3].argmax(axis=0)[:500], planted["expected"]["train"]["codes"][row3, :500])
    assert arrays.mask[arrays.ids.index("deepsea-train-0000002"), 100:110].all()
    assert main(["data", "verify", str(out)]) == 0
    assert set(json.loads((out / "manifest.json").read_text())["configs"]) == {"synthetic", "deepsea"}
    ds = load_dataset(str(out), "deepsea", split="validation")
    assert ds.num_rows == len(planted["expected"]["validation"]["index"])
    assert ds.features["motifs"].feature["putative"].dtype == "bool"


def test_card_says_the_sites_are_putative_and_lists_classes_and_sources(repo):
    out, _ = repo
    card = (out / "README.md").read_text()
    assert "putative FIMO hits, NOT ground truth" in card
    assert "| 10 | STAT1 | MA0137.3 | 661 | STAT1 | K562 | IFNa30 |" in card
    assert "Zhou, Jian and Troyanskaya" in card and "nmeth.3547" in card
    assert "config_name: deepsea" in card and "config_name: synthetic" in card
    assert "## Config `synthetic`" in card
    sha = repo[1]["configs"]["deepsea"]["sources"]["files"][0]["sha256"]
    assert f"| `train.mat` | MATLAB v7.3 (HDF5), read with h5py |" in card and sha in card


def test_cli_from_the_tar_gz_gives_identical_files_whatever_the_chunk_size(repo, planted, tmp_path, capsys):
    out, manifest = repo
    archive = tmp_path / "deepsea_train_bundle.v0.9.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(planted["folder"], arcname="deepsea_train")
    target = tmp_path / "repo"
    code = main(["data", "build", "deepsea", "--bundle", str(archive), "--out", str(target), "--chunk-rows", "1000",
                 "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "built config 'deepsea'" in printed and "not ground truth" in printed
    cfg = json.loads((target / "manifest.json").read_text())["configs"]["deepsea"]
    ref = manifest["configs"]["deepsea"]
    for split in ("train", "validation", "test"):
        assert cfg["splits"][split]["sha256"] == ref["splits"][split]["sha256"]
    assert cfg["sources"]["archive"]["sha256"] == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert [f["sha256"] for f in cfg["sources"]["files"]] == [f["sha256"] for f in ref["sources"]["files"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deepsea_train_bundle.v0.9.tar.gz", "repo"]  # no temp left


@pytest.fixture(scope="module")
def nofimo_repo(planted, tmp_path_factory) -> tuple[Path, str]:
    """The bundle built through the CLI with --no-fimo (and what it printed)."""
    import contextlib
    import io

    target = tmp_path_factory.mktemp("nofimo") / "repo"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(["data", "build", "deepsea", "--bundle", str(planted["folder"]), "--out", str(target),
                     "--no-fimo", "--quiet"]) == 0
    return target, printed.getvalue()


def test_no_fimo_gives_empty_motifs_the_same_rows_and_says_so(repo, nofimo_repo):
    target, printed = nofimo_repo
    assert "motifs: none (built with --no-fimo" in printed
    cfg = json.loads((target / "manifest.json").read_text())["configs"]["deepsea"]
    assert cfg["annotated"] is False and cfg["fimo"] is None and repo[1]["configs"]["deepsea"]["annotated"] is True
    assert all(sum(c["putative_sites"].values()) == 0 for c in cfg["counts"].values())
    for split in ("train", "validation", "test"):
        rows, ref = _rows(target, split), _rows(repo[0], split)
        assert all(r["motifs"] == [] for r in rows)
        assert [(r["id"], r["sequence"], r["labels"]) for r in rows] == [(r["id"], r["sequence"], r["labels"]) for r in ref]
    card = (target / "README.md").read_text()
    assert "No motif annotation" in card and "--no-fimo" in card and "putative FIMO hits" not in card
    assert main(["data", "verify", str(target)]) == 0


def test_classic_files_are_streamed_and_their_storage_recorded(repo):
    files = {f["file"]: f for f in repo[1]["configs"]["deepsea"]["sources"]["files"]}
    assert files["valid.mat"]["format"] == "MATLAB v5, streamed with benchmark.deepsea_mat5"
    assert files["valid.mat"]["storage"] == ("validxdata: uint8 stored as uint8, uncompressed; "
                                             "validdata: uint8 stored as uint8, uncompressed")
    assert "testxdata: uint8 stored as uint8, zlib-compressed" in files["test.mat"]["storage"]
    assert files["train.mat"]["storage"] is None


def test_a_compressed_file_read_in_many_passes_gives_the_same_files(nofimo_repo, planted, tmp_path, monkeypatch,
                                                                    caplog):
    """test.mat is zlib-compressed: with room for 2 kept rows per pass, each pass re-inflates testxdata."""
    import logging

    import benchmark.deepsea_source as source

    monkeypatch.setattr(source, "_PASS_BYTES", 2 * 4 * L)
    kept = len(planted["expected"]["test"]["index"])
    with caplog.at_level(logging.INFO, logger="benchmark.deepsea_source"):
        manifest = build_deepsea(planted["folder"], tmp_path / "repo", chunk_rows=1, annotate=False)
    assert f"testxdata is compressed: {(kept + 1) // 2} pass(es) over it for {kept} kept rows" in caplog.text
    ref = json.loads((nofimo_repo[0] / "manifest.json").read_text())["configs"]["deepsea"]["splits"]
    assert {s: f["sha256"] for s, f in manifest["configs"]["deepsea"]["splits"].items()} == \
        {s: f["sha256"] for s, f in ref.items()}


def test_reading_train_in_tiny_blocks_gives_the_same_files(repo, planted, tmp_path, monkeypatch):
    """The sequence reader's block loop (4,096 columns in real runs) stitched over many 3-column blocks."""
    import benchmark.deepsea_source as source

    monkeypatch.setattr(source, "_X_BLOCK", 3)
    manifest = build_deepsea(planted["folder"], tmp_path / "repo", chunk_rows=40)
    ref = repo[1]["configs"]["deepsea"]["splits"]
    assert {s: f["sha256"] for s, f in manifest["configs"]["deepsea"]["splits"].items()} == \
        {s: f["sha256"] for s, f in ref.items()}


def test_sparse_label_matrices_read_like_dense_ones(repo, planted, tmp_path):
    import scipy.io
    import scipy.sparse

    folder = shutil.copytree(planted["folder"], tmp_path / "deepsea_train")
    valid = scipy.io.loadmat(folder / "valid.mat")
    scipy.io.savemat(folder / "valid.mat", {"validxdata": valid["validxdata"],
                                            "validdata": scipy.sparse.csc_matrix(valid["validdata"].astype(float))})
    test = scipy.io.loadmat(folder / "test.mat")  # and compressed sparse logical labels in test.mat
    scipy.io.savemat(folder / "test.mat", {"testxdata": test["testxdata"],
                                           "testdata": scipy.sparse.csc_matrix(test["testdata"].astype(bool))},
                     do_compression=True)
    manifest = build_deepsea(folder, tmp_path / "repo")
    for split in ("validation", "test"):
        assert manifest["configs"]["deepsea"]["splits"][split]["sha256"] == \
            repo[1]["configs"]["deepsea"]["splits"][split]["sha256"]
    files = {f["file"]: f["storage"] for f in manifest["configs"]["deepsea"]["sources"]["files"]}
    assert files["test.mat"].endswith("testdata: sparse, zlib-compressed")
