"""A submitted ONNX model as a differentiable PyTorch module (for gradient attribution).

Why a converter: gradient methods (saliency, integrated gradients,
DeepLIFT/SHAP) need backpropagation, which ONNX Runtime's inference build does
not offer. We convert the graph to ``torch.fx`` with ``onnx2torch`` (a
maintained, op-by-op converter; the graph is data, no submitter Python runs)
and **check the converted module against ONNX Runtime** on a probe batch
before any gradient is trusted. A model that fails conversion or the check is
still scored with ISM; the reason is recorded. The gradients are checked too
(:mod:`evaluator.gradient_check`: torch's directional derivatives against ONNX
Runtime's central differences on the probe), since matching values do not
imply matching gradients.

Two facts shape this module (measured, issue 11):

* ``onnx2torch`` imports ``torchvision`` at import time, only for its NMS and
  RoiAlign converters. Installing ``torchvision`` would replace the pinned CPU
  torch, so it is never installed: :func:`import_onnx2torch` imports the
  converter behind a stand-in ``torchvision`` module whose two functions raise
  (no sequence model uses detection ops) and removes the stand-in from
  ``sys.modules`` again, so nothing else ever sees it.
* ``onnx2torch`` 1.5.15 as shipped rejects common exports: Conv/pool
  ``auto_pad="SAME_*"`` (tf2onnx), ``Constant`` at opset 19+, and ``Reduce*``
  with axes as an input (opset 18+). :func:`evaluator.onnx_prepass.prepare_graph` rewrites
  those on a copy (explicit pads from ONNX shape inference; constants to initializers)
  and :func:`_register_extra_converters` adds the opset-18 reductions. This is
  a thin pre-pass rather than an own converter: every other op keeps
  onnx2torch's tested implementation.

The module differentiates one ``[batch, 12]`` **logit** tensor: a declared or
metadata logits output; else the input of a final Sigmoid (the pre-sigmoid
score); else the prediction output itself when it is logits; else
``logit(clip(p, eps, 1 - eps))`` of the probabilities (recorded as such,
because saturated probabilities give vanishing gradients).
"""
from __future__ import annotations

from collections import OrderedDict

import sys
import threading
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


#: Converted outputs must match ONNX Runtime within ``atol + rtol * max|reference|``.
CHECK_ATOL = 1e-4
CHECK_RTOL = 1e-4
N_CLASSES = 12


from evaluator.onnx_prepass import ConversionError, prepare_graph  # noqa: E402,F401  (re-exported)


# ----------------------------------------------------------------------------- importing onnx2torch

_EXTRA_REGISTERED = False
#: One importer at a time: the evaluation's preload thread may import it while the main thread asks for it.
_IMPORT_LOCK = threading.Lock()


def _torchvision_stand_in() -> tuple[types.ModuleType, types.ModuleType]:
    def unavailable(*_args, **_kwargs):
        raise ConversionError("this graph uses a detection op (NonMaxSuppression/RoiAlign) that needs torchvision, "
                              "which motifbench does not install")

    tv = types.ModuleType("torchvision")
    ops = types.ModuleType("torchvision.ops")
    ops.nms = ops.roi_align = ops.box_convert = unavailable
    tv.ops = ops
    return tv, ops


def import_onnx2torch():
    """Import ``onnx2torch`` without ``torchvision`` and add the missing converters.

    Returns the ``onnx2torch`` module. The stand-in ``torchvision`` lives in
    ``sys.modules`` only during the import (unless a real one is installed,
    which is then used untouched).
    """
    if "onnx2torch" in sys.modules and _EXTRA_REGISTERED:
        return sys.modules["onnx2torch"]
    with _IMPORT_LOCK:
        return _import_onnx2torch()


def _import_onnx2torch():
    global _EXTRA_REGISTERED
    if "onnx2torch" in sys.modules and _EXTRA_REGISTERED:
        return sys.modules["onnx2torch"]
    try:
        import torchvision  # noqa: F401  (never installed here; used if a user has it)

        stand_in = False
    except ImportError:
        stand_in = True
    saved = {k: sys.modules.get(k) for k in ("torchvision", "torchvision.ops")}
    if stand_in:
        tv, ops = _torchvision_stand_in()
        sys.modules["torchvision"], sys.modules["torchvision.ops"] = tv, ops
    try:
        import onnx2torch
    finally:
        if stand_in:
            for key, value in saved.items():
                if value is None:
                    sys.modules.pop(key, None)
                else:
                    sys.modules[key] = value
    if not _EXTRA_REGISTERED:
        _register_extra_converters()
        _EXTRA_REGISTERED = True
    return onnx2torch


