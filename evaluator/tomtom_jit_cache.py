"""numba's compile cache for the Tomtom kernels: is it warm, and warming it without making anyone wait.

The kernels (:mod:`evaluator.tomtom_jit`, :mod:`evaluator.tomtom_jit_random`, and the
classification bootstrap's :mod:`evaluator.bootstrap_jit`, which shares this cache logic)
are compiled once per installation into numba's cache (``__pycache__`` or
``$NUMBA_CACHE_DIR``); compiling takes 10 s or more. Until :func:`ready`,
``tomtom()`` runs the NumPy kernels (the same numbers) and
:func:`start_warm_up` compiles in a background process;
``python -m evaluator.tomtom_warm_up`` does it in the foreground (the
install commands run it right after ``pip install``). No caller ever compiles:
:func:`evaluator.tomtom_warm_up.warm_up` compiles through the real callers, so
every argument type (read-only arrays included) is cached before the marker
says ready. This module imports nothing of the evaluator (the kernels' callers
import it).
"""
from __future__ import annotations

import threading
from pathlib import Path

#: The files whose kernels the ready marker vouches for (any edit makes numba recompile).
KERNEL_FILES = ("tomtom_jit.py", "tomtom_jit_pvalues.py", "tomtom_jit_random.py", "bootstrap_jit.py")  # the last: classification bootstrap

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
_warm_up_lock = threading.Lock()


def start_warm_up() -> None:
    """Compile the kernels into numba's cache in a background process (once per process, whichever thread asks)."""
    global _warm_up_started
    with _warm_up_lock:
        if _warm_up_started:
            return
        _warm_up_started = True
    import os
    import subprocess
    import sys

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    try:
        subprocess.Popen([sys.executable, "-m", "evaluator.tomtom_warm_up"], cwd=root, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        pass


def set_ready(flag: bool) -> None:
    """Say (for this process) whether the compiled kernels are to be used: :func:`ready`'s answer until changed."""
    global _ready
    _ready = bool(flag)


def write_ready_marker() -> Path:
    """Record that numba's cache holds every kernel (after a warm-up ran them all); returns the marker."""
    marker = _ready_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("compiled\n")
    return marker
