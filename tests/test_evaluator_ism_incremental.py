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
    pooled = model.tap.path and "cnn-1-" not in str(path)
    if pooled:  # every zoo model but CNN-1 (no pooling after its first layer) splits
        assert isinstance(inc, IncrementalIsm)
        np.testing.assert_allclose(inc.delta(x, classes), full, rtol=1e-6, atol=1e-5)
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


@pytest.mark.parametrize("path", [p for p in BASELINES if "cnn-1-" not in str(p)],
                         ids=[p.parent.name for p in BASELINES if "cnn-1-" not in str(p)])
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
