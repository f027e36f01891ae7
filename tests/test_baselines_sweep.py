"""Sweeps: finished runs are skipped, interrupted ones redone from scratch, tables summarise every run."""
from __future__ import annotations

import json
import re

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


def _hold_lock(run_dir):
    """A separate process holding a cell's claim (as a live sweep would) until it is terminated."""
    import subprocess
    import sys

    from baselines.run_claim import lock_path

    code = ("import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(600)")
    lock = lock_path(run_dir)
    lock.parent.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


@pytest.mark.slow
def test_concurrent_sweeps_share_a_folder_and_status_reports_it(tmp_path, synthetic_repo, capsys):
    out = tmp_path / "sweep"
    args = ["sweep", "--models", "cnn-2", "--activations", "relu,exp", "--seeds", "0,1", "--out", str(out),
            "--data", str(synthetic_repo), "--limit", "200", "--epochs", "1", "--device", "cpu", "--threads", "1",
            "--no-progress"]
    claimed = sw.run_dir_for(out, "cnn-2", "exp", 1)
    holder = _hold_lock(claimed)  # another sweep process is training this cell
    try:
        assert main(args) == 0
        first = capsys.readouterr().out
        assert "trained 3, skipped 0 (already complete), left 1 to other sweep processes" in first
        assert f"busy {claimed}: another sweep process has it" in first
        assert not claimed.exists()  # the busy cell was not touched
        assert main([*args, "--status"]) == 0
        status = capsys.readouterr().out
        row = {line.split()[1]: line.split() for line in status.splitlines() if line.strip().startswith("cnn-2")}
        # model activation planned complete running left seeds train_hours left_hours
        assert row["relu"][2:6] == ["2", "2", "0", "0"] and row["relu"][6] == "0,1"
        assert row["exp"][2:6] == ["2", "1", "1", "0"] and row["exp"][6] == "0"
        assert "3/4 complete, 1 running, 0 waiting" in status
    finally:
        holder.terminate()
        holder.wait()
    # the holder is gone (its lock with it): the next sweep claims and trains the cell
    assert main(args) == 0
    assert "trained 1, skipped 3 (already complete)" in capsys.readouterr().out
    assert main([*args, "--status"]) == 0
    assert "4/4 complete, 0 running, 0 waiting" in capsys.readouterr().out


def test_status_of_an_untouched_plan_says_nothing_is_known_yet(tmp_path):
    from baselines.grid_status import format_status, sweep_status

    tasks = sw.plan(["cnn-2", "cnn-25"], ["relu"], [0, 1, 2], tmp_path / "grid", get_protocol("koo2019"))
    status = sweep_status(tasks)
    assert list(status["model"]) == ["cnn-2", "cnn-25"] and list(status["left"]) == [3, 3]
    assert status["left_hours"].isna().all()
    text = format_status(status)
    assert "0/6 complete, 0 running, 6 waiting" in text and "unknown (no finished run has a training time yet)" in text


def test_a_status_probe_never_makes_a_claim_give_up_and_sees_a_held_claim(tmp_path):
    import fcntl
    import os
    import threading

    from baselines.run_claim import claim, is_claimed, lock_path

    cell = tmp_path / "grid" / "cnn-2" / "relu" / "seed0"
    assert not is_claimed(cell)  # never claimed: no lock file, nothing created by looking
    assert not lock_path(cell).exists()
    with claim(cell) as mine:
        assert mine and is_claimed(cell)
    assert not is_claimed(cell)
    # a probe (shared lock) held for a moment while a sweep claims: the claim waits it out instead of skipping
    fd = os.open(lock_path(cell), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_SH)
    threading.Timer(0.3, lambda: (fcntl.flock(fd, fcntl.LOCK_UN), os.close(fd))).start()
    with claim(cell, patience=30) as mine:  # patience far past the 0.3 s: a busy machine may delay the timer
        assert mine


