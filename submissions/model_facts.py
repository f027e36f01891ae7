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
- params: the number of floating-point values stored in the ONNX file
  (initializers and ``Constant`` nodes). This counts what the file holds, so it
  can differ from a framework's trainable-parameter count (batch-norm running
  statistics are stored, folded batch norms are not).

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
FACTS_VERSION = 1

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


def parameter_count(model) -> int:
    """Floating-point values stored in an ``onnx.ModelProto``: initializers plus ``Constant`` node values.

    Subgraphs (If/Loop bodies) are included. Integer tensors (shapes, axes)
    are not parameters and are skipped.
    """
    total = 0

    def visit(graph) -> None:
        nonlocal total
        total += sum(_float_count(t) for t in graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                if node.op_type == "Constant" and attr.name == "value" and attr.HasField("t"):
                    total += _float_count(attr.t)
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
