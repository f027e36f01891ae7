"""Baseline checkpoints -> ONNX, before a command reaches the evaluator or the queue.

The evaluator and the submissions service only ever see ONNX files. A user may
still name a baseline run folder (``spec.json`` + ``*.safetensors``) on the
command line: the umbrella CLI, which alone may import every part, exports it
with :func:`baselines.export.export_checkpoint` and hands the ONNX file on with
its provenance (:class:`evaluator.model_source.ModelSource`). Nothing pickled
is ever loaded.
"""
from __future__ import annotations

import argparse
import json
from contextlib import ExitStack
from pathlib import Path

from benchmark.errors import MotifbenchError
from benchmark.files import file_sha256
from evaluator.model_source import BASELINE_CHECKPOINT, ModelSource


def is_run_folder(path: str | Path) -> bool:
    """True for a baseline run folder: ``spec.json`` and at least one ``*.safetensors`` file."""
    path = Path(path)
    return path.is_dir() and (path / "spec.json").is_file() and any(path.glob("*.safetensors"))


def export_run_folder(path: str | Path, work_dir: str | Path) -> ModelSource:
    """Export a baseline run folder to ``work_dir/<folder name>.onnx``.

    Parameters
    ----------
    path : path
        The run folder (``spec.json`` + ``*.safetensors``).
    work_dir : path
        Where the ONNX file is written (created if needed).

    Returns
    -------
    ModelSource
        Kind ``"baseline-checkpoint"``, with the weights' sha256 and the spec.

    Raises
    ------
    MotifbenchError
        Not a run folder, unreadable spec, or the export failed.
    """
    from baselines.export import export_checkpoint

    path = Path(path)
    if not is_run_folder(path):
        raise MotifbenchError(f"{path} is not a baseline run folder (expected spec.json and a .safetensors file)")
    try:
        spec = json.loads((path / "spec.json").read_text())
    except (OSError, ValueError) as exc:
        raise MotifbenchError(f"{path / 'spec.json'} is not readable JSON: {exc}") from exc
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    onnx_path = work_dir / f"{path.name}.onnx"
    try:
        produced = export_checkpoint(path, out_onnx=onnx_path)
    except MotifbenchError:
        raise
    except Exception as exc:
        raise MotifbenchError(f"exporting baseline checkpoint {path} to ONNX failed: {exc}") from exc
    if produced is not None and Path(str(produced)).suffix == ".onnx":
        onnx_path = Path(str(produced))
    if not onnx_path.is_file():
        raise MotifbenchError(f"exporting {path} did not produce {onnx_path}")
    name = None
    if isinstance(spec, dict):
        name = spec.get("name") or "-".join(str(spec[k]) for k in ("zoo_name", "activation") if spec.get(k)) or None
    weights = sorted(path.glob("*.safetensors"))[0]
    return ModelSource(name=str(name or path.name), given_path=str(path), onnx_path=str(onnx_path),
                       kind=BASELINE_CHECKPOINT, checkpoint_sha256=file_sha256(weights), framework="pytorch",
                       spec=spec if isinstance(spec, dict) else None)


def convert_model_argument(args: argparse.Namespace, stack: ExitStack) -> None:
    """If ``args.model`` names a run folder, export it and point ``args.model`` at the ONNX file.

    The export goes beside the command's output when it has one (``evaluate --out``,
    so the record's ``onnx`` artifact sits next to it), else into a temporary
    folder that ``stack`` removes when the command ends. ``args.model_source``
    carries the provenance for the record and the queue.
    """
    model = getattr(args, "model", None)
    if model is None or not Path(model).is_dir():
        return
    if not is_run_folder(model):
        raise MotifbenchError(f"{model} is a folder but not a baseline run folder (expected spec.json and a "
                              ".safetensors file)")
    out = getattr(args, "out", None)
    if isinstance(out, Path) and getattr(args, "command", None) == "evaluate":
        work_dir = out if out.suffix != ".json" and out.is_dir() else out.parent  # where evaluate writes
    else:
        import tempfile

        work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="motifbench-export-")))
    source = export_run_folder(model, work_dir)
    args.model = Path(source.onnx_path)
    args.model_source = source
