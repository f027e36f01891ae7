"""The graph pre-pass that lets ``onnx2torch`` 1.5.15 convert common exports (see :mod:`evaluator.onnx_to_torch`).

* ``Constant`` nodes become initializers (1.5.15 rejects ``Constant`` at opset 19+);
* ``auto_pad="SAME_UPPER"/"SAME_LOWER"`` on Conv / MaxPool / AveragePool / LpPool becomes explicit
  ``pads`` computed from the input's spatial size (tf2onnx writes SAME padding; 1.5.15 rejects it).
"""
from __future__ import annotations

import numpy as np

from benchmark.errors import MotifbenchError


class ConversionError(MotifbenchError):
    """The ONNX graph could not be turned into a trustworthy torch module (the reason is recorded)."""


def _constant_array(node) -> np.ndarray:
    from onnx import numpy_helper

    attr = node.attribute[0]
    if attr.name == "value":
        return numpy_helper.to_array(attr.t)
    if attr.name == "value_float":
        return np.array(attr.f, np.float32)
    if attr.name == "value_floats":
        return np.array(list(attr.floats), np.float32)
    if attr.name == "value_int":
        return np.array(attr.i, np.int64)
    if attr.name == "value_ints":
        return np.array(list(attr.ints), np.int64)
    raise ConversionError(f"Constant node {node.name or node.output[0]!r} has an unsupported attribute {attr.name!r}")


def _same_pads(in_dims: list[int], kernel: list[int], strides: list[int], dilations: list[int], mode: str) -> list[int]:
    begins, ends = [], []
    for size, k, s, d in zip(in_dims, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if mode == "SAME_UPPER" else big)
        ends.append(big if mode == "SAME_UPPER" else small)
    return begins + ends


def prepare_graph(model, length: int):
    """Rewrite what onnx2torch 1.5.15 rejects, on a copy of ``model`` (an ``onnx.ModelProto``).

    * ``Constant`` nodes become initializers;
    * ``auto_pad="SAME_UPPER"/"SAME_LOWER"`` on Conv / MaxPool / AveragePool /
      LpPool becomes explicit ``pads`` computed from the input's spatial size
      (ONNX shape inference with the input length made concrete).

    Returns a new ``onnx.ModelProto``; ``model`` is not changed.
    """
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    graph = m.graph
    keep = []
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.attribute) == 1:
            graph.initializer.append(numpy_helper.from_array(_constant_array(node), node.output[0]))
        else:
            keep.append(node)
    del graph.node[:]
    graph.node.extend(keep)

    padded_ops = {"Conv", "MaxPool", "AveragePool", "LpPool", "ConvTranspose"}
    needs = [n for n in graph.node if n.op_type in padded_ops
             and any(a.name == "auto_pad" and a.s.decode() in ("SAME_UPPER", "SAME_LOWER") for a in n.attribute)]
    if needs:
        probe = onnx.ModelProto()
        probe.CopyFrom(m)
        inits = {i.name for i in probe.graph.initializer}
        for inp in probe.graph.input:
            if inp.name not in inits:
                dims = inp.type.tensor_type.shape.dim
                if len(dims) >= 1 and not dims[0].dim_value:
                    dims[0].dim_value = 1
                if len(dims) == 3 and not dims[2].dim_value:
                    dims[2].dim_value = length
        inferred = onnx.shape_inference.infer_shapes(probe, data_prop=True)
        shapes = {}
        for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
            shapes[vi.name] = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        for node in needs:
            if node.op_type == "ConvTranspose":
                raise ConversionError(f"ConvTranspose {node.name!r} with auto_pad SAME is not supported")
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            in_shape = shapes.get(node.input[0])
            if not in_shape or any(d is None for d in in_shape[2:]):
                raise ConversionError(f"{node.op_type} {node.name!r} uses auto_pad SAME and its input shape could "
                                      "not be inferred")
            spatial = in_shape[2:]
            if "kernel_shape" in attrs:
                kernel = list(attrs["kernel_shape"])
            else:
                w = next((i for i in graph.initializer if i.name == node.input[1]), None)
                if w is None:
                    raise ConversionError(f"{node.op_type} {node.name!r}: kernel shape unknown")
                kernel = list(w.dims[2:])
            strides = list(attrs.get("strides", [1] * len(spatial)))
            dilations = list(attrs.get("dilations", [1] * len(spatial)))
            pads = _same_pads(spatial, kernel, strides, dilations, attrs["auto_pad"].decode())
            kept = [a for a in node.attribute if a.name not in ("auto_pad", "pads")]
            del node.attribute[:]
            node.attribute.extend(kept)
            node.attribute.append(helper.make_attribute("pads", pads))
    return m
