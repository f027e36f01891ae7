"""The whole evaluator on a small real dataset: the ground-truth model recovers everything, a random
model does not, the record validates and is deterministic, and the CLI works end to end."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from benchmark.errors import DatasetError
from evaluator import EVALUATOR_VERSION
from evaluator import evaluate, evaluate_arrays
from evaluator.params import EvalParams
from evaluator.record import RecordError, read_record, validate_record
from evaluator.uncertainty import BootstrapSettings
from motifbench.cli import main
from test_evaluator_builders import ground_truth_model, make_split, random_model, save

FAST = EvalParams(ism_sequences=12)
#: Intervals small enough for a test (the defaults, 1,000 / 50 resamples, are checked in test_evaluator_uncertainty).
FAST_INTERVALS = BootstrapSettings(resamples=200, recovery_resamples=5)


@pytest.fixture(scope="module")
def gt_onnx(tmp_path_factory):
    return save(ground_truth_model(), tmp_path_factory.mktemp("models") / "ground_truth.onnx")


@pytest.fixture(scope="module")
def gt_record(gt_onnx, synthetic_repo, tmp_path_factory):
    out = tmp_path_factory.mktemp("gt_eval")
    result = evaluate(gt_onnx, data=synthetic_repo, out_dir=out, params=FAST, progress=False, intervals=FAST_INTERVALS)
    return result, out


def test_ground_truth_filters_recover_all_twelve_motifs(gt_record):
    result, _ = gt_record
    rec = result.recovery
    assert rec.coverage_count == 12 and rec.missed_tfs == []
    assert rec.n_filters == 24
    assert rec.match_ground_truth_fraction >= 22 / 24
    assert rec.match_jaspar_fraction >= rec.match_ground_truth_fraction
    # the forward and reverse-complement filter of each TF both find it
    assert all(count >= 1 for count in rec.filters_per_tf.values())
    assert result.classification.macro_auroc > 0.85
    att = result.attribution
    assert att.n_sequences_scored == 12 and att.mean_auroc > 0.6
    assert "coverage" in result.summary() and result.to_record()["results"]["motif_recovery"]["coverage_count"] == 12
    # every headline number carries its bootstrap interval, around the point estimate
    ci = result.to_record()["results"]["uncertainty"]
    assert ci["settings"]["resamples"] == 200 and ci["settings"]["seed"] == FAST_INTERVALS.seed
    lo, hi = ci["classification"]["macro_auroc"]
    assert lo <= result.classification.macro_auroc <= hi and hi - lo < 0.2
    assert ci["motif_recovery"]["resamples"] == 5 and ci["motif_recovery"]["tomtom_queries"] > 5 * 20
    lo, hi = ci["motif_recovery"]["coverage"]
    assert lo <= rec.coverage <= hi
    assert ci["attribution"]["mean_auroc"][0] <= att.mean_auroc <= ci["attribution"]["mean_auroc"][1]


def test_record_carries_provenance_and_artifacts(gt_record, gt_onnx):
    result, out = gt_record
    assert result.provenance.evaluator_version == EVALUATOR_VERSION and result.provenance.jaspar["release"] == 2016
    record = result.to_record()
    assert record["evaluator_version"] == EVALUATOR_VERSION
    assert record["dataset"]["config"] == "synthetic" and record["dataset"]["split"] == "test"
    assert record["dataset"]["n_sequences"] == 400 and record["dataset"]["files_sha256"]
    assert record["jaspar"] == {**record["jaspar"], "release": 2016, "n_matrices": 519}
    assert record["parameters"]["eval"]["ppm_method"] == "nmi"
    assert record["parameters"]["tomtom_method"]["dist"] == "ed"
    assert record["parameters"]["derived"] == {"ppm_window": 20, "tap_offset": 0, "tap_nonfinite_values": 0}
    assert record["model"]["tap_source"] == "auto" and record["model"]["n_filters"] == 24
    for stage in ("load_data", "load_model", "inference", "ppm", "tomtom", "attribution", "logos", "total"):
        assert record["timings_seconds"][stage] >= 0
    for name in record["artifacts"].values():
        assert (out / name).is_file(), name
    assert (out / "result.filter_pairs.png").read_bytes()[:4] == b"\x89PNG"
    assert read_record(out / "result.json")["results"] == record["results"]
    tsv = (out / "result.tomtom.tsv").read_text().splitlines()
    assert tsv[0].startswith("Query_ID\tTarget_ID\tOptimal_offset")


def test_schema_rejects_broken_records(gt_record):
    record = gt_record[0].to_record()
    validate_record(record)
    broken = copy.deepcopy(record)
    del broken["jaspar"]["sha256"]
    with pytest.raises(RecordError, match="jaspar"):
        validate_record(broken)
    broken = copy.deepcopy(record)
    broken["results"]["motif_recovery"]["coverage"] = 1.5
    with pytest.raises(RecordError, match="coverage"):
        validate_record(broken)


def test_random_model_scores_low_and_runs_are_deterministic(tmp_path):
    split = make_split(n=300, seed=7)
    path = save(random_model(n_filters=30, seed=5), tmp_path / "random.onnx")
    params = EvalParams(ism_sequences=8)
    first = evaluate_arrays(path, split, params=params, progress=False, intervals=FAST_INTERVALS)
    second = evaluate_arrays(path, split, params=params, progress=False, intervals=FAST_INTERVALS)
    rec = first["results"]["motif_recovery"]
    assert rec["match_ground_truth_fraction"] <= 0.2
    assert rec["coverage_count"] <= 3
    assert first["results"]["classification"]["macro_auroc"] < 0.7
    assert json.dumps(first["results"], sort_keys=True) == json.dumps(second["results"], sort_keys=True)


@pytest.mark.parametrize("job", ["recovery", "classification"])
def test_an_error_in_a_background_bootstrap_reaches_the_caller_with_its_message(job, tmp_path, monkeypatch):
    """The bootstrap threads' failures are not swallowed: evaluate raises them, message intact, and writes nothing."""
    import evaluator.intervals
    import evaluator.recovery_uncertainty

    def fail(*args, **kwargs):
        raise ValueError(f"{job} bootstrap failed: resample 3 is empty")

    if job == "recovery":
        monkeypatch.setattr(evaluator.recovery_uncertainty, "recovery_intervals", fail)
    else:
        monkeypatch.setattr(evaluator.intervals, "classification_intervals", fail)
    split = make_split(n=200, seed=3)
    path = save(random_model(n_filters=8, seed=2), tmp_path / "random.onnx")
    with pytest.raises(ValueError, match=f"^{job} bootstrap failed: resample 3 is empty$"):
        evaluate_arrays(path, split, params=EvalParams(ism_sequences=4), progress=False, intervals=FAST_INTERVALS,
                        out_dir=tmp_path / "out")
    assert not (tmp_path / "out" / "result.json").exists()


