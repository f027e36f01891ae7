"""Hand-built ONNX models and small synthetic splits for the evaluator tests.

The builders are plain functions (imported by the other ``test_evaluator_*``
files and by ``perf/evaluate_stages.py``); the tests at the bottom check the
builders themselves, so a broken fixture fails loudly here rather than as a
puzzling metric elsewhere.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from benchmark.motifs import load_motif_set

OPSET = 17


# ----------------------------------------------------------------------------- data


@dataclass
class FakeInfo:
    source: str = "in-memory"
    config: str = "synthetic"
    split: str = "test"
    version: str = "0.0.0-test"
    revision: str | None = None
    files_sha256: dict = field(default_factory=dict)


@dataclass
class FakeSplit:
    """The loader's ``SplitArrays`` contract, built in memory."""

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    ids: list
    motifs: list
    info: FakeInfo = field(default_factory=FakeInfo)


def make_split(n: int = 300, length: int = 200, seed: int = 0, max_motifs: int = 3) -> FakeSplit:
    """Sequences with 1..max_motifs embedded motif sites sampled from the 24 generator entries."""
    ms = load_motif_set()
    entries = ms.generator_entries()
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), np.float32)
    y = np.zeros((n, 12), np.float32)
    mask = np.zeros((n, length), bool)
    motifs = []
    for i in range(n):
        seq = rng.integers(0, 4, size=length)
        k = int(rng.integers(1, max_motifs + 1))
        chosen = rng.integers(0, 24, size=k)
        widths = [entries[e].shape[1] for e in chosen]
        free = length - sum(widths)
        cuts = np.sort(rng.integers(0, free + 1, size=k))
        records, pos = [], 0
        prev = 0
        for e, w, c in zip(chosen, widths, cuts):
            pos += int(c - prev)
            prev = int(c)
            pwm = entries[e]
            site = np.array([rng.choice(4, p=pwm[:, j]) for j in range(w)])
            seq[pos:pos + w] = site
            tf = int(e) // 2
            y[i, tf] = 1
            mask[i, pos:pos + w] = True
            records.append({"tf": ms.names[tf], "jaspar_id": ms.jaspar_ids[tf], "start": pos, "end": pos + w,
                            "strand": "+" if e % 2 == 0 else "-"})
            pos += w
        x[i] = np.eye(4, dtype=np.float32)[seq].T
        motifs.append(records)
    return FakeSplit(x=x, y=y, mask=mask, ids=[f"seq{i}" for i in range(n)], motifs=motifs)


# ----------------------------------------------------------------------------- models


