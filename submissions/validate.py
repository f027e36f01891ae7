"""Static checks on a submitted checkpoint, run before anything is stored.

Every check here reads bytes or walks the parsed protobuf; none executes the
graph (that happens in :mod:`submissions.trial`, inside a sandboxed child).
The file is parsed with ``onnx.ModelProto.ParseFromString`` only: no pickle,
no ``onnx.load`` (which would follow external-data paths), no framework loader.

Each failed check raises :class:`~submissions.errors.SubmissionRejected` with a
stable ``code``; docs/submissions.md lists them all.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import onnx
from google.protobuf.message import DecodeError

from evaluator.onnx_rules import N_CLASSES, ModelError, choose_prediction_output, declared_logits_output
from submissions.errors import SubmissionRejected
from submissions.limits import check_graph_work, check_model_strings
from submissions.manifest import Manifest

#: Op-set domains a submission may use: the ONNX standard ones only.
ALLOWED_DOMAINS = frozenset({"", "ai.onnx", "ai.onnx.ml"})
_FLOAT_OUTPUTS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16}

# ModelProto fields (number -> protobuf wire type): the first tag of a real ONNX
# file is one of these (in practice field 1, ir_version, byte 0x08).
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


@dataclass(frozen=True)
class ValidationLimits:
    """Every knob of intake validation, with the defaults the service uses.

    Parameters
    ----------
    max_bytes : int
        Size cap of a checkpoint file; checked from the file size (or while
        streaming an upload) before the file is read whole.
    min_opset, max_opset : int
        Accepted range of the default ("ai.onnx") op-set version.
    max_ir_version : int
        Newest ONNX IR version ONNX Runtime here can load.
    trial_seconds : float
        Wall-clock limit of the sandboxed trial run (graph loading + one batch).
    trial_memory_bytes : int
        Address-space limit (RLIMIT_AS) of the trial child (the evaluation's
        default, since the trial runs the evaluator's batch sizes).
    trial_batch : int
        Sequences in the first, small trial batch; the evaluator's batch sizes
        (:func:`submissions.limits.trial_batches`) follow it.
    trial_launcher : {"spawn", "forkserver"}
        How the trial child starts (see :mod:`submissions.sandbox`):
        ``"forkserver"`` pays off in long-lived processes submitting many models.
    """

    max_bytes: int = 50 * 1024 * 1024
    min_opset: int = 11
    max_opset: int = 23
    max_ir_version: int = 13
    trial_seconds: float = 60.0
    trial_memory_bytes: int = 6 * 1024**3
    trial_batch: int = 8
    trial_launcher: str = "spawn"


@dataclass(frozen=True)
class StagedFile:
    """A checkpoint copied into the data home's staging folder, with its digest."""

    path: Path
    sha256: str
    size: int


@dataclass(frozen=True)
class StaticFacts:
    """What the static checks learnt about the graph, passed on to the trial."""

    input_name: str
    output_name: str
    opset: int
    declared_tap: str | None
    logits_output: str | None = None


def stage_checkpoint(source: str | Path | BinaryIO, staging_dir: Path, max_bytes: int) -> StagedFile:
    """Copy a checkpoint into ``staging_dir`` in chunks, hashing it and enforcing the size cap.

    A path is refused from its size alone; a stream (an HTTP upload) is cut off
    as soon as it passes ``max_bytes``, so an oversize file never lands whole.
    The caller owns the staged file and must delete it on rejection.
    """
    staging_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise SubmissionRejected("file_missing", f"checkpoint {str(path)!r} does not exist or is not a file")
        size = path.stat().st_size
        _check_size(size, max_bytes)
        with path.open("rb") as stream:
            return _copy_stream(stream, staging_dir, max_bytes)
    return _copy_stream(source, staging_dir, max_bytes)


def _check_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise SubmissionRejected("empty_file", "the checkpoint file is empty (0 bytes)")
    if size > max_bytes:
        raise SubmissionRejected(
            "file_too_large",
            f"the checkpoint is {size / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.1f} MiB",
        )


def _copy_stream(stream: BinaryIO, staging_dir: Path, max_bytes: int) -> StagedFile:
    digest = hashlib.sha256()
    size = 0
    fd, tmp = tempfile.mkstemp(prefix="incoming-", suffix=".onnx", dir=staging_dir)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(1 << 20):
                size += len(chunk)
                if size > max_bytes:
                    raise SubmissionRejected(
                        "file_too_large", f"the checkpoint is over the {max_bytes / 2**20:.1f} MiB limit"
                    )
                digest.update(chunk)
                out.write(chunk)
        _check_size(size, max_bytes)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return StagedFile(Path(tmp), digest.hexdigest(), size)


def sniff_format(head: bytes) -> None:
    """Reject files whose first bytes show they are not an ONNX protobuf.

    ONNX has no magic number, but a serialized ``ModelProto`` starts with the tag
    of one of its own fields; other checkpoint formats have magic numbers we
    can name, so the submitter learns what they actually sent.
    """
    if not head:
        raise SubmissionRejected("empty_file", "the checkpoint file is empty (0 bytes)")
    named = _known_format(head)
    if named:
        raise SubmissionRejected(
            "not_onnx", f"the file is {named}, not an ONNX model; export it with torch.onnx.export or tf2onnx"
        )
    tag, _ = _read_varint(head)
    if tag is None or _MODEL_FIELDS.get(tag >> 3) != (tag & 7):
        raise SubmissionRejected("not_onnx", "the file does not start like a serialized ONNX ModelProto")


def _known_format(head: bytes) -> str | None:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "a zip archive (a PyTorch .pt/.pth or Keras .keras file?)"
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "a Python pickle (which is never loaded)"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "an HDF5 file (a Keras .h5?)"
    if head.startswith(b"\x1f\x8b"):
        return "gzip-compressed"
    if head.startswith(b"\x93NUMPY"):
        return "a NumPy array file"
    if len(head) > 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < 100_000_000:
        return "a safetensors file (submit a baseline run folder with --baseline instead)"
    return None


def _read_varint(data: bytes) -> tuple[int | None, int]:
    value = shift = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i + 1
        shift += 7
    return None, 0


def parse_onnx(path: Path) -> onnx.ModelProto:
    """Parse a staged file with the protobuf parser only (no external files are opened)."""
    with path.open("rb") as f:
        sniff_format(f.read(16))
    model = onnx.ModelProto()
    try:
        model.ParseFromString(path.read_bytes())
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise SubmissionRejected("not_onnx", f"the file is not a valid ONNX protobuf (truncated or corrupt): {exc}") from None
    if not model.HasField("graph") or not model.opset_import or model.ir_version <= 0:
        raise SubmissionRejected(
            "not_onnx", "the file parses but is not an ONNX model (no graph, op-set imports or IR version)"
        )
    return model


def _graphs(model: onnx.ModelProto) -> Iterator[tuple[str, onnx.GraphProto]]:
    """Every graph in the model, subgraphs of If/Loop/Scan included (iteratively: no recursion limit)."""
    stack: list[tuple[str, onnx.GraphProto]] = [("graph", model.graph)]
    for info in model.training_info:
        stack += [("training_info.initialization", info.initialization), ("training_info.algorithm", info.algorithm)]
    for fn in model.functions:  # rejected later, but their tensors are still checked
        for node in fn.node:
            stack += [(f"function {fn.name}", g) for g in _attribute_graphs(node)]
    while stack:
        where, graph = stack.pop()
        yield where, graph
        for node in graph.node:
            stack += [(f"{where} > node {node.name or node.op_type}", g) for g in _attribute_graphs(node)]


def _attribute_graphs(node: onnx.NodeProto) -> list[onnx.GraphProto]:
    out = []
    for attr in node.attribute:
        if attr.HasField("g"):
            out.append(attr.g)
        out.extend(attr.graphs)
    return out


def _node_tensors(node: onnx.NodeProto) -> Iterator[onnx.TensorProto]:
    for attr in node.attribute:
        if attr.HasField("t"):
            yield attr.t
        yield from attr.tensors
        sparse = ([attr.sparse_tensor] if attr.HasField("sparse_tensor") else []) + list(attr.sparse_tensors)
        for sp in sparse:
            yield sp.values
            yield sp.indices


def _all_tensors(model: onnx.ModelProto) -> Iterator[tuple[str, onnx.TensorProto]]:
    for where, graph in _graphs(model):
        for t in graph.initializer:
            yield f"{where} initializer {t.name!r}", t
        for sp in graph.sparse_initializer:
            yield f"{where} sparse initializer {sp.values.name!r}", sp.values
            yield f"{where} sparse initializer {sp.values.name!r} indices", sp.indices
        for node in graph.node:
            for t in _node_tensors(node):
                yield f"{where} node {node.name or node.op_type} attribute tensor", t
    for fn in model.functions:
        for node in fn.node:
            for t in _node_tensors(node):
                yield f"function {fn.name} node {node.op_type} attribute tensor", t


def check_no_external_data(model: onnx.ModelProto) -> None:
    """Reject any tensor whose bytes live outside the file (``data_location = EXTERNAL``)."""
    for where, tensor in _all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL or len(tensor.external_data):
            raise SubmissionRejected(
                "external_data",
                f"{where} refers to external data; submit one self-contained file "
                "(torch.onnx.export(..., external_data=False) or onnx.save(model, path, save_as_external_data=False))",
            )


def check_domains(model: onnx.ModelProto) -> None:
    """Allow standard op-set domains only and no model-local functions."""
    if model.functions:
        names = ", ".join(sorted({f"{f.domain}:{f.name}" for f in model.functions})[:5])
        raise SubmissionRejected(
            "local_functions", f"the model defines local functions ({names}); inline them before export"
        )
    for opset in model.opset_import:
        if opset.domain not in ALLOWED_DOMAINS:
            raise SubmissionRejected(
                "custom_domain", f"op-set domain {opset.domain!r} is not allowed; only standard ONNX operators are"
            )
    for where, graph in _graphs(model):
        for node in graph.node:
            if node.domain not in ALLOWED_DOMAINS:
                raise SubmissionRejected(
                    "custom_domain",
                    f"{where}: node {node.name or node.op_type!r} uses domain {node.domain!r}; "
                    "only standard ONNX operators are allowed",
                )


def check_versions(model: onnx.ModelProto, limits: ValidationLimits) -> int:
    """Check the IR version and the default op-set; return the op-set version."""
    if model.ir_version > limits.max_ir_version or model.ir_version < 3:
        raise SubmissionRejected(
            "ir_version_unsupported",
            f"ONNX IR version {model.ir_version} is outside the supported range 3..{limits.max_ir_version}",
        )
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if not versions:
        raise SubmissionRejected("opset_unsupported", "the model imports no default ('ai.onnx') op-set")
    opset = max(versions)
    if not limits.min_opset <= opset <= limits.max_opset:
        raise SubmissionRejected(
            "opset_unsupported",
            f"op-set {opset} is outside the supported range {limits.min_opset}..{limits.max_opset}; "
            f"re-export with opset_version between them",
        )
    return opset


def _dims(value: onnx.ValueInfoProto) -> list[int | str] | None:
    tensor = value.type.tensor_type
    if not value.type.HasField("tensor_type") or not tensor.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim]


