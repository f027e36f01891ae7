"""Compiled (numba) kernels for one Tomtom query: the same arithmetic as :mod:`evaluator.tomtom_kernels`.

:mod:`evaluator.tomtom_kernels` states each MEME step as NumPy array code and
is what the unit tests pin down; these kernels fuse the same steps per query
so a query's ``(Q, C)`` score block is made and consumed in cache, without
NumPy temporaries:

- :func:`ed_rows`: MEME's ``ed_scores``, the same floating-point order;
- :func:`shift_scale_hist`: the lower median of each row (exact selection:
  value bins, then a sort of the one bin holding the rank), MEME's global
  offset/scale, ``nint`` to integers and each row's score histogram;
- :func:`best_alignments`: MEME's ``compare_motifs`` (complete scores) per
  target, ties by overlap then first configuration;
- :func:`alignment_pvalues`: the null of the best alignment over all offsets
  and both strands, from exact direct convolutions of the columns' score
  distributions, evaluated at each target's observed score.

Every function is ``nogil``, so a thread pool runs queries on all cores, and
``cache=True``: compiled once per installation into numba's cache, later
processes load the machine code. No caller waits for a compile: see
:mod:`evaluator.tomtom_jit_cache` (until the cache is warm, ``tomtom()`` runs
the NumPy kernels of :mod:`evaluator.tomtom_kernels`, the same numbers).
"""
from __future__ import annotations

import numpy as np
from numba import njit

BINS = 100
#: Value bins of the exact median selection (a bin holds a handful of the 12,108 JASPAR columns).
MEDIAN_BINS = 4096


@njit(cache=True, nogil=True)
def ed_rows(query, targets_t, out):  # pragma: no cover - compiled
    """``out[i, j] = -sqrt(((dA^2 + dC^2) + dG^2) + dT^2)`` (MEME's order).

    Parameters
    ----------
    query : ndarray, shape (Q, 4), float64
    targets_t : ndarray, shape (4, C), float64: target columns, letter-major.
    out : ndarray, shape (Q, C), float64, written.
    """
    q, c = out.shape
    t0 = targets_t[0]
    t1 = targets_t[1]
    t2 = targets_t[2]
    t3 = targets_t[3]
    for i in range(q):
        a0 = query[i, 0]
        a1 = query[i, 1]
        a2 = query[i, 2]
        a3 = query[i, 3]
        row = out[i]
        for j in range(c):
            d0 = a0 - t0[j]
            d1 = a1 - t1[j]
            d2 = a2 - t2[j]
            d3 = a3 - t3[j]
            row[j] = -np.sqrt(((d0 * d0 + d1 * d1) + d2 * d2) + d3 * d3)


_ABS_MASK = np.int64(0x7FFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True)
def _min_max(row):  # pragma: no cover - compiled
    """(min, max) of a row without NaNs, exactly.

    Compared as integers (a float's bits with the magnitude flipped when
    negative sort like the float), which LLVM vectorises; float min/max
    reductions it will not.
    """
    bits = row.view(np.int64)
    kmn = _ABS_MASK
    kmx = -_ABS_MASK - 1
    for j in range(bits.size):
        b = bits[j]
        k = b ^ ((b >> 63) & _ABS_MASK)
        kmn = min(kmn, k)
        kmx = max(kmx, k)
    out = np.empty(2, np.int64)
    out[0] = kmn ^ ((kmn >> 63) & _ABS_MASK)
    out[1] = kmx ^ ((kmx >> 63) & _ABS_MASK)
    f = out.view(np.float64)
    return f[0], f[1]


@njit(cache=True, nogil=True)
def _row_median(row, i1, i2, lo_bound, hi_bound, counts, bins, buf):  # pragma: no cover - compiled
    """(min, max, lower median) of one row, exactly.

    The median is MEME's ``(sorted[i1] + sorted[i2]) / 2``. Values go into
    monotone bins (``(x - lo_bound) * f`` truncated and clipped) while the
    min and max are tracked; only the bin holding the rank is then sorted.
    A monotone binning keeps the order between bins, so the result is a
    full sort's.
    """
    n = row.size
    nb = counts.size
    f = nb / (hi_bound - lo_bound)
    mn, mx = _min_max(row)
    for j in range(n):
        b = int((row[j] - lo_bound) * f)
        bins[j] = min(max(b, 0), nb - 1)
    counts[:] = 0
    for j in range(n):
        counts[bins[j]] += 1
    out = 0.0
    for rank in (i1, i2):
        before = 0
        target = 0
        for b in range(nb):
            if before + counts[b] > rank:
                target = b
                break
            before += counts[b]
        m = 0
        for j in range(n):
            if bins[j] == target:
                buf[m] = row[j]
                m += 1
        out += np.sort(buf[:m])[rank - before]
        if i2 == i1:
            out *= 2.0
            break
    return mn, mx, out / 2.0


@njit(cache=True, nogil=True)
def _scale_row(row, med, offset, scale, out):  # pragma: no cover - compiled
    """``out[j] = nint((row[j] - med - offset) * scale)`` in MEME's operation order (vectorised)."""
    for j in range(row.size):
        out[j] = int(np.floor(((row[j] - med) - offset) * scale + 0.5))


