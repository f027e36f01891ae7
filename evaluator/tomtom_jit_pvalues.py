"""Compiled (numba) p-value kernel of one Tomtom query: MEME's null of the best alignment.

:func:`alignment_pvalues` computes, for every target, the probability that
the best of all ``Q + L - 1`` alignments over both strands scores at least
the observed best complete score, from exact direct convolutions of the query
columns' integer score distributions (the same numbers as
:func:`evaluator.tomtom_kernels.max_alignment_pvalues`). :func:`alignment_range`
states MEME's alignment-window rule once. ``nogil`` and ``cache=True``, as the
kernels of :mod:`evaluator.tomtom_jit` (see :mod:`evaluator.tomtom_jit_cache`).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from evaluator.tomtom_jit import BINS  # MEME's constant (a plain int, frozen into the compiled code)

@njit(cache=True, nogil=True, inline="always")
def alignment_range(q, length, i):  # pragma: no cover - compiled (tomtom_kernels calls .py_func)
    """The query columns ``(start, end)`` (inclusive) of MEME's ``i``-th alignment of a width-``q`` query
    with a width-``length`` target, ``0 <= i < q + length - 1`` (``tomtom.c``'s loop order: the
    target slides from the query's right end to its left end). The one statement of this rule."""
    if i < q:
        start = q - i - 1
        return start, min(q, start + length) - 1
    return 0, min(q, length + q - i - 1) - 1


@njit(cache=True, nogil=True, inline="never")
def _axpy(dst, dst_start, src, src_start, n, h):  # pragma: no cover - compiled
    """``dst[dst_start:dst_start+n] += src[src_start:src_start+n] * h`` (vectorised by LLVM)."""
    d = dst[dst_start:dst_start + n]
    s = src[src_start:src_start + n]
    for i in range(n):
        d[i] += s[i] * h


@njit(cache=True, nogil=True, inline="never")
def _axpy4(dst, src, s0, s1, s2, s3, n, h0, h1, h2, h3):  # pragma: no cover - compiled
    """Four :func:`_axpy` into ``dst[:n]`` (from ``src[s0:]``, ... ``src[s3:]``) in one pass, same roundings.

    ``dst[i]`` gets the four products added one after the other, exactly the
    sequence of four separate calls, with a quarter of the loads and stores of ``dst``.
    """
    d = dst[:n]
    a0 = src[s0:s0 + n]  # slices indexed from 0: no negative-index check, so LLVM vectorises
    a1 = src[s1:s1 + n]
    a2 = src[s2:s2 + n]
    a3 = src[s3:s3 + n]
    for i in range(n):
        t = d[i]
        t += a0[i] * h0
        t += a1[i] * h1
        t += a2[i] * h2
        t += a3[i] * h3
        d[i] = t


@njit(cache=True, nogil=True, inline="never")
def _axpy8(dst, src, ys, g, hi_e, col, n):  # pragma: no cover - compiled
    """Eight :func:`_axpy` into ``dst[:n]`` in one pass: terms ``ys[g..g+7]``, same roundings in the same order.

    Term ``y`` adds ``src[hi_e - y + i] * col[y]`` to ``dst[i]``; the
    eight products are added one after the other, as eight separate calls
    would, with an eighth of the loads and stores of ``dst``.
    """
    d = dst[:n]
    a0 = src[hi_e - ys[g]:hi_e - ys[g] + n]  # slices indexed from 0: no negative-index check, so LLVM vectorises
    a1 = src[hi_e - ys[g + 1]:hi_e - ys[g + 1] + n]
    a2 = src[hi_e - ys[g + 2]:hi_e - ys[g + 2] + n]
    a3 = src[hi_e - ys[g + 3]:hi_e - ys[g + 3] + n]
    a4 = src[hi_e - ys[g + 4]:hi_e - ys[g + 4] + n]
    a5 = src[hi_e - ys[g + 5]:hi_e - ys[g + 5] + n]
    a6 = src[hi_e - ys[g + 6]:hi_e - ys[g + 6] + n]
    a7 = src[hi_e - ys[g + 7]:hi_e - ys[g + 7] + n]
    h0 = col[ys[g]]
    h1 = col[ys[g + 1]]
    h2 = col[ys[g + 2]]
    h3 = col[ys[g + 3]]
    h4 = col[ys[g + 4]]
    h5 = col[ys[g + 5]]
    h6 = col[ys[g + 6]]
    h7 = col[ys[g + 7]]
    for i in range(n):
        t = d[i]
        t += a0[i] * h0
        t += a1[i] * h1
        t += a2[i] * h2
        t += a3[i] * h3
        t += a4[i] * h4
        t += a5[i] * h5
        t += a6[i] * h6
        t += a7[i] * h7
        d[i] = t


@njit(cache=True, nogil=True, inline="never")
def _accumulate(obs, p, t0, t1, shift, w_lo, w_hi, w_off, sf, n_orient):  # pragma: no cover - compiled
    """Add one alignment's survival to the p of targets ``t0 .. t1 - 1``: ``p += S (1 - p)`` per orientation.

    ``S = sf[w_off + j - w_lo]`` at ``j = obs - shift`` (``sf[w_off]`` below
    the window, 0 above it: then p is unchanged); ``S >= 1`` makes p 1, and
    a p of 1 stays 1. For two orientations (every caller) without branches:
    each case is a select, the arithmetic the same.
    """
    if n_orient != 2:
        for k in range(t0, t1):
            j = obs[k] - shift
            pk = p[k]
            if j > w_hi or pk >= 1.0:  # S = 0 adds nothing; p = 1 stays 1
                continue
            surv = sf[w_off + max(j, w_lo) - w_lo]
            if surv >= 1.0:
                p[k] = 1.0
                continue
            for _ in range(n_orient):
                pk += surv * (1.0 - pk)
            p[k] = pk
        return
    ob = obs[t0:t1]
    pp = p[t0:t1]
    for k in range(t1 - t0):
        j = ob[k] - shift
        pk = pp[k]
        surv = sf[w_off + min(max(j, w_lo), w_hi) - w_lo]
        r = pk + surv * (1.0 - pk)
        r = r + surv * (1.0 - r)
        r = 1.0 if surv >= 1.0 else r
        pp[k] = pk if (j > w_hi or pk >= 1.0) else r


@njit(cache=True, nogil=True)
def alignment_pvalues(hist, n_cols, k0, lengths, slot_of_target, lookup, n_orient, out):  # pragma: no cover
    """p-values of the observed best complete scores (MEME's null of the best alignment).

    For a target of width L the null is the maximum of ``n_orient * (Q+L-1)``
    independent alignment scores, each the sum of its aligned query
    columns' nulls (a column's null: its scaled score against a uniformly
    drawn target column) plus ``k0`` per unaligned query column. Here
    ``P(max >= k) = 1 - prod_j (1 - S_j(k))``, accumulated as
    ``p += S_j * (1 - p)`` (no cancellation, full relative precision in the
    tail), with ``S_j`` each alignment's survival function from exact direct
    convolutions of the columns' integer score distributions.

    Parameters
    ----------
    hist : ndarray, shape (Q, BINS + 1), int64: per query column, counts of each integer score.
    n_cols : int: C, the number of target columns (the counts' total).
    k0 : int
    lengths : ndarray, shape (nL,), int64: the distinct target widths.
    slot_of_target : ndarray, shape (T,), int64: index into ``lengths``.
    lookup : ndarray, shape (T,), int64: observed best complete score + Q * k0.
    out : ndarray, shape (T,), float64, written.
    """
    q = hist.shape[0]
    inv_c = 1.0 / n_cols
    # trimmed supports of each column's distribution
    lo = np.empty(q, np.int64)
    hi = np.empty(q, np.int64)
    for c in range(q):
        a = 0
        while hist[c, a] == 0:
            a += 1
        b = BINS
        while hist[c, b] == 0:
            b -= 1
        lo[c] = a
        hi[c] = b
    probs = np.empty((q, BINS + 1))
    for c in range(q):
        for k in range(BINS + 1):
            probs[c, k] = hist[c, k] * inv_c
    # the lowest and highest observed score per target width: the survival functions are
    # only ever read between them
    big = np.iinfo(np.int64).max // 4
    min_lookup = np.full(lengths.size, big, np.int64)
    max_lookup = np.full(lengths.size, -big, np.int64)
    for t in range(lookup.size):
        li = slot_of_target[t]
        min_lookup[li] = min(min_lookup[li], lookup[t])
        max_lookup[li] = max(max_lookup[li], lookup[t])
    # which ranges [a, e] a target width needs (MEME's alignment loop), and between which scores
    need = np.zeros((q, q), np.bool_)
    floor_ = np.full((q, q), big, np.int64)
    cap = np.full((q, q), -big, np.int64)
    for li in range(lengths.size):
        length = lengths[li]
        if min_lookup[li] == big:
            continue
        for i in range(q + length - 1):
            s, e = alignment_range(q, length, i)
            need[s, e] = True
            shift = (q - (e - s + 1)) * k0
            floor_[s, e] = min(floor_[s, e], min_lookup[li] - shift)
            cap[s, e] = max(cap[s, e], max_lookup[li] - shift)
    # S_[a,e](j) = sum_y p_e(y) S_[a,e-1](j - y): exact on [F, T] needs S_[a,e-1] on [F - hi[e], T - lo[e]]
    for a in range(q):
        for e in range(q - 1, a, -1):
            floor_[a, e - 1] = min(floor_[a, e - 1], floor_[a, e] - hi[e])
            cap[a, e - 1] = max(cap[a, e - 1], cap[a, e] - lo[e])
    # each range's window [F, T] within its support [tl, th]: below tl S = 1, above th S = 0
    r_lo = np.zeros((q, q), np.int64)
    r_hi = np.zeros((q, q), np.int64)
    r_off = np.zeros((q, q), np.int64)
    total = 0
    for a in range(q):
        tl = 0
        th = 0
        for e in range(a, q):
            tl += lo[e]
            th += hi[e]
            if floor_[a, e] == big:
                continue
            f = min(max(floor_[a, e], tl), th)
            r_lo[a, e] = f
            r_hi[a, e] = min(max(cap[a, e], f), th)
            if need[a, e]:
                total += r_hi[a, e] - f + 1
    sf = np.empty(total)
    width_max = 0
    for c in range(q):
        width_max += hi[c] - lo[c] + 1
    cur = np.empty(width_max)
    nxt = np.empty(width_max)
    ext = np.empty(width_max + BINS + 1)
    ys = np.empty(BINS + 1, np.int64)
    pos = 0
    for a in range(q):
        last = -1
        for e in range(a, q):
            if need[a, e]:
                last = e
        if last < 0:
            continue
        # cur holds S_[a,e] on [f, f + n - 1]
        f = r_lo[a, a]
        n = r_hi[a, a] - f + 1
        acc = 0.0
        for k in range(hi[a], f - 1, -1):
            acc += probs[a, k]
            if k - f < n:
                cur[k - f] = acc
        for e in range(a, last + 1):
            if e > a:
                f2 = r_lo[a, e]
                n2 = r_hi[a, e] - f2 + 1
                # ext[i] = S_[a,e-1](f2 - hi[e] + i), 1 below its window (its support), 0 above
                ext_lo = f2 - hi[e]
                ext_n = n2 + hi[e] - lo[e]
                for i in range(ext_n):
                    k = ext_lo + i - f
                    if k < 0:
                        ext[i] = 1.0
                    elif k >= n:
                        ext[i] = 0.0
                    else:
                        ext[i] = cur[k]
                nxt[:n2] = 0.0
                col = probs[e]
                # ext[i] is 0 from i = zero_from on (above S_[a,e-1]'s window), so term y adds only 0.0 to
                # nxt[i] for i >= zero_from - hi[e] + y: those additions (and terms adding nothing at all)
                # are skipped, every other product added in the same order (the same roundings)
                reach = n + f - ext_lo - hi[e]  # term y reaches nxt[:reach + y]
                m = 0
                for y in range(max(lo[e], 1 - reach), hi[e] + 1):
                    if col[y] != 0.0:
                        ys[m] = y
                        m += 1
                g = 0
                while g + 8 <= m:  # eight terms per pass over nxt, added in the same order as one by one
                    _axpy8(nxt, ext, ys, g, hi[e], col, min(n2, reach + ys[g + 7]))
                    g += 8
                while g + 4 <= m:  # four terms per pass over nxt, added in the same order as one by one
                    _axpy4(nxt, ext, hi[e] - ys[g], hi[e] - ys[g + 1], hi[e] - ys[g + 2], hi[e] - ys[g + 3],
                           min(n2, reach + ys[g + 3]), col[ys[g]], col[ys[g + 1]], col[ys[g + 2]], col[ys[g + 3]])
                    g += 4
                while g < m:
                    _axpy(nxt, 0, ext, hi[e] - ys[g], min(n2, reach + ys[g]), col[ys[g]])
                    g += 1
                cur[:n2] = nxt[:n2]  # a copy, not a swap: the swap stops LLVM vectorising _axpy
                n = n2
                f = f2
            if need[a, e]:
                r_off[a, e] = pos
                for k in range(n):
                    sf[pos + k] = cur[k]
                pos += n
    # targets grouped by width: a width's alignments read the same ranges at the same shifts
    n_t = lookup.size
    first_of = np.zeros(lengths.size + 1, np.int64)
    for t in range(n_t):
        first_of[slot_of_target[t] + 1] += 1
    for li in range(lengths.size):
        first_of[li + 1] += first_of[li]
    fill = first_of[:-1].copy()
    member = np.empty(n_t, np.int64)
    for t in range(n_t):
        member[fill[slot_of_target[t]]] = t
        fill[slot_of_target[t]] += 1
    obs = np.empty(n_t, np.int64)
    p = np.zeros(n_t)
    for k in range(n_t):
        obs[k] = lookup[member[k]]
    for li in range(lengths.size):
        length = lengths[li]
        t0 = first_of[li]
        t1 = first_of[li + 1]
        if t0 == t1:
            continue
        # each target's p accumulates alignment by alignment, in MEME's loop order
        for i in range(q + length - 1):
            s, e = alignment_range(q, length, i)
            shift = (q - (e - s + 1)) * k0
            _accumulate(obs, p, t0, t1, shift, r_lo[s, e], r_hi[s, e], r_off[s, e], sf, n_orient)
    for k in range(n_t):
        out[member[k]] = p[k]
