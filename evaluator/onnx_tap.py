"""Finding the first-layer tap: the walk from the input to the first Conv and on to its activation.

See :func:`find_tap`. The op tables it follows are :mod:`evaluator.onnx_rules`'.
"""
from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

from evaluator.onnx_graph import Graph, _int_list, _known, _node_label, _preview, _transpose_perm, static_shapes
from evaluator.onnx_rules import (
    _NEVER_PASS,
    ACTIVATION_OPS,
    ELEMENTWISE_OPS,
    FIRST_LAYER_OUTPUT,
    LAYOUT_OPS,
    PRE_CONV_OPS,
    ModelError,
    TapNotFoundError,
    UnsupportedLayerError,
)

log = logging.getLogger(__name__)


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


def _find_first_conv(g: Graph, input_name: str):
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


def _layout_axes(g: Graph, node, axes: tuple[str, ...], shapes: dict) -> tuple[str, ...] | None:
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


def _follow_activation(g: Graph, conv, shapes: dict | None = None):
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
    g = Graph(model)
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
