"""Running a submitted model: ONNX Runtime session, first-layer tap, batched predict.

Every model reaches the evaluator as one ONNX file (a baseline checkpoint is
exported to ONNX by the caller first: ``motifbench evaluate`` does it for run
folders, see :mod:`motifbench.checkpoints`), with input float32
``[batch, 4, L]`` (A,C,G,T) and output ``[batch, 12]`` probabilities or logits.
Besides the prediction the evaluator needs the *first-layer activations*
(after normalisation and activation, before pooling), because motif recovery
is measured on what the filters respond to, never on raw weights (exporters
fold BatchNorm into the conv, so raw weights would mislead). That tensor, the
"tap", is either declared by name, or is a graph output called
``first_layer`` (what ``baselines.export`` writes), or is found by walking the
graph from the input to the first ``Conv`` and on through elementwise and
layout ops to the activation (:func:`find_tap`), tracking where the filter and
length axes go. An internal tap is added as an extra graph output in memory;
the file on disk is never changed. A model may also expose a ``[batch, 12]``
logits output (metadata ``motifbench.logits_output`` or declared), which ISM
differentiates instead of clipped probabilities (:meth:`OnnxModel.ism_logits`).
"""
from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from benchmark.files import file_sha256
from benchmark.errors import MotifbenchError

log = logging.getLogger(__name__)

N_CLASSES = 12
FIRST_LAYER_OUTPUT = "first_layer"
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


class ModelError(MotifbenchError):
    """The model file cannot be used: unreadable, wrong input/output shapes, or it failed to run."""


class TapNotFoundError(ModelError):
    """No first-layer activation tensor could be identified (or a declared one does not exist)."""


class ModelOutputError(ModelError):
    """The model ran but produced unusable numbers (NaN/inf, wrong width, probabilities outside [0, 1])."""


class UnsupportedLayerError(ModelError):
    """The first layer is a kind the PPM position mapping cannot handle (a strided or dilated conv)."""


@dataclass(frozen=True)
class TapSpec:
    """Where the first-layer activations are and how to read their axes.

    Attributes
    ----------
    name: tensor name.
    source: ``"declared"``, ``"first_layer output"`` or ``"auto"``.
    axes: one label per tensor axis: ``"N"`` batch, ``"C"`` filters, ``"S"`` spatial,
        ``"1"`` a size-1 axis added by a layout op.
    conv_node: name (or op index) of the first Conv, when known.
    n_filters: conv output channels from its weight initializer, when known.
    filter_width: conv kernel length along the sequence, when known.
    path: op types walked from the conv to the tap (for the record and error messages).
    layout_known: False when the tap is off the walked chain, so ``axes`` is a
        guess that :func:`resolve_tap_axes` settles from the probed shape and ``n_filters``.
    has_activation: whether the path from the conv holds a nonlinear op
        (:data:`ACTIVATION_OPS`); None when the tap is off the chain (unknown).
    notes: warnings for the record (e.g. no activation on the tap path).
    """

    name: str
    source: str
    axes: tuple[str, ...]
    conv_node: str | None = None
    n_filters: int | None = None
    filter_width: int | None = None
    path: tuple[str, ...] = ()
    layout_known: bool = True
    has_activation: bool | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelInfo:
    """What validation and the record need to know about a model (all JSON-ready)."""

    path: str
    sha256: str
    input_name: str
    output_name: str
    output_kind: str
    output_kind_source: str
    tap_name: str
    tap_source: str
    tap_path: list[str]
    n_filters: int
    filter_width: int | None
    input_length: int
    tap_length: int
    opset: int
    producer: str
    fixed_batch: int | None = None
    tap_axes: str = "NCS"
    tap_has_activation: bool | None = None
    tap_notes: list[str] = field(default_factory=list)
    logits_output: str | None = None
    logits_output_source: str | None = None
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


# --------------------------------------------------------------------------------------
# reading the graph


