"""ISM on an exported logits output: no saturation ties from clipping sigmoid probabilities."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from evaluator.attribution import ism_delta
from evaluator import evaluate_arrays
from evaluator.onnx_model import METADATA_LOGITS_OUTPUT, ModelError, ModelOutputError, OnnxModel
from evaluator.params import EvalParams
from test_evaluator_builders import ground_truth_model, make_split, save

#: Dense bias large enough that every logit is > 16: sigmoid is 1.0 (or 1 - 6e-8) in float32.
SATURATING_BIAS = 16.0


def _saturated(output: str = "sigmoid") -> onnx.ModelProto:
    model = ground_truth_model(output=output)
    for init in model.graph.initializer:
        if init.name == "dense_b":
            init.CopyFrom(numpy_helper.from_array(np.full(12, SATURATING_BIAS, np.float32), "dense_b"))
    return model


def _both_outputs(metadata: bool) -> onnx.ModelProto:
    """Probabilities as the prediction output plus the pre-sigmoid 'logits' as a second output."""
    model = _saturated()
    model.graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 12]))
    if metadata:
        entry = model.metadata_props.add()
        entry.key, entry.value = METADATA_LOGITS_OUTPUT, "logits"
    return model


@pytest.fixture(scope="module")
def sequences():
    split = make_split(n=3, seed=11)
    return split.x, split.y.argmax(axis=1)


def test_metadata_logits_output_gives_exact_ism_where_probabilities_tie(tmp_path, sequences):
    x, classes = sequences
    both = OnnxModel(save(_both_outputs(metadata=True), tmp_path / "both.onnx"), 200)
    assert (both.output_name, both.logits_output, both.logits_output_source) == ("probs", "logits", "metadata")
    assert both.output_kind == "probabilities"
    assert both.ism_output == {"output_name": "logits", "output_source": "logits output (metadata)"}
    probs_only = OnnxModel(save(_saturated(), tmp_path / "probs.onnx"), 200)
    logits_only = OnnxModel(save(_saturated(output="logits"), tmp_path / "logits.onnx"), 200)
    d_probs = ism_delta(probs_only, x, classes)
    d_both = ism_delta(both, x, classes)
    d_logits = ism_delta(logits_only, x, classes)
    assert np.count_nonzero(d_probs) == 0  # every logit above 13.8 is clipped: all mutations tie
    assert np.count_nonzero(d_both) > 0.1 * d_both.size / 4
    np.testing.assert_allclose(d_both, d_logits, rtol=1e-5, atol=1e-5)


def test_declared_logits_output_and_its_checks(tmp_path, sequences):
    x, classes = sequences
    path = save(_both_outputs(metadata=False), tmp_path / "both.onnx")
    with pytest.raises(ModelError, match="several outputs.*--logits-output"):
        OnnxModel(path, 200)
    om = OnnxModel(path, 200, logits_output="logits")
    assert (om.logits_output_source, om.info.logits_output) == ("declared", "logits")
    assert np.count_nonzero(ism_delta(om, x, classes)) > 0
    with pytest.raises(ModelError, match="'nope' .*not in the graph"):
        OnnxModel(path, 200, logits_output="nope")
    with pytest.raises(ModelOutputError, match="logits output 'gpool' has shape"):
        OnnxModel(save(_saturated(), tmp_path / "p.onnx"), 200, logits_output="gpool")  # internal, [batch, 24, 1]
    # the probabilities declared as the logits: sigmoid(probs) is not the prediction
    with pytest.raises(ModelOutputError, match="is not the logit of the prediction output"):
        OnnxModel(path, 200, logits_output="probs")


def test_record_says_which_output_ism_used(tmp_path):
    split = make_split(n=30, seed=12)
    params = EvalParams(ism_sequences=2)
    record = evaluate_arrays(save(_both_outputs(metadata=True), tmp_path / "both.onnx"), split, params=params,
                             progress=False, intervals=None)
    att = record["results"]["attribution"]
    assert (att["output_name"], att["output_source"]) == ("logits", "logits output (metadata)")
    assert (record["model"]["logits_output"], record["model"]["logits_output_source"]) == ("logits", "metadata")
    assert record["model"]["output_name"] == "probs"
    plain = OnnxModel(save(_saturated(), tmp_path / "p.onnx"), 200)
    assert plain.ism_output["output_source"] == "prediction output (probabilities, clipped logit)"
