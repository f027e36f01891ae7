"""Small generated ONNX models: a valid baseline-shaped CNN and hostile or broken variants.

Tests use these to prove intake rejects each kind of bad submission with the
right code and that the worker survives models that hang or eat memory;
``perf/worker_throughput.py`` uses the valid one. Models are built with
``onnx.helper`` (no framework, milliseconds each) and saved with IR version 10
so the installed ONNX Runtime loads them.
"""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

IR_VERSION = 10
OPSET = 17
from benchmark.datasets import N_CLASSES  # noqa: E402


def _tensor(name: str, array: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.ascontiguousarray(array), name)


def cnn_model(
    seed: int = 0,
    length: int = 200,
    filters: int = 8,
    kernel: int = 7,
    pool: int = 4,
    output_kind: str = "probabilities",
    classes: int = N_CLASSES,
    expose_tap: bool = True,
) -> onnx.ModelProto:
    """A baseline-shaped CNN: Conv -> Relu (the tap, ``first_layer``) -> MaxPool -> Gemm [-> Sigmoid].

    Input ``x`` float32 [batch, 4, length]; first output ``probabilities`` (or
    ``logits``) [batch, classes]; with ``expose_tap`` the tap is also a graph
    output, as baselines export it. ``seed`` changes the weights (and so the
    checkpoint's sha256).
    """
    rng = np.random.default_rng(seed)
    pooled = length // pool
    w1 = rng.normal(0, 0.5, (filters, 4, kernel)).astype(np.float32)
    w2 = rng.normal(0, 0.1, (filters * pooled, classes)).astype(np.float32)
    b2 = np.zeros(classes, np.float32)
    out_name = "probabilities" if output_kind == "probabilities" else "logits"
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["conv1"], pads=[kernel // 2, kernel - 1 - kernel // 2], name="conv1"),
        helper.make_node("Relu", ["conv1"], ["first_layer"], name="act1"),
        helper.make_node("MaxPool", ["first_layer"], ["pool1"], kernel_shape=[pool], strides=[pool], name="pool1"),
        helper.make_node("Flatten", ["pool1"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "w2", "b2"], ["dense"]),
    ]
    if output_kind == "probabilities":
        nodes.append(helper.make_node("Sigmoid", ["dense"], [out_name]))
    else:
        nodes.append(helper.make_node("Identity", ["dense"], [out_name]))
    outputs = [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["batch", classes])]
    if expose_tap:
        outputs.append(helper.make_tensor_value_info("first_layer", TensorProto.FLOAT, ["batch", filters, length]))
    graph = helper.make_graph(
        nodes,
        "cnn",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, length])],
        outputs,
        initializer=[_tensor("w1", w1), _tensor("w2", w2), _tensor("b2", b2)],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def save(model: onnx.ModelProto, path: Path) -> Path:
    """Serialize without ever splitting tensors into external files."""
    path.write_bytes(model.SerializeToString())
    return path


