"""Compiled (numba) kernel of the classification bootstrap: resampled weights cumulated in score order.

Used by :class:`evaluator.uncertainty._RankedTask` once numba's cache holds it
(:func:`evaluator.tomtom_jit_cache.ready`, which compiles it with the Tomtom
kernels); until then the NumPy code there computes the same integers.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def cumulative_at_cuts(counts, order, positive, cuts, total_out, positive_out):  # pragma: no cover - compiled
    """Each resample's total and positive weight in score order before each cut.

    Parameters
    ----------
    counts : ndarray, shape (B, N), int8 or int32: resample counts of each sequence (input order).
    order : ndarray, shape (N,), int64: the sequences in ascending score order.
    positive : ndarray, shape (N,), bool: whether the sequence at each score-order position is a positive.
    cuts : ndarray, shape (K,), int64: ascending distinct score-order positions, ``cuts[-1] == N``.
    total_out, positive_out : ndarray, shape (B, K), int32, written: the summed counts (of all, of the
        positive) sequences at score-order positions ``< cuts[k]``.
    """
    n = order.size
    n_cuts = cuts.size
    for b in range(counts.shape[0]):
        row = counts[b]
        total = 0
        pos = 0
        k = 0
        for j in range(n):
            if k < n_cuts and cuts[k] == j:
                total_out[b, k] = total
                positive_out[b, k] = pos
                k += 1
            w = np.int32(row[order[j]])
            total += w
            if positive[j]:
                pos += w
        while k < n_cuts:
            total_out[b, k] = total
            positive_out[b, k] = pos
            k += 1
