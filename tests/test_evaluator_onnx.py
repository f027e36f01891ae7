"""Opening models: tap finding on several graph shapes, shape and output checks, clear errors."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from evaluator.onnx_model import (
    ModelError,
    ModelOutputError,
    OnnxModel,
    TapNotFoundError,
    find_tap,
    inspect_model,
)
from test_evaluator_builders import OPSET, build_cnn, ground_truth_model, random_model, save


def _graph_model(nodes, inits, in_shape, outputs) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                              outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    return model


@pytest.mark.parametrize(
    "kwargs, path",
    [
        ({}, ("Conv", "Relu")),
        ({"bn": True, "activation": "exp"}, ("Conv", "BatchNormalization", "Exp")),
        ({"bn": True, "activation": "silu"}, ("Conv", "BatchNormalization", "Sigmoid", "Mul")),
        ({"layout": "transpose"}, ("Conv", "Transpose", "Relu")),
        ({"layout": "conv2d"}, ("Conv", "Relu")),
    ],
)
def test_auto_tap_follows_conv_to_activation_before_pooling(tmp_path, kwargs, path):
    model = ground_truth_model(**kwargs)
    spec = find_tap(model)
    assert spec.source == "auto"
    assert spec.name == "act"
    assert spec.path == path
    assert spec.n_filters == 24 and spec.filter_width == 16
    om = OnnxModel(save(model, tmp_path / "m.onnx"), 200)
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(0).integers(0, 4, (3, 200))].transpose(0, 2, 1).copy()
    (_, out, acts), = list(om.batches(x, 8))
    assert acts.shape == (3, 24, 200)  # normalised to (batch, filters, length) whatever the layout
    assert out.shape == (3, 12)


def test_transposed_tap_is_read_in_filter_major_layout(tmp_path):
    """The NLC tap of the 'transpose' layout must equal the NCL tap of the plain model."""
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(1).integers(0, 4, (2, 200))].transpose(0, 2, 1).copy()
    plain = OnnxModel(save(ground_truth_model(), tmp_path / "a.onnx"), 200)
    trans = OnnxModel(save(ground_truth_model(layout="transpose"), tmp_path / "b.onnx"), 200)
    a = next(plain.batches(x, 8))[2]
    b = next(trans.batches(x, 8))[2]
    assert a.max() > 0
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_first_layer_output_is_preferred_and_declared_internal_tap_is_exposed(tmp_path):
    model = ground_truth_model(first_layer_output=True)
    assert find_tap(model).source == "first_layer output"
    assert find_tap(model).name == "first_layer"
    # an internal tensor (not a graph output) can be declared; it is added as an output in memory only
    plain = ground_truth_model()
    spec = find_tap(plain, declared="conv")
    assert spec.source == "declared" and spec.path == ("Conv",)
    path = save(plain, tmp_path / "m.onnx")
    om = OnnxModel(path, 200, tap="conv")
    x = np.zeros((1, 4, 200), np.float32)
    x[0, 0] = 1
    acts = next(om.batches(x, 4))[2]
    assert acts.min() < 0  # pre-activation conv output, so negative values survive
    assert [o.name for o in onnx.load(str(path)).graph.output] == ["probs"]  # file untouched


def test_missing_declared_tap_and_no_conv_give_errors_naming_what_was_looked_for():
    with pytest.raises(TapNotFoundError, match="declared first-layer tensor 'nope'"):
        find_tap(ground_truth_model(), declared="nope")
    inits = [numpy_helper.from_array(np.zeros((800, 12), np.float32), "w")]
    nodes = [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "w"], ["y"])]
    model = _graph_model(nodes, inits, ["batch", 4, 200], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 12])])
    with pytest.raises(TapNotFoundError, match="first_layer.*Conv node fed by the input"):
        find_tap(model)


def test_two_first_convs_are_ambiguous():
    w = numpy_helper.from_array(np.zeros((3, 4, 5), np.float32), "w")
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], pads=[2, 2]),
        helper.make_node("Conv", ["x", "w"], ["b"], pads=[2, 2]),
        helper.make_node("Add", ["a", "b"], ["y"]),
    ]
    model = _graph_model(nodes, [w], ["batch", 4, 200], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 200])])
    with pytest.raises(TapNotFoundError, match="ambiguous"):
        find_tap(model)


def test_output_kind_guess_and_inspect_model(tmp_path):
    probs = inspect_model(save(ground_truth_model(), tmp_path / "p.onnx"), 200)
    logits = inspect_model(save(ground_truth_model(output="logits"), tmp_path / "l.onnx"), 200)
    assert (probs.output_kind, probs.output_kind_source) == ("probabilities", "graph")
    assert logits.output_kind == "logits"
    assert probs.n_filters == 24 and probs.tap_length == 200 and probs.opset == OPSET
    assert len(probs.sha256) == 64 and probs.input_name == "x" and probs.output_name == "probs"


def test_bad_models_give_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a readable ONNX model|not a valid ONNX model"):
        OnnxModel(garbage, 200)
    with pytest.raises(ModelError, match="does not exist"):
        OnnxModel(tmp_path / "missing.onnx", 200)
    # 10 outputs instead of 12
    filters = np.zeros((3, 4, 5), np.float32)
    narrow = build_cnn(filters, np.zeros(3, np.float32), np.zeros((3, 10), np.float32), np.zeros(10, np.float32))
    with pytest.raises(ModelOutputError, match=r"shape \[2, 10\]; expected \[batch, 12\]"):
        OnnxModel(save(narrow, tmp_path / "narrow.onnx"), 200)
    # NaN outputs
    nan = build_cnn(filters, np.zeros(3, np.float32), np.zeros((3, 12), np.float32), np.full(12, np.nan, np.float32))
    with pytest.raises(ModelOutputError, match="NaN/inf"):
        OnnxModel(save(nan, tmp_path / "nan.onnx"), 200)
    # logits declared as probabilities
    with pytest.raises(ModelOutputError, match="probabilities but has values"):
        OnnxModel(save(ground_truth_model(output="logits"), tmp_path / "l.onnx"), 200, output_kind="probabilities")
    # wrong length fixed in the graph
    with pytest.raises(ModelError, match="fixed to 100"):
        OnnxModel(save(ground_truth_model(length=100), tmp_path / "short.onnx"), 200)


def test_wrong_input_channels_is_rejected(tmp_path):
    w = numpy_helper.from_array(np.zeros((3, 5, 5), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[2, 2]), helper.make_node("Relu", ["c"], ["y"])]
    model = _graph_model(nodes, [w], ["batch", 5, 200], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3, 200])])
    onnx.save(model, str(tmp_path / "five.onnx"))
    with pytest.raises(ModelError, match="5 channels; expected 4"):
        OnnxModel(tmp_path / "five.onnx", 200)


def test_fixed_batch_models_run_in_their_batch_size(tmp_path):
    om = OnnxModel(save(random_model(batch=3), tmp_path / "b3.onnx"), 200)
    assert om.fixed_batch == 3
    x = np.eye(4, dtype=np.float32)[np.random.default_rng(2).integers(0, 4, (7, 200))].transpose(0, 2, 1).copy()
    free = OnnxModel(save(random_model(), tmp_path / "free.onnx"), 200)
    np.testing.assert_allclose(om.predict(x, 256), free.predict(x, 256), rtol=1e-5, atol=1e-6)
