"""Caps on what a submitted model may carry and do, checked before it runs.

Two classes of limits live here, both applied at intake by
:func:`submissions.validate.check_static`:

- **strings**: every string a model file carries that may be stored, shown or
  echoed (producer, version, domain, metadata, graph/node/tensor/attribute
  names, doc strings) has a length cap and may not hold control, format or
  bidirectional-override characters (:func:`check_model_strings`);
- **work**: a graph may not loop without a bound it states up front: ``Loop``
  trip counts must be constants no larger than :data:`MAX_LOOP_TRIPS` (their
  product over nested loops too), control flow may nest at most
  :data:`MAX_SUBGRAPH_DEPTH` deep, and sequence / optional ops (unbounded
  containers no CNN needs) are refused (:func:`check_graph_work`).

The trial then runs the batch sizes the evaluator will use
(:func:`trial_batches`), so a graph whose output or cost depends on the batch
size is caught at intake, not after holding a worker for its time limit.
"""
from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import onnx
from onnx import numpy_helper

from submissions.errors import SubmissionRejected

#: Longest tensor / node / graph / attribute / metadata-key name.
MAX_NAME_CHARS = 256
#: Longest producer name, producer version, domain, metadata value.
MAX_LABEL_CHARS = 256
MAX_METADATA_VALUE_CHARS = 4096
#: Longest doc string (never shown; capped so a file cannot smuggle megabytes into records or logs).
MAX_DOC_CHARS = 65536
MAX_METADATA_ENTRIES = 64
#: Largest trip count of one Loop, and of nested Loops multiplied together.
MAX_LOOP_TRIPS = 10_000
#: Deepest nesting of control-flow subgraphs (If / Loop / Scan inside each other).
MAX_SUBGRAPH_DEPTH = 3
#: Ops that build unbounded containers; no first-layer-interpretable CNN needs them.
SEQUENCE_OPS = frozenset({
    "SequenceEmpty", "SequenceConstruct", "SequenceInsert", "SequenceAt", "SequenceErase", "SequenceLength",
    "SplitToSequence", "ConcatFromSequence", "SequenceMap", "Optional", "OptionalGetElement", "OptionalHasElement",
})
#: Control, format (bidi overrides, zero-width), private-use and unassigned-surrogate characters.
_BAD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff0-\uffff"
                        "\ud800-\udfff]")
_BAD_IN_DOC = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def short(text: str, limit: int = 60) -> str:
    """``repr`` of at most ``limit`` characters of ``text`` (what an error message may echo)."""
    text = str(text)
    return repr(text[:limit]) + (f"... ({len(text)} characters)" if len(text) > limit else "")


def check_text(value: str, what: str, limit: int, code: str = "string_too_long", doc: bool = False) -> None:
    """Refuse ``value`` if it is longer than ``limit`` characters or holds invisible/control characters."""
    if len(value) > limit:
        raise SubmissionRejected(code, f"{what} is {len(value)} characters long; the limit is {limit} "
                                       f"(it starts {short(value, 40)})")
    bad = (_BAD_IN_DOC if doc else _BAD_CHARS).search(value)
    if bad:
        raise SubmissionRejected("string_invalid_characters",
                                 f"{what} holds the control or invisible character U+{ord(bad.group()):04X} "
                                 f"(it starts {short(value, 40)}); use printable text")


def _graphs(graph: onnx.GraphProto, depth: int = 0) -> Iterator[tuple[onnx.GraphProto, int]]:
    stack = [(graph, depth)]
    while stack:
        g, d = stack.pop()
        yield g, d
        for node in g.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    stack.append((attr.g, d + 1))
                stack.extend((sub, d + 1) for sub in attr.graphs)


def _model_strings(model: onnx.ModelProto) -> Iterator[tuple[str, str, int, bool]]:
    """(what, value, limit, is_doc) for every string the model carries."""
    yield "the ONNX producer_name", model.producer_name, MAX_LABEL_CHARS, False
    yield "the ONNX producer_version", model.producer_version, MAX_LABEL_CHARS, False
    yield "the ONNX model domain", model.domain, MAX_LABEL_CHARS, False
    yield "the ONNX model doc_string", model.doc_string, MAX_DOC_CHARS, True
    for opset in model.opset_import:
        yield "an op-set domain", opset.domain, MAX_LABEL_CHARS, False
    for prop in model.metadata_props:
        yield "an ONNX metadata key", prop.key, MAX_NAME_CHARS, False
        yield f"ONNX metadata {short(prop.key, 30)}", prop.value, MAX_METADATA_VALUE_CHARS, False
    for graph, _ in _graphs(model.graph):
        yield "a graph name", graph.name, MAX_NAME_CHARS, False
        yield "a graph doc_string", graph.doc_string, MAX_DOC_CHARS, True
        for value in (*graph.input, *graph.output, *graph.value_info):
            yield "a tensor name", value.name, MAX_NAME_CHARS, False
            yield "a tensor doc_string", value.doc_string, MAX_DOC_CHARS, True
        for tensor in graph.initializer:
            yield "an initializer name", tensor.name, MAX_NAME_CHARS, False
        for node in graph.node:
            yield "a node name", node.name, MAX_NAME_CHARS, False
            yield "a node op_type", node.op_type, MAX_NAME_CHARS, False
            yield "a node doc_string", node.doc_string, MAX_DOC_CHARS, True
            for name in (*node.input, *node.output):
                yield "a tensor name", name, MAX_NAME_CHARS, False
            for attr in node.attribute:
                yield "an attribute name", attr.name, MAX_NAME_CHARS, False


