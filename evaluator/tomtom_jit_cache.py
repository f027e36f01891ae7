"""numba's compile cache for the Tomtom kernels: is it warm, and warming it without making anyone wait.

The kernels (:mod:`evaluator.tomtom_jit`, :mod:`evaluator.tomtom_jit_random`, and the
classification bootstrap's :mod:`evaluator.bootstrap_jit`, which shares this cache logic)
are compiled once per installation into numba's cache (``__pycache__`` or
``$NUMBA_CACHE_DIR``); compiling takes 10 s or more. Until :func:`ready`,
``tomtom()`` runs the NumPy kernels (the same numbers) and
:func:`start_warm_up` compiles in a background process;
``python -m evaluator.tomtom_jit_cache`` does it in the foreground (the
install commands run it right after ``pip install``). No caller ever compiles:
:func:`warm_up` compiles through the real callers, so every argument type
(read-only arrays included) is cached before the marker says ready.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: The files whose kernels the ready marker vouches for (any edit makes numba recompile).
KERNEL_FILES = ("tomtom_jit.py", "tomtom_jit_random.py", "bootstrap_jit.py")  # the last: classification bootstrap

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
    """Compile every kernel into numba's cache, then write the ready marker.

    The kernels are compiled through the real callers (:func:`evaluator.tomtom.tomtom`
    with both distances, restricted alignments and q-values, and
    :func:`evaluator.tomtom.best_strand_evalues`) on a small synthetic
    database, so every argument type they will ever see (read-only target
    arrays included: numba compiles a separate version per array flag) is in
    the cache, and no later caller compiles anything.
    """
    global _ready
    from evaluator.meme_io import MemeMotif
    from evaluator.tomtom import best_strand_evalues, tomtom
    from evaluator.tomtom_qvalues import MemeRandom

    rng = np.random.default_rng(0)
    targets = [MemeMotif(f"t{i}", "", rng.dirichlet(np.ones(4), size=5 + i % 4), 20) for i in range(60)]
    queries = [MemeMotif(f"q{i}", "", rng.dirichlet(np.ones(4), size=w), 20) for i, w in enumerate((4, 7))]
    was_ready, _ready = _ready, True  # run the compiled kernels (compiling them) rather than the NumPy ones
    try:
        for dist in ("ed", "pearson"):
            tomtom(queries, targets, dist=dist, thresh=None)  # q-values: 120 p-values per query (> 100)
            best_strand_evalues(queries, targets, dist=dist)
        tomtom(queries, targets, min_overlap=3, evalue=False, thresh=0.5)
        tomtom(queries, targets, internal=True)
        MemeRandom().random((3,))
        from evaluator.uncertainty import BootstrapSettings, classification_intervals

        labels = (rng.random((40, 2)) < 0.5).astype(int)
        for counts_dtype in (np.int8, np.int32):  # the narrow type, and the wide one large counts need
            classification_intervals(labels, rng.random((40, 2)), BootstrapSettings(resamples=10),
                                     counts=np.full((10, 40), 1, dtype=counts_dtype) * (1 if counts_dtype == np.int8
                                                                                          else 200))
    except BaseException:
        _ready = was_ready
        raise
    marker = _ready_marker()
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("compiled\n")


if __name__ == "__main__":  # python -m evaluator.tomtom_jit_cache: compile the kernels now (part of the install)
    import time

    from evaluator import tomtom_jit_cache  # the imported module, whose ready flag the callers read (not __main__'s)

    _start = time.perf_counter()
    tomtom_jit_cache.warm_up()
    print(f"Tomtom kernels compiled into numba's cache in {time.perf_counter() - _start:.0f} s "
          f"({tomtom_jit_cache._ready_marker()})")
