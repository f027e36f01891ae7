"""Compiled (numba) kernel of the classification bootstrap: resampled weights cumulated in score order.

Used by :class:`evaluator.uncertainty._RankedTask` once numba's cache holds it
(:func:`evaluator.tomtom_jit_cache.ready`, which compiles it with the Tomtom
kernels); until then the NumPy code there computes the same integers.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def cumulative_at_cuts(counts_t, order, positive, cuts, total_out, positive_out):  # pragma: no cover - compiled
    """Each resample's total and positive weight in score order before each cut.

    Walks the sequences in score order once, adding each one's counts to every
    resample at once (a contiguous row of ``counts_t``: vectorised).

    Parameters
    ----------
    counts_t : ndarray, shape (N, B), int8 or int32: resample counts, one row per sequence (input order).
    order : ndarray, shape (N,), int64: the sequences in ascending score order.
    positive : ndarray, shape (N,), bool: whether the sequence at each score-order position is a positive.
    cuts : ndarray, shape (K,), int64: ascending distinct score-order positions, ``cuts[-1] == N``.
    total_out, positive_out : ndarray, shape (B, K), int32, written: the summed counts (of all, of the
        positive) sequences at score-order positions ``< cuts[k]``.
    """
    n, n_boot = counts_t.shape
    total = np.zeros(n_boot, np.int32)
    pos = np.zeros(n_boot, np.int32)
    k = 0
    for j in range(n + 1):
        while k < cuts.size and cuts[k] == j:
            for b in range(n_boot):
                total_out[b, k] = total[b]
                positive_out[b, k] = pos[b]
            k += 1
        if j == n:
            break
        row = counts_t[order[j]]
        if positive[j]:
            for b in range(n_boot):
                w = np.int32(row[b])
                total[b] += w
                pos[b] += w
        else:
            for b in range(n_boot):
                total[b] += np.int32(row[b])