def test_status_estimates_rows_without_times_from_the_model_then_the_sweep(tmp_path):
    from baselines.grid_status import format_status, sweep_status

    tasks = sw.plan(["cnn-2", "cnn-25"], ["relu", "exp"], [0, 1], tmp_path / "grid", get_protocol("koo2019"))

    def finish(model, activation, seed, record):
        run_dir = sw.run_dir_for(tmp_path / "grid", model, activation, seed)
        run_dir.mkdir(parents=True)
        (run_dir / "spec.json").write_text(record)
        (run_dir / MARKER_FILE).write_text("")

    finish("cnn-2", "relu", 0, json.dumps({"train_seconds": 3600.0}))
    finish("cnn-2", "exp", 0, json.dumps({"note": "no time recorded"}))
    finish("cnn-25", "relu", 0, "{damaged")
    status = sweep_status(tasks).set_index(["model", "activation"])
    assert status.loc[("cnn-2", "relu"), "left_hours"] == pytest.approx(1.0)
    assert status.loc[("cnn-2", "exp"), "left_hours"] == pytest.approx(1.0)  # the model's median
    assert status.loc[("cnn-25", "exp"), "left_hours"] == pytest.approx(2.0)  # the sweep's median, 2 runs
    assert status["complete"].sum() == 3 and status.loc[("cnn-25", "relu"), "train_hours"] == 0.0
    assert status.loc[("cnn-25", "relu"), "left_hours"] == pytest.approx(1.0)  # its one run untimed: the sweep's
    assert "about 5.0 h of training left" in format_status(status.reset_index())


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


def test_plan_validates_names():
    tasks = sw.plan(["cnn_25"], ["relu"], [0, 1], "/tmp/s", get_protocol("koo2019"))
    assert [t.model for t in tasks] == ["cnn-25", "cnn-25"] and tasks[1].run_dir.endswith("cnn-25/relu/seed1")
    with pytest.raises(BaselineError, match="unknown zoo model"):
        sw.plan(["cnn-3"], ["relu"], [0], "/tmp/s", get_protocol("koo2019"))


def test_presets_carry_their_papers_models_protocol_and_trials():
    koo = sw.get_preset("koo2019")
    assert koo.models[:7] == ("cnn-1", "cnn-2", "cnn-4", "cnn-10", "cnn-25", "cnn-50", "cnn-100")
    assert koo.protocol == "koo2019" and koo.activations == ("relu",) and len(koo.seeds) == 5
    assert not [m for m in koo.models if m.endswith("-nmi")]
    nmi = sw.get_preset("nmi2021")
    assert nmi.models == ("cnn-1-nmi", "cnn-2-nmi", "cnn-4-nmi", "cnn-10-nmi", "cnn-25-nmi", "cnn-50-nmi",
                          "cnn-100-nmi", "cnn-deep-nmi")
    assert nmi.protocol == "nmi2021" and nmi.activations == ("relu", "exp") and nmi.seeds == tuple(range(10))
    assert sw.get_preset("paper") is nmi  # documented alias
    with pytest.raises(BaselineError, match="unknown sweep preset 'nmi'.*paper \\(= nmi2021\\)"):
        sw.get_preset("nmi")


def _planned(monkeypatch, *argv):
    """Run the sweep command up to planning; returns the tasks it would run."""
    captured = {}

    def fake_sweep(tasks, out_dir, runner=None, on_row=None):
        captured["tasks"] = tasks
        out_dir.mkdir(parents=True)
        return sw.SweepResult(rows=[], tables=sw.write_tables(out_dir), evaluated=False)

    monkeypatch.setattr(sw, "sweep", fake_sweep)
    assert main(["sweep", *argv, "--device", "cpu", "--no-progress"]) == 0
    return captured["tasks"]


def test_preset_sets_protocol_and_seeds_and_flags_override(tmp_path, monkeypatch, capsys):
    tasks = _planned(monkeypatch, "--preset", "nmi2021", "--out", str(tmp_path / "a"))
    assert len(tasks) == 8 * 2 * 10 and {t.seed for t in tasks} == set(range(10))
    assert {t.protocol["name"] for t in tasks} == {"nmi2021"} and tasks[0].protocol["restore_best"] is False
    # seed-major: every (model, activation) at seed 0 comes before any at seed 1
    assert [t.seed for t in tasks] == sorted(t.seed for t in tasks)
    assert len({(t.model, t.activation) for t in tasks[:16]}) == 16
    tasks = _planned(monkeypatch, "--preset", "paper", "--out", str(tmp_path / "b"), "--seeds", "0-1",
                     "--protocol", "koo2019", "--epochs", "3", "--models", "cnn-25-nmi")
    assert "preset paper (alias of nmi2021)" in capsys.readouterr().out
    assert [(t.model, t.activation, t.seed) for t in tasks] == [
        ("cnn-25-nmi", "relu", 0), ("cnn-25-nmi", "exp", 0), ("cnn-25-nmi", "relu", 1), ("cnn-25-nmi", "exp", 1)]
    assert tasks[0].protocol["name"] == "koo2019" and tasks[0].protocol["epochs"] == 3
    tasks = _planned(monkeypatch, "--preset", "koo2019", "--out", str(tmp_path / "c"), "--config", "deepsea")
    assert {t.protocol["batch_size"] for t in tasks} == {32} and {t.seed for t in tasks} == set(range(5))
    capsys.readouterr()
    assert main(["sweep", "--preset", "nature", "--out", str(tmp_path / "d")]) == 2
    assert "unknown sweep preset 'nature'" in capsys.readouterr().err


