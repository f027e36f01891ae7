"""Bundled baseline models enter a new leaderboard through the normal submission door, once."""
from __future__ import annotations

import json
import shutil

import pytest

from baselines.data import load_data
from baselines.protocols import get_protocol
from baselines.run import train_run
from space_app.bundled_baselines import BUNDLE_DIR, bundled_runs, queue_bundled_baselines
from submissions.store import PENDING
from submissions.sqlite_store import open_store


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, synthetic_repo):
    """A bundle folder holding one real trained run (model.onnx + spec.json only, as shipped)."""
    runs = tmp_path_factory.mktemp("runs")
    train_run("cnn-25", activation="exp", seed=0, protocol=get_protocol("koo2019", epochs=1),
              out_dir=runs / "cnn-25-exp", data=load_data(synthetic_repo, limit=200), device="cpu", threads=1,
              progress=False)
    folder = tmp_path_factory.mktemp("bundle")
    (folder / "cnn-25-exp-seed0").mkdir()
    for name in ("model.onnx", "spec.json"):
        shutil.copy2(runs / "cnn-25-exp" / name, folder / "cnn-25-exp-seed0" / name)
    return folder


def test_bundled_runs_are_queued_once_as_baselines(bundle, synthetic_repo, tmp_path, monkeypatch):
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    first = queue_bundled_baselines(data=synthetic_repo, folder=bundle)
    store = open_store()
    try:
        jobs = store.list([PENDING])
        assert [j.id for j in jobs] == [first["cnn-25-exp-seed0"]]
        assert jobs[0].baseline and jobs[0].manifest["model_name"] == "cnn-25-exp-seed0"
        assert jobs[0].manifest["architecture"]["activation"] == "exp"
    finally:
        store.close()
    again = queue_bundled_baselines(data=synthetic_repo, folder=bundle)
    assert again["cnn-25-exp-seed0"] == f"already queued as {first['cnn-25-exp-seed0']}"


def test_a_run_trained_on_other_data_is_not_queued(bundle, tmp_path, monkeypatch):
    from benchmark.synthetic import build_synthetic

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    other = tmp_path / "other"
    build_synthetic(other, n=500, seed=5)
    outcome = queue_bundled_baselines(data=other, folder=bundle)
    assert outcome["cnn-25-exp-seed0"].startswith("skipped")


def test_shipped_bundle_is_well_formed_and_passes_static_validation():
    import onnx

    from submissions.intake import baseline_manifest
    from submissions.manifest import parse_manifest
    from submissions.validate import ValidationLimits, check_static

    runs = bundled_runs(BUNDLE_DIR)
    assert runs, "the bundle ships no baseline models"
    grid = set()
    for run in runs:
        spec = json.loads((run / "spec.json").read_text())
        assert spec["dataset"]["splits_content_sha256"], run.name
        assert (run / "model.onnx").stat().st_size < 5_000_000, run.name
        manifest = parse_manifest(baseline_manifest(spec, spec["dataset"]["version"]))
        facts = check_static(onnx.load(run / "model.onnx"), manifest, spec["input_length"], ValidationLimits())
        assert facts.output_name == "probabilities" and facts.logits_output == "logits", run.name
        grid.add((spec["zoo_name"], spec["activation"]))
    # both activations for every CNN-k model shipped: the page shows the papers' contrast (the Koo & Eddy
    # variants are ReLU-only, as in the papers and the `results` sweep preset)
    from baselines.zoo import POOL_FAMILY

    assert {a for _, a in grid} == {"relu", "exp"}
    family = {m for m, _ in grid if m in POOL_FAMILY}
    assert family and all((m, "relu") in grid and (m, "exp") in grid for m in family)
