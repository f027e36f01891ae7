"""Checkpoints (safetensors + spec.json) and ONNX export per the submission contract.

The ONNX file is what the evaluator (and any outside submission) consumes:
input ``x`` float32 (batch, 4, L) with a dynamic batch axis; outputs
``probabilities`` (batch, 12), sigmoid applied (the declared main output),
``first_layer`` (batch, filters, L): the first conv layer after batch norm and
activation, before pooling, and ``logits`` (batch, 12): the same scores before
the sigmoid, named in the metadata so in-silico mutagenesis can difference
them (float32 probabilities saturate at 1 and turn many mutation effects into
exactly 0). The first layer's batch norm is folded into the conv kernel and
bias so the tap is one Conv + activation; everything is stored in one file.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from baselines.errors import BaselineError
from baselines.model import ZooModel, build_model
from baselines.zoo import ModelSpec
from evaluator.onnx_rules import FIRST_LAYER_OUTPUT, METADATA_LOGITS_OUTPUT, METADATA_OUTPUT_KIND, METADATA_TAP

INPUT_NAME = "x"
OUTPUT_NAME = "probabilities"
TAP_NAME = FIRST_LAYER_OUTPUT
LOGITS_NAME = "logits"
#: Graph outputs in order: the main (declared) output first.
OUTPUT_NAMES: tuple[str, ...] = (OUTPUT_NAME, TAP_NAME, LOGITS_NAME)
#: metadata_props keys the evaluator reads: the tap, what the main output holds, where the logits are.
META_TAP, META_OUTPUT_KIND, META_LOGITS_OUTPUT = METADATA_TAP, METADATA_OUTPUT_KIND, METADATA_LOGITS_OUTPUT
OPSET = 17
WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "spec.json"
ONNX_FILE = "model.onnx"


def fold_first_layer(model: ZooModel) -> nn.Conv1d:
    """The first conv with its (eval-mode) batch norm folded in.

    BN(conv(x)) = scale * conv(x) + shift with ``scale = gamma / sqrt(var + eps)``
    and ``shift = beta - mean * scale``, so the folded kernel is ``W * scale``
    (per output filter) with bias ``shift``.
    """
    conv, bn = model.first_conv, model.first_bn
    scale = bn.weight.detach() / torch.sqrt(bn.running_var.detach() + bn.eps)
    folded = nn.Conv1d(conv.in_channels, conv.out_channels, conv.kernel_size[0], padding=conv.padding, bias=True)
    with torch.no_grad():
        folded.weight.copy_(conv.weight.detach() * scale[:, None, None])
        folded.bias.copy_(bn.bias.detach() - bn.running_mean.detach() * scale)
    return folded.to(conv.weight.device)


class ExportModule(nn.Module):
    """x (batch, 4, L) -> (probabilities (batch, C), first_layer (batch, filters, L), logits (batch, C)); eval only."""

    def __init__(self, model: ZooModel) -> None:
        super().__init__()
        self.conv = fold_first_layer(model)
        self.activation = model.stem[2]
        self.body = model.body

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tap = self.activation(self.conv(x))
        logits = self.body(tap)
        return torch.sigmoid(logits), tap, logits


def export_onnx(model: ZooModel, path: Path | str, *, metadata: dict[str, str] | None = None) -> Path:
    """Write ``model`` as a single-file ONNX model (opset 17) and check it.

    ``metadata`` is stored as ONNX ``metadata_props`` next to the tap name, the
    main output's kind and the logits output's name, so a reader need not guess them.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = ExportModule(model).to("cpu").eval()
    example = torch.zeros(2, 4, model.length)
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter's note about not constant-folding strided Slice nodes is harmless
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        # dynamo=False is the legacy TorchScript exporter: deprecated but fast (~0.5 s vs ~4 s) and
        # exact here; the dynamo exporter also produces a valid file (see docs/baselines.md)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            module,
            (example,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes={name: {0: "batch"} for name in (INPUT_NAME, *OUTPUT_NAMES)},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load(str(path), load_external_data=False)
    external = [t.name for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise BaselineError(f"ONNX export of {path} produced external data for {external[:3]}; expected one file")
    props = {META_TAP: TAP_NAME, META_OUTPUT_KIND: "probabilities", META_LOGITS_OUTPUT: LOGITS_NAME,
             **(metadata or {})}
    del proto.metadata_props[:]
    for key, value in props.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))
    return path


