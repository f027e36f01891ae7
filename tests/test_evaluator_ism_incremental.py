"""Incremental ISM (first layer recomputed only around each substitution) equals full ISM.

Run on every bundled baseline model (space_app/baseline_models), real ONNX
Runtime, every mutant of a few sequences with varied classes.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from evaluator.attribution import full_ism_delta, incremental_ism, ism_delta
from evaluator.ism_incremental import IncrementalIsm, NotIncremental
from evaluator.onnx_model import OnnxModel, random_onehot
from test_evaluator_builders import ground_truth_model, save

BASELINES = sorted((Path(__file__).resolve().parent.parent / "space_app" / "baseline_models").glob("*/model.onnx"))


def _tap_feeds_a_max_pool(path: Path) -> bool:
    """Whether the first layer's activation feeds a MaxPool directly: the models incremental ISM splits.

    CNN-1 has no pool after its first layer, and an overlapping "same" pool (CNN-50-2: pool 50, stride 2) is
    exported as explicit -inf padding before a MaxPool: both take full ISM (checked equal all the same).
    """
    graph = onnx.load(str(path)).graph
    act = next(n for n in graph.node if n.op_type in ("Relu", "Exp"))
    readers = [n for n in graph.node if act.output[0] in n.input]
    return len(readers) == 1 and readers[0].op_type == "MaxPool"


SPLIT = [p for p in BASELINES if _tap_feeds_a_max_pool(p)]


def test_every_baseline_is_found():
    assert len(BASELINES) >= 14


@pytest.mark.parametrize("path", BASELINES, ids=[p.parent.name for p in BASELINES])
def test_incremental_ism_equals_full_ism(path):
    model = OnnxModel(path, 200)
    x = random_onehot(3, 200, seed=5)
    x[1, :, 190:] = 0.0  # an N stretch at the end: zero input columns
    classes = np.array([0, 6, 11])
    full = full_ism_delta(model, x, classes)
    got = ism_delta(model, x, classes)
    np.testing.assert_allclose(got, full, rtol=1e-6, atol=1e-5)
    inc = incremental_ism(model)
    if path in SPLIT:  # every zoo model whose first layer feeds a MaxPool splits
        assert isinstance(inc, IncrementalIsm)
        np.testing.assert_allclose(inc.delta(x, classes), full, rtol=1e-6, atol=1e-5)
    else:
        assert inc is None
    assert np.abs(full).max() > 0  # the comparison is not vacuous


def test_models_that_do_not_qualify_fall_back_to_full_ism(tmp_path):
    # the builders' ground-truth model: its tap feeds no max-pool, so nothing is split
    path = save(ground_truth_model(), tmp_path / "gt.onnx")
    model = OnnxModel(path, 200)
    with pytest.raises(NotIncremental):
        IncrementalIsm.build(model)
    x = random_onehot(2, 200, seed=1)
    classes = np.array([1, 2])
    np.testing.assert_array_equal(ism_delta(model, x, classes), full_ism_delta(model, x, classes))


def test_a_skip_path_around_the_first_layer_is_refused(tmp_path):
    """A logit that also reads the input directly cannot be computed from the first layer alone."""
    from onnx import helper, numpy_helper

    proto = onnx.load(str(next(p for p in BASELINES if "cnn-25-relu" in str(p))))
    g = proto.graph
    x_name = g.input[0].name
    nodes = list(g.node)
    gemm = next(n for n in nodes if "logits" in n.output)
    gemm.output[0] = "logits_pre"
    skip = [
        helper.make_node("Flatten", [x_name], ["x_flat"], axis=1),
        helper.make_node("MatMul", ["x_flat", "skip_w"], ["x_skip"]),
        helper.make_node("Add", ["logits_pre", "x_skip"], ["logits"]),
    ]
    at = nodes.index(gemm) + 1
    del g.node[:]
    g.node.extend(nodes[:at] + skip + nodes[at:])
    weights = np.random.default_rng(0).normal(0, 0.1, (800, 12)).astype(np.float32)
    g.initializer.append(numpy_helper.from_array(weights, "skip_w"))
    path = tmp_path / "skip.onnx"
    onnx.save(proto, str(path))
    model = OnnxModel(path, 200)
    with pytest.raises(NotIncremental, match="avoids the first layer"):
        IncrementalIsm.build(model)
    x = random_onehot(1, 200, seed=2)
    np.testing.assert_array_equal(ism_delta(model, x, np.array([3])), full_ism_delta(model, x, np.array([3])))


def test_most_baselines_split():
    assert len(SPLIT) >= 12 and any("cnn-25" in str(p) for p in SPLIT)


@pytest.mark.parametrize("path", SPLIT, ids=[p.parent.name for p in SPLIT])
def test_unpadded_crop_head_gives_the_padded_heads_columns_bit_for_bit(path):
    """The crop head (first conv unpadded) computes exactly the columns ISM used to slice from the padded head."""
    inc = incremental_ism(OnnxModel(path, 200))
    assert inc.crop_head is not None
    w, pad = inc.width, inc.pad_left
    crops = random_onehot(64, 2 * w - 1, seed=3)
    crops[5:9, :, :4] = 0.0  # N columns inside some crops
    got = inc._crop_taps(crops)
    padded = inc.head.run(None, {inc.head.get_inputs()[0].name: crops})[0][:, :, pad:pad + w]
    assert got.shape == padded.shape == (64, padded.shape[1], w)
    np.testing.assert_array_equal(got, padded)


def test_every_pooled_baseline_takes_both_shortcuts():
    """The equality test above runs the first-layer delta and the conv-delta tail on every zoo model that splits."""
    from evaluator.ism_first_layer import FirstLayerDelta
    from evaluator.ism_tail import ConvDeltaTail

    for path in SPLIT:
        inc = incremental_ism(OnnxModel(path, 200))
        assert isinstance(inc.first, FirstLayerDelta), path
        assert isinstance(inc.tail, ConvDeltaTail), path
        assert inc.first.monotone  # ReLU or exp: the pool runs on pre-activations


def _pooled_model(tmp_path, name: str, *, after_pool: str = "conv", activation: str = "Relu",
                  first_weight: str = "initializer", seed: int = 0):
    """conv 8 x 4 x 7 (same) -> activation -> maxpool 10 -> [conv 16 x 8 x 3 | ...] -> flatten -> dense 12.

    after_pool: ``"conv"`` (the conv-delta tail applies), ``"flatten"`` (pool straight into the dense layer),
    ``"strided"`` (the conv after the pool has stride 2), ``"two_readers"`` (the pooled tensor also reaches
    the dense layer through a skip path). first_weight: ``"initializer"`` or ``"constant_node"`` (the first
    conv's weight made by a Constant node: no first-layer delta).
    """
    from onnx import TensorProto, helper, numpy_helper

    from test_evaluator_builders import OPSET

    rng = np.random.default_rng(seed)
    length, f, w, c2 = 200, 8, 7, 16
    w1 = rng.normal(0, 0.5, (f, 4, w)).astype(np.float32)
    inits = [numpy_helper.from_array(rng.normal(0, 0.1, f).astype(np.float32), "b1")]
    nodes = []
    if first_weight == "initializer":
        inits.append(numpy_helper.from_array(w1, "w1"))
    else:
        nodes.append(helper.make_node("Constant", [], ["w1"], value=numpy_helper.from_array(w1, "w1_value")))
    nodes += [helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[3, 3], kernel_shape=[w]),
              helper.make_node(activation, ["c1"], ["first_layer"]),
              helper.make_node("MaxPool", ["first_layer"], ["p1"], kernel_shape=[10], strides=[10])]
    pooled = length // 10
    if after_pool == "flatten":
        nodes.append(helper.make_node("Flatten", ["p1"], ["flat"], axis=1))
        width = f * pooled
    else:
        stride = 2 if after_pool == "strided" else 1
        inits += [numpy_helper.from_array(rng.normal(0, 0.2, (c2, f, 3)).astype(np.float32), "w2"),
                  numpy_helper.from_array(rng.normal(0, 0.1, c2).astype(np.float32), "b2")]
        nodes += [helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[1, 1], strides=[stride],
                                   kernel_shape=[3]),
                  helper.make_node("Relu", ["c2"], ["a2"]),
                  helper.make_node("Flatten", ["a2"], ["flat2"], axis=1)]
        width = c2 * (pooled // stride)
        if after_pool == "two_readers":
            nodes += [helper.make_node("Flatten", ["p1"], ["skip"], axis=1),
                      helper.make_node("Concat", ["flat2", "skip"], ["flat"], axis=1)]
            width += f * pooled
        else:
            nodes.append(helper.make_node("Identity", ["flat2"], ["flat"]))
    inits += [numpy_helper.from_array(rng.normal(0, 0.1, (width, 12)).astype(np.float32), "wd"),
              numpy_helper.from_array(np.zeros(12, np.float32), "bd")]
    nodes += [helper.make_node("Gemm", ["flat", "wd", "bd"], ["logits"]),
              helper.make_node("Sigmoid", ["logits"], ["probs"])]
    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, length])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 12]),
         helper.make_tensor_value_info("first_layer", TensorProto.FLOAT, ["batch", f, length]),
         helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    helper.set_model_props(model, {"motifbench.logits_output": "logits"})
    onnx.checker.check_model(model)
    return save(model, tmp_path / f"{name}.onnx")


@pytest.mark.parametrize("after_pool, tail_kind", [("conv", "conv-delta"), ("flatten", "plain"),
                                                   ("strided", "plain"), ("two_readers", "plain")])
def test_the_conv_delta_tail_applies_only_to_one_plain_conv_after_the_pool(tmp_path, after_pool, tail_kind):
    """Pool -> stride-1 conv takes the shortcut; a dense layer, a strided conv or a second reader of the pooled
    tensor keep the whole tail in ONNX Runtime. Either way incremental ISM equals full ISM."""
    model = OnnxModel(_pooled_model(tmp_path, after_pool, after_pool=after_pool), 200)
    inc = IncrementalIsm.build(model)
    assert inc.tail.kind == tail_kind
    x = random_onehot(3, 200, seed=11)
    x[2, :, 100:130] = 0.0
    classes = np.array([2, 7, 11])
    full = full_ism_delta(model, x, classes)
    np.testing.assert_allclose(inc.delta(x, classes), full, rtol=1e-6, atol=1e-5)
    assert np.abs(full).max() > 0


@pytest.mark.parametrize("activation, monotone", [("Relu", True), ("Exp", True), ("Abs", False), ("Neg", False)])
def test_the_pool_runs_before_the_activation_only_when_it_cannot_reorder_a_max(tmp_path, activation, monotone):
    """max(act(v)) == act(max(v)) for a non-decreasing act; |v| and -v are not, so their windows are activated first."""
    model = OnnxModel(_pooled_model(tmp_path, activation, activation=activation, seed=3), 200)
    inc = IncrementalIsm.build(model)
    assert inc.first is not None and inc.first.monotone is monotone
    x = random_onehot(3, 200, seed=4)
    classes = np.array([0, 3, 9])
    np.testing.assert_allclose(inc.delta(x, classes), full_ism_delta(model, x, classes), rtol=1e-6, atol=1e-5)


def test_a_computed_first_layer_weight_or_a_soft_input_uses_the_crop_head(tmp_path):
    """No first-layer delta without a stored weight, nor for inputs that are not one-hot/N: crops through ORT."""
    model = OnnxModel(_pooled_model(tmp_path, "const", first_weight="constant_node"), 200)
    inc = IncrementalIsm.build(model)
    assert inc.first is None and inc.crop_head is not None
    x = random_onehot(2, 200, seed=8)
    classes = np.array([1, 4])
    np.testing.assert_allclose(inc.delta(x, classes), full_ism_delta(model, x, classes), rtol=1e-6, atol=1e-5)

    model = OnnxModel(_pooled_model(tmp_path, "soft"), 200)
    inc = IncrementalIsm.build(model)
    assert inc.first is not None
    soft = (0.9 * random_onehot(2, 200, seed=9) + 0.025).astype(np.float32)  # every base 0.025, the called one 0.925
    np.testing.assert_allclose(inc.delta(soft, classes), full_ism_delta(model, soft, classes), rtol=1e-6, atol=1e-5)


def test_a_mutant_that_changes_no_pooled_value_gets_exactly_zero(tmp_path):
    """Such a mutant's logits are the reference's: its delta is 0, not ONNX Runtime's round-off."""
    path = next(p for p in BASELINES if "cnn-25-relu" in str(p))
    model = OnnxModel(path, 200)
    inc = incremental_ism(model)
    x = random_onehot(4, 200, seed=12)
    classes = np.array([0, 1, 2, 3])
    got = inc.delta(x, classes)
    full = full_ism_delta(model, x, classes)
    ref = x.argmax(axis=1)
    alt = np.ones_like(got, bool)
    alt[np.arange(4)[:, None], ref, np.arange(200)[None]] = False
    zero = (got == 0) & alt
    assert zero.any()  # ReLU filters: some substitutions move no pooled max
    np.testing.assert_allclose(full[zero], 0.0, atol=1e-5)


def test_the_batch_size_changes_no_number():
    inc = incremental_ism(OnnxModel(next(p for p in BASELINES if "cnn-25-relu" in str(p)), 200))
    x = random_onehot(9, 200, seed=13)
    classes = np.arange(9) % 12
    want = inc.delta(x, classes, batch_mutants=4800)
    for batch in (600, 1800, 9600):  # 1, 3 (the last batch short) and 16 sequences per batch
        np.testing.assert_array_equal(inc.delta(x, classes, batch_mutants=batch), want)


@pytest.mark.parametrize("name", ["cnn-25-relu-seed0", "cnn-10-exp-seed0"])
def test_without_the_shortcuts_the_split_gives_full_isms_numbers_bit_for_bit(name, monkeypatch):
    """``ism_incremental.SHORTCUTS = False``: crops through ORT, whole tail: full ISM's arithmetic exactly."""
    from evaluator import ism_incremental
    from evaluator.ism_tail import PlainTail

    monkeypatch.setattr(ism_incremental, "SHORTCUTS", False)
    model = OnnxModel(next(p for p in BASELINES if name in str(p)), 200)
    inc = incremental_ism(model)
    assert inc.first is None and isinstance(inc.tail, PlainTail)
    x = random_onehot(4, 200, seed=17)
    classes = np.array([1, 5, 7, 10])
    np.testing.assert_array_equal(ism_delta(model, x, classes), full_ism_delta(model, x, classes))


def test_an_unexpected_failure_while_splitting_falls_back_to_full_ism(monkeypatch, caplog):
    """Any error building or probing the split (not only the known refusals) means full ISM, never a crash."""
    from evaluator.ism_incremental import build_incremental

    def broken(model):
        raise ValueError("cannot reshape array of size 7 into shape (2,3)")

    monkeypatch.setattr(IncrementalIsm, "build", classmethod(lambda cls, model: broken(model)))
    model = OnnxModel(next(p for p in BASELINES if "cnn-25-relu" in str(p)), 200)
    with caplog.at_level("WARNING"):
        assert build_incremental(model) is None
    assert "full ISM instead" in caplog.text and "ValueError" in caplog.text