def check_model_strings(model: onnx.ModelProto) -> None:
    """Cap the length and characters of every string in the model (see the module docstring)."""
    if len(model.metadata_props) > MAX_METADATA_ENTRIES:
        raise SubmissionRejected("string_too_long", f"the model has {len(model.metadata_props)} metadata entries; "
                                                    f"the limit is {MAX_METADATA_ENTRIES}")
    for what, value, limit, doc in _model_strings(model):
        if value:
            check_text(value, what, limit, doc=doc)


def _constant_values(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    values = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name == "value" and attr.HasField("t"):
                    values[node.output[0]] = attr.t
    out = {}
    for name, tensor in values.items():
        if np.prod(tensor.dims, dtype=np.int64) <= 1:
            try:
                out[name] = numpy_helper.to_array(tensor)
            except Exception:  # malformed tensors are the ONNX checker's to report
                continue
    return out


def _loop_trips(node: onnx.NodeProto, constants: dict[str, np.ndarray]) -> int:
    where = f"Loop node {short(node.name or node.output[0] if node.output else 'Loop', 40)}"
    if not node.input or not node.input[0]:
        raise SubmissionRejected("loop_unbounded", f"{where} has no trip count (a while-loop); a Loop must state a "
                                                   f"constant trip count of at most {MAX_LOOP_TRIPS}")
    value = constants.get(node.input[0])
    if value is None:
        raise SubmissionRejected("loop_unbounded", f"{where}: its trip count is computed at run time (it may grow "
                                                   f"with the batch); it must be a constant of at most {MAX_LOOP_TRIPS}")
    trips = int(np.asarray(value).reshape(-1)[0]) if np.asarray(value).size else 0
    if trips > MAX_LOOP_TRIPS:
        raise SubmissionRejected("loop_too_long", f"{where} runs {trips} times; the limit is {MAX_LOOP_TRIPS}")
    return max(trips, 0)


def check_graph_work(model: onnx.ModelProto) -> None:
    """Refuse graphs whose work has no stated bound (see the module docstring)."""
    stack: list[tuple[onnx.GraphProto, int, int, dict[str, np.ndarray]]] = [(model.graph, 0, 1, {})]
    while stack:
        graph, depth, trips_above, outer = stack.pop()
        if depth > MAX_SUBGRAPH_DEPTH:
            raise SubmissionRejected("graph_too_deep", f"control flow is nested {depth} deep; the limit is "
                                                       f"{MAX_SUBGRAPH_DEPTH}")
        constants = {**outer, **_constant_values(graph)}
        for node in graph.node:
            if node.op_type in SEQUENCE_OPS:
                raise SubmissionRejected("unsupported_op", f"op {node.op_type} (sequence / optional containers) is not "
                                                           "accepted: a benchmark CNN does not need it")
            trips = trips_above
            if node.op_type == "Loop":
                trips = trips_above * max(_loop_trips(node, constants), 1)
                if trips > MAX_LOOP_TRIPS:
                    raise SubmissionRejected("loop_too_long", f"nested Loops run {trips} iterations together; the "
                                                              f"limit is {MAX_LOOP_TRIPS}")
            for attr in node.attribute:
                subs = ([attr.g] if attr.HasField("g") else []) + list(attr.graphs)
                stack.extend((sub, depth + 1, trips, constants) for sub in subs)


def trial_batches(length: int, fixed: int | None = None) -> tuple[int, ...]:
    """Batch sizes the trial runs: a small one, one sequence, and each size the evaluator uses.

    The evaluator runs inference in batches of ``EvalParams.batch_size`` and in
    silico mutagenesis in calls of ``max(1, ism_batch_mutants // 3L) * 3L``
    mutants; a fixed-batch export runs only its own size.
    """
    if fixed:
        return (int(fixed),)
    from evaluator.params import EvalParams

    params = EvalParams()
    ism = max(1, params.ism_batch_mutants // (3 * length)) * 3 * length
    return tuple(dict.fromkeys((8, 1, params.batch_size, ism)))
