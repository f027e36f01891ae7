"""Models the attribution stage must survive: logits outputs, graphs the converter cannot take or whose gradients
are unusable, fixed batches and odd layouts, constant outputs, classes absent from the sample.

Each ends in a defined record (a status, a reason, numbers or ``None``), never a crash, a NaN score or a
gradient that is not the model's.
"""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmark.motifs import load_motif_set
from evaluator.attribution_benchmark import attribution_benchmark
from evaluator.attribution_methods import integrated_gradients
from evaluator.onnx_to_torch import convert_model
from evaluator.params import EvalParams
from test_evaluator_builders import OPSET, ground_truth_model, make_split, save

NAMES = load_motif_set().names
#: every method, small counts (the point is the record's shape and definedness)
PARAMS = EvalParams(slow_attribution=True, discovery=False, attribution_sequences=60, bootstrap_resamples=50,
                    randomisation_sequences=16, ig_steps=4, shap_shuffles=3, ism_sequences=10)


@pytest.fixture(scope="module")
def split():
    return make_split(n=90, seed=7)


def _run(path, split, output_name="probs", output_kind="probabilities", params=PARAMS, ism=False):
    ism_fn = None
    if ism:
        from evaluator.attribution import ism_delta
        from evaluator.onnx_model import OnnxModel

        model = OnnxModel(path, split.x.shape[2], output_kind=output_kind)
        ism_fn = lambda xs, ks: ism_delta(model, xs, ks)  # noqa: E731
    out = attribution_benchmark(path, split.x, split.y, split.motifs, split.ids, params, output_name=output_name,
                                output_kind=output_kind, logits_output=None, ism_fn=ism_fn)
    json.dumps(out.section, allow_nan=False)  # no NaN anywhere in what the record stores
    return out


