"""Model facts for the leaderboard when a manifest leaves them out: framework, activation, pool, parameters.

The leaderboard shows a few facts about each model (``framework``,
first-layer ``activation``, ``first_layer_pool``, ``params``, ``n_filters``).
Submitters may state them in the manifest's ``architecture``; when they do
not, most can be read off what the evaluator already found or off the stored
ONNX file, so the columns are not left blank:

- framework: the record's ``model.framework`` (the ONNX producer), with
  converter names mapped to the framework they convert from (``tf2onnx`` ->
  ``tensorflow``);
- activation: the last activation op on the record's ``model.tap_path`` (the
  ops the evaluator walked from the first Conv to the tap), e.g.
  ``["Conv", "BatchNormalization", "Exp"]`` -> ``exp``;
- first-layer pool: the window of the pooling op fed by the tap in the stored
  ONNX (through layout ops such as Transpose/Unsqueeze); a global pool is the
  whole tap length; a tap feeding a Conv or a dense layer directly is ``1``;
- params: the model's parameters with every batch normalization folded into
  the linear layer before it (:func:`parameter_count`). Exporters differ: one
  folds a Conv's batch norm into the Conv's weights and bias, another stores
  the BatchNormalization node with its scale, shift and running statistics.
  Counting as if every foldable batch norm were folded gives the same number
  for the same architecture whatever the exporter did (for the papers'
  CNN-25: 159,378 both from the zoo's export and from a hand upload; its
  PyTorch trainable count, 160,048, adds one per batch-norm channel). Always
  read from the ONNX file, never from the manifest, so every row counts alike.

Reading the ONNX needs only ``onnx`` (no ONNX Runtime). The result depends on
the file's bytes and the tap, so it is cached per ``(sha256, tap)`` in memory
and as a small JSON under ``<submissions>/model_facts/``: the leaderboard is
rebuilt on every finish and must not re-parse every model each time.
"""
from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from benchmark.files import atomic_write
from evaluator.onnx_rules import ACTIVATION_OPS, GLOBAL_POOL, first_layer_pool

log = logging.getLogger(__name__)

FACTS_DIR = "model_facts"
#: Bumped when the computation changes, so stale cache files are recomputed.
FACTS_VERSION = 2

#: ONNX activation ops -> the names manifests and baselines use.
ACTIVATION_NAMES: dict[str, str] = {
    "Relu": "relu", "Exp": "exp", "Sigmoid": "sigmoid", "Tanh": "tanh", "Elu": "elu", "Selu": "selu",
    "Celu": "celu", "LeakyRelu": "leaky_relu", "PRelu": "prelu", "Gelu": "gelu", "Mish": "mish",
    "Softplus": "softplus", "Softsign": "softsign", "HardSigmoid": "hard_sigmoid", "HardSwish": "hard_swish",
    "ThresholdedRelu": "thresholded_relu", "Abs": "abs", "Erf": "gelu", "Clip": "clip", "Shrink": "shrink",
}
assert set(ACTIVATION_NAMES) <= ACTIVATION_OPS  # the names cover ops the tap walk counts as activations
#: ONNX producers that are converters: the framework the model came from.
PRODUCER_FRAMEWORKS: dict[str, str] = {
    "tf2onnx": "tensorflow", "keras2onnx": "keras", "torch": "pytorch", "pytorch": "pytorch",
    "paddle2onnx": "paddlepaddle", "jax2onnx": "jax",
}
_memory: dict[tuple[str, str], dict[str, Any]] = {}


def clear_memory_cache() -> None:
    """Forget facts cached in this process (the JSON cache files stay)."""
    _memory.clear()


def framework_from_record(model: dict[str, Any]) -> str | None:
    """The framework named by the record's ``model.framework`` (or producer), converters mapped.

    Parameters
    ----------
    model : dict
        The record's ``model`` section.
    """
    name = model.get("framework") or (str(model.get("producer") or "").split() or [None])[0]
    if not name:
        return None
    return PRODUCER_FRAMEWORKS.get(str(name).lower(), str(name))


def activation_from_tap_path(path: Iterable[str] | None) -> str | None:
    """The first-layer activation from the op types walked from the first Conv to the tap.

    ``x * sigmoid(x)`` (the walk records both consumers, ``Sigmoid`` then
    ``Mul``, as PyTorch exports ``nn.SiLU``) is ``silu``. None when the path
    has no activation op (e.g. a declared tap the walk did not pass, whose
    path is empty): no guess is better than a wrong one.
    """
    ops = [str(op) for op in (path or [])][1:]  # the first op is the Conv itself
    found = [i for i, op in enumerate(ops) if op in ACTIVATION_NAMES]
    if not found:
        return None
    last = found[-1]
    if ops[last] == "Sigmoid" and ops[last + 1:last + 2] == ["Mul"]:
        return "silu"
    return ACTIVATION_NAMES[ops[last]]


def _float_count(tensor) -> int:
    from onnx import TensorProto

    floats = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    return math.prod(tensor.dims) if tensor.data_type in floats else 0


#: Ops a batch normalization can be folded into (scale into the weights, shift into the bias).
_LINEAR_OPS = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
#: Layout ops looked through between a linear op and its batch normalization.
_FOLD_THROUGH = frozenset({"Transpose", "Reshape", "Unsqueeze", "Squeeze", "Identity", "Flatten"})


def _has_bias(node, producers: dict[str, Any]) -> bool:
    """Whether a linear op (or an ``Add`` after a MatMul) already carries a bias."""
    if node.op_type == "Add":
        return True
    if node.op_type in ("Conv", "ConvTranspose", "Gemm"):
        return len(node.input) > 2 and bool(node.input[2])
    return False  # MatMul


