"""Params count the same way for every model: batch norms folded or stored, zoo export or hand upload."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from space_app.bundled_baselines import BUNDLE_DIR
from submissions.model_facts import parameter_count


def _init(name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _conv_bn(folded: bool) -> onnx.ModelProto:
    """Conv(4 -> 8, width 5) + batch norm + MatMul(8 -> 3) + batch norm, exported folded or not."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [_init("w", 8, 4, 5), _init("m", 8, 3)]
    if folded:  # what torch.onnx does for Conv+BN in eval mode: weights rescaled, BN shift -> bias
        inits.append(_init("b", 8))
        nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"])]
    else:
        inits += [_init(f"bn1_{k}", 8) for k in ("scale", "shift", "mean", "var")]
        nodes = [helper.make_node("Conv", ["x", "w"], ["c0"]),
                 helper.make_node("BatchNormalization", ["c0", "bn1_scale", "bn1_shift", "bn1_mean", "bn1_var"], ["c"])]
    inits += [_init(f"bn2_{k}", 3) for k in ("scale", "shift", "mean", "var")]
    nodes += [helper.make_node("Transpose", ["c"], ["t"], perm=[0, 2, 1]),
              helper.make_node("MatMul", ["t", "m"], ["d"]),
              helper.make_node("BatchNormalization", ["d", "bn2_scale", "bn2_shift", "bn2_mean", "bn2_var"], ["y"])]
    return helper.make_model(helper.make_graph(nodes, "g", [x], [y], inits))


def test_folded_and_stored_batch_norms_count_the_same():
    # conv weights 8*4*5 + one bias per conv channel + matmul weights 8*3 + one bias per output channel
    expected = 8 * 4 * 5 + 8 + 8 * 3 + 3
    assert parameter_count(_conv_bn(folded=True)) == expected
    assert parameter_count(_conv_bn(folded=False)) == expected


def test_unfoldable_batch_norm_counts_scale_and_shift_only():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 10])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    inits = [_init(f"bn_{k}", 4) for k in ("scale", "shift", "mean", "var")]
    node = helper.make_node("BatchNormalization", ["x", "bn_scale", "bn_shift", "bn_mean", "bn_var"], ["y"])
    assert parameter_count(helper.make_model(helper.make_graph([node], "g", [x], [y], inits))) == 2 * 4


@pytest.mark.parametrize("run", ["cnn-25-relu-seed0", "cnn-4-exp-seed0"])
def test_zoo_export_counts_trainable_minus_one_per_batch_norm_channel(run):
    """The zoo's ONNX (conv BNs folded by the exporter, the dense BN stored) gives the folded count."""
    spec = json.loads((BUNDLE_DIR / run / "spec.json").read_text())
    model = onnx.load(str(BUNDLE_DIR / run / "model.onnx"))
    bn_channels = sum(c["filters"] for c in spec["spec"]["convs"]) + sum(d["units"] for d in spec["spec"]["dense"])
    assert parameter_count(model) == spec["parameters"]["trainable"] - bn_channels


def test_torch_export_with_and_without_folding_counts_the_same(tmp_path):
    """The issue's case: a hand-exported CNN-25 (BN kept) and the zoo's (BN folded) show one number."""
    import io
    import warnings

    import torch

    from baselines.model import build_model
    from baselines.zoo import get_spec

    spec = get_spec("cnn-25")
    model = build_model(spec, "relu", 200).eval()
    counts = []
    for fold in (True, False):
        buffer = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, torch.zeros(1, 4, 200), buffer, dynamo=False, do_constant_folding=fold,
                              opset_version=17)
        counts.append(parameter_count(onnx.load_from_string(buffer.getvalue())))
    bn_channels = sum(c.filters for c in spec.convs) + sum(d.units for d in spec.dense)
    assert counts == [spec.parameter_counts(200).trainable - bn_channels] * 2 == [159_378] * 2