def _register_extra_converters() -> None:
    """Reductions with ``axes`` as a constant input (opset 18; ReduceMax/Min also 20) and GlobalMaxPool."""
    import torch

    from onnx2torch.node_converters.reduce import OnnxReduceStaticAxes
    from onnx2torch.node_converters.registry import _CONVERTER_REGISTRY, OperationDescription, add_converter
    from onnx2torch.utils.common import OnnxMapping, OperationConverterResult, get_const_value

    def convert_reduce(node, graph):
        axes = None
        if len(node.input_values) > 1 and node.input_values[1]:
            axes = [int(a) for a in np.asarray(get_const_value(node.input_values[1], graph)).reshape(-1)]
        if not axes and node.attributes.get("noop_with_empty_axes", 0):
            raise ConversionError(f"{node.operation_type} with noop_with_empty_axes is not supported")
        module = OnnxReduceStaticAxes(operation_type=node.operation_type, axes=axes or None,
                                      keepdims=node.attributes.get("keepdims", 1))
        return OperationConverterResult(torch_module=module,
                                        onnx_mapping=OnnxMapping(inputs=(node.input_values[0],),
                                                                 outputs=node.output_values))

    class GlobalMaxPool(torch.nn.Module):
        """ONNX GlobalMaxPool: the maximum over every spatial axis, kept as size-1 axes."""

        def forward(self, x):
            return torch.amax(x, dim=tuple(range(2, x.dim())), keepdim=True)

    def convert_global_max_pool(node, graph):
        del graph
        return OperationConverterResult(torch_module=GlobalMaxPool(),
                                        onnx_mapping=OnnxMapping(inputs=(node.input_values[0],),
                                                                 outputs=node.output_values))

    if OperationDescription(domain="", operation_type="GlobalMaxPool", version=1) not in _CONVERTER_REGISTRY:
        add_converter(operation_type="GlobalMaxPool", version=1)(convert_global_max_pool)

    wanted = [(op, 18) for op in ("ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd", "ReduceL1", "ReduceL2",
                                  "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare")]
    wanted += [("ReduceMax", 20), ("ReduceMin", 20)]
    for op, version in wanted:
        if OperationDescription(domain="", operation_type=op, version=version) not in _CONVERTER_REGISTRY:
            add_converter(operation_type=op, version=version)(convert_reduce)


# ----------------------------------------------------------------------------- graph pre-pass


def extract_to(model, input_name: str, output_name: str):
    """The sub-graph from ``input_name`` to ``output_name`` (an ``onnx.ModelProto``), one output only."""
    import onnx
    from onnx.utils import Extractor

    if output_name not in {o.name for o in model.graph.output}:
        # an internal tensor: Extractor needs it known; shape inference gives it a value_info
        model = onnx.shape_inference.infer_shapes(model)
    sub = Extractor(model).extract_model([input_name], [output_name])
    sub.metadata_props.extend(model.metadata_props)
    return sub


# ----------------------------------------------------------------------------- the differentiable model


@dataclass
class TorchLogits:
    """A converted model returning ``[batch, 12]`` class logits, checked against ONNX Runtime.

    Attributes
    ----------
    module : torch.nn.Module
        ``module(x)`` with ``x`` float32 ``(B, 4, L)`` returns ``(B, 12)`` logits.
    target_name : str
        The ONNX tensor differentiated.
    target_source : str
        Why that tensor (``logits output``, ``pre-sigmoid``, ``prediction output (logits)``,
        ``prediction output (probabilities, clipped logit)``).
    max_abs_diff : float
        Largest |torch - ONNX Runtime| on the probe batch (on the target tensor).
    tolerance : float
        The bound it was checked against.
    """

    module: object
    target_name: str
    target_source: str
    max_abs_diff: float
    tolerance: float
    notes: list[str] = field(default_factory=list)
    gradient_check_median_rel_error: float | None = None

    def as_dict(self) -> dict:
        return {"converter": f"onnx2torch {_onnx2torch_version()} + motifbench pre-pass",
                "target_name": self.target_name, "target_source": self.target_source,
                "max_abs_diff_vs_onnxruntime": self.max_abs_diff, "tolerance": self.tolerance,
                "gradient_check_median_rel_error": self.gradient_check_median_rel_error, "notes": self.notes}