def test_ke_method_and_pearson_distance(tmp_path):
    split = make_split(n=300, seed=2)
    path = save(ground_truth_model(), tmp_path / "gt.onnx")
    record = evaluate_arrays(path, split, params=EvalParams(ppm_method="ke", tomtom_dist="pearson", attribution=False), intervals=None,
                             progress=False)
    # Koo & Eddy's window=19 for every model, not this model's 16-wide kernel
    assert record["parameters"]["eval"]["ke_window"] == 19
    assert record["parameters"]["derived"]["ppm_window"] == 19
    assert record["parameters"]["tomtom_method"]["dist"] == "pearson"
    assert record["results"]["attribution"] is None
    assert record["results"]["motif_recovery"]["coverage_count"] >= 11


def test_ke_window_kernel_width_on_request(tmp_path, capsys):
    """ke_window=None (CLI: --ke-window kernel) is the first conv's kernel width, recorded as such."""
    from evaluator.params_cli import _ke_window

    assert _ke_window("kernel") is None and _ke_window("9") == 9
    split = make_split(n=40, seed=4)
    path = save(ground_truth_model(), tmp_path / "gt.onnx")
    record = evaluate_arrays(path, split, params=EvalParams(ppm_method="ke", ke_window=None, attribution=False), intervals=None,
                             progress=False)
    assert record["parameters"]["eval"]["ke_window"] is None
    assert record["parameters"]["derived"]["ppm_window"] == 16


def test_cli_end_to_end(gt_onnx, synthetic_repo, tmp_path, capsys):
    out = tmp_path / "run" / "cnn.json"
    code = main(["evaluate", str(gt_onnx), "--data", str(synthetic_repo), "--out", str(out), "--limit", "200",
                 "--ism-sequences", "4", "--quiet", "--bootstrap-resamples", "100", "--recovery-resamples", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "coverage" in printed and "match ground truth" in printed
    assert "95% bootstrap over sequences (100 resamples, 2 for recovery" in printed
    record = json.loads(out.read_text())
    assert record["dataset"]["n_sequences"] == 200
    assert record["parameters"]["eval"]["limit"] == 200
    assert (out.parent / "cnn.filter_pairs.png").is_file() and (out.parent / "cnn.ground_truth.png").is_file()


def test_cli_errors_exit_non_zero_with_one_line(gt_onnx, tmp_path, capsys):
    code = main(["evaluate", str(gt_onnx), "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r.json")])
    assert code != 0
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(DatasetError):
        evaluate(gt_onnx, data=tmp_path / "missing", params=FAST, progress=False)


def test_unreadable_model_on_real_data_is_a_clear_error(synthetic_repo, tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00garbage")
    code = main(["evaluate", str(bad), "--data", str(synthetic_repo), "--out", str(tmp_path / "r.json"), "--limit", "20"])
    assert code != 0
    err = capsys.readouterr().err
    assert "bad.onnx" in err and "ONNX model" in err
    assert not (tmp_path / "r.json").exists()


def test_labels_of_wrong_width_are_rejected(tmp_path):
    from evaluator import EvaluationError

    split = make_split(n=10)
    split.y = split.y[:, :11]
    with pytest.raises(EvaluationError, match="labels have shape"):
        evaluate_arrays(save(random_model(), tmp_path / "r.onnx"), split, params=FAST, progress=False)