def save_weights(model: ZooModel, path: Path | str) -> Path:
    """All parameters and BN buffers as safetensors (no pickle)."""
    path = Path(path)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path))
    return path


def _resolve_checkpoint(run_dir_or_safetensors: Path | str, spec_json: Path | str | None) -> tuple[Path, Path]:
    target = Path(run_dir_or_safetensors)
    if target.is_dir():
        weights = target / WEIGHTS_FILE
        spec_path = Path(spec_json) if spec_json else target / SPEC_FILE
    else:
        weights = target
        spec_path = Path(spec_json) if spec_json else target.with_name(SPEC_FILE)
    if not weights.is_file():
        raise BaselineError(f"no weights file at {weights}; expected a run folder or a .safetensors file")
    if not spec_path.is_file():
        raise BaselineError(f"no spec.json at {spec_path}; pass spec_json= (the run's spec.json)")
    return weights, spec_path


def load_checkpoint(run_dir_or_safetensors: Path | str, spec_json: Path | str | None = None) -> ZooModel:
    """Rebuild a trained model (eval mode) from safetensors + the spec.json written beside it.

    The architecture comes from the full spec stored in spec.json, not from the
    registry, so custom or later-renamed specs still load.
    """
    weights, spec_path = _resolve_checkpoint(run_dir_or_safetensors, spec_json)
    record = read_spec_json(spec_path)
    try:
        spec = ModelSpec.from_dict(record["spec"])
        model = build_model(spec, record["activation"], int(record["input_length"]))
    except KeyError as exc:
        raise BaselineError(f"{spec_path} lacks field {exc}; expected a motifbench baseline spec.json") from exc
    try:
        state = load_file(str(weights))
    except Exception as exc:  # safetensors' own error type for a truncated or foreign file
        raise BaselineError(f"{weights} is not a readable safetensors file ({exc}); retrain the run") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise BaselineError(f"weights in {weights} do not fit the spec in {spec_path}: {exc}") from exc
    return model.eval()


def read_json_object(path: Path | str) -> dict[str, Any]:
    """A run's JSON record (spec.json, an evaluator record) as a dict; a one-line BaselineError naming
    the file when it is missing, unreadable, not JSON (a truncated write) or not a JSON object."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise BaselineError(f"no {path.name} at {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path} is not valid JSON ({exc}); restore it or remove the run folder") from None
    if not isinstance(record, dict):
        raise BaselineError(f"{path} holds a JSON {type(record).__name__}, not a record (a JSON object)")
    return record


def read_spec_json(path: Path | str) -> dict[str, Any]:
    """A run's spec.json as a dict, with a clear error when it is missing, not JSON or not an object."""
    return read_json_object(path)


def export_checkpoint(
    run_dir_or_safetensors: Path | str,
    spec_json: Path | str | None = None,
    out_onnx: Path | str | None = None,
) -> Path:
    """Turn a safetensors + spec.json checkpoint into ``model.onnx`` (the evaluator's input).

    Parameters
    ----------
    run_dir_or_safetensors : path
        A run folder (holding model.safetensors and spec.json) or a .safetensors file.
    spec_json : path, optional
        The spec.json; default: beside the weights.
    out_onnx : path, optional
        Where to write; default: ``model.onnx`` beside the weights.
    """
    weights, spec_path = _resolve_checkpoint(run_dir_or_safetensors, spec_json)
    model = load_checkpoint(weights, spec_path)
    record = read_spec_json(spec_path)
    out = Path(out_onnx) if out_onnx else weights.with_name(ONNX_FILE)
    return export_onnx(model, out, metadata=onnx_metadata(record))


def onnx_metadata(record: dict[str, Any]) -> dict[str, str]:
    """The few run facts worth carrying inside the ONNX file."""
    keys = ("zoo_name", "activation", "input_length", "seed", "motifbench_version")
    return {f"motifbench.{k}": str(record[k]) for k in keys if k in record}