def load_onnx(path: str | Path):
    """Parse and check an ONNX file; any failure is a :class:`ModelError` naming the file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist (expected an .onnx file or a baseline run folder)")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several types for garbage input
        raise ModelError(f"{path} is not a readable ONNX model: {exc}") from exc
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise ModelError(f"{path} stores tensor {init.name!r} as external data; submit one self-contained file")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelError(f"{path} is not a valid ONNX model: {exc}") from exc
    if len(model.graph.node) == 0:
        raise ModelError(f"{path} has an empty graph")
    return model


class _Graph:
    """Producer / consumer maps and constant folding facts of an ONNX graph."""

    def __init__(self, model):
        graph = model.graph
        self.model = model
        self.initializers = {init.name: init for init in graph.initializer}
        self.inputs = [i.name for i in graph.input if i.name not in self.initializers]
        self.outputs = [o.name for o in graph.output]
        self.producer: dict[str, object] = {}
        self.consumers: dict[str, list] = {}
        for node in graph.node:
            for out in node.output:
                if out:
                    self.producer[out] = node
            for inp in node.input:
                if inp:
                    self.consumers.setdefault(inp, []).append(node)
        # tensors that do not depend on any graph input are constants
        dependent = set(self.inputs)
        for node in graph.node:  # ONNX nodes are topologically sorted
            if any(i in dependent for i in node.input if i):
                dependent.update(o for o in node.output if o)
        self.dependent = dependent

    def is_constant(self, name: str) -> bool:
        return name == "" or name not in self.dependent

    def tensor_exists(self, name: str) -> bool:
        return name in self.producer or name in self.outputs or name in self.inputs

    def initializer_array(self, name: str) -> np.ndarray | None:
        """The array behind a weight name, seen through Identity/Cast/Constant; None if not constant."""
        from onnx import numpy_helper

        seen = 0
        while seen < 8:
            if name in self.initializers:
                return numpy_helper.to_array(self.initializers[name])
            node = self.producer.get(name)
            if node is None:
                return None
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value":
                        return numpy_helper.to_array(attr.t)
                return None
            if node.op_type in ("Identity", "Cast") and node.input:
                name = node.input[0]
                seen += 1
                continue
            return None
        return None


def _node_label(node, index: int | None = None) -> str:
    return node.name or f"{node.op_type}#{index if index is not None else '?'}"


def _find_first_conv(g: _Graph, input_name: str):
    """Breadth-first from the input through layout ops to the nearest Conv(s) reading it as data."""
    frontier = deque([input_name])
    seen = {input_name}
    while frontier:
        level = list(frontier)
        frontier.clear()
        convs = []
        for tensor in level:
            for node in g.consumers.get(tensor, []):
                if node.op_type == "Conv" and node.input[0] == tensor:
                    convs.append(node)
                elif node.op_type in PRE_CONV_OPS and node.input[0] == tensor:
                    out = node.output[0]
                    if out not in seen:
                        seen.add(out)
                        frontier.append(out)
        if convs:
            return convs
    return []


def _transpose_perm(node, rank: int) -> list[int]:
    for attr in node.attribute:
        if attr.name == "perm":
            return list(attr.ints)
    return list(reversed(range(rank)))


def static_shapes(model, length: int | None = None, batch: int = 2) -> dict[str, tuple]:
    """Every tensor's shape from ONNX shape inference, with the input made concrete.

    The input's free batch and length dims are set to ``batch`` and ``length``
    (default: the graph's fixed length, else :data:`SHAPE_PROBE_LENGTH`) in a
    copy, and shapes are inferred with data propagation (so ``Shape -> Concat
    -> Reshape`` chains resolve). Returns ``{name: (d0, d1, ...)}``, an entry
    ``None`` where a dim is unknown; ``{}`` if inference fails (it is a help
    for the tap walk, never required).
    """
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    inits = {i.name for i in copy.graph.initializer}
    for inp in copy.graph.input:
        if inp.name in inits:
            continue
        dims = inp.type.tensor_type.shape.dim
        if len(dims) == 3:
            for axis, value in ((0, batch), (2, length)):
                if not dims[axis].HasField("dim_value") or dims[axis].dim_value <= 0:
                    dims[axis].dim_value = int(value or SHAPE_PROBE_LENGTH)
    del copy.graph.value_info[:]
    try:
        inferred = onnx.shape_inference.infer_shapes(copy, strict_mode=False, data_prop=True)
    except Exception:  # noqa: BLE001 - inference is best effort; the walk then uses op semantics only
        return {}
    shapes: dict[str, tuple] = {}
    for vi in list(inferred.graph.input) + list(inferred.graph.value_info) + list(inferred.graph.output):
        if vi.type.tensor_type.HasField("shape"):
            shapes[vi.name] = tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                                    for d in vi.type.tensor_type.shape.dim)
    return shapes


def _int_list(g: _Graph, node, attr_name: str, input_index: int) -> list[int] | None:
    """An int list given as attribute (old opsets) or as a constant input (opset >= 13); None if absent."""
    for attr in node.attribute:
        if attr.name == attr_name:
            return list(attr.ints)
    if len(node.input) > input_index and node.input[input_index]:
        arr = g.initializer_array(node.input[input_index])
        return None if arr is None else [int(v) for v in np.ravel(arr)]
    return None


def _known(shape) -> bool:
    return shape is not None and all(d is not None for d in shape)


def _layout_axes(g: _Graph, node, axes: tuple[str, ...], shapes: dict) -> tuple[str, ...] | None:
    """Axis labels after a layout op, or None when it does more than permute / add / drop size-1 axes.

    Transpose permutes; Unsqueeze inserts ``"1"`` axes; Squeeze drops axes
    (never the batch or filter axis); Reshape and Flatten are passed only when
    the inferred shapes show that the non-1 dims keep their order and sizes
    (so they only add or drop size-1 axes).
    """
    op = node.op_type
    rank = len(axes)
    if op == "Transpose":
        perm = _transpose_perm(node, rank)
        return tuple(axes[p] for p in perm) if sorted(perm) == list(range(rank)) else None
    if op == "Unsqueeze":
        add = _int_list(g, node, "axes", 1)
        if not add:
            return None
        out_rank = rank + len(add)
        add = sorted(a % out_rank for a in add)
        labels = list(axes)
        for a in add:
            labels.insert(a, "1")
        return tuple(labels)
    if op == "Squeeze":
        drop = _int_list(g, node, "axes", 1)
        if drop is None:
            shape = shapes.get(node.input[0])
            if not _known(shape) or len(shape) != rank:
                return None
            drop = [i for i, d in enumerate(shape) if d == 1]
        drop = {a % rank for a in drop}
        if any(axes[a] in ("N", "C") for a in drop):
            return None
        return tuple(label for i, label in enumerate(axes) if i not in drop)
    if op in ("Reshape", "Flatten"):
        shape_in, shape_out = shapes.get(node.input[0]), shapes.get(node.output[0])
        if not (_known(shape_in) and _known(shape_out)) or len(shape_in) != rank:
            return None
        if any(d == 1 and label in ("N", "C") for d, label in zip(shape_in, axes)):
            return None
        kept = [(d, label) for d, label in zip(shape_in, axes) if d != 1]
        if [d for d, _ in kept] != [d for d in shape_out if d != 1]:
            return None
        labels = iter(label for _, label in kept)
        return tuple("1" if d == 1 else next(labels) for d in shape_out)
    return None


def _has_activation(path: tuple[str, ...]) -> bool:
    return any(op in ACTIVATION_OPS for op in path)


def _follow_activation(g: _Graph, conv, shapes: dict | None = None):
    """From a Conv's output, walk to the first-layer activation, stopping before pooling.

    The walk passes elementwise ops whose other inputs are constants (BN,
    bias, scale, activation), ``x * f(x)`` activations whose branches
    reconverge at once (SiLU), and layout ops that only permute or add/drop
    size-1 axes (Keras Conv1D through tf2onnx: ``Conv -> Transpose -> Squeeze ->
    Mul/Add -> Relu``), tracking where the batch, filter and length axes go.
    While no activation has been seen it also passes any other single-data-
    input op that keeps the shape (InstanceNormalization, LpNormalization, ...),
    so a normalisation the elementwise list does not name cannot leave the tap
    on the raw conv. The tap is the last tensor made by a non-layout op (layout
    ops after the activation, e.g. tf2onnx's Unsqueeze/Transpose before its
    MaxPool, are not part of it).

    Returns ``(tap, axes, path, chain, has_activation)``; ``chain`` maps every
    walked tensor to its ``(axes, path)`` so a declared tap on it is read right.
    """
    shapes = shapes or {}
    weight = g.initializer_array(conv.input[1]) if len(conv.input) > 1 else None
    rank = weight.ndim if weight is not None else 3
    axes: tuple[str, ...] = ("N", "C") + ("S",) * (rank - 2)
    tensor = conv.output[0]
    path: list[str] = ["Conv"]
    chain = {tensor: (axes, tuple(path))}
    tap = (tensor, axes, tuple(path))  # the last tensor made by a non-layout op
    seen_activation = False

    def only_constant_others(node, current: set[str]) -> bool:
        return all(i in current or g.is_constant(i) for i in node.input if i)

    def keeps_shape(node) -> bool:
        shape_in, shape_out = shapes.get(tensor), shapes.get(node.output[0])
        return _known(shape_in) and shape_in == shape_out

    for _ in range(128):
        consumers = g.consumers.get(tensor, [])
        if len(consumers) == 1:
            node = consumers[0]
            layout = node.op_type in LAYOUT_OPS
            if layout:
                new_axes = _layout_axes(g, node, axes, shapes) if node.input[0] == tensor else None
                if new_axes is None:
                    break
                axes = new_axes
            elif node.op_type in ELEMENTWISE_OPS and only_constant_others(node, {tensor}):
                seen_activation = seen_activation or node.op_type in ACTIVATION_OPS
            elif (not seen_activation and node.op_type not in _NEVER_PASS and node.input[0] == tensor
                  and only_constant_others(node, {tensor}) and len(node.output) >= 1 and keeps_shape(node)):
                pass  # an unnamed shape-keeping op (a normalisation) before any activation
            else:
                break
            tensor = node.output[0]
            path.append(node.op_type)
            chain[tensor] = (axes, tuple(path))
            if not layout:
                tap = (tensor, axes, tuple(path))
            continue
        if len(consumers) > 1 and all(c.op_type in ELEMENTWISE_OPS for c in consumers):
            outs = {c.output[0] for c in consumers}
            merged = [
                c for c in consumers
                if only_constant_others(c, {tensor} | outs)
                and any(i in outs for i in c.input)
                and all(g.consumers.get(o, []) == [c] for o in outs - {c.output[0]})
            ]
            if len(merged) == 1:
                path.extend(c.op_type for c in consumers)
                seen_activation = seen_activation or any(c.op_type in ACTIVATION_OPS for c in consumers)
                tensor = merged[0].output[0]
                chain[tensor] = (axes, tuple(path))
                tap = (tensor, axes, tuple(path))
                continue
        break
    name, tap_axes, tap_path = tap
    return name, tap_axes, tap_path, chain, _has_activation(tap_path)


def _check_conv_geometry(conv, label: str) -> None:
    """Refuse a strided or dilated first conv: window positions would be mapped wrongly."""
    attrs = {a.name: list(a.ints) for a in conv.attribute if a.name in ("strides", "dilations")}
    bad = {k: v for k, v in attrs.items() if any(int(s) != 1 for s in v)}
    if bad:
        what = " and ".join(f"{k} {v}" for k, v in sorted(bad.items()))
        raise UnsupportedLayerError(
            f"unsupported first layer: Conv {label} has {what}; the evaluator maps each first-layer activation "
            "to the input window it saw only for stride 1 and dilation 1, so PPMs from this layer would sit at "
            "the wrong positions. Use a stride-1, undilated first conv (pool or stride later)"
        )


NO_ACTIVATION_NOTE = (
    "no activation op (Relu, Exp, Sigmoid, ...) between the first Conv and pooling: the tap {name!r} is the "
    "pre-activation output (path {path}); PPMs come from linear filter scores"
)


def find_tap(model, declared: str | None = None, length: int | None = None) -> TapSpec:
    """Locate the first-layer activation tensor.

    Order: a ``declared`` name (must exist); else a graph output named
    ``first_layer``; else automatic: the first ``Conv`` fed by the input
    (possibly through Transpose/Cast/Identity/Unsqueeze/Reshape/Pad), followed
    by :func:`_follow_activation` up to the activation before pooling.

    Parameters
    ----------
    model: onnx.ModelProto.
    declared: tensor name given by the submitter, or None.
    length: the sequence length the model will see (for static shape
        inference of Reshapes on the walk; default: the graph's, else 200).

    Raises
    ------
    TapNotFoundError
        naming what was looked for, when nothing fits or the choice is ambiguous.
    UnsupportedLayerError
        when the first conv is strided or dilated.
    """
    g = _Graph(model)
    if len(g.inputs) != 1:
        raise ModelError(f"the model must have exactly one input tensor, it has {len(g.inputs)}: {g.inputs}")
    convs = _find_first_conv(g, g.inputs[0])
    auto: tuple | None = None
    conv = None
    if len(convs) == 1:
        conv = convs[0]
        _check_conv_geometry(conv, _node_label(conv, list(model.graph.node).index(conv)))
        auto = _follow_activation(g, conv, static_shapes(model, length))
    conv_facts: dict = {}
    if conv is not None:
        weight = g.initializer_array(conv.input[1])
        if weight is not None:
            conv_facts = {"n_filters": int(weight.shape[0]), "filter_width": int(weight.shape[-1])}
        conv_facts["conv_node"] = _node_label(conv, list(model.graph.node).index(conv))

    def spec(name: str, source: str) -> TapSpec:
        if auto is not None and name in auto[3]:
            axes, path = auto[3][name]
            has = _has_activation(path)
            notes = () if has else (NO_ACTIVATION_NOTE.format(name=name, path="->".join(path)),)
            return TapSpec(name, source, axes, path=path, has_activation=has, notes=notes, **conv_facts)
        return TapSpec(name, source, ("N", "C", "S"), layout_known=False, **conv_facts)

    if declared:
        if not g.tensor_exists(declared):
            raise TapNotFoundError(
                f"declared first-layer tensor {declared!r} is not in the graph "
                f"(looked among node outputs and graph outputs: {_preview(g.producer)})"
            )
        return spec(declared, "declared")
    if FIRST_LAYER_OUTPUT in g.outputs:
        return spec(FIRST_LAYER_OUTPUT, "first_layer output")
    if not convs:
        raise TapNotFoundError(
            "could not find the first-layer activations: looked for a graph output named 'first_layer' "
            f"and for a Conv node fed by the input {g.inputs[0]!r} (through {sorted(PRE_CONV_OPS)}); "
            "found neither. Declare the tensor name with --tap"
        )
    if len(convs) > 1:
        names = [_node_label(c) for c in convs]
        raise TapNotFoundError(
            f"the input feeds {len(convs)} Conv nodes at the same depth ({names}); which one is the first layer "
            "is ambiguous. Declare the activation tensor with --tap"
        )
    tensor, axes, path, _, has = auto
    notes = () if has else (NO_ACTIVATION_NOTE.format(name=tensor, path="->".join(path)),)
    if notes:
        log.warning("%s", notes[0])
    return TapSpec(tensor, "auto", axes, path=path, has_activation=has, notes=notes, **conv_facts)


def resolve_tap_axes(name: str, shape: tuple[int, ...], n_filters: int | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Axis labels of a tap whose layout the graph walk could not track, from its probed shape.

    The filter axis is the one whose size is the first conv's filter count:
    axis 1 (``[batch, filters, length]``, preferred when both could be) or the
    last axis (``[batch, length, filters]``, Keras/TF layout). Rank 4 (2-D
    convs with a singleton axis) follows the same rule.

    Returns ``(axes, notes)``.

    Raises
    ------
    TapNotFoundError
        when neither axis has the filter count, or the rank is not 3 or 4.
    """
    rank = len(shape)
    if rank not in (3, 4):
        raise TapNotFoundError(f"tap {name!r} has shape {list(shape)} (rank {rank}); expected [batch, filters, length] "
                               "or [batch, length, filters]")
    spatial = ("S",) * (rank - 2)
    if n_filters is None:
        return ("N", "C") + spatial, (f"tap {name!r}: the first conv's filter count is unknown, so its shape "
                                      f"{list(shape)} is read as [batch, filters, length]",)
    first, last = shape[1] == n_filters, shape[-1] == n_filters
    if first:
        notes = ()
        if last:
            notes = (f"tap {name!r} has shape {list(shape)}: axis 1 and the last axis both equal the filter count "
                     f"{n_filters}; read as [batch, filters, length]",)
        return ("N", "C") + spatial, notes
    if last:
        return ("N",) + spatial + ("C",), ()
    raise TapNotFoundError(
        f"tap {name!r} has shape {list(shape)}, but the first conv has {n_filters} filters and neither axis 1 "
        f"([batch, filters, length]) nor the last axis ([batch, length, filters]) has that size; "
        "declare the first-layer activation tensor (--tap)"
    )


def _preview(mapping: dict, n: int = 12) -> str:
    names = list(mapping)
    more = f", ... ({len(names)} in all)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def _main_output(g: _Graph, tap_name: str, logits_name: str | None = None) -> str:
    """The prediction output: the one graph output that is not the tap (nor the ISM logits output)."""
    candidates = [o for o in g.outputs if o not in (tap_name, FIRST_LAYER_OUTPUT)]
    if logits_name and len([o for o in candidates if o != logits_name]) >= 1:
        candidates = [o for o in candidates if o != logits_name]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ModelError(f"the model has no prediction output besides the tap {tap_name!r}")
    shaped = []
    for out in g.model.graph.output:
        if out.name in candidates:
            dims = out.type.tensor_type.shape.dim
            if len(dims) == 2 and dims[1].dim_value == N_CLASSES:
                shaped.append(out.name)
    if len(shaped) == 1:
        return shaped[0]
    hint = "" if logits_name else (f"; if one of them is the logits of the other, name it in the metadata key "
                                   f"{METADATA_LOGITS_OUTPUT!r} or declare it (--logits-output)")
    raise ModelError(f"the model has several outputs {candidates}; expected one [batch, {N_CLASSES}] prediction output{hint}")


def _guess_output_kind(g: _Graph, output_name: str) -> str:
    name = output_name
    for _ in range(8):
        node = g.producer.get(name)
        if node is None:
            return "logits"
        if node.op_type in PROBABILITY_OPS:
            return "probabilities"
        if node.op_type in _OUTPUT_PASSTHROUGH:
            name = node.input[0]
            continue
        return "logits"
    return "logits"


def _input_dims(model, input_name: str) -> list:
    for inp in model.graph.input:
        if inp.name == input_name:
            dims = inp.type.tensor_type.shape.dim
            return [d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in dims]
    return []


def _with_outputs(model, names: list[str]) -> bytes:
    """Serialized copy of ``model`` with ``names`` added as graph outputs (float, shape left open)."""
    import onnx
    from onnx import helper

    existing = {o.name for o in model.graph.output}
    missing = [n for n in names if n not in existing]
    if not missing:
        return model.SerializeToString()
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    elem = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(copy)
        for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
            elem[vi.name] = vi.type.tensor_type.elem_type
    except Exception:  # shape inference is a nicety here, not a requirement
        pass
    for name in missing:
        copy.graph.output.append(helper.make_tensor_value_info(name, elem.get(name) or onnx.TensorProto.FLOAT, None))
    return copy.SerializeToString()


# --------------------------------------------------------------------------------------
# running it


def default_providers() -> list[str]:
    """CUDA first when this onnxruntime build has it, CPU always."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider",) if p in available]
    return providers + ["CPUExecutionProvider"]


def default_threads() -> int:
    """Intra-op threads: ``$MOTIFBENCH_THREADS`` or the CPUs this process may use."""
    env = os.environ.get("MOTIFBENCH_THREADS")
    if env:
        return max(1, int(env))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def random_onehot(n: int, length: int, seed: int = 0) -> np.ndarray:
    """Deterministic random one-hot sequences, float32 ``(n, 4, length)``, for shape probes."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(n, length))
    return np.ascontiguousarray(np.eye(4, dtype=np.float32)[idx].transpose(0, 2, 1))


class OnnxModel:
    """An ONNX model opened for evaluation: prediction output plus first-layer tap.

    Parameters
    ----------
    path: the ``.onnx`` file.
    length: sequence length L of the data it will see (shapes are checked against it).
    tap: declared first-layer tensor name, or None to find it.
    output_kind: ``"probabilities"`` / ``"logits"`` if declared, else guessed from the graph.
    threads: ONNX Runtime intra-op threads (default :func:`default_threads`).
    providers: ONNX Runtime execution providers (default :func:`default_providers`).
    logits_output: name of a ``[batch, 12]`` logits tensor that ISM should
        differentiate instead of the prediction output (default: the one named
        by the metadata key :data:`METADATA_LOGITS_OUTPUT`, else none).
    """

    def __init__(self, path: str | Path, length: int, tap: str | None = None, output_kind: str | None = None,
                 threads: int | None = None, providers: list[str] | None = None, logits_output: str | None = None):
        import onnxruntime as ort

        self.path = Path(path)
        model = load_onnx(self.path)
        g = _Graph(model)
        if len(g.inputs) != 1:
            raise ModelError(f"the model must have exactly one input tensor, it has {len(g.inputs)}: {g.inputs}")
        self.input_name = g.inputs[0]
        dims = _input_dims(model, self.input_name)
        if len(dims) != 3:
            raise ModelError(f"model input {self.input_name!r} has rank {len(dims)} {dims}; expected [batch, 4, L]")
        if isinstance(dims[1], int) and dims[1] not in (0, 4):
            raise ModelError(f"model input {self.input_name!r} has {dims[1]} channels; expected 4 (A,C,G,T) at axis 1")
        if isinstance(dims[2], int) and dims[2] not in (0, length):
            raise ModelError(f"model input length is fixed to {dims[2]} but the dataset's sequences have length {length}")
        self.fixed_batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
        self.tap = find_tap(model, tap, length=length)
        meta = {p.key: p.value for p in model.metadata_props}
        self.logits_output, self.logits_output_source = _resolve_logits_output(g, logits_output, meta)
        self.output_name = _main_output(g, self.tap.name, self.logits_output)
        if output_kind is not None and output_kind not in ("probabilities", "logits"):
            raise ModelError(f"output kind must be 'probabilities' or 'logits', got {output_kind!r}")
        meta_kind = meta.get(METADATA_OUTPUT_KIND)
        if output_kind:
            self.output_kind, self.output_kind_source = output_kind, "declared"
        elif meta_kind in ("probabilities", "logits"):
            self.output_kind, self.output_kind_source = meta_kind, "metadata"
        else:
            self.output_kind, self.output_kind_source = _guess_output_kind(g, self.output_name), "graph"
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        extra_outputs = [self.tap.name] + ([self.logits_output] if self.logits_output else [])
        try:
            self.session = ort.InferenceSession(
                _with_outputs(model, extra_outputs), sess_options=options,
                providers=providers or default_providers(),
            )
        except Exception as exc:
            raise ModelError(f"ONNX Runtime cannot open {self.path}: {exc}") from exc
        self.length = length
        opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
        producer = f"{model.producer_name} {model.producer_version}".strip()
        probe = random_onehot(self.fixed_batch or 2, length)
        out, tap_raw = self._run(probe, want_tap=True)
        self._check_output(out, probe.shape[0])
        notes = list(self.tap.notes)
        if not self.tap.layout_known:
            axes, layout_notes = resolve_tap_axes(self.tap.name, tuple(tap_raw.shape), self.tap.n_filters)
            self.tap = replace(self.tap, axes=axes, layout_known=True)
            notes += list(layout_notes)
        acts = self._tap_to_ncl(tap_raw)
        n_filters = self.tap.n_filters or acts.shape[1]
        if self.tap.n_filters and acts.shape[1] != self.tap.n_filters:
            log.warning("tap %s has %d channels but the first conv has %d filters", self.tap.name, acts.shape[1], self.tap.n_filters)
            n_filters = acts.shape[1]
        if acts.shape[2] > length:
            raise ModelError(f"tap {self.tap.name!r} is longer ({acts.shape[2]}) than the input ({length}); "
                             "is it the first-layer activation?")
        if self.logits_output:
            self._check_logits(probe, out)
        self.info = ModelInfo(
            path=str(self.path), sha256=file_sha256(self.path), input_name=self.input_name,
            output_name=self.output_name, output_kind=self.output_kind, output_kind_source=self.output_kind_source,
            tap_name=self.tap.name, tap_source=self.tap.source, tap_path=list(self.tap.path),
            n_filters=int(n_filters), filter_width=self.tap.filter_width, input_length=int(length),
            tap_length=int(acts.shape[2]), opset=int(opset), producer=producer, fixed_batch=self.fixed_batch,
            tap_axes="".join(self.tap.axes), tap_has_activation=self.tap.has_activation, tap_notes=notes,
            logits_output=self.logits_output, logits_output_source=self.logits_output_source,
            extra={"providers": self.session.get_providers(), "threads": options.intra_op_num_threads},
        )

    # -- raw runs ---------------------------------------------------------------------
    def _fetch(self, x: np.ndarray, names: list[str]) -> list[np.ndarray]:
        """One ONNX Runtime call (padded to a fixed batch); the named tensors, cut to ``len(x)`` rows."""
        batch = x.shape[0]
        if self.fixed_batch and batch != self.fixed_batch:
            pad = np.zeros((self.fixed_batch - batch,) + x.shape[1:], dtype=np.float32)
            x = np.concatenate([x, pad])
        try:
            results = self.session.run(names, {self.input_name: np.ascontiguousarray(x, dtype=np.float32)})
        except Exception as exc:
            raise ModelError(f"the model failed to run on input of shape {list(x.shape)}: {exc}") from exc
        return [np.asarray(r)[:batch] for r in results]

    def _run(self, x: np.ndarray, want_tap: bool) -> tuple[np.ndarray, np.ndarray | None]:
        results = self._fetch(x, [self.output_name, self.tap.name] if want_tap else [self.output_name])
        return results[0], (results[1] if want_tap else None)

    def _check_logits(self, probe: np.ndarray, out: np.ndarray) -> None:
        """The logits output must be ``[batch, 12]``, finite, and the logits of the prediction output."""
        name = self.logits_output
        logits = self._fetch(probe, [name])[0]
        if logits.shape != out.shape:
            raise ModelOutputError(f"logits output {name!r} has shape {list(logits.shape)}; expected "
                                   f"[batch, {N_CLASSES}] like the prediction output {self.output_name!r}")
        if not np.all(np.isfinite(logits)):
            raise ModelOutputError(f"logits output {name!r} contains NaN/inf values")
        expected = self.to_probabilities(out)
        got = 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
        gap = float(np.max(np.abs(got - expected)))
        if gap > 1e-3:
            raise ModelOutputError(
                f"logits output {name!r} ({self.logits_output_source}) is not the logit of the prediction output "
                f"{self.output_name!r}: sigmoid({name}) differs from the predicted probabilities by up to {gap:.3g}"
            )

    def _check_output(self, out: np.ndarray, batch: int) -> None:
        if out.ndim != 2 or out.shape != (batch, N_CLASSES):
            raise ModelOutputError(
                f"output {self.output_name!r} has shape {list(out.shape)}; expected [batch, {N_CLASSES}] (one column per class)"
            )
        if not np.all(np.isfinite(out)):
            bad = int((~np.isfinite(out)).sum())
            raise ModelOutputError(f"output {self.output_name!r} contains {bad} NaN/inf values")
        if self.output_kind == "probabilities" and (out.min() < 0.0 or out.max() > 1.0):
            raise ModelOutputError(
                f"output {self.output_name!r} was {'declared' if self.output_kind_source == 'declared' else 'taken'} "
                f"as probabilities but has values in [{out.min():.4g}, {out.max():.4g}]; declare --output-kind logits"
            )

    def _tap_to_ncl(self, tap: np.ndarray) -> np.ndarray:
        """Tap tensor in its own layout -> float32 ``(batch, n_filters, tap_length)``.

        Size-1 axes (``"1"`` labels, the singleton axis of a 2-D conv) are dropped.
        """
        axes = self.tap.axes
        if tap.ndim != len(axes):
            raise TapNotFoundError(f"tap {self.tap.name!r} has shape {list(tap.shape)}, but its layout was tracked "
                                   f"as {''.join(axes)} (rank {len(axes)}); declare --tap")
        order = ([axes.index("N"), axes.index("C")] + [i for i, a in enumerate(axes) if a == "S"]
                 + [i for i, a in enumerate(axes) if a == "1"])
        arr = np.transpose(tap, order)
        spatial = arr.shape[2:]
        long_axes = [i for i, s in enumerate(spatial) if s != 1]
        if len(long_axes) > 1:
            raise TapNotFoundError(f"tap {self.tap.name!r} has shape {list(tap.shape)}: more than one spatial axis")
        arr = arr.reshape(arr.shape[0], arr.shape[1], int(np.prod(spatial)) if spatial else 1)
        return np.ascontiguousarray(arr, dtype=np.float32)

    # -- public -----------------------------------------------------------------------
    def batches(self, x: np.ndarray, batch_size: int, want_tap: bool = True) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
        """Run ``x`` in batches; yields ``(start, outputs (B, 12), tap (B, F, L') or None)``.

        Outputs are checked (shape, finiteness, range when probabilities);
        the one batching helper every stage uses.
        """
        step = self.fixed_batch or batch_size
        for start in range(0, x.shape[0], step):
            chunk = x[start:start + step]
            out, tap = self._run(chunk, want_tap)
            self._check_output(out, chunk.shape[0])
            yield start, out, (self._tap_to_ncl(tap) if want_tap else None)

    def predict(self, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Raw outputs for ``x`` float32 ``(N, 4, L)`` -> ``(N, 12)`` (probabilities or logits, as the model gives)."""
        return np.concatenate([out for _, out, _ in self.batches(x, batch_size, want_tap=False)]) if len(x) else np.zeros((0, N_CLASSES), np.float32)

    def to_probabilities(self, out: np.ndarray) -> np.ndarray:
        """Outputs -> probabilities (sigmoid of logits), float64."""
        out = np.asarray(out, dtype=np.float64)
        return out if self.output_kind == "probabilities" else 1.0 / (1.0 + np.exp(-out))

    def to_logits(self, out: np.ndarray, eps: float = 1e-6) -> np.ndarray:
        """Outputs -> logits, float64; probabilities are clipped to ``[eps, 1-eps]`` first."""
        out = np.asarray(out, dtype=np.float64)
        if self.output_kind == "logits":
            return out
        p = np.clip(out, eps, 1.0 - eps)
        return np.log(p) - np.log1p(-p)

    @property
    def ism_output(self) -> dict:
        """Which tensor ISM differentiates and how it becomes a logit (for the record)."""
        if self.logits_output:
            return {"output_name": self.logits_output, "output_source": f"logits output ({self.logits_output_source})"}
        if self.output_kind == "logits":
            return {"output_name": self.output_name, "output_source": "prediction output (logits)"}
        return {"output_name": self.output_name, "output_source": "prediction output (probabilities, clipped logit)"}

    def ism_logits(self, x: np.ndarray, batch_size: int = 256, eps: float = 1e-6) -> np.ndarray:
        """Class logits for ISM, float64 ``(N, 12)``.

        From the logits output when the model has one (exact, no saturation);
        else :meth:`to_logits` of the prediction output (probabilities clipped
        to ``[eps, 1-eps]``, so saturated sigmoids give ties).
        """
        if not self.logits_output or self.logits_output == self.output_name:
            return self.to_logits(self.predict(x, batch_size), eps)
        if not len(x):
            return np.zeros((0, N_CLASSES), np.float64)
        step = self.fixed_batch or batch_size
        parts = [self._fetch(x[s:s + step], [self.logits_output])[0] for s in range(0, x.shape[0], step)]
        logits = np.concatenate(parts).astype(np.float64)
        if not np.all(np.isfinite(logits)):
            raise ModelOutputError(f"logits output {self.logits_output!r} contains NaN/inf values")
        return logits


def _resolve_logits_output(g: _Graph, declared: str | None, meta: dict[str, str]) -> tuple[str | None, str | None]:
    """The ISM logits tensor: declared, else named by the metadata, else none; it must exist in the graph."""
    if declared:
        name, source = declared, "declared"
    elif meta.get(METADATA_LOGITS_OUTPUT):
        name, source = meta[METADATA_LOGITS_OUTPUT], "metadata"
    else:
        return None, None
    if not g.tensor_exists(name):
        where = "declared" if source == "declared" else f"named by the metadata key {METADATA_LOGITS_OUTPUT!r}"
        raise ModelError(f"logits output {name!r} ({where}) is not in the graph "
                         f"(graph outputs: {g.outputs})")
    return name, source


def inspect_model(path: str | Path, length: int, tap: str | None = None, output_kind: str | None = None,
                  logits_output: str | None = None) -> ModelInfo:
    """Open a model, find its tap, run a two-sequence probe and report what was found.

    Used by submission validation: any problem raises a :class:`ModelError`
    subclass with a message a submitter can act on.
    """
    return OnnxModel(path, length, tap=tap, output_kind=output_kind, threads=1, logits_output=logits_output).info


# --------------------------------------------------------------------------------------
# one door: ONNX file or baseline checkpoint