def test_resume_refuses_a_finished_run_trained_under_another_protocol(tmp_path, synthetic_repo, capsys):
    out = tmp_path / "sweep"
    assert main(_args(out, synthetic_repo, "--activations", "relu")) == 0
    assert main(_args(out, synthetic_repo, "--activations", "relu")) == 0  # same settings: resumes
    assert "trained 0, skipped 1" in capsys.readouterr().out
    assert main(_args(out, synthetic_repo, "--activations", "relu", "--epochs", "2")) == 2
    assert re.search(r"trained under protocol koo2019 .*epochs 1 -> 2", capsys.readouterr().err)
    assert main(_args(out, synthetic_repo, "--activations", "relu", "--protocol", "nmi2021")) == 2
    assert re.search(r"this sweep's nmi2021 \(.*monitor 'val_loss' -> 'val_aupr'.*restore_best True -> False",
                     capsys.readouterr().err)
    with pytest.raises(BaselineError, match="other settings"):  # the same check, as Python API
        sw.check_same_protocol(sw.run_dir_for(out, "cnn-2", "relu", 0), get_protocol("koo2019", lr=0.01))
    # float32 runs are not counted for a --cpu-amp (bfloat16) sweep, nor the other way round
    assert main(_args(out, synthetic_repo, "--activations", "relu", "--cpu-amp")) == 2
    assert "trained in float32, and this sweep asks for bfloat16" in capsys.readouterr().err
    with pytest.raises(BaselineError, match=r"trained in float32, and this sweep asks for bfloat16"):
        sw.check_same_precision(sw.run_dir_for(out, "cnn-2", "relu", 0), cpu_amp=True)
    sw.check_same_precision(sw.run_dir_for(out, "cnn-2", "relu", 0), cpu_amp=False)


def test_runner_seam():
    assert list(LocalRunner().map(lambda t: t * 2, [1, 2, 3])) == [2, 4, 6]
    try:
        import ray  # noqa: F401
    except ImportError:
        with pytest.raises(BaselineError, match=r"pip install 'motifbench\[ray\]'"):
            get_runner("ray")
    with pytest.raises(BaselineError, match="unknown runner"):
        get_runner("slurm")


@pytest.mark.parametrize("options, message", [
    ({"num_cpus": 0}, "CPUs per run must be more than 0"),  # Ray would start every cell at once
    ({"num_cpus": float("nan")}, "CPUs per run must be more than 0"),
    ({"num_gpus": -1}, "GPUs per run must be 0 or more"),
    ({"cluster_cpus": 0}, "at least 1 CPU"),
    ({"max_retries": -1}, "retries per cell"),
])
def test_ray_runner_refuses_requests_that_mean_nothing_before_starting_ray(options, message):
    with pytest.raises(BaselineError, match=message):
        get_runner("ray", **options)


def test_seed_lists_and_ranges_from_the_command_line(tmp_path, capsys):
    from baselines.cli import _seeds

    assert _seeds("0-2,5,1") == [0, 1, 2, 5]  # a seed named twice is one run
    assert len(_seeds("0-200000,7")) == 200_001  # a long range is parsed in linear time
    tasks = sw.plan(["cnn-25", "cnn_25"], ["relu", "relu"], [0], tmp_path / "g", get_protocol("koo2019"))
    assert [(t.model, t.activation, t.seed) for t in tasks] == [("cnn-25", "relu", 0)]  # one row, not four
    for bad, message in (("3-1", "is empty: write it low-high, e.g. 1-3"), ("a", "integers or ranges"),
                         ("-1", "integers or ranges")):
        with pytest.raises(BaselineError, match=message):
            _seeds(bad)
    # the command: an empty range is refused, never read as "no seeds given" (which means seed 0)
    assert main(["sweep", "--models", "cnn-25", "--seeds", "4-2", "--out", str(tmp_path / "g")]) != 0
    assert "'4-2' is empty" in capsys.readouterr().err and not (tmp_path / "g").exists()