def _prediction_output(graph: onnx.GraphProto, tap: str | None, logits: str | None = None) -> onnx.ValueInfoProto:
    """The graph output holding predictions, by the evaluator's rule (:func:`evaluator.onnx_rules.choose_prediction_output`)."""
    try:
        name = choose_prediction_output([(o.name, _dims(o)) for o in graph.output], tap, logits)
    except ModelError as exc:
        raise SubmissionRejected("output_mismatch", str(exc)) from None
    return next(o for o in graph.output if o.name == name)


def check_io(model: onnx.ModelProto, length: int, tap: str | None = None, logits: str | None = None) -> tuple[str, str]:
    """Check the graph's input ``float32 [batch, 4, L]`` and prediction output ``[batch, 12]``.

    The prediction output is the only graph output other than the tap (a
    declared one, or one named ``first_layer``), or, among several, the only
    one declared ``[*, 12]``. Dynamic dimensions pass here and are checked on
    a real batch by the trial run.

    Returns
    -------
    (input_name, output_name)
    """
    graph = model.graph
    initialized = {t.name for t in graph.initializer} | {t.values.name for t in graph.sparse_initializer}
    inputs = [v for v in graph.input if v.name not in initialized]
    if len(inputs) != 1:
        raise SubmissionRejected(
            "input_mismatch",
            f"the model must have exactly one input (one-hot sequences [batch, 4, {length}]); "
            f"it has {len(inputs)}: {[v.name for v in inputs][:5]}",
        )
    x = inputs[0]
    if x.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        kind = onnx.TensorProto.DataType.Name(x.type.tensor_type.elem_type) if x.type.HasField("tensor_type") else "non-tensor"
        raise SubmissionRejected("input_mismatch", f"input {x.name!r} is {kind}; it must be float32")
    dims = _dims(x)
    if dims is None or len(dims) != 3:
        raise SubmissionRejected(
            "input_mismatch",
            f"input {x.name!r} has shape {dims}; expected rank 3 [batch, 4, {length}] (channel-first one-hot A,C,G,T)",
        )
    if isinstance(dims[1], int) and dims[1] != 4:
        raise SubmissionRejected("input_mismatch", f"input {x.name!r} has {dims[1]} channels; expected 4 (A,C,G,T first)")
    if isinstance(dims[2], int) and dims[2] != length:
        raise SubmissionRejected(
            "input_mismatch", f"input {x.name!r} has length {dims[2]}; this dataset's sequences are {length} nt"
        )
    named = [o for o in graph.output if o.name == logits]
    if logits is not None and not named:
        raise SubmissionRejected(
            "output_mismatch", f"logits_output {logits!r} is not a graph output; outputs: {[o.name for o in graph.output][:5]}"
        )
    y = _prediction_output(graph, tap, logits)
    outputs = [y, *named]
    for out in outputs:
        if out.type.tensor_type.elem_type not in _FLOAT_OUTPUTS:
            raise SubmissionRejected("output_mismatch", f"output {out.name!r} must be a float tensor [batch, {N_CLASSES}]")
        out_dims = _dims(out)
        if out_dims is not None and (len(out_dims) != 2 or (isinstance(out_dims[1], int) and out_dims[1] != N_CLASSES)):
            raise SubmissionRejected(
                "output_mismatch", f"output {out.name!r} has shape {out_dims}; expected [batch, {N_CLASSES}] (one per class)"
            )
    return x.name, y.name