@njit(cache=True, nogil=True)
def shift_scale_hist(scores, lo_bound, hi_bound, pad_pos, z_pad, hist, counts, bins, buf):  # pragma: no cover
    """MEME's median shift, integer scaling and the per-row histogram of the integers.

    Parameters
    ----------
    scores : ndarray, shape (Q, C), float64: column scores, all within [lo_bound, hi_bound].
    pad_pos : ndarray, shape (C,), int64: each column's position in the padded layout.
    z_pad : ndarray, shape (Q, C'), int16: ``nint((s - median - offset) * scale) - k0`` written
        at ``pad_pos``; the padding must hold 0 (an unaligned column adds nothing).
    hist : ndarray, shape (Q, BINS + 1), int64, written: counts of each integer per row.
    counts : ndarray, shape (nbins,), int64; bins : ndarray, shape (C,), int64;
    buf : ndarray, shape (C,), float64: scratch.

    Returns
    -------
    offset, scale, k0 : ``floor(min)``, ``floor(100 / (max - offset))``, ``rint(-offset * scale)``.
    """
    q, n = scores.shape
    i1 = max(int(np.floor(0.5 * n)) - 1, 0)
    i2 = max(int(np.ceil(0.5 * n)) - 1, i1)
    quantile = np.empty(q)
    small = np.inf
    large = -np.inf
    for i in range(q):
        lo, hi, med = _row_median(scores[i], i1, i2, lo_bound, hi_bound, counts, bins, buf)
        quantile[i] = med
        # x - med is monotone in x, so the shifted block's extremes are these
        small = min(small, lo - med)
        large = max(large, hi - med)
    if large == small:
        small = large - 1.0
    offset = np.floor(small)
    scale = np.floor(BINS / (large - offset))
    k0 = int(np.rint(-offset * scale))
    hist[:, :] = 0
    for i in range(q):
        _scale_row(scores[i], quantile[i], offset, scale, bins)
        h = hist[i]
        z_row = z_pad[i]
        for j in range(n):
            k = bins[j]
            z_row[pad_pos[j]] = k - k0
            h[k] += 1
    return offset, scale, k0


@njit(cache=True, nogil=True)
def best_alignments(z_pad, pstarts, lengths, min_overlap, internal,
                    score, offset, overlap, diag):  # pragma: no cover - compiled
    """MEME's ``compare_motifs`` (complete scores) for one query against every target.

    The complete score of an alignment is the sum over aligned columns of
    ``s_int - k0``; the best is the highest, ties to the larger overlap,
    then to the first configuration. In the padded layout (``Q - 1``
    zero columns around each target) every configuration's sum is one
    diagonal: ``diag[p] = sum_qc z_pad[qc, p + qc]``.

    Parameters
    ----------
    z_pad : ndarray, shape (Q, C'), int16: scaled scores minus ``k0`` in the padded layout.
    pstarts, lengths : ndarray, shape (T,), int64: each target's first padded column and width.
    score, offset, overlap : ndarray, shape (T,), int64, written
        (offset = configuration - Q: target column = query column + offset).
    diag : ndarray, shape (C' - Q + 1,), int64 scratch.
    """
    q, width = z_pad.shape
    n_diag = width - q + 1
    for p in range(n_diag):
        diag[p] = z_pad[0, p]
    for qc in range(1, q):
        _add_row(diag, z_pad[qc, qc:qc + n_diag])
    for t in range(pstarts.size):
        length = lengths[t]
        first_p = pstarts[t] - q  # configuration conf (1-based) is diagonal first_p + conf
        if internal:
            first = min(q, length)
            last = max(q, length)
        elif min_overlap > 1:
            mo = min(min(min_overlap, q), length)
            first = mo
            last = q + length - mo
        else:
            first = 1
            last = q + length - 1
        best_score = 0
        best_overlap = -1
        best_conf = 0
        for conf in range(first, last + 1):
            ov = min(min(conf, q + length - conf), min(q, length))
            s = diag[first_p + conf]
            if best_overlap < 0 or s > best_score or (s == best_score and ov > best_overlap):
                best_score = s
                best_overlap = ov
                best_conf = conf
        score[t] = best_score
        offset[t] = best_conf - q
        overlap[t] = best_overlap


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
def _add_row(acc, row):  # pragma: no cover - compiled
    for i in range(acc.size):
        acc[i] += row[i]


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
                m = 0
                for y in range(lo[e], hi[e] + 1):
                    if col[y] != 0.0:
                        ys[m] = y
                        m += 1
                g = 0
                while g + 4 <= m:  # four terms per pass over nxt, added in the same order as one by one
                    _axpy4(nxt, ext, hi[e] - ys[g], hi[e] - ys[g + 1], hi[e] - ys[g + 2], hi[e] - ys[g + 3], n2,
                           col[ys[g]], col[ys[g + 1]], col[ys[g + 2]], col[ys[g + 3]])
                    g += 4
                while g < m:
                    _axpy(nxt, 0, ext, hi[e] - ys[g], n2, col[ys[g]])
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
            w_lo = r_lo[s, e]
            w_hi = r_hi[s, e]
            w_off = r_off[s, e]
            for k in range(t0, t1):
                j = obs[k] - shift
                pk = p[k]
                if j > w_hi or pk >= 1.0:  # S = 0 adds nothing; p = 1 stays 1
                    continue
                if j <= w_lo:
                    surv = sf[w_off]
                else:
                    surv = sf[w_off + j - w_lo]
                if surv >= 1.0:
                    p[k] = 1.0
                    continue
                for _ in range(n_orient):
                    pk += surv * (1.0 - pk)
                p[k] = pk
    for k in range(n_t):
        out[member[k]] = p[k]