def _with_extra_path(model: onnx.ModelProto, make_extra) -> onnx.ModelProto:
    """Add ``0 * scalar(extra)`` to the prediction so an extra subgraph runs on every call."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    out = g.output[0].name
    for node in g.node:
        if out in node.output:
            node.output[:] = [f"{out}_pre"]
    extra_nodes, extra_out, inits = make_extra()
    g.node.extend(extra_nodes)
    g.initializer.extend(inits + [_tensor("zero_f", np.zeros((), np.float32))])
    g.node.extend(
        [
            helper.make_node("ReduceSum", [extra_out], ["extra_sum"], keepdims=0),
            helper.make_node("Mul", ["extra_sum", "zero_f"], ["extra_zero"]),
            helper.make_node("Add", [f"{out}_pre", "extra_zero"], [out]),
        ]
    )
    return m


def slow_loop_model(seed: int = 0, length: int = 200, trip_count: int = 10**12) -> onnx.ModelProto:
    """Valid shapes, but a Loop with a huge trip count runs on every call: runs for hours."""

    def extra():
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                helper.make_node("Add", ["v_in", "one_f"], ["v_out"]),
            ],
            "body",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1]),
            ],
            [
                helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1]),
            ],
            initializer=[_tensor("one_f", np.ones(1, np.float32))],
        )
        loop = helper.make_node("Loop", ["trips", "", "v0"], ["loop_v"], body=body)
        inits = [
            _tensor("trips", np.array(trip_count, np.int64)),
            _tensor("v0", np.zeros(1, np.float32)),
        ]
        return [loop], "loop_v", inits

    return _with_extra_path(cnn_model(seed, length), extra)


def memory_bomb_model(seed: int = 0, length: int = 200, elements: int = 250_000_000) -> onnx.ModelProto:
    """Valid shapes, but every call asks for ``batch * elements`` floats (8 GB for a batch of 8).

    The size is computed from the input's batch dimension so it cannot be
    constant-folded away at load time.
    """

    def extra():
        nodes = [
            helper.make_node("Shape", ["x"], ["x_shape"], start=0, end=1),
            helper.make_node("Mul", ["x_shape", "big"], ["bomb_shape"]),
            helper.make_node("ConstantOfShape", ["bomb_shape"], ["bomb"], value=_tensor("v", np.ones(1, np.float32))),
        ]
        return nodes, "bomb", [_tensor("big", np.array([elements], np.int64))]

    return _with_extra_path(cnn_model(seed, length), extra)


def nan_model(seed: int = 0, length: int = 200) -> onnx.ModelProto:
    """Outputs NaN everywhere (Sqrt of -1 added to the prediction)."""

    def extra():
        return [helper.make_node("Sqrt", ["minus_one"], ["nan"])], "nan", [_tensor("minus_one", -np.ones(1, np.float32))]

    m = _with_extra_path(cnn_model(seed, length), extra)
    for node in m.graph.node:  # NaN * 0 is still NaN: keep it in the output
        if node.op_type == "Mul" and list(node.input) == ["extra_sum", "zero_f"]:
            node.op_type = "Add"
    return m


def external_data_model(where: str = "initializer", length: int = 200) -> onnx.ModelProto:
    """A model whose tensor bytes are said to live in another file (``where``: initializer, attribute, sparse)."""
    m = cnn_model(0, length)
    location = [onnx.StringStringEntryProto(key="location", value="../../etc/passwd")]
    if where == "initializer":
        t = m.graph.initializer[0]
        t.ClearField("raw_data")
        t.data_location = TensorProto.EXTERNAL
        t.external_data.extend(location)
    elif where == "attribute":
        const = _tensor("c", np.zeros(1, np.float32))
        const.ClearField("raw_data")
        const.data_location = TensorProto.EXTERNAL
        const.external_data.extend(location)
        m.graph.node.insert(0, helper.make_node("Constant", [], ["unused_const"], value=const))
    elif where == "sparse":
        values = _tensor("sp", np.ones(1, np.float32))
        values.ClearField("raw_data")
        values.data_location = TensorProto.EXTERNAL
        values.external_data.extend(location)
        sparse = helper.make_sparse_tensor(values, _tensor("sp_idx", np.zeros(1, np.int64)), [4])
        m.graph.sparse_initializer.append(sparse)
    else:
        raise ValueError(where)
    return m


def custom_domain_model(length: int = 200) -> onnx.ModelProto:
    """Uses an operator from a non-standard domain."""
    m = cnn_model(0, length)
    for node in m.graph.node:
        if node.op_type == "Relu":
            node.domain = "com.evil"
    m.opset_import.append(helper.make_opsetid("com.evil", 1))
    return m


def local_function_model(length: int = 200) -> onnx.ModelProto:
    """Defines and calls a model-local function."""
    m = cnn_model(0, length)
    fn = helper.make_function(
        "local.fn", "MyRelu", ["a"], ["b"], [helper.make_node("Relu", ["a"], ["b"])], [helper.make_opsetid("", OPSET)]
    )
    m.functions.append(fn)
    for node in m.graph.node:
        if node.op_type == "Relu":
            node.op_type, node.domain = "MyRelu", "local.fn"
    m.opset_import.append(helper.make_opsetid("local.fn", 1))
    return m


def with_opset(model: onnx.ModelProto, opset: int) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for o in m.opset_import:
        if o.domain in ("", "ai.onnx"):
            o.version = opset
    return m


def wrong_rank_model(length: int = 200) -> onnx.ModelProto:
    """Input [batch, 4*length] instead of [batch, 4, length]."""
    m = cnn_model(0, length)
    shape = m.graph.input[0].type.tensor_type.shape
    del shape.dim[1:]
    shape.dim.add().dim_value = 4 * length
    return m


def garbage_bytes(size: int = 4096, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"not really")
    return buf.getvalue()


def pickle_bytes() -> bytes:
    """A pickle (never loaded by motifbench: only its first bytes are looked at)."""
    return pickle.dumps({"state_dict": [1, 2, 3]}, protocol=4)


def dense_only_model(length: int = 200) -> onnx.ModelProto:
    """Right shapes but no convolution at all: there is no first layer to tap."""
    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [
            helper.make_node("Flatten", ["x"], ["flat"], axis=1),
            helper.make_node("Gemm", ["flat", "w"], ["dense"]),
            helper.make_node("Sigmoid", ["dense"], ["probabilities"]),
        ],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, length])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", N_CLASSES])],
        initializer=[_tensor("w", rng.normal(0, 0.05, (4 * length, N_CLASSES)).astype(np.float32))],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)


def with_input_type(model: onnx.ModelProto, elem_type: int) -> onnx.ModelProto:
    """The same model declaring another input dtype (e.g. TensorProto.DOUBLE)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.input[0].type.tensor_type.elem_type = elem_type
    return m


