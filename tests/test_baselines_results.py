"""The generated results table and the model-repo folder, from real trained and evaluated runs."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from baselines import sweep as sw
from baselines.hub import publish_model_repo, verify_model_repo, write_model_repo
from baselines.protocols import get_protocol
from baselines.published import Published
from baselines.results import build_results, score_runs, verdict
from benchmark.publish import PublishError
from motifbench.cli import main


@pytest.fixture(scope="module")
def scored_sweep(tmp_path_factory, synthetic_repo):
    """Two seeds of cnn-25 relu, trained for 1 epoch and scored by the real evaluator with both PPM methods."""
    out = tmp_path_factory.mktemp("results") / "sweep"
    protocol = get_protocol("koo2019", epochs=1)
    tasks = sw.plan(["cnn-25"], ["relu"], [0, 1], out, protocol, data_source=str(synthetic_repo), limit=300,
                    device="cpu", threads=1, progress=False)
    sw.sweep(tasks, out)
    runs = [sw.run_dir_for(out, "cnn-25", "relu", s) for s in (0, 1)]
    statuses = score_runs(runs, data=str(synthetic_repo))
    assert [(s["nmi"], s["ke"]) for s in statuses] == [("evaluated", "evaluated")] * 2
    return out


def test_table_reports_mean_sd_and_n_of_both_ppm_methods(scored_sweep, tmp_path):
    runs = [sw.run_dir_for(scored_sweep, "cnn-25", "relu", s) for s in (0, 1)]
    assert not [p for p in (runs[0] / "evaluation").iterdir() if p.suffix != ".json"]  # records only
    duplicate = tmp_path / "bundled" / "cnn-25-relu-seed0"  # the same run shipped elsewhere: counted once
    shutil.copytree(runs[0], duplicate)
    built = build_results([scored_sweep, tmp_path / "bundled"], tmp_path / "docs" / "results.md")
    assert len(built.runs) == 2
    row = built.summary.iloc[0]
    assert (row["model"], row["activation"], row["n_runs"]) == ("cnn-25", "relu", 2)
    assert row["protocol"] == "koo2019 (epochs 1)"
    for key, method, file in (("match_ground_truth_fraction", "nmi", "result.json"),
                              ("match_ground_truth_fraction_ke", "ke", "result.ke.json")):
        values = [json.loads((r / "evaluation" / file).read_text())["results"]["motif_recovery"][
            "match_ground_truth_fraction"] for r in runs]
        assert row[f"{key}_n"] == 2
        assert row[f"{key}_mean"] == pytest.approx(np.mean(values))
        assert row[f"{key}_sd"] == pytest.approx(np.std(values, ddof=1))
    aurocs = [json.loads((r / "spec.json").read_text())["test"]["auroc"] for r in runs]
    page = built.markdown.read_text()
    assert f"| cnn-25 | relu | koo2019 (epochs 1) | 2 | {np.mean(aurocs):.3f} ± {np.std(aurocs, ddof=1):.3f} |" in page
    assert "GT match KE" in page and "![GT match vs first-layer pool size](results_gt_vs_pool.png)" in page
    assert built.figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_results_command_writes_the_page(scored_sweep, tmp_path, capsys):
    out = tmp_path / "results.md"
    assert main(["results", "table", str(scored_sweep), "--out", str(out)]) == 0
    assert "2 run(s) in 1 row(s)" in capsys.readouterr().out
    assert out.read_text().startswith("# Measured baseline results")


def test_verdict_uses_the_spread_it_has():
    paper = Published(0.127, 0.080, "test")
    assert verdict(0.20, 0.05, 5, paper).startswith("within 2 sd (combined sd: 0.094)")
    assert verdict(0.37, 0.05, 5, paper).startswith("NOT within 2 sd")
    assert "paper's sd only, n = 1" in verdict(0.37, math.nan, 1, paper)
    assert verdict(0.37, math.nan, 1, Published(0.1, None, "t")) == "no sd: no verdict"
    assert verdict(0.37, 0.01, 3, None) == ""


def test_model_repo_folder_verifies_and_publish_checks_refuse(scored_sweep, tmp_path, monkeypatch):
    folder = write_model_repo([scored_sweep], tmp_path / "hub", "1.0.0")
    assert verify_model_repo(folder) == []
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: onnx") and "| cnn-25 | relu |" in card
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {r["path"] for r in manifest["runs"]} == {"runs/cnn-25/relu/seed0", "runs/cnn-25/relu/seed1"}
    assert "runs/cnn-25/relu/seed0/evaluation/result.ke.json" in manifest["files_sha256"]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(PublishError, match="vX.Y.Z"):
        publish_model_repo(folder, "org/baselines", "1.0.0")
    with pytest.raises(PublishError, match="does not match the manifest's version 1.0.0"):
        publish_model_repo(folder, "org/baselines", "v1.0.1")
    with pytest.raises(PublishError, match="ORG/NAME"):
        publish_model_repo(folder, "baselines", "v1.0.0")
    with pytest.raises(PublishError, match="HF_HUB_OFFLINE=1"):
        publish_model_repo(folder, "org/baselines", "v1.0.0")
    (folder / "runs/cnn-25/relu/seed1/model.onnx").write_bytes(b"tampered")
    with pytest.raises(PublishError, match="seed1/model.onnx: sha256 differs"):
        publish_model_repo(folder, "org/baselines", "v1.0.0")
    with pytest.raises(Exception, match="not empty"):
        write_model_repo([scored_sweep], folder, "1.0.0")


def test_docs_results_page_is_what_the_generator_builds_from_the_shipped_records(tmp_path):
    """docs/results.md is generated, never hand-edited: rebuilding it from the bundled records gives the same page."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    figure = "space_app/baseline_models/results_gt_vs_pool.png"
    rebuilt = build_results([root / "space_app" / "baseline_models"], tmp_path / "docs" / "results.md",
                            figure=tmp_path / figure, notes=root / "docs" / "results_notes.md",
                            command=f"motifbench results table space_app/baseline_models --figure {figure} "
                            "--notes docs/results_notes.md")
    assert rebuilt.markdown.read_text() == (root / "docs" / "results.md").read_text()
    assert (root / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # shipped for the About tab
    assert (rebuilt.summary["n_runs"] >= 1).all() and rebuilt.summary["match_ground_truth_fraction_ke_n"].min() == 1
