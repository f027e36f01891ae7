"""ONNX export: the submission contract, parity with PyTorch, and checkpoint -> ONNX."""
from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from baselines.errors import BaselineError
from baselines.export import export_checkpoint, export_onnx, fold_first_layer, load_checkpoint, save_weights
from baselines.model import build_model
from baselines.zoo import get_spec


def _trained_looking(name: str, activation: str, length: int = 200, seed: int = 0):
    """A model with non-trivial BN statistics and affine terms, as after training."""
    torch.manual_seed(seed)
    model = build_model(get_spec(name), activation, length)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)
    return model.eval()


def _one_hot(n: int, length: int, seed: int = 3) -> torch.Tensor:
    idx = torch.randint(0, 4, (n, length), generator=torch.Generator().manual_seed(seed))
    return torch.nn.functional.one_hot(idx, 4).permute(0, 2, 1).float()


@pytest.mark.parametrize("name,activation", [("cnn-25", "exp"), ("cnn-50-2", "relu"), ("cnn-deep", "exp"),
                                             ("cnn-deep-nmi", "relu")])
def test_onnx_matches_pytorch(tmp_path, name, activation):
    model = _trained_looking(name, activation)
    path = export_onnx(model, tmp_path / "model.onnx", metadata={"motifbench.zoo_name": name})
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["x"]
    assert [o.name for o in session.get_outputs()] == ["probabilities", "first_layer", "logits"]
    for batch in (1, 7):  # dynamic batch axis
        x = _one_hot(batch, 200, seed=batch)
        probs, tap, logits = session.run(None, {"x": x.numpy()})
        with torch.no_grad():
            ref_logits = model(x).numpy()
            ref_probs = torch.sigmoid(model(x)).numpy()
            ref_tap = model.first_layer(x).numpy()
        assert probs.shape == logits.shape == (batch, 12) and probs.dtype == logits.dtype == np.float32
        assert tap.shape == ref_tap.shape == (batch, get_spec(name).convs[0].filters, 200)
        np.testing.assert_allclose(probs, ref_probs, atol=1e-5, rtol=0)
        np.testing.assert_allclose(tap, ref_tap, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(logits, ref_logits, atol=1e-5, rtol=1e-5)


def test_logits_output_keeps_mutation_effects_that_probabilities_lose(tmp_path):
    """Why the export carries logits: a confident model's float32 sigmoid is exactly 1.0, so
    single-base mutation effects on it vanish, while the logits still move."""
    model = _trained_looking("cnn-25", "relu")
    with torch.no_grad():
        model.body[-1].bias.fill_(30.0)  # saturate every class
    session = ort.InferenceSession(str(export_onnx(model, tmp_path / "m.onnx")))
    x = _one_hot(1, 200).numpy()
    mutant = x.copy()
    mutant[0, :, 100] = np.roll(mutant[0, :, 100], 1)
    (p_ref, l_ref), (p_mut, l_mut) = (session.run(["probabilities", "logits"], {"x": a}) for a in (x, mutant))
    assert np.all(p_ref == 1.0) and np.array_equal(p_ref, p_mut)  # no signal left in probabilities
    assert np.abs(l_mut - l_ref).max() > 1e-4  # the logits still see the mutation


def test_onnx_file_is_self_contained_and_declares_its_tap(tmp_path):
    model = _trained_looking("cnn-2", "exp")
    path = export_onnx(model, tmp_path / "m.onnx", metadata={"motifbench.activation": "exp"})
    proto = onnx.load(str(path), load_external_data=False)
    assert not [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert list(tmp_path.iterdir()) == [path]  # one file, no side-car data
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["motifbench.tap"] == "first_layer"
    assert meta["motifbench.output_kind"] == "probabilities"
    assert meta["motifbench.logits_output"] == "logits"
    assert [o.name for o in proto.graph.output][0] == "probabilities"  # the declared main output stays first
    logits_out = next(o for o in proto.graph.output if o.name == "logits")
    assert [d.dim_param or d.dim_value for d in logits_out.type.tensor_type.shape.dim][1:] == [12]
    sigmoid = next(n for n in proto.graph.node if "probabilities" in n.output)
    assert sigmoid.op_type == "Sigmoid" and list(sigmoid.input) == ["logits"]  # logits are pre-sigmoid
    assert meta["motifbench.activation"] == "exp"
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [4, 200]
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}
    # BN of the first layer is folded: the tap comes straight from a Conv with bias + activation
    tap_node = next(n for n in proto.graph.node if "first_layer" in n.output)
    assert tap_node.op_type == "Exp"
    producer = next(n for n in proto.graph.node if tap_node.input[0] in n.output)
    assert producer.op_type == "Conv" and len(producer.input) == 3


def test_folded_conv_equals_conv_then_bn():
    model = _trained_looking("cnn-25", "relu")
    x = _one_hot(4, 200)
    with torch.no_grad():
        np.testing.assert_allclose(fold_first_layer(model)(x).numpy(), model.first_bn(model.first_conv(x)).numpy(),
                                   atol=1e-5, rtol=1e-5)


def test_export_checkpoint_from_safetensors_and_spec(tmp_path):
    model = _trained_looking("cnn-4", "exp")
    save_weights(model, tmp_path / "model.safetensors")
    spec = {"zoo_name": "cnn-4", "spec": get_spec("cnn-4").to_dict(), "activation": "exp", "input_length": 200,
            "seed": 0}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    reloaded = load_checkpoint(tmp_path)
    for (k, a), (_, b) in zip(model.state_dict().items(), reloaded.state_dict().items()):
        assert torch.equal(a, b), k
    out = export_checkpoint(tmp_path / "model.safetensors", tmp_path / "spec.json", tmp_path / "out" / "x.onnx")
    x = _one_hot(3, 200)
    probs, = ort.InferenceSession(str(out)).run(["probabilities"], {"x": x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(probs, torch.sigmoid(model(x)).numpy(), atol=1e-5)
    assert export_checkpoint(tmp_path).name == "model.onnx"


def test_export_checkpoint_errors_are_specific(tmp_path):
    with pytest.raises(BaselineError, match="no weights file"):
        export_checkpoint(tmp_path)
    save_weights(_trained_looking("cnn-4", "relu"), tmp_path / "model.safetensors")
    with pytest.raises(BaselineError, match="no spec.json"):
        export_checkpoint(tmp_path)
    wrong = {"spec": get_spec("cnn-25-f60").to_dict(), "activation": "relu", "input_length": 200}
    (tmp_path / "spec.json").write_text(json.dumps(wrong))
    with pytest.raises(BaselineError, match="do not fit the spec"):
        export_checkpoint(tmp_path)
