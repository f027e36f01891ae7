"""Issue 10 section 4: a plain Sigmoid model whose ONNX Runtime output reaches 1.0000001 is accepted.

The model is the one a client reported: Conv(4->8, width 19, pads 9) -> Relu
-> ReduceMax over length -> MatMul(8x12) -> Sigmoid, random weights, opset 17.
With weight seed 37 and the 2,000 random sequences below, ONNX Runtime's
vectorised Sigmoid returns one value one ulp above 1.
"""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from benchmark.loader import DatasetInfo, SplitArrays
from evaluator import evaluate_arrays
from evaluator.onnx_model import ModelOutputError, OnnxModel
from evaluator.output_range import PROBABILITY_TOLERANCE, format_value, probability_range_problem
from evaluator.params import EvalParams

WEIGHT_SEED = 37


def client_model(seed: int = WEIGHT_SEED, scale: float = 1.0, bias: float = 0.0) -> onnx.ModelProto:
    """The reported model (``bias`` > 0 adds a constant after the Sigmoid, making it truly out of range)."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 1, (8, 4, 19)).astype(np.float32)
    w2 = rng.normal(0, scale, (8, 12)).astype(np.float32)
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["conv"], pads=[9, 9]),
        helper.make_node("Relu", ["conv"], ["act"]),
        helper.make_node("ReduceMax", ["act"], ["pooled"], axes=[2], keepdims=0),
        helper.make_node("MatMul", ["pooled", "w2"], ["z"]),
        helper.make_node("Sigmoid", ["z"], ["y" if bias == 0 else "s"]),
    ]
    inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")]
    if bias:
        nodes.append(helper.make_node("Add", ["s", "b"], ["y"]))
        inits.append(numpy_helper.from_array(np.full(12, bias, np.float32), "b"))
    graph = helper.make_graph(nodes, "client", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 200])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 12])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    onnx.checker.check_model(model)
    return model


def _inputs(n: int = 2000) -> np.ndarray:
    idx = np.random.default_rng(2).integers(0, 4, (n, 200))
    return np.ascontiguousarray(np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1))


@pytest.fixture(scope="module")
def client_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("client") / "model.onnx"
    onnx.save(client_model(), path)
    return path


def test_onnxruntime_sigmoid_really_exceeds_one(client_path):
    session = ort.InferenceSession(str(client_path), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": _inputs()})
    assert y.max() > 1.0, "precondition: this ONNX Runtime's Sigmoid no longer overshoots; pick another seed"
    assert y.max() <= 1.0 + PROBABILITY_TOLERANCE


def test_client_model_is_accepted_and_clipped(client_path):
    om = OnnxModel(client_path, 200)
    assert om.info.output_kind == "probabilities"
    x = _inputs()
    raw = om.predict(x, 256)
    assert raw.max() > 1.0
    probs = om.to_probabilities(raw)
    assert probs.max() == 1.0 and probs.min() >= 0.0


def test_client_model_evaluates_end_to_end(client_path):
    x = _inputs()
    rng = np.random.default_rng(0)
    y = (rng.random((x.shape[0], 12)) < 0.2).astype(np.float32)
    mask = np.zeros((x.shape[0], 200), bool)
    mask[:, 50:70] = True
    info = DatasetInfo(source="test", config="synthetic", split="test", version="0.0.0", revision=None)
    arrays = SplitArrays(x=x, y=y, mask=mask, ids=[f"s{i}" for i in range(len(x))], motifs=[[] for _ in x], info=info)
    record = evaluate_arrays(client_path, arrays, params=EvalParams(attribution=False), progress=False, intervals=None)
    assert 0.0 <= record["results"]["classification"]["macro_auroc"] <= 1.0


def test_truly_out_of_range_is_refused_with_enough_digits(tmp_path):
    path = tmp_path / "over.onnx"
    onnx.save(client_model(bias=1e-5), path)
    with pytest.raises(ModelOutputError) as err:
        OnnxModel(path, 200, output_kind="probabilities").predict(_inputs(64), 64)
    message = str(err.value)
    assert "1.00001" in message  # not rounded to "1", which read as inside [0, 1]
    assert "outside [0, 1]" in message and "--output-kind logits" in message


def test_range_rule():
    assert probability_range_problem(0.0, 1.0000001) is None
    assert probability_range_problem(-1e-7, 1.0) is None
    assert "1.00001" in probability_range_problem(0.0, 1.00001)
    assert "-0.5" in probability_range_problem(-0.5, 0.5)
    assert format_value(1.0000001) == "1.0000001"


def test_auroc_of_tied_scores_matches_sklearn():
    """A saturated model gives one or two distinct scores per class; sklearn keeps every ROC point then."""
    from sklearn.metrics import roc_auc_score as sklearn_auroc

    from evaluator.classification import roc_auc_score

    y = np.r_[np.ones(20), np.zeros(30)].astype(bool)
    rng = np.random.default_rng(0)
    for distinct in (1, 2, 3):
        score = rng.integers(0, distinct, 50).astype(float)
        assert roc_auc_score(y, score) == pytest.approx(sklearn_auroc(y, score), abs=1e-12)


def test_float64_values_just_past_the_tolerance_print_as_past_it():
    """Printing a double output through float32 would round 1.0000010001 to 1.000001: inside the tolerance."""
    value = 1.0 + PROBABILITY_TOLERANCE + 1e-10
    problem = probability_range_problem(0.0, value)
    assert problem is not None and format_value(value) == "1.0000010001" and "1.0000010001" in problem
    assert format_value(-1e-8) == "-0.00000001" and format_value(np.float32(1.0000001)) == "1.0000001"


MANIFEST = {"model_name": "round-off", "submitter": "tests", "dataset": {"config": "synthetic", "version": "1.0.0"},
            "output_kind": "probabilities", "license": "MIT"}


def _nan_model() -> onnx.ModelProto:
    """The client model with Log(Sigmoid - 0.5) on top: NaN wherever a probability is below one half."""
    model = client_model()
    graph = model.graph
    graph.node[-1].output[0] = "s"
    graph.initializer.append(numpy_helper.from_array(np.full(12, 0.5, np.float32), "half"))
    graph.node.extend([helper.make_node("Sub", ["s", "half"], ["centred"]),
                       helper.make_node("Log", ["centred"], ["y"])])
    onnx.checker.check_model(model)
    return model


@pytest.mark.parametrize("bias", [0.0, -1e-8])
def test_round_off_either_side_passes_intake_and_evaluation(bias, tmp_path, monkeypatch, synthetic_repo):
    """Sigmoid's 1.0000001 and a subtraction's -1e-8: the intake trial and the evaluator use the one rule."""
    from benchmark.loader import load_split
    from submissions.intake import submit

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    path = tmp_path / "model.onnx"
    onnx.save(client_model(bias=bias), path)
    sub = submit(path, MANIFEST, data=synthetic_repo)
    assert sub.trial["min"] >= -PROBABILITY_TOLERANCE and sub.trial["max"] <= 1 + PROBABILITY_TOLERANCE
    raw = OnnxModel(path, 200).predict(_inputs(), 256)
    assert (raw.min() < 0) if bias else (raw.max() > 1)  # the round-off is really there
    arrays = load_split(synthetic_repo, "synthetic", "test")
    record = evaluate_arrays(path, arrays, params=EvalParams(attribution=False, limit=200), progress=False,
                             intervals=None)
    assert 0.0 <= record["results"]["classification"]["macro_auroc"] <= 1.0


def test_non_finite_outputs_get_a_clear_error_at_intake_and_in_the_evaluator(tmp_path, monkeypatch, synthetic_repo):
    from submissions.errors import SubmissionRejected
    from submissions.intake import submit

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    path = tmp_path / "nan.onnx"
    onnx.save(_nan_model(), path)
    with pytest.raises(SubmissionRejected) as err:
        submit(path, MANIFEST, data=synthetic_repo)
    assert err.value.code == "non_finite_output" and "NaN or inf" in str(err.value)
    with pytest.raises(ModelOutputError, match=r"contains \d+ NaN/inf values"):
        OnnxModel(path, 200, output_kind="probabilities").predict(_inputs(64), 64)


def test_truly_out_of_range_is_refused_at_intake_with_enough_digits(tmp_path, monkeypatch, synthetic_repo):
    from submissions.errors import SubmissionRejected
    from submissions.intake import submit

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    path = tmp_path / "over.onnx"
    onnx.save(client_model(bias=1e-5), path)
    with pytest.raises(SubmissionRejected) as err:
        submit(path, MANIFEST, data=synthetic_repo)
    message = str(err.value)
    assert err.value.code == "probabilities_out_of_range"
    assert "1.00001" in message and "outside [0, 1] by more than float32 round-off" in message


def _half_model(factor: float) -> onnx.ModelProto:
    """The client model with a float16 output: Sigmoid -> Cast(float16) -> Mul(factor), e.g. 1 + 2^-10 = 1 ulp."""
    model = client_model()
    graph = model.graph
    graph.node[-1].output[0] = "s"
    graph.initializer.append(numpy_helper.from_array(np.array(factor, np.float16), "factor"))
    graph.node.extend([helper.make_node("Cast", ["s"], ["s16"], to=TensorProto.FLOAT16),
                       helper.make_node("Mul", ["s16", "factor"], ["y"])])
    graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT16
    onnx.checker.check_model(model)
    return model


def test_float16_outputs_get_float16_round_off(tmp_path, monkeypatch, synthetic_repo):
    from submissions.errors import SubmissionRejected
    from submissions.intake import submit

    monkeypatch.setenv("MOTIFBENCH_HOME", str(tmp_path / "home"))
    one_ulp, far = tmp_path / "ulp.onnx", tmp_path / "far.onnx"
    onnx.save(_half_model(1 + 2 ** -10), one_ulp)
    onnx.save(_half_model(1.0625), far)
    model = OnnxModel(one_ulp, 200, output_kind="probabilities")
    raw = model.predict(_inputs(256), 256)
    assert raw.dtype == np.float16 and raw.max() == np.float16(1 + 2 ** -10)  # one float16 ulp above 1
    assert model.to_probabilities(raw).max() == 1.0
    submit(one_ulp, MANIFEST, data=synthetic_repo)  # accepted: float16 round-off
    with pytest.raises(SubmissionRejected, match=r"1\.0625\], outside \[0, 1\] by more than float16 round-off"):
        submit(far, {**MANIFEST, "model_name": "far"}, data=synthetic_repo)
    assert "by more than float32" in probability_range_problem(0.0, 1.001, dtype=np.float32)
    assert probability_range_problem(0.0, 1.001, dtype=np.float16) is None