def ground_truth_filters(width: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """24 log-odds filters (12 PWMs and reverse complements, centred in ``width``) and biases.

    Returns ``(weights (24, 4, width) float32, bias (24,) float32)``; the bias
    puts the ReLU threshold at 60% of each filter's best score.
    """
    ms = load_motif_set()
    weights = np.zeros((24, 4, width), np.float32)
    bias = np.zeros(24, np.float32)
    for k, pwm in enumerate(ms.generator_entries()):
        w = pwm.shape[1]
        off = (width - w) // 2
        lo = np.log2((pwm + 0.01) / 1.04 / 0.25)
        weights[k, :, off:off + w] = lo
        bias[k] = -0.6 * lo.max(axis=0).sum()
    return weights, bias


def _init(name: str, arr: np.ndarray):
    return numpy_helper.from_array(np.asarray(arr, np.float32), name)


def build_cnn(filters: np.ndarray, bias: np.ndarray, dense_w: np.ndarray, dense_b: np.ndarray, *,
              activation: str = "relu", layout: str = "ncl", bn: bool = False, output: str = "sigmoid",
              first_layer_output: bool = False, length: int | None = None,
              batch: int | str = "batch") -> onnx.ModelProto:
    """A one-conv CNN: conv -> [BN] -> activation -> global max -> dense 12 -> [sigmoid].

    layout: ``"ncl"`` plain Conv1d; ``"transpose"`` input goes NCL->NLC->NCL
    before the conv and the activation is applied in NLC (tap labels must
    follow the Transpose); ``"conv2d"`` Unsqueeze + 2-D conv with a (1, k) kernel.
    activation: ``"relu"``, ``"exp"``, ``"silu"`` (x * sigmoid(x)) or ``"none"``.
    """
    f, _, k = filters.shape
    nodes, inits = [], []
    pad_l = (k - 1) // 2
    pad_r = k - 1 - pad_l
    x = "x"
    inits.append(_init("conv_w", filters if layout != "conv2d" else filters[:, :, None, :]))
    inits.append(_init("conv_b", bias))
    if layout == "transpose":
        nodes.append(helper.make_node("Transpose", [x], ["x_nlc"], perm=[0, 2, 1]))
        nodes.append(helper.make_node("Transpose", ["x_nlc"], ["x_ncl"], perm=[0, 2, 1]))
        x = "x_ncl"
    if layout == "conv2d":
        inits.append(numpy_helper.from_array(np.array([2], np.int64), "unsq_axes"))
        nodes.append(helper.make_node("Unsqueeze", [x, "unsq_axes"], ["x4"]))
        nodes.append(helper.make_node("Conv", ["x4", "conv_w", "conv_b"], ["conv"], pads=[0, pad_l, 0, pad_r]))
    else:
        nodes.append(helper.make_node("Conv", [x, "conv_w", "conv_b"], ["conv"], pads=[pad_l, pad_r]))
    t = "conv"
    if bn:
        inits += [_init("bn_s", np.ones(f)), _init("bn_b", np.zeros(f)), _init("bn_m", np.zeros(f)), _init("bn_v", np.ones(f) - 1e-5)]
        nodes.append(helper.make_node("BatchNormalization", [t, "bn_s", "bn_b", "bn_m", "bn_v"], ["bn"], epsilon=1e-5))
        t = "bn"
    channel_last = False
    if layout == "transpose":
        nodes.append(helper.make_node("Transpose", [t], ["conv_nlc"], perm=[0, 2, 1]))
        t, channel_last = "conv_nlc", True
    if activation == "relu":
        nodes.append(helper.make_node("Relu", [t], ["act"]))
    elif activation == "exp":
        nodes.append(helper.make_node("Exp", [t], ["act"]))
    elif activation == "silu":
        nodes.append(helper.make_node("Sigmoid", [t], ["sig"]))
        nodes.append(helper.make_node("Mul", [t, "sig"], ["act"]))
    elif activation == "none":
        nodes.append(helper.make_node("Identity", [t], ["act"]))
    else:
        raise ValueError(activation)
    act = "act"
    outputs = []
    if first_layer_output:
        nodes.append(helper.make_node("Identity", [act], ["first_layer"]))
        outputs.append(helper.make_tensor_value_info("first_layer", TensorProto.FLOAT, ["batch", f, length or "length"]))
    if channel_last:
        nodes.append(helper.make_node("ReduceMax", [act], ["pooled"], axes=[1], keepdims=0))
    else:
        nodes.append(helper.make_node("GlobalMaxPool", [act], ["gpool"]))
        nodes.append(helper.make_node("Flatten", ["gpool"], ["pooled"], axis=1))
    inits += [_init("dense_w", dense_w), _init("dense_b", dense_b)]
    nodes.append(helper.make_node("Gemm", ["pooled", "dense_w", "dense_b"], ["logits"]))
    final = "logits"
    if output == "sigmoid":
        nodes.append(helper.make_node("Sigmoid", ["logits"], ["probs"]))
        final = "probs"
    graph = helper.make_graph(
        nodes, "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4, length or "length"])],
        [helper.make_tensor_value_info(final, TensorProto.FLOAT, [batch, dense_w.shape[1]])] + outputs,
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="motifbench-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def ground_truth_model(**kwargs) -> onnx.ModelProto:
    """The 12 ground-truth PWMs (both strands) as first-layer filters: the best a CNN can do."""
    filters, bias = ground_truth_filters()
    dense_w = np.zeros((24, 12), np.float32)
    for k in range(24):
        dense_w[k, k // 2] = 0.5
    return build_cnn(filters, bias, dense_w, np.full(12, -1.0, np.float32), **kwargs)


def random_model(n_filters: int = 24, width: int = 19, seed: int = 1, **kwargs) -> onnx.ModelProto:
    """Glorot-uniform random filters and dense layer: an untrained network."""
    rng = np.random.default_rng(seed)
    lim = np.sqrt(6.0 / (4 * width + n_filters * width))
    filters = rng.uniform(-lim, lim, size=(n_filters, 4, width)).astype(np.float32)
    dense_w = rng.uniform(-0.3, 0.3, size=(n_filters, 12)).astype(np.float32)
    return build_cnn(filters, np.zeros(n_filters, np.float32), dense_w, np.zeros(12, np.float32), **kwargs)


def build_cnn25(n_filters: int = 30, width: int = 19, length: int = 200, seed: int = 0) -> onnx.ModelProto:
    """A CNN-25-sized network (REFERENCE.md section 4) with random weights, BN folded away.

    conv 30x19 same -> ReLU -> maxpool 25 -> conv 128x5 same -> ReLU -> maxpool 4
    -> flatten -> dense 512 -> ReLU -> dense 12 -> sigmoid.
    """
    rng = np.random.default_rng(seed)

    def glorot(shape, fan_in, fan_out):
        lim = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-lim, lim, size=shape).astype(np.float32)

    l1 = -(-length // 25)
    l2 = -(-l1 // 4)
    inits = [
        _init("w1", glorot((n_filters, 4, width), 4 * width, n_filters * width)), _init("b1", np.zeros(n_filters)),
        _init("w2", glorot((128, n_filters, 5), n_filters * 5, 128 * 5)), _init("b2", np.zeros(128)),
        _init("w3", glorot((128 * l2, 512), 128 * l2, 512)), _init("b3", np.zeros(512)),
        _init("w4", glorot((512, 12), 512, 12)), _init("b4", np.zeros(12)),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[(width - 1) // 2, width - 1 - (width - 1) // 2]),
        helper.make_node("Relu", ["c1"], ["first_layer"]),
        helper.make_node("MaxPool", ["first_layer"], ["p1"], kernel_shape=[25], strides=[25], ceil_mode=1),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], pads=[2, 2]),
        helper.make_node("Relu", ["c2"], ["a2"]),
        helper.make_node("MaxPool", ["a2"], ["p2"], kernel_shape=[4], strides=[4], ceil_mode=1),
        helper.make_node("Flatten", ["p2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["d3"]),
        helper.make_node("Relu", ["d3"], ["a3"]),
        helper.make_node("Gemm", ["a3", "w4", "b4"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probs"]),
    ]
    graph = helper.make_graph(
        nodes, "cnn25",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, length])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 12]),
         helper.make_tensor_value_info("first_layer", TensorProto.FLOAT, ["batch", n_filters, length])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="motifbench-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


# ----------------------------------------------------------------------------- checks of the builders


def test_make_split_labels_match_motif_records():
    split = make_split(n=20, seed=3)
    ms = load_motif_set()
    for i in range(20):
        tfs = {ms.index_of(r["tf"]) for r in split.motifs[i]}
        assert set(np.flatnonzero(split.y[i])) == tfs
        assert split.mask[i].sum() == sum(r["end"] - r["start"] for r in split.motifs[i])
    assert np.allclose(split.x.sum(axis=1), 1.0)


def test_ground_truth_filters_score_their_own_consensus_highest():
    filters, bias = ground_truth_filters()
    ms = load_motif_set()
    for k, pwm in enumerate(ms.generator_entries()):
        consensus = np.zeros((4, 16), np.float32)
        off = (16 - pwm.shape[1]) // 2
        consensus[pwm.argmax(axis=0), off + np.arange(pwm.shape[1])] = 1
        scores = (filters * consensus).sum(axis=(1, 2)) + bias
        assert scores[k] > 0
        assert scores[k] == scores.max() or np.isclose(scores[k], scores.max())


def keras_conv1d_model(n_filters: int = 8, width: int = 9, seed: int = 3, *, squeeze: str = "squeeze",
                       activation: str = "relu", bn: bool = True, length: int | str = "length",
                       strides: int = 1, dilations: int = 1) -> onnx.ModelProto:
    """What tf2onnx writes for a Keras ``Conv1D -> BatchNormalization -> Activation -> MaxPooling1D`` model.

    TF runs a 1-D conv as ExpandDims -> Conv2D (NHWC) -> Squeeze, and tf2onnx
    wraps the NCHW ``Conv`` in Transposes::

        x [N,4,L] -T-> [N,L,4] -Unsqueeze(1)-> [N,1,L,4] -T-> [N,4,1,L] -Conv-> [N,F,1,L]
        -T-> [N,1,L,F] -Squeeze(1) (or Reshape [0,-1,F])-> [N,L,F] -Mul,Add (BN)-> -Relu-> "act" [N,L,F]
        -Unsqueeze(1)-> -T-> MaxPool (1,5) -> ReduceMax -> MatMul -> Add -> "logits" -> Sigmoid -> "probs"

    activation: ``"relu"`` or ``"none"`` (BN output goes straight to the pooling).
    Returns an opset-13 model; its first-layer weights are ``conv_w`` (F, 4, 1, width).
    """
    rng = np.random.default_rng(seed)
    f, k = n_filters, width
    pad_l = (dilations * (k - 1)) // 2
    pad_r = dilations * (k - 1) - pad_l
    inits = [
        _init("conv_w", rng.normal(0, 0.5, size=(f, 4, 1, k))), _init("conv_b", rng.normal(0, 0.1, size=f)),
        _init("bn_scale", rng.uniform(0.5, 1.5, size=f)), _init("bn_shift", rng.normal(0, 0.2, size=f)),
        _init("dense_w", rng.normal(0, 0.3, size=(f, 12))), _init("dense_b", np.zeros(12)),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([0, -1, f], np.int64), "nlf_shape"),
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["x_nlc"], perm=[0, 2, 1]),
        helper.make_node("Unsqueeze", ["x_nlc", "axis1"], ["x_nhwc"]),
        helper.make_node("Transpose", ["x_nhwc"], ["x_nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["x_nchw", "conv_w", "conv_b"], ["conv"], kernel_shape=[1, k],
                         pads=[0, pad_l, 0, pad_r], strides=[1, strides], dilations=[1, dilations]),
        helper.make_node("Transpose", ["conv"], ["conv_nhwc"], perm=[0, 2, 3, 1]),
    ]
    if squeeze == "squeeze":
        nodes.append(helper.make_node("Squeeze", ["conv_nhwc", "axis1"], ["conv_nlc"]))
    else:
        nodes.append(helper.make_node("Reshape", ["conv_nhwc", "nlf_shape"], ["conv_nlc"]))
    t = "conv_nlc"
    if bn:
        nodes += [helper.make_node("Mul", [t, "bn_scale"], ["bn_mul"]), helper.make_node("Add", ["bn_mul", "bn_shift"], ["bn"])]
        t = "bn"
    if activation == "relu":
        nodes.append(helper.make_node("Relu", [t], ["act"]))
        t = "act"
    elif activation != "none":
        raise ValueError(activation)
    nodes += [
        helper.make_node("Unsqueeze", [t, "axis1"], ["pool_in_nhwc"]),
        helper.make_node("Transpose", ["pool_in_nhwc"], ["pool_in"], perm=[0, 3, 1, 2]),
        helper.make_node("MaxPool", ["pool_in"], ["pooled"], kernel_shape=[1, 5], strides=[1, 5]),
        helper.make_node("ReduceMax", ["pooled"], ["gmax"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["gmax", "dense_w"], ["dense"]),
        helper.make_node("Add", ["dense", "dense_b"], ["logits"]),
        helper.make_node("Sigmoid", ["logits"], ["probs"]),
    ]
    graph = helper.make_graph(
        nodes, "keras_conv1d",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, length])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", 12])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def keras_conv1d_reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """NumPy first-layer activations of :func:`keras_conv1d_model` ('same', stride 1), float64 (N, F, L)."""
    w = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    filt = w["conv_w"][:, :, 0, :].astype(np.float64)  # (F, 4, k)
    f, _, k = filt.shape
    pad_l = (k - 1) // 2
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad_l, k - 1 - pad_l)))
    win = np.lib.stride_tricks.sliding_window_view(xp, k, axis=2)  # (N, 4, L, k)
    conv = np.einsum("nclk,fck->nfl", win, filt) + w["conv_b"][None, :, None]
    names = {n.output[0] for n in model.graph.node}
    if "bn" in names:
        conv = conv * w["bn_scale"][None, :, None] + w["bn_shift"][None, :, None]
    return np.maximum(conv, 0.0) if "act" in names else conv


def random_onehot_batch(n: int, length: int = 200, seed: int = 0) -> np.ndarray:
    """Random one-hot sequences, float32 (n, 4, length)."""
    idx = np.random.default_rng(seed).integers(0, 4, (n, length))
    return np.ascontiguousarray(np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1))
