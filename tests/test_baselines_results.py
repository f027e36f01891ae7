"""The generated results table and the model-repo folder, from real trained and evaluated runs."""
from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest

from baselines import sweep as sw
from baselines.hub import publish_model_repo, verify_model_repo, write_model_repo
from baselines.presets import get_preset
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
    summary = rebuilt.summary
    # every shipped run carries both PPM methods' records, and the rows hold the `results` preset's seeds (issue 13)
    for column in ("match_ground_truth_fraction_n", "match_ground_truth_fraction_ke_n", "test_auroc_n"):
        assert (summary[column] == summary["n_runs"]).all(), column
    preset = get_preset("results")
    planned: dict[tuple[str, str], list[int]] = {}
    for task in sw.plan_grid(preset.cells(), tmp_path / "grid", get_protocol(preset.protocol)):
        planned.setdefault((task.model, task.activation), []).append(task.seed)
    shipped = {(m, a): [int(seed) for seed in seeds.split(",")]
               for m, a, seeds in zip(summary["model"], summary["activation"], summary["seeds"])}
    assert shipped == {cell: sorted(seeds) for cell, seeds in planned.items()}


def test_bundle_ships_every_seed_record_and_one_onnx_and_the_leaderboard_family_counts_them(scored_sweep, tmp_path,
                                                                                            capsys):
    """`motifbench results bundle`: records of all seeds, ONNX of the lowest, family named with its protocol;
    the leaderboard's family row over one scored seed plus the shipped record of the other is mean ± sd, n=2."""
    import pandas as pd

    from baselines.bundle import bundle_runs, family_name
    from baselines.errors import BaselineError
    from space_app import leaderboard as lb
    from space_app.bundled_baselines import bundled_runs, recorded_seed_rows
    from space_app.families import display_family_table, family_rows
    from submissions.export import LEADERBOARD_SCHEMA
    from submissions.intake import baseline_manifest
    from submissions.manifest import parse_manifest

    bundle = tmp_path / "baseline_models"
    (bundle / "cnn-2-relu-seed0").mkdir(parents=True)  # an earlier bundle's run goes, its figure stays
    (bundle / "cnn-2-relu-seed0" / "spec.json").write_text("{}")
    (bundle / "results_gt_vs_pool.png").write_bytes(b"png")
    assert main(["results", "bundle", str(scored_sweep), "--out", str(bundle)]) == 0
    assert "2 run(s) in 1 family(ies)" in capsys.readouterr().out
    assert sorted(p.name for p in bundle.iterdir()) == ["README.md", "cnn-25-relu-seed0", "cnn-25-relu-seed1",
                                                       "results_gt_vs_pool.png"]
    seed0, seed1 = bundle / "cnn-25-relu-seed0", bundle / "cnn-25-relu-seed1"
    assert (seed0 / "model.onnx").is_file() and not (seed1 / "model.onnx").exists()
    assert bundled_runs(bundle) == [seed0]  # only the ONNX seed is queued for live scoring
    for run in (seed0, seed1):
        assert (run / "evaluation" / "result.json").is_file() and (run / "evaluation" / "result.ke.json").is_file()
    spec1 = json.loads((seed1 / "spec.json").read_text())
    assert spec1["family"] == "cnn-25-relu koo2019 (epochs 1)"  # the protocol is part of the family
    manifest = parse_manifest(baseline_manifest(spec1, "1.0.0"))
    assert manifest.family == "cnn-25-relu koo2019 (epochs 1)" and manifest.seed == 1
    assert family_name({**spec1, "protocol": {"name": "koo2019"}}) == "cnn-25-relu koo2019"
    assert "| cnn-25-relu | koo2019 (epochs 1) | 2 | 0,1 |" in (bundle / "README.md").read_text()

    records = [json.loads((r / "evaluation" / "result.json").read_text()) for r in (seed0, seed1)]
    recorded = recorded_seed_rows(bundle)
    assert sorted(recorded["seed"]) == [0, 1] and set(recorded["family"]) == {"cnn-25-relu koo2019 (epochs 1)"}
    gt = [r["results"]["motif_recovery"]["match_ground_truth_fraction"] for r in records]
    assert sorted(recorded["match_ground_truth"]) == sorted(gt)
    live = {name: None for name in LEADERBOARD_SCHEMA.names}
    live.update(id="sub1", model_name="cnn-25-relu-seed0", family="cnn-25-relu koo2019 (epochs 1)", seed=0, baseline=True,
                dataset_config="synthetic", dataset_version=records[0]["dataset"]["version"],
                evaluator_version=records[0]["evaluator_version"], match_ground_truth=gt[0],
                auroc=records[0]["results"]["classification"]["macro_auroc"], activation="relu")
    other = {**live, "id": "sub2", "model_name": "mine", "family": None, "seed": None, "baseline": False}
    frame = lb.prepare(pd.DataFrame([live, other]))
    rows = lb.select_rows(frame, lb.views(frame)[0])
    table = family_rows(rows, recorded).set_index("family")
    fam = table.loc["cnn-25-relu koo2019 (epochs 1)"]
    assert (fam["n_seeds"], fam["n_scored"], fam["id"]) == (2, 1, "sub1")
    assert fam["match_ground_truth_mean"] == pytest.approx(np.mean(gt))
    assert fam["match_ground_truth_sd"] == pytest.approx(np.std(gt, ddof=1))
    assert table.loc["mine", "n_seeds"] == 1
    stale = recorded.assign(evaluator_version="0.0.1")  # another evaluator's records never join live scores
    assert family_rows(rows, stale).set_index("family").loc["cnn-25-relu koo2019 (epochs 1)", "n_seeds"] == 1
    shown = display_family_table(rows, recorded)
    assert shown.iloc[0]["Seeds (n)"] == 2 and shown.iloc[0]["Scored here"] == 1 and " ± " in shown.iloc[0]["GT match"]

    other_protocol = tmp_path / "other" / "cnn-25-relu-seed0"  # the same model under another protocol
    shutil.copytree(sw.run_dir_for(scored_sweep, "cnn-25", "relu", 0), other_protocol)
    spec = json.loads((other_protocol / "spec.json").read_text())
    spec["protocol"]["epochs"] = 2
    (other_protocol / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(BaselineError, match="several protocols.*--protocol"):
        bundle_runs([scored_sweep, tmp_path / "other"])
    assert len(bundle_runs([scored_sweep, tmp_path / "other"], protocol="koo2019 (epochs 2)")) == 1
    mixed = build_results([scored_sweep, tmp_path / "other"], tmp_path / "mixed" / "results.md")
    assert sorted(zip(mixed.summary["protocol"], mixed.summary["n_runs"])) == [("koo2019 (epochs 1)", 2),
                                                                             ("koo2019 (epochs 2)", 1)]


def test_leaderboard_page_shows_a_baseline_family_over_scored_and_recorded_seeds(scored_sweep, tmp_path,
                                                                                  monkeypatch):
    """The Leaderboard tab's family view (app.leaderboard_view): the bundle's seed 0 scored through the real
    store and export, seed 1 from its shipped record: one row, n = 2, mean ± sd cells."""
    import numpy as np

    from baselines.bundle import write_baseline_bundle
    from space_app import app, bundled_baselines
    from submissions import export
    from submissions.intake import baseline_manifest
    from submissions.sqlite_store import open_store

    bundle = write_baseline_bundle([scored_sweep], tmp_path / "baseline_models").folder
    monkeypatch.setattr(bundled_baselines, "BUNDLE_DIR", bundle)
    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    spec = json.loads((bundle / "cnn-25-relu-seed0" / "spec.json").read_text())
    record = json.loads((bundle / "cnn-25-relu-seed0" / "evaluation" / "result.json").read_text())
    store = open_store()
    try:
        sub, _ = store.add(manifest=baseline_manifest(spec, record["dataset"]["version"]), sha256="ab" * 32,
                           size_bytes=1000, baseline=True)
        assert store.claim("w").id == sub.id
        store.finish(sub.id, "w", record)
        export.export_all(store, export.submissions_home())
    finally:
        store.close()
    table = app.leaderboard_view(None, None, "all", "all", [], True)[3].data
    row = table[table["Family"] == "cnn-25-relu koo2019 (epochs 1)"].iloc[0]
    gt = [json.loads((bundle / f"cnn-25-relu-seed{s}" / "evaluation" / "result.json").read_text())["results"][
        "motif_recovery"]["match_ground_truth_fraction"] for s in (0, 1)]
    assert (row["Seeds (n)"], row["Scored here"], row["ID"]) == (2, 1, sub.id)
    assert row["GT match"] == f"{np.mean(gt):.3f} ± {np.std(gt, ddof=1):.3f}"
    single = app.leaderboard_view(None, None, "all", "all", [])[3].data
    assert len(single) == 1  # the per-model view shows only what the worker scored


def test_the_papers_qualitative_findings_are_read_as_ranges_for_the_rows_they_speak_about():
    from baselines.published import FEW_BOUND, finding_verdict, findings

    auroc = findings("cnn-25", "relu", "test_auroc", 19, 25)
    assert len(auroc) == 1 and finding_verdict(0.971, auroc[0]) == "consistent"
    assert finding_verdict(0.976, auroc[0]) == "NOT consistent" and finding_verdict(math.nan, auroc[0]) == ""
    assert findings("cnn9-25", "relu", "test_auroc", 9, 25) == []  # a variant is not "every CNN-k"
    few = findings("cnn-2", "relu", "match_ground_truth_fraction_ke", 19, 2)
    assert len(few) == 1 and finding_verdict(FEW_BOUND, few[0]) == "consistent"
    assert finding_verdict(0.37, few[0]) == "NOT consistent"
    assert findings("cnn-4", "relu", "match_ground_truth_fraction", 19, 4) == []  # its published number speaks
    most = findings("cnn-deep", "exp", "match_ground_truth_fraction", 19, 1)
    assert len(most) == 1 and finding_verdict(0.5, most[0]) == "NOT consistent"
    assert finding_verdict(0.51, most[0]) == "consistent"
    assert findings("cnn-deep", "relu", "match_ground_truth_fraction", 19, 1) == []
    assert finding_verdict(0.93, findings("cnn3-50", "relu", "test_auroc", 3, 50)[0]) == "consistent"


def test_a_bundle_that_is_one_presets_grid_names_the_sweep_that_retrains_it():
    """The shipped bundle is the `results` preset's grid, so its README gives the two commands that rebuild it;
    a run missing, an extra run or a protocol departure means no preset retrains it, and no command is named."""
    from pathlib import Path

    from baselines.bundle import bundle_runs
    from baselines.presets import matching_preset

    shipped = Path(__file__).resolve().parent.parent / "space_app" / "baseline_models"
    runs = bundle_runs([shipped])
    cells = list(zip(runs["model"], runs["activation"], runs["seed"], runs["protocol_label"]))
    assert matching_preset(cells).name == "results"
    assert matching_preset(cells[1:]) is None
    assert matching_preset([*cells, ("cnn-2", "relu", 9, "koo2019")]) is None
    assert matching_preset([(m, a, s, "koo2019 (epochs 40)") for m, a, s, _ in cells]) is None
    assert matching_preset([*cells, cells[0]]) is None  # a run counted twice is not the grid
    readme = (shipped / "README.md").read_text()
    assert "motifbench sweep --preset results --out runs/results --evaluate --threads 1" in readme
    assert "motifbench results bundle runs/results --out space_app/baseline_models" in readme


def test_a_damaged_record_is_named_by_the_table_and_rescored_by_score(scored_sweep, tmp_path, synthetic_repo, capsys):
    """A truncated evaluator record: `results table` names the file (no traceback, nothing written); `results
    score` takes it for a stale cache and scores the run again. Method names are case-insensitive."""
    copy = tmp_path / "sweep"
    shutil.copytree(scored_sweep, copy)
    run = sw.run_dir_for(copy, "cnn-25", "relu", 0)
    record = run / "evaluation" / "result.json"
    record.write_text(record.read_text()[:50])
    page = tmp_path / "docs" / "results.md"
    assert main(["results", "table", str(copy), "--out", str(page), "--figure", str(tmp_path / "f.png")]) != 0
    err = capsys.readouterr().err
    assert f"{record} is not valid JSON" in err and "Traceback" not in err and not page.exists()
    (run / "spec.json").write_text("[1, 2]")
    assert main(["results", "table", str(copy), "--out", str(page)]) != 0
    assert "holds a JSON list, not a record" in capsys.readouterr().err
    shutil.copy2(sw.run_dir_for(scored_sweep, "cnn-25", "relu", 0) / "spec.json", run / "spec.json")
    assert main(["results", "score", str(run), "--data", str(synthetic_repo), "--methods", "NMI"]) == 0
    assert "nmi evaluated" in capsys.readouterr().out and json.loads(record.read_text())["results"]
    assert main(["results", "score", str(run), "--methods", "nmi,bogus"]) != 0
    assert "unknown PPM method(s) 'bogus'; expected nmi and ke" in capsys.readouterr().err


def test_failed_builds_leave_nothing_behind_and_run_names_cannot_leave_the_output(scored_sweep, tmp_path, capsys):
    """hub-folder builds beside --out and moves it in at the end; results table reads and checks everything before
    writing; a spec.json naming a path as its model is refused before any folder is named after it."""
    copy = tmp_path / "sweep"
    shutil.copytree(scored_sweep, copy)
    repo = tmp_path / "hub"
    with pytest.raises(Exception, match="two runs for runs/cnn-25/relu/seed0"):
        write_model_repo([copy, scored_sweep], repo, "1.0.0")  # fails after copying the first root's runs
    assert not repo.exists() and [p.name for p in tmp_path.iterdir()] == ["sweep"]
    for version in ("01.0.0", "\u0661.\u0660.\u0660", "1.0"):
        with pytest.raises(Exception, match="is not X.Y.Z"):
            write_model_repo([copy], repo, version)
    assert write_model_repo(str(copy), repo, "1.0.0") == repo  # one root given alone, as a str

    page, figure = tmp_path / "docs" / "results.md", tmp_path / "docs" / "fig.png"
    assert main(["results", "table", str(copy), "--out", str(page), "--figure", str(figure),
                 "--notes", str(tmp_path / "missing.md")]) != 0
    assert "cannot read the notes" in capsys.readouterr().err and not figure.exists() and not page.exists()
    assert main(["results", "table", str(copy), "--out", str(page), "--figure", str(tmp_path / "fig")]) != 0
    assert "must end in .png" in capsys.readouterr().err

    spec = sw.run_dir_for(copy, "cnn-25", "relu", 1) / "spec.json"
    record = json.loads(spec.read_text())
    spec.write_text(json.dumps({**record, "zoo_name": "../../../escaped"}))
    out = tmp_path / "bundle"
    assert main(["results", "bundle", str(copy), "--out", str(out)]) != 0
    assert "zoo_name '../../../escaped' is not a model of the zoo" in capsys.readouterr().err
    assert not (tmp_path / "escaped").exists() and not list(tmp_path.rglob("escaped*"))


def test_bundle_never_replaces_training_runs_or_half_swaps(scored_sweep, tmp_path, capsys):
    copy = tmp_path / "sweep"
    shutil.copytree(scored_sweep, copy)
    relu = copy / "cnn-25" / "relu"
    assert main(["results", "bundle", str(relu), "--out", str(relu)]) != 0  # its seeds would lose their weights
    assert "holds training runs the bundle would replace" in capsys.readouterr().err
    assert (relu / "seed0" / "model.safetensors").is_file()
    out = tmp_path / "bundle"
    assert main(["results", "bundle", str(copy), "--out", str(out)]) == 0
    kept = sorted(p.name for p in out.iterdir())
    shutil.rmtree(out / "cnn-25-relu-seed1")
    (out / "cnn-25-relu-seed1").mkdir()  # a stray folder with a new run's name
    (out / "cnn-25-relu-seed1" / "mine.txt").write_text("x")
    assert main(["results", "bundle", str(copy), "--out", str(out)]) != 0
    assert "which is not a bundled run" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == kept and (out / "cnn-25-relu-seed0" / "spec.json").is_file()
