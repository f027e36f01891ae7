"""Sweeps: finished runs are skipped, interrupted ones redone from scratch, tables summarise every run."""
from __future__ import annotations

import pandas as pd
import pytest

from baselines import sweep as sw
from baselines.errors import BaselineError
from baselines.protocols import get_protocol
from baselines.run import MARKER_FILE
from baselines.runners import LocalRunner, get_runner
from motifbench.cli import main


def _args(out, repo, *extra):
    return ["sweep", "--models", "cnn-2", "--activations", "relu,exp", "--seeds", "0", "--out", str(out),
            "--data", str(repo), "--limit", "200", "--epochs", "1", "--device", "cpu", "--threads", "1",
            "--no-progress", *extra]


def test_sweep_resumes_skipping_finished_and_redoing_interrupted(tmp_path, synthetic_repo, capsys):
    out = tmp_path / "sweep"
    assert main(_args(out, synthetic_repo)) == 0
    first = capsys.readouterr().out
    assert "trained 2, skipped 0" in first
    done = sw.run_dir_for(out, "cnn-2", "relu", 0)
    interrupted = sw.run_dir_for(out, "cnn-2", "exp", 0)
    done_stamp = (done / "spec.json").stat().st_mtime_ns
    # simulate a crash mid-run: no marker, a half-written file left behind
    (interrupted / MARKER_FILE).unlink()
    (interrupted / "leftover.tmp").write_text("partial")
    assert main(_args(out, synthetic_repo)) == 0
    second = capsys.readouterr().out
    assert "trained 1, skipped 1" in second
    assert (done / "spec.json").stat().st_mtime_ns == done_stamp
    assert (interrupted / MARKER_FILE).is_file() and not (interrupted / "leftover.tmp").exists()

    runs = pd.read_csv(out / "runs.csv")
    assert sorted(runs["activation"]) == ["exp", "relu"] and set(runs["model"]) == {"cnn-2"}
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary["activation"]) == ["relu", "exp"]
    assert {"test_auroc_mean", "test_auroc_std", "test_aupr_mean", "n_runs"} <= set(summary.columns)
    relu = runs[runs.activation == "relu"].iloc[0]
    assert summary.loc[summary.activation == "relu", "test_aupr_mean"].item() == pytest.approx(relu.test_aupr)
    md = (out / "summary.md").read_text()
    assert md.startswith("| model | activation | n | test_auroc | test_aupr |") and "| cnn-2 | exp | 1 |" in md


def test_summary_reports_mean_and_sd_and_recovery_columns():
    runs = pd.DataFrame({
        "model": ["cnn-25"] * 3 + ["cnn-2"], "activation": ["exp"] * 3 + ["relu"], "seed": [0, 1, 2, 0],
        "test_auroc": [0.9, 0.8, 0.7, 0.5], "test_aupr": [0.5, 0.6, 0.7, 0.2],
        "match_ground_truth_fraction": [0.8, 0.9, 1.0, 0.1],
    })
    table = sw.summarize(runs)
    assert list(table["model"]) == ["cnn-2", "cnn-25"]  # registry order
    row = table[table.model == "cnn-25"].iloc[0]
    assert row.n_runs == 3 and row.test_auroc_mean == pytest.approx(0.8) and row.test_auroc_std == pytest.approx(0.1)
    assert row.match_ground_truth_fraction_mean == pytest.approx(0.9)
    md = sw.to_markdown(table)
    assert "0.800 ± 0.100" in md and "match_ground_truth_fraction" in md
    assert "| cnn-2 | relu | 1 | 0.500 |" in md  # one run: no sd


def test_recovery_numbers_are_found_in_a_nested_evaluator_record():
    record = {"results": {"classification": {"auroc": 0.9}, "motif_recovery": {
        "match_jaspar_fraction": 0.7, "match_ground_truth_fraction": 0.6, "coverage_count": 9}}}
    assert [sw._find_key(record, k) for k in sw.RECOVERY_KEYS] == [0.7, 0.6, 9]


def test_plan_validates_names_and_paper_preset():
    tasks = sw.plan(["cnn_25"], ["relu"], [0, 1], "/tmp/s", get_protocol("koo2019"))
    assert [t.model for t in tasks] == ["cnn-25", "cnn-25"] and tasks[1].run_dir.endswith("cnn-25/relu/seed1")
    with pytest.raises(BaselineError, match="unknown zoo model"):
        sw.plan(["cnn-3"], ["relu"], [0], "/tmp/s", get_protocol("koo2019"))
    paper = sw.PRESETS["paper"]
    assert paper["models"][:7] == ["cnn-1", "cnn-2", "cnn-4", "cnn-10", "cnn-25", "cnn-50", "cnn-100"]
    assert paper["activations"] == ["relu", "exp"] and len(paper["seeds"]) == 5


def test_runner_seam():
    assert list(LocalRunner().map(lambda t: t * 2, [1, 2, 3])) == [2, 4, 6]
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(BaselineError, match=r"pip install 'motifbench\[ray\]'"):
            get_runner("ray")
    with pytest.raises(BaselineError, match="unknown runner"):
        get_runner("slurm")


def test_evaluate_flag_without_evaluator_says_so(tmp_path, synthetic_repo, capsys, monkeypatch):
    monkeypatch.setattr(sw, "evaluator_function", lambda: None)
    assert main(_args(tmp_path / "s", synthetic_repo, "--evaluate", "--activations", "relu")) == 0
    assert "--evaluate skipped" in capsys.readouterr().err


def test_evaluate_flag_scores_each_run_once_through_the_evaluator(tmp_path, synthetic_repo, monkeypatch, capsys):
    calls = []

    def fake_evaluate(model, data=None, config="synthetic", split="test", out_dir=None, progress=True,
                      record_name="result.json", **kwargs):
        calls.append(model)
        assert model.name == "model.onnx" and model.is_file() and split == "test" and data == str(synthetic_repo)
        record = {"results": {"motif_recovery": {"match_jaspar_fraction": 0.5, "match_ground_truth_fraction": 0.25,
                                                 "coverage_count": 3}}}
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / record_name).write_text(__import__("json").dumps(record))
        return record

    monkeypatch.setattr(sw, "evaluator_function", lambda: fake_evaluate)
    args = _args(tmp_path / "s", synthetic_repo, "--evaluate", "--activations", "exp")
    assert main(args) == 0
    assert main(args) == 0  # resumed: neither retrained nor re-evaluated
    assert len(calls) == 1
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert summary.loc[0, "match_ground_truth_fraction_mean"] == 0.25 and summary.loc[0, "coverage_count_mean"] == 3
    assert "match_ground_truth_fraction" in (tmp_path / "s" / "summary.md").read_text()
