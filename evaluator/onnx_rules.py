"""The ONNX graph rules, written once: op tables, metadata keys, which output is the prediction.

The evaluator (:mod:`evaluator.onnx_tap`, :mod:`evaluator.onnx_model`), the
static submission checks (``submissions.validate``), the leaderboard's model
facts (``submissions.model_facts``) and the baseline exporter
(``baselines.export``) all read these tables and functions, so a model that
passes validation is read the same way by the evaluator. Only ``onnx``
protobufs and plain names are handled here; nothing imports ONNX Runtime.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from benchmark.datasets import FIRST_LAYER_OUTPUT, N_CLASSES
from benchmark.errors import MotifbenchError

__all__ = [
    "N_CLASSES", "FIRST_LAYER_OUTPUT", "METADATA_TAP", "METADATA_OUTPUT_KIND", "METADATA_LOGITS_OUTPUT",
    "OUTPUT_KINDS", "choose_prediction_output", "declared_logits_output", "guess_output_kind", "resolve_output_kind",
]

#: ONNX metadata_props key naming the first-layer tap (``baselines.export`` writes it).
METADATA_TAP = "motifbench.tap"
#: ONNX metadata_props key that declares the output kind (``baselines.export`` writes it).
METADATA_OUTPUT_KIND = "motifbench.output_kind"
#: ONNX metadata_props key naming an extra ``[batch, 12]`` logits output (used by ISM only).
METADATA_LOGITS_OUTPUT = "motifbench.logits_output"
#: Sequence length assumed for static shape inference when neither the caller nor the graph gives one.
SHAPE_PROBE_LENGTH = 200
#: Ops that may sit between the graph input and the first Conv (layout / dtype plumbing).
PRE_CONV_OPS = frozenset({"Transpose", "Cast", "Identity", "Unsqueeze", "Squeeze", "Reshape", "Pad"})
#: Ops applied position by position after the conv: normalisation, bias, scale, activation.
ELEMENTWISE_OPS = frozenset({
    "BatchNormalization", "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Clip",
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Mish", "Exp", "Sigmoid",
    "HardSigmoid", "HardSwish", "Tanh", "Softplus", "Softsign", "Abs", "Neg", "Sqrt", "Erf",
    "Identity", "Cast", "Dropout", "ThresholdedRelu", "Shrink",
})
#: Nonlinear ops: a tap path without one of these is a pre-activation tensor (noted in the record).
ACTIVATION_OPS = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Celu", "Gelu", "Mish", "Exp", "Sigmoid", "HardSigmoid",
    "HardSwish", "Tanh", "Softplus", "Softsign", "ThresholdedRelu", "Shrink", "Clip", "Erf", "Abs", "Max", "Min",
    "Softmax", "LogSoftmax",
})
#: Layout ops the walk passes when they only permute axes or add/drop size-1 axes (axes are tracked).
LAYOUT_OPS = frozenset({"Transpose", "Squeeze", "Unsqueeze", "Reshape", "Flatten"})
#: What stops the walk (named in error messages; any op not elementwise stops it too).
POOLING_OPS = ("MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool", "ReduceMax", "ReduceMean", "LpPool")
#: Ops the no-activation-yet continuation never passes, even when they keep the shape.
_NEVER_PASS = frozenset(POOLING_OPS) | {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "MatMul", "Gemm",
                                         "Loop", "If", "Scan"}
#: Output-producing ops that make the output a probability.
PROBABILITY_OPS = frozenset({"Sigmoid", "Softmax", "HardSigmoid"})
_OUTPUT_PASSTHROUGH = frozenset({"Identity", "Reshape", "Flatten", "Squeeze", "Cast"})
#: Pooling ops with a window (``kernel_shape``) and global pooling ops (what follows a tap).
WINDOW_POOL_OPS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOL_OPS = frozenset({"GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool"})
#: Ops between the tap and its pooling that only move axes around.
_TAP_TO_POOL_OPS = frozenset({"Transpose", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Cast", "Dropout"})
#: A tap that feeds one of these directly has no first-layer pooling (pool size 1).
_NO_POOL_CONSUMERS = frozenset({"Conv", "Flatten", "Gemm", "MatMul"})
#: :func:`first_layer_pool` value meaning "over the whole tap length" (the caller knows that length).
GLOBAL_POOL = -1
#: What a model's prediction output may hold.
OUTPUT_KINDS: tuple[str, ...] = ("probabilities", "logits")


class ModelError(MotifbenchError):
    """The model file cannot be used: unreadable, wrong input/output shapes, or it failed to run."""


class TapNotFoundError(ModelError):
    """No first-layer activation tensor could be identified (or a declared one does not exist)."""


class ModelOutputError(ModelError):
    """The model ran but produced unusable numbers (NaN/inf, wrong width, probabilities outside [0, 1])."""


class UnsupportedLayerError(ModelError):
    """The first layer is a kind the PPM position mapping cannot handle (a strided or dilated conv)."""


class PredictionOutputError(ModelError):
    """The graph's outputs do not name one ``[batch, 12]`` prediction output."""


