"""First-layer tap on real exporters' layouts: tf2onnx's Conv1D plumbing, channel-last declared taps,
taps without an activation, and first convs the position mapping cannot handle."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from evaluator import evaluate_arrays
from evaluator.onnx_model import OnnxModel, TapNotFoundError, UnsupportedLayerError, find_tap, inspect_model
from evaluator.params import EvalParams
from test_evaluator_builders import OPSET, keras_conv1d_model, keras_conv1d_reference, make_split, random_onehot_batch, save


@pytest.mark.parametrize("squeeze", ["squeeze", "reshape"])
def test_tf2onnx_conv1d_tap_is_the_relu_after_squeeze_and_bn(tmp_path, squeeze):
    """Conv -> Transpose -> Squeeze|Reshape -> Mul/Add (BN) -> Relu: the tap is the Relu output, filters last."""
    model = keras_conv1d_model(squeeze=squeeze)
    spec = find_tap(model)
    assert spec.name == "act"
    assert spec.path == ("Conv", "Transpose", "Squeeze" if squeeze == "squeeze" else "Reshape", "Mul", "Add", "Relu")
    assert spec.axes == ("N", "S", "C") and spec.has_activation is True and spec.notes == ()
    assert spec.n_filters == 8 and spec.filter_width == 9
    om = OnnxModel(save(model, tmp_path / "k.onnx"), 200)
    assert om.info.tap_axes == "NSC" and om.info.tap_has_activation is True
    x = random_onehot_batch(3, 200, seed=5)
    acts = next(om.batches(x, 8))[2]
    assert acts.shape == (3, 8, 200)
    np.testing.assert_allclose(acts, keras_conv1d_reference(model, x), rtol=1e-4, atol=1e-4)
    assert acts.min() == 0.0  # post-ReLU, unlike the raw conv the walk used to stop at


def test_no_activation_before_pooling_is_recorded_not_silent(tmp_path):
    """Conv -> ... -> BN -> pooling: the tap is the last tensor before pooling, flagged in the record."""
    model = keras_conv1d_model(activation="none")
    spec = find_tap(model)
    assert spec.name == "bn" and spec.has_activation is False
    assert spec.notes and "no activation op" in spec.notes[0]
    path = save(model, tmp_path / "lin.onnx")
    info = inspect_model(path, 200)
    assert info.tap_has_activation is False and "no activation op" in info.tap_notes[0]
    split = make_split(n=30, seed=9)
    record = evaluate_arrays(path, split, params=EvalParams(attribution=False), progress=False, intervals=None)
    assert record["model"]["tap_has_activation"] is False
    assert record["model"]["tap_name"] == "bn" and record["model"]["tap_notes"]
    x = random_onehot_batch(2, 200, seed=6)
    acts = next(OnnxModel(path, 200).batches(x, 8))[2]
    np.testing.assert_allclose(acts, keras_conv1d_reference(model, x), rtol=1e-4, atol=1e-4)  # BN output, NSC read


def test_walk_continues_through_a_shape_keeping_normalisation_to_the_activation(tmp_path):
    """An op outside the elementwise list (LpNormalization) before any activation does not end the walk."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.normal(size=(6, 4, 7)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(6, 12)).astype(np.float32), "d")]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["conv"], pads=[3, 3]),
        helper.make_node("LpNormalization", ["conv"], ["norm"], axis=1, p=2),
        helper.make_node("Relu", ["norm"], ["act"]),
        helper.make_node("GlobalMaxPool", ["act"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["flat"]),
        helper.make_node("MatMul", ["flat", "d"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, "length"])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    spec = find_tap(model)
    assert spec.name == "act" and spec.path == ("Conv", "LpNormalization", "Relu") and spec.has_activation


def _with_identity_output(model: onnx.ModelProto, source: str, name: str, dims: list) -> onnx.ModelProto:
    """Expose ``source`` through an Identity as graph output ``name`` (off the walked chain)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    out.graph.node.append(helper.make_node("Identity", [source], [name]))
    out.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, dims))
    return out


@pytest.mark.parametrize("declared, name", [(True, "act_nlc"), (False, "first_layer")])
def test_channel_last_tap_off_the_chain_is_read_by_filter_count(tmp_path, declared, name):
    """A [batch, length, filters] tap whose layout the walk cannot track is transposed, not misread."""
    model = _with_identity_output(keras_conv1d_model(), "act", name, ["batch", "length", 8])
    om = OnnxModel(save(model, tmp_path / "nlc.onnx"), 200, tap=name if declared else None)
    x = random_onehot_batch(2, 200, seed=7)
    np.testing.assert_allclose(next(om.batches(x, 8))[2], keras_conv1d_reference(model, x), rtol=1e-4, atol=1e-4)
    assert om.info.tap_axes == "NSC" and om.info.n_filters == 8 and om.info.tap_length == 200
    spec = find_tap(model, declared=name if declared else None)
    assert spec.name == name and spec.layout_known is False  # settled from the probed shape, not the walk


def test_declared_tap_without_a_filter_axis_is_refused_with_its_shape(tmp_path):
    """Neither axis 1 nor the last axis has the first conv's filter count: a clear error, not a guess."""
    path = save(keras_conv1d_model(), tmp_path / "k.onnx")
    with pytest.raises(TapNotFoundError, match=r"'x_nlc' has shape \[2, 200, 4\].*first conv has 8 filters"):
        OnnxModel(path, 200, tap="x_nlc")


@pytest.mark.parametrize("kwargs, what", [({"strides": 2}, "strides"), ({"dilations": 2}, "dilations")])
def test_strided_or_dilated_first_conv_is_refused(kwargs, what):
    model = keras_conv1d_model(**kwargs)
    with pytest.raises(UnsupportedLayerError, match=f"unsupported first layer: Conv .* has {what} \\[1, 2\\]"):
        find_tap(model)
    with pytest.raises(UnsupportedLayerError):
        find_tap(model, declared="act")
