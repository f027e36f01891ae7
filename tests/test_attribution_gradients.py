"""ONNX -> torch conversion (checked against ONNX Runtime) and the gradient attribution methods."""
from __future__ import annotations

import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from evaluator.attribution_methods import (compute_maps, correct, expand_methods, gradients, integrated_gradients,
                                           position_scores)
from evaluator.onnx_to_torch import ConversionError, convert_model, import_onnx2torch, prepare_graph
from test_evaluator_builders import random_model, random_onehot_batch, save

BASELINE = "space_app/baseline_models/cnn-25-relu-seed0/model.onnx"


def test_import_needs_no_torchvision_and_leaves_none_behind():
    import_onnx2torch()
    assert "torchvision" not in sys.modules and "torchvision.ops" not in sys.modules
    from onnx2torch.node_converters import nms

    with pytest.raises(ConversionError, match="torchvision"):
        nms.torchvision.ops.nms(None, None, 0.5)


def test_bundled_baseline_converts_and_matches_onnxruntime_on_its_logits(request):
    path = request.config.rootpath / BASELINE
    x = random_onehot_batch(8)
    converted = convert_model(path, 200, output_name="probabilities", logits_output="logits", probe=x)
    assert converted.target_name == "logits" and converted.target_source == "logits output"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (ref,) = session.run(["logits"], {session.get_inputs()[0].name: x})
    with torch.no_grad():
        got = converted.module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref, atol=1e-4)


def _tf2onnx_like(opset: int) -> onnx.ModelProto:
    """Conv with auto_pad SAME_UPPER, a Constant node, ReduceMax with axes as an input, Sigmoid."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(6, 4, 8)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(6, 12)).astype(np.float32), "dense")]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["conv"], auto_pad="SAME_UPPER"),
        helper.make_node("Constant", [], ["shift"], value=numpy_helper.from_array(np.array(0.1, np.float32))),
        helper.make_node("Sub", ["conv", "shift"], ["shifted"]),
        helper.make_node("Relu", ["shifted"], ["act"]),
        helper.make_node("Constant", [], ["axes"], value=numpy_helper.from_array(np.array([2], np.int64))),
        helper.make_node("ReduceMax", ["act", "axes"], ["pooled"], keepdims=0),
        helper.make_node("MatMul", ["pooled", "dense"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probs"]),
    ]
    graph = helper.make_graph(nodes, "tf2onnx_like", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 200])],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("opset", [18, 19, 20])
def test_prepass_makes_same_padding_constants_and_reduce_axes_convertible(tmp_path, opset):
    model = _tf2onnx_like(opset)
    prepared = prepare_graph(model, 200)
    conv = next(n for n in prepared.graph.node if n.op_type == "Conv")
    assert {a.name for a in conv.attribute} == {"pads"} and list(conv.attribute[0].ints) == [3, 4]  # k=8: 3 left, 4 right
    assert not any(n.op_type == "Constant" for n in prepared.graph.node)
    converted = convert_model(save(model, tmp_path / "m.onnx"), 200)
    assert converted.target_source == "pre-sigmoid" and converted.max_abs_diff <= converted.tolerance


def test_unconvertible_graph_is_a_clear_conversion_error(tmp_path):
    # a [batch, 12] output made by an op onnx2torch has no converter for
    nodes = [helper.make_node("ReduceSum", ["x"], ["s"], axes=[1], keepdims=0, noop_with_empty_axes=0),
             helper.make_node("Hardmax", ["s"], ["h"], axis=1),
             helper.make_node("Slice", ["h", "st", "en", "ax"], ["out"])]
    inits = [numpy_helper.from_array(np.array([0], np.int64), "st"), numpy_helper.from_array(np.array([12], np.int64), "en"),
             numpy_helper.from_array(np.array([1], np.int64), "ax")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4, 200])],
                              [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["n", 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    model.ir_version = 7
    with pytest.raises(ConversionError, match="Hardmax"):
        convert_model(save(model, tmp_path / "h.onnx"), 200, output_kind="logits")


def test_gradient_methods_agree_with_tangermeme_and_integrated_gradients_are_complete(tmp_path):
    from tangermeme.saliency import saliency

    converted = convert_model(save(random_model(), tmp_path / "r.onnx"), 200)
    x = random_onehot_batch(6)
    classes = np.full(6, 3)
    g = gradients(converted.module, x, classes)
    tm = saliency(converted.module, torch.from_numpy(x), target=3, gradient_correction=True, hypothetical=True).numpy()
    np.testing.assert_allclose(correct(g), tm, atol=1e-5)
    np.testing.assert_allclose(correct(g).sum(axis=1), 0.0, atol=1e-5)
    # completeness: sum x * IG ~ f(x) - f(0) (midpoint rule, many steps)
    ig = integrated_gradients(converted.module, x, classes, steps=128)
    with torch.no_grad():
        f = converted.module(torch.from_numpy(x))[:, 3].numpy() - converted.module(torch.zeros(6, 4, 200))[:, 3].numpy()
    np.testing.assert_allclose((ig * x).sum(axis=(1, 2)), f, rtol=0.05, atol=0.02)


def test_position_scores_and_corrected_twins(tmp_path):
    converted = convert_model(save(random_model(), tmp_path / "r.onnx"), 200)
    x = random_onehot_batch(4)
    methods = expand_methods(("saliency", "grad_x_input"))
    maps = compute_maps(converted.module, x, np.zeros(4, int), methods).maps
    assert set(maps) == set(methods)
    np.testing.assert_allclose(maps["saliency_corrected"], correct(maps["saliency"]))
    s = position_scores("saliency", maps["saliency"], x)
    assert s.shape == (4, 200) and (s >= 0).all()
    np.testing.assert_allclose(position_scores("grad_x_input", maps["grad_x_input"], x),
                               np.abs((maps["grad_x_input"] * x).sum(axis=1)))
