"""Where the evaluated ONNX file came from, for the record's ``model`` section.

The evaluator only ever opens ONNX files. A caller that converted something
else first (``motifbench evaluate`` on a baseline run folder, see
:mod:`motifbench.checkpoints`) says so with a :class:`ModelSource` of kind
``"baseline-checkpoint"``; otherwise :func:`onnx_source` describes the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import MotifbenchError
from benchmark.files import file_sha256

ONNX = "onnx"
BASELINE_CHECKPOINT = "baseline-checkpoint"


@dataclass(frozen=True)
class ModelSource:
    """Provenance of the evaluated ONNX file.

    Attributes
    ----------
    name : str
        Model name for the record.
    given_path : str
        What the user named (an ``.onnx`` file or a run folder).
    onnx_path : str
        The ONNX file actually evaluated.
    kind : {"onnx", "baseline-checkpoint"}
    checkpoint_sha256 : str
        sha256 of the file the user gave (the weights for a checkpoint).
    framework : str, optional
    spec : dict, optional
        A baseline's ``spec.json``.
    """

    name: str
    given_path: str
    onnx_path: str
    kind: str
    checkpoint_sha256: str
    framework: str | None = None
    spec: dict | None = None


def onnx_source(path: str | Path) -> ModelSource:
    """The :class:`ModelSource` of an ONNX file given as is.

    Raises
    ------
    MotifbenchError
        ``path`` is missing or a folder (checkpoints must be exported to ONNX first).
    """
    path = Path(path)
    if path.is_dir():
        raise MotifbenchError(
            f"{path} is a folder; the evaluator takes one .onnx file. Export a baseline run folder first "
            "(`motifbench evaluate RUN_FOLDER` does it, or baselines.export.export_checkpoint)")
    if not path.is_file():
        raise MotifbenchError(f"model {path} does not exist (expected an .onnx file)")
    from evaluator.naming import default_model_name

    return ModelSource(name=default_model_name(path), given_path=str(path), onnx_path=str(path), kind=ONNX,
                       checkpoint_sha256=file_sha256(path))