def with_ir_version(model: onnx.ModelProto, ir_version: int) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.ir_version = ir_version
    return m


def dangling_input_model(length: int = 200) -> onnx.ModelProto:
    """Passes the static checks but the ONNX checker fails: a node reads a tensor nobody makes."""
    m = cnn_model(0, length)
    for node in m.graph.node:
        if node.op_type == "Gemm":
            node.input[2] = "no_such_tensor"
    return m


def enqueue_unvalidated(store, model: onnx.ModelProto, manifest: dict, data: str | Path | None, tmp: Path) -> str:
    """Queue a model straight into the store, as if intake had let it through; returns its id.

    Only for tests and perf scripts that exercise the worker's own defences
    (a hostile model that passed validation) or need many jobs fast.
    """
    import hashlib

    blob = model.SerializeToString()
    path = Path(tmp) / f"{hashlib.sha256(manifest['model_name'].encode()).hexdigest()[:12]}.onnx"
    path.write_bytes(blob)
    digest = hashlib.sha256(blob).hexdigest()
    store.checkpoints.put(path, digest)
    sub, created = store.add(manifest=manifest, sha256=digest, size_bytes=len(blob),
                             data_source=None if data is None else str(data))
    if not created:
        raise ValueError(f"{manifest['model_name']!r}: the store already holds this checkpoint")
    return sub.id


# -- hostile models for the hardening tests (issue 12) ---------------------------------------------------------------

def heavy_loop_model(seed: int = 0, length: int = 200, trip_count: int = 10_000, size: int = 768) -> onnx.ModelProto:
    """A Loop within the trip-count cap whose body multiplies two ``size x size`` matrices: minutes of work."""

    def extra():
        body = helper.make_graph(
            [
                helper.make_node("Identity", ["cond_in"], ["cond_out"]),
                helper.make_node("MatMul", ["m_in", "m_in"], ["m_sq"]),
                helper.make_node("Mul", ["m_sq", "tiny"], ["m_out"]),
            ],
            "body",
            [
                helper.make_tensor_value_info("i", TensorProto.INT64, []),
                helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                helper.make_tensor_value_info("m_in", TensorProto.FLOAT, [size, size]),
            ],
            [
                helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
                helper.make_tensor_value_info("m_out", TensorProto.FLOAT, [size, size]),
            ],
            initializer=[_tensor("tiny", np.full((), 1e-3, np.float32))],
        )
        loop = helper.make_node("Loop", ["trips", "", "m0"], ["loop_m"], body=body)
        inits = [_tensor("trips", np.array(trip_count, np.int64)), _tensor("m0", np.ones((size, size), np.float32))]
        return [loop], "loop_m", inits

    return _with_extra_path(cnn_model(seed, length), extra)