def check_declared_tap(model: onnx.ModelProto, tap: str | None) -> None:
    """A declared first-layer tap must name a tensor the main graph computes."""
    if tap is None:
        return
    produced = {name for node in model.graph.node for name in node.output} | {v.name for v in model.graph.output}
    if tap not in produced:
        convs = [n.output[0] for n in model.graph.node if n.op_type == "Conv" and n.output][:3]
        raise SubmissionRejected(
            "tap_not_found",
            f"first_layer_tap {tap!r} is not a tensor of the graph"
            + (f"; the first Conv outputs are {convs}" if convs else ""),
        )


def check_static(model: onnx.ModelProto, manifest: Manifest, length: int, limits: ValidationLimits) -> StaticFacts:
    """All static checks, cheapest and most specific first."""
    check_no_external_data(model)
    check_domains(model)
    check_model_strings(model)
    check_graph_work(model)
    opset = check_versions(model, limits)
    logits, _ = declared_logits_output({p.key: p.value for p in model.metadata_props}, manifest.logits_output)
    input_name, output_name = check_io(model, length, manifest.first_layer_tap, logits)
    check_declared_tap(model, manifest.first_layer_tap)
    return StaticFacts(input_name, output_name, opset, manifest.first_layer_tap, logits)


def discard(staged: StagedFile | None) -> None:
    """Delete a staged file (rejections leave nothing behind)."""
    if staged is not None:
        staged.path.unlink(missing_ok=True)
