"""The dataset repo folder: determinism, the HF round trip, the loader, verify and publish."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from benchmark.dataset_repo import read_manifest
from benchmark.errors import DatasetError
from benchmark.loader import load_split, one_hot
from benchmark.motifs import load_motif_set
from benchmark.publish import PublishError, publish
from benchmark.synthetic import build_synthetic
from benchmark.verify import verify


def _hashes(manifest: dict) -> dict:
    return {s: (i["sha256"], i["content_sha256"]) for s, i in manifest["configs"]["synthetic"]["splits"].items()}


def test_full_koo2019_build_is_byte_for_byte_deterministic(tmp_path):
    a = build_synthetic(tmp_path / "a")
    b = build_synthetic(tmp_path / "b")
    assert _hashes(a) == _hashes(b)
    for split in ("train", "validation", "test"):
        assert (tmp_path / "a" / "synthetic" / f"{split}.parquet").read_bytes() == \
            (tmp_path / "b" / "synthetic" / f"{split}.parquet").read_bytes()
    assert (tmp_path / "a" / "README.md").read_text() == (tmp_path / "b" / "README.md").read_text()
    rows = {s: i["rows"] for s, i in a["configs"]["synthetic"]["splits"].items()}
    assert rows == {"train": 17_500, "validation": 2_500, "test": 5_000}
    gen = a["configs"]["synthetic"]["generator"]
    assert (gen["preset"], gen["seed"], gen["n"], gen["length"], gen["n_figure_draws"]) == ("koo2019", 33, 25_000, 200, 10)
    assert a["dataset_version"] and a["motifbench_version"]
    assert a["configs"]["synthetic"]["jaspar_release"] == 2016
    c = build_synthetic(tmp_path / "c", seed=34, n=2_000)
    assert _hashes(c) != _hashes(a)


def test_load_dataset_round_trip_keeps_features(synthetic_repo):
    from datasets import List, Value, load_dataset

    ds = load_dataset(str(synthetic_repo), "synthetic")
    assert {k: v.num_rows for k, v in ds.items()} == {"train": 1_400, "validation": 200, "test": 400}
    feats = ds["test"].features
    assert feats["labels"] == List(Value("int8"), length=12)
    assert feats["motifs"].feature["start"] == Value("int32")
    arrays = load_split(synthetic_repo, "synthetic", "test")
    row = ds["test"][17]
    assert row["id"] == arrays.ids[17]
    np.testing.assert_array_equal(np.array(row["labels"]), arrays.y[17])
    np.testing.assert_array_equal(one_hot([row["sequence"]])[0], arrays.x[17])
    assert row["motifs"] == arrays.motifs[17]


def test_loader_arrays_agree_with_the_rows(synthetic_repo):
    ms = load_motif_set()
    a = load_split(synthetic_repo, "synthetic", "train")
    assert a.x.dtype == np.float32 and a.x.shape == (1_400, 4, 200)
    assert a.y.dtype == np.float32 and a.y.shape == (1_400, 12)
    assert a.mask.dtype == bool and a.mask.shape == (1_400, 200)
    np.testing.assert_array_equal(a.x.sum(axis=1), 1.0)  # synthetic has no N
    assert a.info.version == read_manifest(synthetic_repo)["dataset_version"]
    assert a.info.config == "synthetic" and a.info.split == "train"
    for i in range(0, 1_400, 97):
        expected_mask = np.zeros(200, bool)
        expected_labels = np.zeros(12)
        for m in a.motifs[i]:
            expected_mask[m["start"] : m["end"]] = True
            expected_labels[ms.index_of(m["tf"])] = 1
        np.testing.assert_array_equal(a.mask[i], expected_mask)
        np.testing.assert_array_equal(a.y[i], expected_labels)
    assert len(load_split(synthetic_repo, "synthetic", "test", limit=9)) == 9


def test_letters_at_recorded_instances_are_plausible_under_their_pwm(synthetic_repo):
    ms = load_motif_set()
    pwm_of = dict(zip(ms.jaspar_ids, ms.pwms))
    a = load_split(synthetic_repo, "synthetic", "test")
    codes = a.x.argmax(axis=1)
    log_odds = []
    for i, motifs in enumerate(a.motifs):
        for m in motifs:
            pwm = pwm_of[m["jaspar_id"]]
            if m["strand"] == "-":
                pwm = pwm[::-1, ::-1]  # reverse complement in A,C,G,T order
            p = pwm[codes[i, m["start"] : m["end"]], np.arange(pwm.shape[1])]
            assert np.all(p > 0), f"row {i}: a letter impossible under {m['tf']} ({m['strand']})"
            log_odds.append(np.log2(p / 0.25).sum())
    assert np.mean(log_odds) > 8  # far above background (0 on average)


def test_one_hot_encodes_n_as_zeros_and_rejects_ragged_input():
    x = one_hot(["ACGTN", "nacgt"])
    np.testing.assert_array_equal(x[0].argmax(0)[:4], [0, 1, 2, 3])
    assert x[0][:, 4].sum() == 0 and x[1][:, 0].sum() == 0
    with pytest.raises(DatasetError, match="length"):
        one_hot(["ACGT", "ACG"])


def test_loader_errors_are_specific(tmp_path, synthetic_repo):
    with pytest.raises(DatasetError, match="manifest.json is missing"):
        load_split(tmp_path)
    with pytest.raises(DatasetError, match="no config 'deepsea'"):
        load_split(synthetic_repo, "deepsea")
    with pytest.raises(DatasetError, match="unknown split"):
        load_split(synthetic_repo, "synthetic", "dev")
    with pytest.raises(DatasetError, match="could not fetch dataset 'nobody/nothing'"):
        load_split("nobody/nothing")


@pytest.fixture
def repo_copy(synthetic_repo, tmp_path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(synthetic_repo, dst)
    return dst


def test_verify_passes_on_a_fresh_build(repo_copy):
    report = verify(repo_copy)
    assert report.ok, report.problems
    assert sum(report.rows.values()) == 2_000


def test_verify_catches_a_flipped_byte(repo_copy):
    path = repo_copy / "synthetic" / "validation.parquet"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    report = verify(repo_copy)
    assert not report.ok
    assert any(p.startswith("synthetic/validation.parquet: sha256") for p in report.problems)


def test_verify_catches_a_missing_file(repo_copy):
    (repo_copy / "synthetic" / "test.parquet").unlink()
    assert "synthetic/test.parquet: file is missing" in verify(repo_copy).problems


def test_verify_catches_a_truncated_parquet(repo_copy):
    path = repo_copy / "synthetic" / "train.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    problems = verify(repo_copy).problems
    assert any("train.parquet: not readable as parquet" in p for p in problems)


def test_verify_catches_rows_inconsistent_with_the_manifest_even_if_rehashed(repo_copy):
    """A file rewritten with a wrong label and a re-hashed manifest still fails the consistency checks."""
    from benchmark.dataset_repo import sha256_file

    path = repo_copy / "synthetic" / "test.parquet"
    table = pq.read_table(path)
    labels = table.column("labels").to_pylist()
    labels[0] = [1 - v for v in labels[0]]
    import pyarrow as pa

    table = table.set_column(2, table.schema.field("labels"), pa.array(labels, table.schema.field("labels").type))
    pq.write_table(table, path)
    manifest = read_manifest(repo_copy)
    entry = manifest["configs"]["synthetic"]["splits"]["test"]
    entry["sha256"], entry["bytes"] = sha256_file(path), path.stat().st_size
    (repo_copy / "manifest.json").write_text(json.dumps(manifest))
    problems = verify(repo_copy).problems
    assert any("labels that disagree with their motif records" in p for p in problems), problems


def test_cli_build_verify_exit_codes(tmp_path):
    out = tmp_path / "cli"
    run = lambda *a: subprocess.run([sys.executable, "-m", "motifbench", *a], capture_output=True, text=True)  # noqa: E731
    r = run("data", "build", "synthetic", "--out", str(out), "--n", "500", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "load_dataset(" in r.stdout and str(out) in r.stdout
    assert run("data", "verify", str(out)).returncode == 0
    (out / "synthetic" / "train.parquet").write_bytes(b"garbage")
    r = run("data", "verify", str(out))
    assert r.returncode == 3 and "synthetic/train.parquet" in r.stderr


def test_failed_build_leaves_the_existing_config_untouched(repo_copy, monkeypatch):
    import benchmark.dataset_repo as repo_mod

    before = {p.name: p.read_bytes() for p in (repo_copy / "synthetic").iterdir()}
    manifest_before = (repo_copy / "manifest.json").read_text()

    def broken_write_split(path, config, batches):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(repo_mod, "write_split", broken_write_split)
    with pytest.raises(OSError, match="disk full"):
        build_synthetic(repo_copy, n=300)
    assert {p.name: p.read_bytes() for p in (repo_copy / "synthetic").iterdir()} == before
    assert (repo_copy / "manifest.json").read_text() == manifest_before
    assert not [p for p in repo_copy.iterdir() if p.name.startswith(".staging")]


def test_publish_refuses_unverified_or_offline(repo_copy, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError, match="vX.Y.Z"):
        publish(repo_copy, "org/motifbench", "1.0")
    with pytest.raises(PublishError, match="does not match the manifest's dataset version"):
        publish(repo_copy, "org/motifbench", "v9.9.9")
    version = read_manifest(repo_copy)["dataset_version"]
    with pytest.raises(PublishError, match="HF_HUB_OFFLINE=1"):
        publish(repo_copy, "org/motifbench", f"v{version}")
    (repo_copy / "synthetic" / "test.parquet").unlink()
    with pytest.raises(DatasetError, match="failed verification"):
        publish(repo_copy, "org/motifbench", f"v{version}")


def test_card_lists_configs_classes_and_citations(synthetic_repo):
    import yaml

    card = (synthetic_repo / "README.md").read_text()
    header = yaml.safe_load(card.split("---\n")[1])
    assert header["configs"][0]["config_name"] == "synthetic"
    assert {f["split"] for f in header["configs"][0]["data_files"]} == {"train", "validation", "test"}
    for c in load_motif_set().classes:
        assert f"| {c.index} | {c.tf} | {c.jaspar_id} |" in card
    assert "koo2019representation" in card and "koo2021improving" in card
    assert "seed **33**" in card and "cc-by-4.0" in card
