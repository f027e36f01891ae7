"""numba's compile cache for the Tomtom kernels: is it warm, and warming it without making anyone wait.

The kernels (:mod:`evaluator.tomtom_jit`, :mod:`evaluator.tomtom_jit_random`)
are compiled once per installation into numba's cache (``__pycache__`` or
``$NUMBA_CACHE_DIR``); compiling takes 10 s or more. Until :func:`ready`,
``tomtom()`` runs the NumPy kernels (the same numbers) and
:func:`start_warm_up` compiles in a background process;
``python -c "from evaluator.tomtom_jit_cache import warm_up; warm_up()"``
does it in the foreground (e.g. right after installing).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: The files whose kernels the ready marker vouches for (any edit makes numba recompile).
KERNEL_FILES = ("tomtom_jit.py", "tomtom_jit_random.py")

def _ready_marker() -> Path:
    """A file saying this module's kernels are compiled in numba's cache (keyed by source and versions)."""
    import hashlib
    import os
    import platform

    import numba

    here = Path(__file__).parent
    source = b"".join((here / name).read_bytes() for name in KERNEL_FILES)
    # numba's cache index is stamped with each source file's mtime and size: a file rewritten with
    # the same text (a git checkout) makes numba recompile, so the marker must not outlive that either
    stamps = "".join(f"{(here / name).stat().st_mtime}:{(here / name).stat().st_size};" for name in KERNEL_FILES)
    key = hashlib.sha1(source + stamps.encode() + numba.__version__.encode()
                       + platform.python_version().encode()).hexdigest()[:16]
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    folder = Path(cache_dir) if cache_dir else Path(__file__).with_name("__pycache__")
    return folder / f"motifbench-tomtom-jit-{key}.ready"


_ready = False


def ready() -> bool:
    """Whether the kernels load from numba's cache (else a first call would compile them, ~10 s or more).

    Once true it stays true for the process (the check hashes the kernel
    sources, so it is not repeated per query).
    """
    global _ready
    if not _ready:
        try:
            _ready = _ready_marker().exists()
        except OSError:
            return False
    return _ready


_warm_up_started = False


def start_warm_up() -> None:
    """Compile the kernels into numba's cache in a background process (once per process)."""
    global _warm_up_started
    if _warm_up_started:
        return
    _warm_up_started = True
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    try:
        subprocess.Popen([sys.executable, "-c", "from evaluator.tomtom_jit_cache import warm_up; warm_up()"], cwd=root, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        pass


def warm_up() -> None:
    """Compile every kernel (into numba's cache) on tiny inputs, then write the ready marker."""
    from evaluator.tomtom_jit import (BINS, MEDIAN_BINS, alignment_pvalues, best_alignments, ed_rows,
                                      shift_scale_hist)
    from evaluator.tomtom_jit_random import bootstrap_mse, mt_bootstrap_tables, mt_doubles

    rng = np.random.default_rng(0)
    cols = rng.dirichlet(np.ones(4), size=60)
    query = rng.dirichlet(np.ones(4), size=5)
    scores = np.empty((5, 60))
    ed_rows(query, np.ascontiguousarray(cols.T), scores)
    lengths = np.full(10, 6, dtype=np.int64)
    starts = np.arange(10, dtype=np.int64) * 6
    pstarts = starts + 4 * np.arange(1, 11, dtype=np.int64)
    pad_pos = (np.arange(60) + 4 * (np.arange(60) // 6 + 1)).astype(np.int64)
    z_pad = np.zeros((5, 60 + 4 * 11), dtype=np.int16)
    hist = np.empty((5, BINS + 1), dtype=np.int64)
    _, _, k0 = shift_scale_hist(scores, -1.5, 0.0, pad_pos, z_pad, hist, np.empty(MEDIAN_BINS, np.int64),
                                np.empty(60, np.int64), np.empty(60))
    score, off, ov = (np.empty(10, dtype=np.int64) for _ in range(3))
    best_alignments(z_pad, pstarts, lengths, 1, False, score, off, ov, np.empty(z_pad.shape[1], np.int64))
    alignment_pvalues(hist, 60, k0, np.array([6], np.int64), np.zeros(10, np.int64), score + 5 * k0, 2, np.empty(10))
    key = np.arange(624, dtype=np.uint64)
    table = np.empty((2, 11), dtype=np.uint16)
    pos = mt_bootstrap_tables(key, 624, 10, 5, table)
    mt_doubles(key, pos, np.empty(3))
    bootstrap_mse(table, np.arange(3, dtype=np.int64), np.array([0.1, 0.2, 0.3]), 1.0, 5.0)
    marker = _ready_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("compiled\n")
