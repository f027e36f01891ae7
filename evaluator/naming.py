"""What a model is called when the user does not say: the record's ``model.name`` and the default output file.

``runs/cnn-25-relu-seed0/model.onnx`` is the model ``cnn-25-relu-seed0``, not
``model``: export scripts name the file generically and the folder
specifically, so a generic file stem defers to its folder's name.
"""
from __future__ import annotations

import re
from pathlib import Path

#: File stems that say nothing about the model.
GENERIC_STEMS = frozenset({"model", "models", "best", "final", "last", "checkpoint", "net", "network", "export",
                           "exported", "onnx", "weights"})
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def default_model_name(path: str | Path) -> str:
    """The model's name from its path: the file stem, or the folder's name when the stem is generic.

    Parameters
    ----------
    path : str or Path
        An ``.onnx`` file or a baseline run folder.
    """
    path = Path(path)
    if path.is_dir() or not path.suffix:
        return path.resolve().name or "model"
    folder = path.resolve().parent.name
    if path.stem.lower() in GENERIC_STEMS and folder:
        return folder
    return path.stem


def default_record_path(name: str, folder: str | Path = "results") -> Path:
    """``results/<name>.json`` with the name made safe for a file name."""
    safe = _UNSAFE.sub("_", name).strip("._") or "model"
    return Path(folder) / f"{safe}.json"
