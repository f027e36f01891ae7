"""The public copy of a result record: what anyone may download, with no server paths in it.

The evaluator's record notes where the model and the dataset were read from
(``model.given_path``, ``dataset.source``): on the server those are absolute
paths into the data home, which say nothing useful to a reader and tell an
attacker how the machine is laid out. Every record that leaves the server
(``results/<id>.json``, the Space's JSON download and detail view) goes
through :func:`public_record`: any string that is an absolute file-system
path becomes its last component (``/srv/home/submissions/checkpoints/ab/ab…onnx``
-> ``ab….onnx``). A string counts as a server path when it sits under a key
that holds paths (:data:`PATH_KEYS`) and is absolute, or when it starts with
a folder of this machine (the data home, the user's home, the temp folder,
the working directory). Tensor names such as ``/conv/Conv_output_0`` (what
torch exports) and Hub ids (``org/name``) stay as they are.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any

#: Record keys whose absolute values are file-system paths.
PATH_KEYS = frozenset({"given_path", "source", "path", "onnx_path", "data_source", "out_dir", "checkpoint",
                       "model_path", "data", "file", "dir"})
_WINDOWS_ABSOLUTE = re.compile(r"^[A-Za-z]:[\\/]")


def _absolute(value: str) -> bool:
    return value.startswith(("/", "~/", "file:", "\\\\")) or bool(_WINDOWS_ABSOLUTE.match(value))


def _machine_roots() -> tuple[str, ...]:
    roots = {os.environ.get("MOTIFBENCH_HOME", ""), os.path.expanduser("~"), tempfile.gettempdir(), os.getcwd(),
             "/tmp", "/home", "/root", "/srv", "/data", "/var", "/opt", "/mnt", "/work", "/usr"}
    try:
        from benchmark.paths import data_home

        roots.add(str(data_home()))
    except Exception:  # the walk must never fail
        pass
    return tuple(sorted({str(Path(r)) + "/" for r in roots if r and r != "/"}, key=len, reverse=True))


def is_server_path(value: str, key: object = None) -> bool:
    """True when ``value`` names a file or folder of this machine (see the module docstring)."""
    if not value or not _absolute(value):
        return False
    if key in PATH_KEYS or value.startswith(("file:", "~/")) or _WINDOWS_ABSOLUTE.match(value):
        return True
    return value.startswith(_machine_roots())


def _strip(value: str) -> str:
    name = re.split(r"[\\/]", value.rstrip("/\\"))[-1]
    return name or "(local)"


def public_record(record: Any) -> Any:
    """A copy of ``record`` with every absolute path string replaced by its base name (iterative walk)."""
    if not isinstance(record, (dict, list)):
        return _strip(record) if isinstance(record, str) and is_server_path(record) else record
    roots = _machine_roots()
    root: Any = {} if isinstance(record, dict) else []
    stack = [(record, root)]
    while stack:
        src, dst = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, value in items:
            if isinstance(value, (dict, list)):
                child: Any = {} if isinstance(value, dict) else []
                stack.append((value, child))
            elif isinstance(value, str) and _absolute(value) and (
                    key in PATH_KEYS or value.startswith(roots) or is_server_path(value, key)):
                child = _strip(value)
            else:
                child = value
            if isinstance(dst, dict):
                dst[key] = child
            else:
                dst.append(child)
    return root