def choose_prediction_output(outputs: Sequence[tuple[str, Sequence | None]], tap: str | None,
                             logits: str | None = None) -> str:
    """The graph output holding the predictions.

    Every graph output except the tap (the declared one, or one called
    ``first_layer``) is a candidate; the logits output is left out too unless
    it is the only one. One candidate is the answer; among several, the only
    one declared ``[*, 12]``.

    Parameters
    ----------
    outputs : sequence of (name, dims)
        The graph outputs in order; ``dims`` the declared shape (ints, or None/str for free dims), None if unknown.
    tap : str, optional
        The first-layer tap's name.
    logits : str, optional
        The logits output used by ISM (declared or from the metadata).

    Raises
    ------
    PredictionOutputError
        No candidate, or several none of which is singled out by shape.
    """
    candidates = [(name, dims) for name, dims in outputs if name not in (tap, FIRST_LAYER_OUTPUT)]
    if logits and any(name != logits for name, _ in candidates):
        candidates = [(name, dims) for name, dims in candidates if name != logits]
    if len(candidates) == 1:
        return candidates[0][0]
    if not candidates:
        raise PredictionOutputError(f"the model has no prediction output [batch, {N_CLASSES}] besides the tap {tap!r}")
    shaped = [name for name, dims in candidates if dims is not None and len(dims) == 2 and dims[1] == N_CLASSES]
    if len(shaped) == 1:
        return shaped[0]
    hint = "" if logits else (f"; if one of them is the logits of the other, name it in the metadata key "
                              f"{METADATA_LOGITS_OUTPUT!r} or declare it (manifest logits_output, --logits-output)")
    raise PredictionOutputError(f"the model has several outputs {[n for n, _ in candidates][:5]}; expected one "
                                f"[batch, {N_CLASSES}] prediction output{hint}")


def declared_logits_output(metadata: Mapping[str, str], declared: str | None = None) -> tuple[str | None, str | None]:
    """The ISM logits output and where its name came from: ``(name, "declared" | "metadata")`` or ``(None, None)``.

    A declared name (manifest ``logits_output``, ``--logits-output``) wins over
    the metadata key :data:`METADATA_LOGITS_OUTPUT`.
    """
    if declared:
        return declared, "declared"
    if metadata.get(METADATA_LOGITS_OUTPUT):
        return metadata[METADATA_LOGITS_OUTPUT], "metadata"
    return None, None


def guess_output_kind(producer: Mapping[str, object], output_name: str) -> str:
    """``"probabilities"`` when the output is made by a sigmoid/softmax (through reshapes), else ``"logits"``.

    ``producer`` maps tensor names to the node that makes them.
    """
    name = output_name
    for _ in range(8):
        node = producer.get(name)
        if node is None:
            return "logits"
        if node.op_type in PROBABILITY_OPS:
            return "probabilities"
        if node.op_type in _OUTPUT_PASSTHROUGH:
            name = node.input[0]
            continue
        return "logits"
    return "logits"


def resolve_output_kind(declared: str | None, metadata: Mapping[str, str], producer: Mapping[str, object],
                        output_name: str) -> tuple[str, str]:
    """``(kind, source)``: declared, else the metadata key :data:`METADATA_OUTPUT_KIND`, else guessed from the graph."""
    if declared is not None and declared not in OUTPUT_KINDS:
        raise ModelError(f"output kind must be 'probabilities' or 'logits', got {declared!r}")
    if declared:
        return declared, "declared"
    meta_kind = metadata.get(METADATA_OUTPUT_KIND)
    if meta_kind in OUTPUT_KINDS:
        return meta_kind, "metadata"
    return guess_output_kind(producer, output_name), "graph"


def _kernel_size(node) -> int | None:
    for attr in node.attribute:
        if attr.name == "kernel_shape" and attr.ints:
            return int(math.prod(attr.ints))
    return None


def first_layer_pool(model, tap_name: str) -> int | None:
    """Pooling window applied to the tap: from the first pooling op it feeds (through layout ops).

    Returns the window (product of ``kernel_shape``, so a 1-D pool unsqueezed
    to 2-D as ``[1, k]`` gives ``k``), :data:`GLOBAL_POOL` for a global pool,
    ``1`` when the tap feeds a Conv or dense layer directly, else None.
    """
    consumers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            if name:
                consumers.setdefault(name, []).append(node)
    frontier, seen = [tap_name], set()
    for _ in range(16):  # a few layout ops at most sit between the tap and its pooling
        nodes = [n for t in frontier for n in consumers.get(t, []) if id(n) not in seen]
        if not nodes:
            return None
        seen.update(id(n) for n in nodes)
        for node in nodes:
            if node.op_type in WINDOW_POOL_OPS:
                return _kernel_size(node)
            if node.op_type in GLOBAL_POOL_OPS:
                return GLOBAL_POOL
        if all(n.op_type in _NO_POOL_CONSUMERS for n in nodes):
            return 1
        frontier = [o for n in nodes if n.op_type in _TAP_TO_POOL_OPS for o in n.output]
    return None
