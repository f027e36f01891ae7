"""Graph surgery for incremental ISM: layer geometry, sub-graphs and constant weights of an ONNX model.

Used by :mod:`evaluator.ism_incremental` (the first layer and its max-pool) and
:mod:`evaluator.ism_tail` (the layer after the pool). Each function raises
:class:`NotIncremental` with the reason when a model does not fit, so the caller
can fall back (and log why).
"""
from __future__ import annotations

import numpy as np


class NotIncremental(Exception):
    """Why incremental ISM (or one of its shortcuts) does not apply to a model."""


def conv_geometry(conv) -> tuple[int, int]:
    """(filter width, left padding) of a stride-1, undilated, ungrouped 1-D conv."""
    attrs = {a.name: a for a in conv.attribute}
    for name in ("strides", "dilations"):
        if name in attrs and any(int(v) != 1 for v in attrs[name].ints):
            raise NotIncremental(f"conv {conv.name or conv.output[0]!r} has {name} {list(attrs[name].ints)}")
    if "group" in attrs and int(attrs["group"].i) != 1:
        raise NotIncremental(f"conv {conv.name or conv.output[0]!r} is grouped")
    shape = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else None
    if shape is None or len(shape) != 1:
        raise NotIncremental(f"conv {conv.name or conv.output[0]!r} kernel shape {shape} is not 1-D")
    width = int(shape[0])
    auto = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        total = width - 1
        pad_left = total // 2 if auto == "SAME_UPPER" else total - total // 2
    elif auto == "VALID":
        pad_left = 0
    else:
        pads = list(attrs["pads"].ints) if "pads" in attrs else [0, 0]
        pad_left = int(pads[0])
    return width, pad_left


def pool_geometry(pool, length: int) -> tuple[int, int, int, int]:
    """(kernel, stride, left pad, output length) of a 1-D MaxPool over a length-``length`` input."""
    attrs = {a.name: a for a in pool.attribute}
    kernel = list(attrs["kernel_shape"].ints) if "kernel_shape" in attrs else []
    if len(kernel) != 1:
        raise NotIncremental(f"MaxPool kernel {kernel} is not 1-D")
    k = int(kernel[0])
    stride = int(list(attrs["strides"].ints)[0]) if "strides" in attrs else 1
    if "dilations" in attrs and any(int(d) != 1 for d in attrs["dilations"].ints):
        raise NotIncremental("dilated MaxPool")
    if "ceil_mode" in attrs and int(attrs["ceil_mode"].i) != 0:
        raise NotIncremental("MaxPool with ceil_mode")
    auto = attrs["auto_pad"].s.decode() if "auto_pad" in attrs else "NOTSET"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        n_out = -(-length // stride)
        total = max((n_out - 1) * stride + k - length, 0)
        pad = total // 2 if auto == "SAME_UPPER" else total - total // 2
    elif auto == "VALID":
        pad, n_out = 0, (length - k) // stride + 1
    else:
        pads = list(attrs["pads"].ints) if "pads" in attrs else [0, 0]
        pad = int(pads[0])
        n_out = (length + int(pads[0]) + int(pads[1]) - k) // stride + 1
    if n_out < 1:
        raise NotIncremental("MaxPool output is empty")
    return k, stride, pad, n_out


def subgraph(model, inputs: list[str], outputs: list[str], dynamic_length: bool, start: str = "the first layer"):
    """The part of ``model`` from ``inputs`` to ``outputs``; an error if it needs any other graph input.

    ``start`` names ``inputs`` in that error ("the output depends on 'x' by a path that avoids <start>").
    ``dynamic_length`` frees the batch and last axes of the inputs and outputs; else only the batch axis.
    """
    import onnx
    from onnx.utils import Extractor

    inferred = onnx.shape_inference.infer_shapes(model)
    sub = Extractor(inferred).extract_model(inputs, outputs)
    available = set(inputs) | {i.name for i in sub.graph.initializer}
    for node in sub.graph.node:
        for name in node.input:
            if name and name not in available:
                raise NotIncremental(f"the output depends on {name!r} by a path that avoids {start}")
        available.update(node.output)
    if dynamic_length:
        for vi in list(sub.graph.input) + list(sub.graph.output):
            dims = vi.type.tensor_type.shape.dim
            for axis in (0, len(dims) - 1):
                if len(dims) > axis:
                    dims[axis].Clear()
                    dims[axis].dim_param = f"d{axis}"
        del sub.graph.value_info[:]
    else:
        dims = sub.graph.input[0].type.tensor_type.shape.dim
        if len(dims):
            dims[0].Clear()
            dims[0].dim_param = "batch"
    return sub


def unpadded(head, input_name: str):
    """A copy of the head graph whose first conv (the one reading ``input_name``) has no padding."""
    import onnx
    from onnx import helper

    model = onnx.ModelProto()
    model.CopyFrom(head)
    conv = next(n for n in model.graph.node if n.op_type == "Conv" and n.input[0] == input_name)
    kept = [a for a in conv.attribute if a.name not in ("auto_pad", "pads")]
    del conv.attribute[:]
    conv.attribute.extend(kept + [helper.make_attribute("pads", [0, 0])])
    return model


def conv_weights(model, conv) -> tuple[np.ndarray, np.ndarray | None]:
    """A conv's weight ``(C_out, C_in, w)`` and bias ``(C_out,)`` (None when it has none) as float32 arrays.

    Raises :class:`NotIncremental` unless both are graph initializers (constants stored in the file) of type
    float32: a weight computed by the graph (a Constant node, a dequantisation) is not read here.
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    names = list(conv.input[1:3])
    arrays = []
    for name in names:
        if not name:
            arrays.append(None)
            continue
        if name not in inits:
            raise NotIncremental(f"conv {conv.name or conv.output[0]!r} input {name!r} is not a stored constant")
        arr = numpy_helper.to_array(inits[name])
        if arr.dtype != np.float32:
            raise NotIncremental(f"conv {conv.name or conv.output[0]!r} input {name!r} is {arr.dtype}, not float32")
        arrays.append(arr)
    weight = arrays[0]
    bias = arrays[1] if len(arrays) > 1 else None
    if weight.ndim != 3:
        raise NotIncremental(f"conv {conv.name or conv.output[0]!r} weight has shape {weight.shape}, "
                             "not (C_out, C_in, w)")
    return weight, bias


def users(model, name: str) -> list:
    """The nodes that read tensor ``name``."""
    return [n for n in model.graph.node if name in n.input]