def test_evaluate_flag_scores_each_run_once_through_the_evaluator(tmp_path, synthetic_repo, monkeypatch, capsys):
    calls = []
    settings = {"now": ("1.0.0", {"ppm_method": "nmi", "limit": None})}

    def fake_evaluate(model, data=None, config="synthetic", split="test", out_dir=None, progress=True,
                      record_name="result.json", **kwargs):
        calls.append(model)
        assert model.name == "model.onnx" and model.is_file() and split == "test" and data == str(synthetic_repo)
        version, params = settings["now"]
        params = {**params, "ppm_method": kwargs["params"].ppm_method}
        ke = kwargs["params"].ppm_method == "ke"
        record = {"evaluator_version": version, "parameters": {"eval": params}, "dataset": {"config": config},
                  "results": {"motif_recovery": {"match_jaspar_fraction": 0.5, "match_ground_truth_fraction": 0.2 if ke else 0.25,
                                                 "coverage_count": 3}}}
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / record_name).write_text(json.dumps(record))
        return record

    monkeypatch.setattr(sw, "evaluator_function", lambda: fake_evaluate)
    monkeypatch.setattr(sw, "current_evaluator_settings",
                        lambda method="nmi": (settings["now"][0], {**settings["now"][1], "ppm_method": method}))
    args = _args(tmp_path / "s", synthetic_repo, "--evaluate", "--activations", "exp")
    assert main(args) == 0  # one record per PPM method
    assert len(calls) == 2 and (tmp_path / "s/cnn-2/exp/seed0/evaluation/result.ke.json").is_file()
    assert main(args) == 0  # resumed: neither retrained nor re-evaluated
    assert len(calls) == 2 and "evaluated 0, re-evaluated 0 (stale cache), reused 2" in capsys.readouterr().out
    settings["now"] = ("1.3.0", {"ppm_method": "nmi", "limit": None})  # minor bump: numbers keep their meaning
    assert main(args) == 0 and len(calls) == 2
    settings["now"] = ("2.0.0", {"ppm_method": "nmi", "limit": None})  # major bump: re-evaluate
    assert main(args) == 0 and len(calls) == 4
    assert "re-evaluated 2 (stale cache)" in capsys.readouterr().out
    settings["now"] = ("2.0.0", {"ppm_method": "nmi", "limit": 5})  # other parameters: re-evaluate
    assert main(args) == 0 and len(calls) == 6
    summary = pd.read_csv(tmp_path / "s" / "summary.csv")
    assert summary.loc[0, "match_ground_truth_fraction_mean"] == 0.25 and summary.loc[0, "coverage_count_mean"] == 3
    assert summary.loc[0, "match_ground_truth_fraction_ke_mean"] == 0.2
    assert "match_ground_truth_fraction" in (tmp_path / "s" / "summary.md").read_text()


def test_stale_reason_names_what_changed(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"onnx bytes")
    import hashlib

    sha = hashlib.sha256(b"onnx bytes").hexdigest()
    now = ("1.4.2", {"ppm_method": "nmi", "ism_output": "logit"})
    record = {"evaluator_version": "1.0.0", "parameters": {"eval": {"ppm_method": "nmi", "ism_output": "logit"}},
              "dataset": {"config": "synthetic"}, "model": {"onnx_sha256": sha}}
    assert sw.stale_reason(record, tmp_path, "synthetic", now) is None
    assert "version 1.0.0 -> 2.0.0" in sw.stale_reason(record, tmp_path, "synthetic", ("2.0.0", now[1]))
    assert "version None" in sw.stale_reason({**record, "evaluator_version": None}, tmp_path, "synthetic", now)
    changed = sw.stale_reason(record, tmp_path, "synthetic", ("1.4.2", {**now[1], "ism_output": "probability"}))
    assert changed == "evaluation parameters changed (ism_output)"
    added = sw.stale_reason(record, tmp_path, "synthetic", ("1.4.2", {**now[1], "new_knob": 1}))
    assert added == "evaluation parameters changed (new_knob)"
    assert "config synthetic -> deepsea" in sw.stale_reason(record, tmp_path, "deepsea", now)
    (tmp_path / "model.onnx").write_bytes(b"re-exported with logits")
    assert sw.stale_reason(record, tmp_path, "synthetic", now) == "model.onnx changed since it was scored"


