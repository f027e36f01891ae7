"""Compile the Tomtom (and classification bootstrap) kernels into numba's cache: ``python -m evaluator.tomtom_warm_up``.

Run by the install and test commands, by :func:`evaluator.tomtom_jit_cache.start_warm_up`
in a background process, and by the warm fork server before it forks.
"""
from __future__ import annotations

import numpy as np

from evaluator import tomtom_jit_cache


def warm_up():
    """Compile every kernel into numba's cache, then write the ready marker (returned, a Path).

    The kernels are compiled through the real callers (:func:`evaluator.tomtom.tomtom`
    with both distances, restricted alignments and q-values, and
    :func:`evaluator.tomtom.best_strand_evalues`) on a small synthetic
    database, so every argument type they will ever see (read-only target
    arrays included: numba compiles a separate version per array flag) is in
    the cache, and no later caller compiles anything.
    """
    from evaluator.meme_io import MemeMotif
    from evaluator.tomtom import best_strand_evalues, tomtom
    from evaluator.tomtom_qvalues import MemeRandom

    rng = np.random.default_rng(0)
    targets = [MemeMotif(f"t{i}", "", rng.dirichlet(np.ones(4), size=5 + i % 4), 20) for i in range(60)]
    queries = [MemeMotif(f"q{i}", "", rng.dirichlet(np.ones(4), size=w), 20) for i, w in enumerate((4, 7))]
    was_ready = tomtom_jit_cache.ready()
    tomtom_jit_cache.set_ready(True)  # run the compiled kernels (compiling them) rather than the NumPy ones
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
        tomtom_jit_cache.set_ready(was_ready)
        raise
    return tomtom_jit_cache.write_ready_marker()


if __name__ == "__main__":
    import time

    _start = time.perf_counter()
    _marker = warm_up()
    print(f"Tomtom kernels compiled into numba's cache in {time.perf_counter() - _start:.0f} s ({_marker})")