def _replace_relu(model: onnx.ModelProto, op_type: str, **attrs) -> onnx.ModelProto:
    """The model with its Relu node replaced by ``op_type`` (same input and output)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for node in m.graph.node:
        if node.op_type == "Relu":
            new = helper.make_node(op_type, list(node.input), list(node.output), name="act_op", **attrs)
            node.CopyFrom(new)
    onnx.checker.check_model(m)
    return m


def test_logits_output_gradients_are_the_onnx_models(split, tmp_path):
    """A logits output is differentiated as is; IG's completeness holds against ONNX Runtime's own outputs."""
    path = save(ground_truth_model(output="logits"), tmp_path / "logits.onnx")
    out = _run(path, split, output_name="logits", output_kind="logits")
    sec = out.section
    assert sec["status"] == "gradients" and sec["conversion"]["target_source"] == "prediction output (logits)"
    # the same network with a Sigmoid on top is explained through its pre-sigmoid tensor: the same scores
    probs = _run(save(ground_truth_model(), tmp_path / "probs.onnx"), split)
    for m in ("saliency_corrected", "grad_x_input_corrected", "integrated_gradients_corrected"):
        assert sec["methods"][m]["auroc"]["mean"] == pytest.approx(probs.section["methods"][m]["auroc"]["mean"])
        assert sec["methods"][m]["auroc"]["mean"] > 0.85
    # completeness against ONNX Runtime (not the converted module): sum x * IG = f(x) - f(0)
    conv = convert_model(path, 200, output_name="logits", output_kind="logits")
    x, k = split.x[:6], np.arange(6) % 12
    ig = integrated_gradients(conv.module, x, k, steps=64)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    f = session.run(["logits"], {"x": x})[0][np.arange(6), k] - session.run(["logits"], {"x": np.zeros_like(x)})[0][0, k]
    np.testing.assert_allclose((ig * x).sum(axis=(1, 2)), f, rtol=0.05, atol=0.05)


def test_unconvertible_graph_falls_back_to_ism_with_the_reason(split, tmp_path):
    # ThresholdedRelu(alpha=0) is ReLU; ONNX Runtime runs it, onnx2torch 1.5.15 has no converter for it
    path = save(_replace_relu(ground_truth_model(), "ThresholdedRelu", alpha=0.0), tmp_path / "trelu.onnx")
    out = _run(path, split, ism=True)
    sec = out.section
    assert sec["status"] == "ism-fallback" and "ThresholdedRelu" in sec["conversion"]["error"]
    assert list(sec["methods"]) == ["ism"] and "randomisation" not in sec
    assert sec["methods"]["ism"]["auroc"]["n"] == 60 and sec["methods"]["ism"]["auroc"]["mean"] > 0.85


def _with_input_op(model, op: str):
    """``model`` with the element-wise ``op`` applied to its input ``x`` before the first Conv reads it."""
    for node in model.graph.node:
        if node.op_type == "Conv":
            node.input[0] = f"x_{op.lower()}"
    nodes = [helper.make_node(op, ["x"], [f"x_{op.lower()}"]), *model.graph.node]
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    return model


def test_non_finite_gradients_fall_back_to_ism(split, tmp_path):
    """sqrt(x) at the input equals x on one-hot sequences, but its gradient at the zeros is infinite: the
    converted module passes the output check, yet no gradient map is trusted."""
    model = _with_input_op(ground_truth_model(), "Sqrt")
    onnx.checker.check_model(model)
    out = _run(save(model, tmp_path / "sqrt.onnx"), split, ism=True)
    sec = out.section
    # caught by the gradient check against ONNX Runtime's finite differences (the maps' own finiteness check
    # is the second line, for methods run after it)
    assert sec["status"] == "ism-fallback" and "finite differences" in sec["conversion"]["error"]
    assert list(sec["methods"]) == ["ism"]
    assert np.isfinite(sec["methods"]["ism"]["auroc"]["mean"])


def test_gradient_check_rejects_gradients_that_are_not_the_models(tmp_path):
    """The same values, other gradients: round(x) at the input equals x on one-hot sequences, but ONNX Runtime's
    function is flat around them; the ground-truth model's torch gradients fail against it and pass against
    their own graph."""
    from evaluator.gradient_check import directional_check

    plain = save(ground_truth_model(output="logits"), tmp_path / "plain.onnx")
    rounded = save(_with_input_op(ground_truth_model(output="logits"), "Round"), tmp_path / "rounded.onnx")
    conv = convert_model(plain, 200, output_name="logits", output_kind="logits")
    assert conv.gradient_check_median_rel_error < 0.01
    probe = make_split(n=8, seed=5).x  # sequences with motif sites: the model's gradients are not all zero there

    def ort(path):
        session = ort_session(path)
        return lambda x: session.run(["logits"], {"x": np.ascontiguousarray(x, np.float32)})[0].astype(np.float64)

    assert directional_check(conv.module, ort(plain), probe)[0]
    passed, rel = directional_check(conv.module, ort(rounded), probe)
    assert not passed and rel > 0.5, rel


def ort_session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_fixed_batch_and_two_d_layout_get_gradients_and_a_recorded_deeplift_refusal(split, tmp_path):
    free = _run(save(ground_truth_model(), tmp_path / "free.onnx"), split)
    out = _run(save(ground_truth_model(batch=5, layout="conv2d"), tmp_path / "fixed.onnx"), split)
    sec = out.section
    assert sec["status"] == "gradients"
    assert "fixed batch" in sec["method_errors"]["deeplift_shap"]
    assert not any(m.startswith("deeplift_shap") for m in sec["methods"])
    for m in ("saliency_corrected", "grad_x_input_corrected", "integrated_gradients_corrected"):
        assert sec["methods"][m]["auroc"]["mean"] == pytest.approx(free.section["methods"][m]["auroc"]["mean"], abs=1e-6)
    assert sec["randomisation"]["steps"]
    # a fixed length and a batch of one (run one sequence per graph call): the same maps
    one = _run(save(ground_truth_model(batch=1, length=200), tmp_path / "one.onnx"), split)
    assert one.section["methods"]["grad_x_input_corrected"]["auroc"]["mean"] == pytest.approx(
        free.section["methods"]["grad_x_input_corrected"]["auroc"]["mean"], abs=1e-6)
    # channels-last inside the graph (Transposes around the conv, ReduceMax over the length axis): the same
    # function; where two windows tie for the maximum, ReduceMax's gradient picks one window and GlobalMaxPool's
    # splits it between them (both valid subgradients), so the scores agree closely rather than exactly
    nlc = _run(save(ground_truth_model(layout="transpose"), tmp_path / "nlc.onnx"), split)
    assert nlc.section["status"] == "gradients"
    assert nlc.section["methods"]["saliency_corrected"]["auroc"]["mean"] == pytest.approx(
        free.section["methods"]["saliency_corrected"]["auroc"]["mean"], abs=0.03)


def _constant_model(kind: str) -> onnx.ModelProto:
    """Logits that do not depend on the sequence: ``x`` times 0 plus a bias, or a bias expanded by Shape."""
    inits = [numpy_helper.from_array(np.linspace(-1, 1, 12).astype(np.float32)[None], "b")]
    if kind == "times_zero":
        inits += [numpy_helper.from_array(np.zeros(1, np.float32), "z"),
                  numpy_helper.from_array(np.array([1, 2], np.int64), "ax"),
                  numpy_helper.from_array(np.array([-1, 1], np.int64), "shp")]
        nodes = [helper.make_node("ReduceSum", ["x", "ax"], ["s"], keepdims=1),
                 helper.make_node("Reshape", ["s", "shp"], ["s2"]),
                 helper.make_node("Mul", ["s2", "z"], ["s0"]),
                 helper.make_node("Add", ["s0", "b"], ["logits"])]
    else:
        inits += [numpy_helper.from_array(np.array([0], np.int64), "st"),
                  numpy_helper.from_array(np.array([1], np.int64), "en"),
                  numpy_helper.from_array(np.array([12], np.int64), "twelve")]
        nodes = [helper.make_node("Shape", ["x"], ["shape"]),
                 helper.make_node("Slice", ["shape", "st", "en"], ["n"]),
                 helper.make_node("Concat", ["n", "twelve"], ["oshape"], axis=0),
                 helper.make_node("Expand", ["b", "oshape"], ["logits"])]
    nodes.append(helper.make_node("Sigmoid", ["logits"], ["probs"]))
    graph = helper.make_graph(nodes, "constant", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 200])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("kind", ["times_zero", "shape_expand"])
def test_constant_output_gives_defined_chance_scores(split, tmp_path, kind):
    params = EvalParams(**{**PARAMS.as_dict(), "discovery": True})
    out = _run(save(_constant_model(kind), tmp_path / f"{kind}.onnx"), split, params=params, ism=True)
    sec = out.section
    assert sec["status"] == "gradients" and sec["methods"]
    for name, m in sec["methods"].items():
        assert m["auroc"]["mean"] == 0.5 and m["auroc"]["ci_low"] == m["auroc"]["ci_high"] == 0.5, name
        assert m["mass_in_motif"]["mean"] is None and m["mass_in_motif"]["n"] == 0, name  # 0/0: undefined, not NaN
    assert "zero everywhere" in sec["notes"]["saliency"]
    assert out.discovery["n_patterns"] == 0 and "zero everywhere" in out.discovery["error"]
    if kind == "shape_expand":  # no autograd path at all: tangermeme's DeepLIFT refuses, recorded per method
        assert "deeplift_shap" in sec["method_errors"]
    else:
        assert sec["methods"]["deeplift_shap_corrected"]["auroc"]["mean"] == 0.5


def test_a_class_with_no_positives_in_the_sample_is_never_explained(tmp_path):
    split = make_split(n=160, seed=11)
    keep = [i for i, recs in enumerate(split.motifs) if all(r["tf"] != NAMES[0] for r in recs)]
    split.x, split.y, split.mask = split.x[keep], split.y[keep], split.mask[keep]
    split.ids, split.motifs = [split.ids[i] for i in keep], [split.motifs[i] for i in keep]
    assert split.y[:, 0].sum() == 0
    out = _run(save(ground_truth_model(), tmp_path / "gt.onnx"), split)
    sec = out.section
    assert sec["status"] == "gradients" and NAMES[0] not in sec["explained_classes"]
    assert sec["methods"]["grad_x_input_corrected"]["auroc"]["mean"] > 0.85
    # no explainable sequence at all: a skipped section with its reason, not an error
    empty = attribution_benchmark(tmp_path / "gt.onnx", split.x[:5], np.zeros_like(split.y[:5]), split.motifs[:5],
                                  split.ids[:5], PARAMS, output_name="probs", output_kind="probabilities",
                                  logits_output=None)
    assert empty.section["status"] == "skipped" and empty.section["n_sequences"] == 0


def test_detail_view_states_the_fallback_reason_and_method_errors_as_text():
    """The converter's message quotes node names from the model file: it reaches the page as text, never markup."""
    from space_app.attribution_detail import attribution_markdown

    auroc = {"mean": 0.7, "ci_low": 0.6, "ci_high": 0.8, "n": 10}
    record = {"results": {"gradient_attribution": {
        "status": "ism-fallback", "n_sequences": 10,
        "conversion": {"error": "onnx2torch could not convert node <img src=x onerror=alert(1)> [link](http://evil)"},
        "method_errors": {"deeplift_shap": "the graph has a fixed batch dimension (5); **bold**"},
        "methods": {"ism": {"family": "ism", "corrected": True, "auroc": auroc, "aupr": auroc}}}}}
    text = attribution_markdown(record)
    assert "ISM was scored instead" in text and "<img" not in text and "](http" not in text
    assert "DeepLIFT/SHAP not scored" in text and "**bold**" not in text
    skipped = attribution_markdown({"results": {"gradient_attribution": {"status": "skipped", "n_sequences": 0,
                                                                         "reason": "no positive sequence"}}})
    assert "skipped" in skipped and "no positive sequence" in skipped