def test_current_evaluator_settings_match_what_the_evaluator_records():
    """The comparison reads the evaluator lazily and in the record's JSON form."""
    settings = sw.current_evaluator_settings()
    from evaluator import EVALUATOR_VERSION
    from evaluator.params import EvalParams

    assert settings == (EVALUATOR_VERSION, json.loads(json.dumps(EvalParams().as_dict())))
    ke_version, ke_params = sw.current_evaluator_settings("ke")
    assert ke_params == json.loads(json.dumps(EvalParams(ppm_method="ke", attribution=False).as_dict()))


def test_results_preset_covers_the_issue_grid_under_the_full_protocol(tmp_path, monkeypatch):
    tasks = _planned(monkeypatch, "--preset", "results", "--out", str(tmp_path / "grid"))
    seeds: dict[tuple[str, str], set[int]] = {}
    for t in tasks:
        seeds.setdefault((t.model, t.activation), set()).add(t.seed)
    for pool in (1, 2, 4, 10, 25, 50, 100):
        for act in ("relu", "exp"):
            assert seeds[(f"cnn-{pool}", act)] == set(range(5))
    for variant in ("cnn3-2", "cnn3-50", "cnn9-4", "cnn9-25", "cnn-50-2", "cnn19-1-2", "cnn-25-f60", "cnn-25-f90",
                    "cnn-25-f120", "cnn-1-1-100"):
        assert len(seeds[(variant, "relu")]) >= 3
    assert len(seeds[("cnn-deep", "relu")]) >= 3 and len(seeds[("cnn-deep", "exp")]) >= 3
    assert len(tasks) == len({t.run_dir for t in tasks}) == 70 + 30 + 6
    protocol = tasks[0].protocol
    assert (protocol["name"], protocol["epochs"], protocol["patience"], protocol["restore_best"]) == \
        ("koo2019", 100, 20, True)
    # flags still override the whole grid with one product
    tasks = _planned(monkeypatch, "--preset", "results", "--out", str(tmp_path / "one"), "--models", "cnn-25",
                     "--seeds", "7")
    assert {(t.model, t.seed) for t in tasks} == {("cnn-25", 7)} and len(tasks) == 2


def test_a_planned_grid_is_seed_major_so_a_partial_sweep_covers_every_row_first():
    protocol = get_protocol("koo2019")
    cells = [(("cnn-25", "cnn-4"), ("relu", "exp"), (0, 1)), (("cnn3-2",), ("relu",), (0, 1, 2))]
    tasks = sw.plan_grid(cells, "/tmp/s", protocol)
    assert [t.seed for t in tasks] == sorted(t.seed for t in tasks)
    first = [(t.model, t.activation) for t in tasks if t.seed == 0]
    assert first == [("cnn-25", "relu"), ("cnn-25", "exp"), ("cnn-4", "relu"), ("cnn-4", "exp"), ("cnn3-2", "relu")]
    assert len(tasks) == 11 and len({t.run_dir for t in tasks}) == 11
    assert [t.seed for t in sw.plan(["cnn-25", "cnn-4"], ["relu"], [0, 1], "/tmp/s", protocol)] == [0, 0, 1, 1]


def test_runs_on_other_data_are_never_resumed_or_averaged_together(tmp_path, synthetic_repo, capsys):
    from baselines.results import build_results

    one = ["sweep", "--models", "cnn-2", "--activations", "relu", "--seeds", "0", "--data", str(synthetic_repo),
           "--epochs", "1", "--device", "cpu", "--threads", "1", "--no-progress"]
    assert main([*one, "--out", str(tmp_path / "a"), "--limit", "200"]) == 0
    assert main([*one, "--out", str(tmp_path / "a"), "--limit", "300"]) != 0  # was: "skipped 1 (already complete)"
    assert "trained on other data than this sweep's (limit 200 -> 300)" in capsys.readouterr().err
    assert main([*one, "--out", str(tmp_path / "b"), "--limit", "300", "--seeds", "1"]) == 0
    with pytest.raises(BaselineError, match="cnn-2 relu runs under koo2019 .* were trained on different data"):
        build_results([tmp_path / "a", tmp_path / "b"], tmp_path / "results.md")
    assert not (tmp_path / "results.md").exists()