def _onnx2torch_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("onnx2torch")
    except PackageNotFoundError:
        return "unknown"


def _choose_target(model, output_name: str, logits_output: str | None, output_kind: str) -> tuple[str, str, bool]:
    """(tensor name, source, apply clipped logit) for the logit tensor to differentiate."""
    if logits_output:
        return logits_output, "logits output", False
    producer = {o: n for n in model.graph.node for o in n.output}.get(output_name)
    if output_kind == "logits":
        return output_name, "prediction output (logits)", False
    if producer is not None and producer.op_type == "Sigmoid":
        return producer.input[0], "pre-sigmoid", False
    return output_name, "prediction output (probabilities, clipped logit)", True


def _graph_input(model) -> str:
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    if len(names) != 1:
        raise ConversionError(f"expected one graph input, found {names}")
    return names[0]


def _fixed_batch(model, input_name: str) -> int | None:
    inp = next(i for i in model.graph.input if i.name == input_name)
    dims = inp.type.tensor_type.shape.dim
    return dims[0].dim_value if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0 else None


def _wrap(fx_module, clip_logit: bool, eps: float, fixed_batch: int | None):
    import torch

    class _Logits(torch.nn.Module):
        """Converted graph -> ``(B, 12)`` logits; pads to a fixed batch when the graph has one."""

        def __init__(self):
            super().__init__()
            self.graph_module = fx_module

        def _one(self, x):
            out = self.graph_module(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            out = out.reshape(out.shape[0], -1)
            if clip_logit:
                out = torch.logit(out.clamp(eps, 1 - eps))
            return out

        def forward(self, x):
            if fixed_batch is None or x.shape[0] == fixed_batch:
                return self._one(x)
            parts = []
            for start in range(0, x.shape[0], fixed_batch):
                chunk = x[start:start + fixed_batch]
                n = chunk.shape[0]
                if n < fixed_batch:
                    chunk = torch.cat([chunk, chunk.new_zeros((fixed_batch - n, *chunk.shape[1:]))])
                parts.append(self._one(chunk)[:n])
            return torch.cat(parts)

    wrapped = _Logits().eval()
    wrapped.fixed_batch = fixed_batch  # methods that must run one graph call per forward read it
    return wrapped


#: Converted modules kept per (file content, settings, probe): re-evaluating a model (and the randomisation
#: check's randomised copies, the same bytes each time) converts and checks it once per process.
_CONVERTED: OrderedDict = OrderedDict()
CONVERTED_KEPT = 5  # one model and the randomisation check's four copies


def convert_model(path: str | Path, length: int, output_name: str | None = None, logits_output: str | None = None,
                  output_kind: str = "probabilities", probe: np.ndarray | None = None, eps: float = 1e-6,
                  atol: float = CHECK_ATOL, rtol: float = CHECK_RTOL) -> TorchLogits:
    """:func:`convert_and_check`, or its earlier result for the same file bytes, settings and probe.

    The conversion and both checks are deterministic functions of those, so a kept result is what a new
    conversion would give (record values included); a failed conversion is not kept.
    """
    import hashlib

    try:
        content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        content = None  # convert_and_check reports the unreadable file
    probe_key = None if probe is None else (probe.shape, hashlib.sha256(
        np.ascontiguousarray(probe, dtype=np.float32).tobytes()).hexdigest())
    key = (content, length, output_name, logits_output, output_kind, probe_key, eps, atol, rtol)
    if content is not None and key in _CONVERTED:
        _CONVERTED.move_to_end(key)
        return _CONVERTED[key]
    converted = convert_and_check(path, length, output_name, logits_output, output_kind, probe, eps, atol, rtol)
    if content is not None:
        _CONVERTED[key] = converted
        while len(_CONVERTED) > CONVERTED_KEPT:
            _CONVERTED.popitem(last=False)
    return converted


def convert_and_check(path: str | Path, length: int, output_name: str | None = None,
                      logits_output: str | None = None, output_kind: str = "probabilities",
                      probe: np.ndarray | None = None, eps: float = 1e-6, atol: float = CHECK_ATOL,
                      rtol: float = CHECK_RTOL) -> TorchLogits:
    """Convert an ONNX file to a torch module returning class logits, checked against ONNX Runtime.

    Parameters
    ----------
    path : the ``.onnx`` file.
    length : L, the input length.
    output_name : the prediction output (default: the first graph output).
    logits_output : a ``[batch, 12]`` logits tensor to differentiate instead (graph output or internal).
    output_kind : ``"probabilities"`` or ``"logits"``: what ``output_name`` holds.
    probe : float32 ``(P, 4, L)`` one-hot sequences for the check (default: 16 random ones).
    eps : clip for ``logit(p)`` when only probabilities are available.

    Raises
    ------
    ConversionError
        with the reason when the converter fails, the module does not run, or its output differs from
        ONNX Runtime by more than ``atol + rtol * max|reference|``.
    """
    import onnx
    import onnxruntime as ort
    import torch

    try:
        model = onnx.load(str(path))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a conversion failure
        raise ConversionError(f"could not read the ONNX file: {exc}") from exc
    input_name = _graph_input(model)
    output_name = output_name or model.graph.output[0].name
    target, source, clip = _choose_target(model, output_name, logits_output, output_kind)
    try:
        sub = extract_to(model, input_name, target)
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"could not extract the sub-graph to {target!r}: {exc}") from exc
    fixed = _fixed_batch(sub, input_name)
    onnx2torch = import_onnx2torch()
    try:
        fx_module = onnx2torch.convert(prepare_graph(sub, length))
    except ConversionError:
        raise
    except Exception as exc:  # noqa: BLE001 - the converter's own errors name the op
        raise ConversionError(f"onnx2torch could not convert the graph: {type(exc).__name__}: {exc}") from exc
    module = _wrap(fx_module, clip, eps, fixed)

    if probe is None:
        rng = np.random.default_rng(0)
        probe = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (16, length))].transpose(0, 2, 1).copy()
    probe = np.ascontiguousarray(probe, dtype=np.float32)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(sub.SerializeToString(), options, providers=["CPUExecutionProvider"])

    def reference(batch: np.ndarray) -> np.ndarray:
        """ONNX Runtime's target tensor as ``(B, classes)`` float64 logits (padded to a fixed batch)."""
        refs = []
        step = fixed or len(batch)
        for start in range(0, len(batch), step):
            chunk = np.ascontiguousarray(batch[start:start + step], np.float32)
            n = len(chunk)
            if fixed and n < fixed:
                chunk = np.concatenate([chunk, np.zeros((fixed - n, *chunk.shape[1:]), np.float32)])
            refs.append(session.run([target], {input_name: chunk})[0][:n])
        out = np.concatenate(refs).reshape(len(batch), -1).astype(np.float64)
        if clip:
            p = np.clip(out, eps, 1 - eps)
            out = np.log(p) - np.log1p(-p)
        return out

    ref = reference(probe)
    try:
        with torch.no_grad():
            got = module(torch.from_numpy(probe)).double().numpy()
    except Exception as exc:  # noqa: BLE001
        raise ConversionError(f"the converted module failed to run: {type(exc).__name__}: {exc}") from exc
    if got.shape != ref.shape or ref.shape[1] != N_CLASSES:
        raise ConversionError(f"converted output shape {list(got.shape)} vs ONNX Runtime {list(ref.shape)}; "
                              f"expected [batch, {N_CLASSES}]")
    diff = float(np.max(np.abs(got - ref))) if ref.size else 0.0
    tolerance = float(atol + rtol * np.max(np.abs(ref)))
    if not np.isfinite(diff) or diff > tolerance:
        raise ConversionError(f"converted module differs from ONNX Runtime by {diff:.3g} (tolerance {tolerance:.3g}) "
                              f"on {target!r}; gradients would not be the model's")
    for p in module.parameters():
        p.requires_grad_(False)
    from evaluator.gradient_check import directional_check

    try:
        passed, rel = directional_check(module, reference, probe)
    except Exception as exc:  # noqa: BLE001 - a backward pass that fails is a gradient we cannot use
        raise ConversionError(f"the converted module's backward pass failed: {type(exc).__name__}: {exc}") from exc
    if not passed:
        raise ConversionError(f"the converted module's gradients disagree with ONNX Runtime's finite differences "
                              f"(median relative error {rel:.3g} on {target!r}); gradients would not be the model's")
    return TorchLogits(module, target, source, diff, tolerance, gradient_check_median_rel_error=rel)