def batch_loop_model(seed: int = 0, length: int = 200, per_extra_row: int = 10**9) -> onnx.ModelProto:
    """A Loop whose trip count is ``(batch - 8) * per_extra_row``: instant on the old 8-row trial, endless after."""

    def extra():
        body = helper.make_graph(
            [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
             helper.make_node("Add", ["v_in", "one_f"], ["v_out"])],
            "body",
            [helper.make_tensor_value_info("i", TensorProto.INT64, []),
             helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
             helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1])],
            [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
             helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1])],
            initializer=[_tensor("one_f", np.ones(1, np.float32))],
        )
        nodes = [
            helper.make_node("Shape", ["x"], ["bshape"], start=0, end=1),
            helper.make_node("Squeeze", ["bshape"], ["b"]),
            helper.make_node("Sub", ["b", "eight"], ["over"]),
            helper.make_node("Max", ["over", "zero_i"], ["over0"]),
            helper.make_node("Mul", ["over0", "per_row"], ["trips"]),
            helper.make_node("Loop", ["trips", "", "v0"], ["loop_v"], body=body),
        ]
        inits = [_tensor("eight", np.array(8, np.int64)), _tensor("zero_i", np.array(0, np.int64)),
                 _tensor("per_row", np.array(per_extra_row, np.int64)), _tensor("v0", np.zeros(1, np.float32))]
        return nodes, "loop_v", inits

    return _with_extra_path(cnn_model(seed, length), extra)


def batch_nan_model(seed: int = 0, length: int = 200, threshold: int = 8) -> onnx.ModelProto:
    """Finite outputs for batches of up to ``threshold`` rows, NaN for larger ones (what the evaluator runs)."""

    def extra():
        nodes = [
            helper.make_node("Shape", ["x"], ["bshape"], start=0, end=1),
            helper.make_node("Cast", ["bshape"], ["bf"], to=TensorProto.FLOAT),
            helper.make_node("Greater", ["bf", "thr"], ["big"]),
            helper.make_node("Cast", ["big"], ["bigf"], to=TensorProto.FLOAT),
            helper.make_node("Neg", ["bigf"], ["negf"]),
            helper.make_node("Sqrt", ["negf"], ["nan_if_big"]),
        ]
        return nodes, "nan_if_big", [_tensor("thr", np.array([threshold], np.float32))]

    m = _with_extra_path(cnn_model(seed, length), extra)
    for node in m.graph.node:  # NaN * 0 is NaN, but -0 * 0 is 0: keep the extra path in the output
        if node.op_type == "Mul" and list(node.input) == ["extra_sum", "zero_f"]:
            node.op_type = "Add"
    return m


def sequence_op_model(seed: int = 0, length: int = 200) -> onnx.ModelProto:
    """Routes a tensor through SequenceConstruct / SequenceAt (unbounded containers, refused)."""

    def extra():
        nodes = [helper.make_node("SequenceConstruct", ["x"], ["seq"]),
                 helper.make_node("SequenceAt", ["seq", "idx0"], ["x_again"])]
        return nodes, "x_again", [_tensor("idx0", np.array(0, np.int64))]

    return _with_extra_path(cnn_model(seed, length), extra)


def with_strings(model: onnx.ModelProto, text: str, where: str = "producer_name") -> onnx.ModelProto:
    """``model`` with ``text`` put in one string field: producer_name, producer_version, doc_string,
    metadata (key ``note``), graph_name, or tap_name (the first-layer tensor renamed, a graph output)."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    if where in ("producer_name", "producer_version", "doc_string"):
        setattr(m, where, text)
    elif where == "metadata":
        m.metadata_props.append(onnx.StringStringEntryProto(key="note", value=text))
    elif where == "graph_name":
        m.graph.name = text
    elif where == "tap_name":
        for node in m.graph.node:
            node.input[:] = [text if n == "first_layer" else n for n in node.input]
            node.output[:] = [text if n == "first_layer" else n for n in node.output]
        for out in m.graph.output:
            if out.name == "first_layer":
                out.name = text
    else:
        raise ValueError(f"unknown string field {where!r}")
    return m