@pytest.mark.slow
def test_unconvertible_model_through_evaluate_gets_ism_attribution_and_discovery_from_ism(synthetic_repo, tmp_path):
    """The whole evaluation of a graph onnx2torch cannot take: a FINISHED-able record, ISM-only attribution with the
    reason, discovery run on ISM's maps, every other section scored."""
    from evaluator import evaluate

    path = save(_replace_relu(ground_truth_model(), "ThresholdedRelu", alpha=0.0), tmp_path / "trelu.onnx")
    record = evaluate(path, data=synthetic_repo, out_dir=tmp_path / "out", progress=False,
                      params=EvalParams(attribution_sequences=60, ism_sequences=20, bootstrap_resamples=50,
                                        slow_attribution=True, discovery=True, modisco_leiden_runs=2)).to_record()
    json.dumps(record, allow_nan=False)
    sec = record["results"]["gradient_attribution"]
    assert sec["status"] == "ism-fallback" and "ThresholdedRelu" in sec["conversion"]["error"]
    assert list(sec["methods"]) == ["ism"] and sec["methods"]["ism"]["auroc"]["n"] == 60
    assert sec["methods"]["ism"]["auroc"]["mean"] > 0.85
    assert record["results"]["discovery"]["source_map"] == "ism"
    assert record["results"]["classification"]["macro_auroc"] > 0.8
