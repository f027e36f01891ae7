"""Class-specific attribution scores: definitions, a planted motif detector, a random model, discovery."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from attribution_models import PlantedDetector, export
from benchmark.motifs import load_motif_set
from evaluator.attribution_benchmark import attribution_benchmark
from evaluator.attribution_score import (_auroc, _average_precision, bootstrap_summary, choose_explained_classes,
                                         class_masks, per_sequence_metrics)
from evaluator.params import EvalParams
from evaluator.randomisation import cascade_steps, randomise_top, weight_layers
from test_evaluator_builders import make_split, random_model, save

NAMES = load_motif_set().names


def test_rank_metrics_equal_sklearn_with_ties():
    rng = np.random.default_rng(1)
    for _ in range(5):
        pos, neg = rng.integers(0, 4, 25).astype(float), rng.integers(0, 4, 90).astype(float)
        y, s = np.r_[np.ones(25), np.zeros(90)], np.r_[pos, neg]
        assert _auroc(pos, neg) == pytest.approx(roc_auc_score(y, s))
        assert _average_precision(pos, neg) == pytest.approx(average_precision_score(y, s))


def test_masks_separate_own_instances_from_distractors_and_background():
    x = np.zeros((1, 4, 40), np.float32)
    x[0, 0, :38] = 1  # the last two positions are N
    motifs = [[{"tf": NAMES[2], "start": 2, "end": 8, "strand": "+"},
               {"tf": NAMES[5], "start": 10, "end": 16, "strand": "-"},
               {"tf": NAMES[2], "start": 30, "end": 36, "strand": "-"}]]
    masks = class_masks(motifs, np.array([2]), x, NAMES)
    assert np.flatnonzero(masks.own[0]).tolist() == [*range(2, 8), *range(30, 36)]
    assert np.flatnonzero(masks.distractor[0]).tolist() == list(range(10, 16))
    assert masks.background[0].sum() == 38 - 12 - 6
    # a map on the own instances only: perfect; one that lights the distractor instead: chance or worse
    perfect = masks.own.astype(float)
    per = per_sequence_metrics(perfect, masks)
    assert per["auroc"][0] == 1 and per["aupr"][0] == 1 and per["mass_in_motif"][0] == 1
    assert per["background_fpr"][0] == 0 and per["own_vs_distractor_auroc"][0] == 1
    wrong = masks.distractor.astype(float)
    per = per_sequence_metrics(wrong, masks)
    assert per["mass_in_distractors"][0] == 1 and per["own_vs_distractor_auroc"][0] == 0
    # the information filter drops near-uniform columns (reverse strand uses the reversed order)
    informative = {NAMES[2]: np.array([True, True, False, True, True, False])}
    masks = class_masks(motifs, np.array([2]), x, NAMES, informative)
    assert np.flatnonzero(masks.own[0]).tolist() == [2, 3, 5, 6, 31, 32, 34, 35]


def test_explained_class_is_a_positive_with_an_instance_and_model_independent():
    split = make_split(n=50, seed=2)
    a = choose_explained_classes(split.y, split.motifs, NAMES, seed=0)
    assert np.array_equal(a, choose_explained_classes(split.y, split.motifs, NAMES, seed=0))
    for k, row, recs in zip(a, split.y, split.motifs):
        assert row[k] == 1 and NAMES[k] in {r["tf"] for r in recs}


def test_bootstrap_interval_brackets_the_mean():
    v = np.random.default_rng(0).normal(0.7, 0.1, 400)
    s = bootstrap_summary(np.r_[v, np.nan])
    assert s["n"] == 400 and s["ci_low"] < s["mean"] < s["ci_high"] and s["ci_high"] - s["ci_low"] < 0.05


def test_cascade_randomises_from_the_top(tmp_path):
    import onnx
    from onnx import numpy_helper

    model = random_model()
    layers = weight_layers(model)
    assert [len(layer) for layer in layers] == [2, 2]  # conv (w, b), dense (w, b)
    top = randomise_top(model, 1)
    before = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    after = {i.name: numpy_helper.to_array(i) for i in top.graph.initializer}
    assert np.array_equal(before["conv_w"], after["conv_w"]) and not np.array_equal(before["dense_w"], after["dense_w"])
    assert cascade_steps(2) == [1, 2] and cascade_steps(10) == [1, 4, 7, 10]
    onnx.checker.check_model(top)


@pytest.fixture(scope="module")
def split():
    return make_split(n=560, seed=3)


@pytest.fixture(scope="module")
def planted(split, tmp_path_factory):
    path = export(PlantedDetector(threshold=0.4), tmp_path_factory.mktemp("planted") / "planted.onnx")
    return path, attribution_benchmark(path, split.x, split.y, split.motifs, split.ids,
                                       EvalParams(slow_attribution=True, bootstrap_resamples=300),
                                       output_name="probabilities", output_kind="probabilities", logits_output=None)


def test_planted_motif_detector_scores_near_one_class_specifically(planted):
    _, out = planted
    sec = out.section
    assert sec["status"] == "gradients" and sec["n_sequences"] == 500
    assert sec["conversion"]["target_source"] == "pre-sigmoid"
    for method in ("saliency_corrected", "grad_x_input_corrected", "integrated_gradients", "deeplift_shap_corrected"):
        m = sec["methods"][method]
        assert m["auroc"]["mean"] > 0.97 and m["auroc"]["ci_low"] > 0.95, (method, m["auroc"])
        assert m["mass_in_motif"]["mean"] > 0.8 and m["mass_in_distractors"]["mean"] < 0.05
        assert m["own_vs_distractor_auroc"]["mean"] > 0.95 and m["background_fpr"]["mean"] < 0.1
    drop = sec["randomisation"]["drop"]
    assert all(d > 0.3 for d in drop.values()), drop


def test_random_model_scores_near_chance(split, tmp_path):
    path = save(random_model(), tmp_path / "random.onnx")
    out = attribution_benchmark(path, split.x, split.y, split.motifs, split.ids,
                                EvalParams(discovery=False, bootstrap_resamples=300, randomisation_sequences=0),
                                output_name="probs", output_kind="probabilities", logits_output=None)
    for method, m in out.section["methods"].items():
        assert 0.42 < m["auroc"]["mean"] < 0.6, (method, m["auroc"])
    assert "randomisation" not in out.section


def test_ism_fallback_when_conversion_fails(split, tmp_path, monkeypatch):
    from evaluator import onnx_to_torch
    from evaluator.attribution import ism_delta
    from evaluator.onnx_model import OnnxModel

    path = save(random_model(), tmp_path / "random.onnx")

    def refuse(*_a, **_k):
        raise onnx_to_torch.ConversionError("refused for the test")

    monkeypatch.setattr(onnx_to_torch, "convert_model", refuse)
    model = OnnxModel(path, 200)
    out = attribution_benchmark(path, split.x[:80], split.y[:80], split.motifs[:80], split.ids[:80],
                                EvalParams(discovery=False, attribution_sequences=20, bootstrap_resamples=100),
                                output_name="probs", output_kind="probabilities", logits_output=None,
                                ism_fn=lambda xs, ks: ism_delta(model, xs, ks))
    sec = out.section
    assert sec["status"] == "ism-fallback" and sec["conversion"] == {"error": "refused for the test"}
    assert list(sec["methods"]) == ["ism"] and sec["methods"]["ism"]["auroc"]["n"] == 20


@pytest.mark.slow
def test_discovery_finds_the_planted_motifs(split, tmp_path):
    # ReLU at 60% of each filter's best score: sparse, clean maps (at 40% background windows fire too)
    path = export(PlantedDetector(threshold=0.6), tmp_path / "planted60.onnx")
    out = attribution_benchmark(path, split.x, split.y, split.motifs, split.ids,
                                EvalParams(bootstrap_resamples=100, randomisation_sequences=0, discovery=True),
                                output_name="probabilities", output_kind="probabilities", logits_output=None)
    d = out.discovery
    assert d["source_map"] == "saliency_corrected" and d["n_patterns"] >= 5
    assert d["coverage_count"] >= 6 and d["match_ground_truth_fraction"] >= 0.8, d
    assert d["n_spurious_patterns"] <= 1 and "MEF2A" in d["covered_tfs"]
    for p in d["patterns"]:
        if p["ground_truth_tfs"]:
            assert np.allclose(np.asarray(p["ppm"]).sum(axis=1), 1, atol=1e-3)


def test_ground_truth_pwms_as_patterns_cover_all_twelve_and_draw(tmp_path):
    from evaluator.attribution_plots import pattern_logos
    from evaluator.discovery import Pattern, score_patterns

    ms = load_motif_set()
    patterns = [Pattern(f"pos_{i}", pwm.T, pwm.T * 0.1, 30, 0, pwm.shape[1]) for i, pwm in enumerate(ms.pwms)]
    uniform = np.full((8, 4), 0.25)
    patterns.append(Pattern("neg_0", uniform, uniform, 25, 0, 8))
    d = score_patterns(patterns)
    assert d["coverage_count"] == 12 and d["n_match_ground_truth"] == 12 and d["n_spurious_patterns"] == 1
    assert d["match_ground_truth_fraction"] == pytest.approx(12 / 13)
    png = pattern_logos(d, tmp_path / "patterns.png")
    assert png.stat().st_size > 10_000


def test_evaluate_records_gradient_attribution_and_example_maps(synthetic_repo, tmp_path):
    from evaluator import evaluate
    from test_evaluator_builders import ground_truth_model

    path = save(ground_truth_model(), tmp_path / "gt.onnx")
    record = evaluate(path, data=synthetic_repo, out_dir=tmp_path / "out",
                      params=EvalParams(ism_sequences=8, bootstrap_resamples=100), progress=False)
    sec = record["results"]["gradient_attribution"]
    assert sec["status"] == "gradients" and sec["n_sequences"] > 100
    assert sec["methods"]["grad_x_input_corrected"]["auroc"]["mean"] > 0.85
    assert record["results"]["discovery"] is None  # opt-in
    assert (tmp_path / "out" / record["artifacts"]["attribution_examples"]).stat().st_size > 5_000
    assert record["timings_seconds"]["gradient_attribution"] > 0
    assert record["parameters"]["eval"]["attribution_sequences"] == 500


def test_a_converted_model_is_kept_per_file_content_settings_and_probe(tmp_path):
    """Re-converting the same bytes reuses the checked module; new bytes at the same path or a new probe do not."""
    import torch

    from evaluator.onnx_to_torch import convert_model

    path = save(random_model(n_filters=6, seed=3), tmp_path / "m.onnx")
    probe = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (4, 200))].transpose(0, 2, 1).copy()
    first = convert_model(path, 200, output_name="probs", probe=probe)
    assert convert_model(path, 200, output_name="probs", probe=probe) is first
    assert convert_model(path, 200, output_name="probs", probe=probe[:2]) is not first
    save(random_model(n_filters=6, seed=4), path)  # other weights, same file name
    other = convert_model(path, 200, output_name="probs", probe=probe)
    assert other is not first
    with torch.no_grad():
        a, b = (m.module(torch.from_numpy(probe)).numpy() for m in (first, other))
    assert not np.allclose(a, b)