def _folds_into(bn, producers: dict[str, Any]):
    """The linear node a BatchNormalization can be folded into, or None."""
    node = producers.get(bn.input[0])
    for _ in range(8):
        if node is None:
            return None
        if node.op_type in _LINEAR_OPS:
            return node
        if node.op_type == "Add" and any(producers.get(i) is not None and producers[i].op_type == "MatMul"
                                         for i in node.input):
            return node
        if node.op_type not in _FOLD_THROUGH:
            return None
        node = producers.get(node.input[0])
    return None


def parameter_count(model) -> int:
    """Parameters of an ``onnx.ModelProto`` with every foldable batch normalization folded.

    Floating-point initializers and ``Constant`` node values are counted
    (subgraphs included; integer tensors such as shapes are not parameters),
    except a BatchNormalization's tensors: its running mean and variance are
    statistics, never counted; its scale and shift count as nothing when it
    follows a linear op (Conv, Gemm, MatMul, through layout ops) that has a
    bias, as one bias per channel when that op has none, and as two values per
    channel when nothing precedes it to fold into. So a graph exported with
    its batch norms folded and one exported with them stored count the same.
    """
    total = 0

    def visit(graph) -> None:
        nonlocal total
        sizes = {t.name: _float_count(t) for t in graph.initializer}
        for node in graph.node:
            if node.op_type == "Constant":
                for attr in node.attribute:
                    if attr.name == "value" and attr.HasField("t"):
                        sizes[node.output[0]] = _float_count(attr.t)
        producers = {out: node for node in graph.node for out in node.output}
        skipped: set[str] = set()
        extra = 0
        for node in graph.node:
            if node.op_type != "BatchNormalization" or len(node.input) < 5:
                continue
            skipped.update(node.input[1:5])
            channels = sizes.get(node.input[1], 0)
            target = _folds_into(node, producers)
            if target is None:
                extra += 2 * channels
            elif not _has_bias(target, producers):
                extra += channels
        total += sum(n for name, n in sizes.items() if name not in skipped) + extra
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("g"):
                    visit(attr.g)
                for sub in attr.graphs:
                    visit(sub)

    visit(model.graph)
    return int(total)


def onnx_facts(path: Path, tap_name: str | None) -> dict[str, Any]:
    """``{"params": int, "first_layer_pool": int | None}`` read from an ONNX file (no ONNX Runtime).

    ``first_layer_pool`` is :data:`GLOBAL_POOL` for a global pool (the caller
    knows the tap length).
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {"params": parameter_count(model),
            "first_layer_pool": first_layer_pool(model, tap_name) if tap_name else None}


def cached_onnx_facts(checkpoint: Path, sha256: str, tap_name: str | None, cache_dir: Path | None) -> dict[str, Any]:
    """:func:`onnx_facts` of a stored checkpoint, cached in memory and under ``cache_dir``.

    Returns an empty dict when the checkpoint is missing or unreadable (the
    columns then stay blank; a leaderboard export must never fail on this).
    """
    key = (sha256, tap_name or "")
    if key in _memory:
        return _memory[key]
    cache_file = cache_dir / f"{sha256}.json" if cache_dir is not None else None
    if cache_file is not None and cache_file.is_file():
        try:
            cached = json.loads(cache_file.read_text())
            if cached.get("version") == FACTS_VERSION and cached.get("tap") == key[1]:
                _memory[key] = cached["facts"]
                return cached["facts"]
        except (OSError, ValueError, KeyError, AttributeError):
            pass  # unreadable cache: recompute
    if not checkpoint.is_file():
        return {}
    try:
        facts = onnx_facts(checkpoint, tap_name)
    except Exception as exc:  # a checkpoint that passed intake should parse; never break the export
        log.warning("cannot read model facts from %s: %s", checkpoint, exc)
        return {}
    _memory[key] = facts
    if cache_file is not None:
        try:
            atomic_write(cache_file, json.dumps({"version": FACTS_VERSION, "tap": key[1], "facts": facts}))
        except OSError as exc:
            log.warning("cannot cache model facts in %s: %s", cache_file, exc)
    return facts


def record_facts(record: dict[str, Any], checkpoint: Path | None = None, sha256: str | None = None,
                 cache_dir: Path | None = None) -> dict[str, Any]:
    """Every fact the record (and, if given, the stored ONNX) tells: the leaderboard's model columns.

    Parameters
    ----------
    record : dict
        The evaluator's result record.
    checkpoint : Path, optional
        The stored ONNX file; without it ``params`` and ``first_layer_pool`` are None.
    sha256 : str, optional
        The checkpoint's sha256 (cache key; default the record's ``model.onnx_sha256``).
    cache_dir : Path, optional
        Where computed ONNX facts are cached.

    Returns
    -------
    dict
        ``framework``, ``activation``, ``first_layer_pool``, ``params``,
        ``n_filters``; None where unknown.
    """
    model = record.get("model") if isinstance(record.get("model"), dict) else {}
    spec = model.get("spec") if isinstance(model.get("spec"), dict) else {}
    facts: dict[str, Any] = {
        "framework": framework_from_record(model),
        "activation": spec.get("activation") or activation_from_tap_path(model.get("tap_path")),
        "first_layer_pool": None,
        "params": None,
        "n_filters": model.get("n_filters"),
    }
    if checkpoint is not None:
        sha = sha256 or model.get("onnx_sha256") or ""
        found = cached_onnx_facts(checkpoint, sha, model.get("tap_name"), cache_dir)
        facts["params"] = found.get("params")
        pool = found.get("first_layer_pool")
        facts["first_layer_pool"] = model.get("tap_length") if pool == GLOBAL_POOL else pool
    return facts
