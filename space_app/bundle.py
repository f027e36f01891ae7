"""A ready-to-push Hugging Face Space folder: this app plus the motifbench packages it imports.

A Space installs ``requirements.txt`` and runs ``python app.py`` from its own
repository, which does not contain motifbench. The bundle therefore copies
``app.py``, ``README.md`` (the Space YAML) and ``requirements.txt`` to the
folder root and the packages the service needs (``motifbench``, ``benchmark``,
``evaluator``, ``submissions``, ``space_app``: no ``baselines``, so no torch)
beside them; ``app.py`` finds them because a script's folder is on its import
path, and the worker (``python -m motifbench worker``) finds them from the
working directory.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

from benchmark.errors import MotifbenchError

PACKAGES = ("motifbench", "benchmark", "evaluator", "submissions", "space_app")
SPACE_FILES = ("app.py", "README.md", "requirements.txt")
_KEEP = re.compile(r".*\.(py|json|md|txt|css|onnx|png)$")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def bundle(out: str | Path, dataset_repo: str | None = None, source: Path | None = None) -> Path:
    """Write the Space into ``out`` (which must not exist or be empty); returns ``out``.

    Parameters
    ----------
    out : destination folder.
    dataset_repo : Hub dataset id (``ORG/motifbench``) written into the README's ``datasets:`` tag.
    source : the motifbench source tree (default: the one this module was imported from).
    """
    out = Path(out)
    source = source or Path(__file__).resolve().parent.parent
    if out.exists() and any(out.iterdir()):
        raise MotifbenchError(f"{out} is not empty; give a new folder for the Space bundle")
    if dataset_repo is not None and not _REPO_ID.match(dataset_repo):
        raise MotifbenchError(f"--dataset-repo must look like ORG/NAME, got {dataset_repo!r}")
    for package in PACKAGES:
        if not (source / package / "__init__.py").is_file():
            raise MotifbenchError(f"{source / package} is missing: bundle from a motifbench source checkout")
    out.mkdir(parents=True, exist_ok=True)
    for name in SPACE_FILES:
        shutil.copy2(source / "space_app" / name, out / name)
    for package in PACKAGES:
        for path in sorted((source / package).rglob("*")):
            rel = path.relative_to(source)
            if path.is_file() and _KEEP.match(path.name) and "__pycache__" not in rel.parts:
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, out / rel)
    if dataset_repo:
        readme = out / "README.md"
        text = re.sub(r"(datasets:\n  - )\S+", rf"\g<1>{dataset_repo}", readme.read_text(), count=1)
        readme.write_text(text)
    return out
