"""Where motifbench keeps local state (datasets, queue, results, runs).

One environment variable, ``MOTIFBENCH_HOME``, moves everything, so tests and
services can run against a temporary home without touching the user's cache.
"""
from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """The data home: ``$MOTIFBENCH_HOME`` or ``$XDG_CACHE_HOME/motifbench`` (``~/.cache/motifbench``)."""
    env = os.environ.get("MOTIFBENCH_HOME")
    if env:
        return Path(env).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(cache) / "motifbench").resolve()


def datasets_dir() -> Path:
    """Dataset repo folders built locally (one folder holds every config)."""
    return data_home() / "datasets"


def default_dataset_dir() -> Path:
    """The local dataset repo folder that commands use when none is given."""
    return datasets_dir() / "motifbench"
