"""An ONNX graph as the evaluator reads it: producer/consumer maps, constants, static shapes.

Graph *rules* (op tables, metadata keys, the prediction-output choice) are in
:mod:`evaluator.onnx_rules`; the tap walk that uses this view is in
:mod:`evaluator.onnx_tap`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluator.onnx_rules import SHAPE_PROBE_LENGTH, ModelError


def load_onnx(path: str | Path):
    """Parse and check an ONNX file; any failure is a :class:`ModelError` naming the file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelError(f"model file {path} does not exist (expected an .onnx file)")
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


class Graph:
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


def _int_list(g: Graph, node, attr_name: str, input_index: int) -> list[int] | None:
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


def _preview(mapping: dict, n: int = 12) -> str:
    names = list(mapping)
    more = f", ... ({len(names)} in all)" if len(names) > n else ""
    return ", ".join(names[:n]) + more


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
