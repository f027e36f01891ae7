"""Compiled (numba) kernels for one Tomtom query: the same arithmetic as :mod:`evaluator.tomtom_kernels`.

:mod:`evaluator.tomtom_kernels` states each MEME step as NumPy array code and
is what the unit tests pin down; these kernels fuse the same steps per query
so a query's ``(Q, C)`` score block is made and consumed in cache, without
NumPy temporaries:

- :func:`ed_shift_scale_hist`: MEME's ``ed_scores`` (the same floating-point
  order) row by row, each row's value bins written beside its distances,
  then :func:`shift_scale_hist`'s steps (which Pearson scores go through):
  the lower median of each row (exact selection: value bins over the row's
  range, then a sort of the bin holding the rank), MEME's global
  offset/scale, ``nint`` to integers and each row's score histogram;
- :func:`best_alignments`: MEME's ``compare_motifs`` (complete scores) per
  target, ties by overlap then first configuration;
- :func:`evaluator.tomtom_jit_pvalues.alignment_pvalues` (its own module): the
  null of the best alignment over all offsets and both strands.

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
#: Value bins of the exact median selection (a bin holds a handful of the 12,108 JASPAR columns;
#: bin numbers are uint16).
MEDIAN_BINS = 4096


_ABS_MASK = np.int64(0x7FFFFFFFFFFFFFFF)


@njit(cache=True, nogil=True, inline="always")
def _from_keys(kmn, kmx):  # pragma: no cover - compiled
    """The two floats whose order keys are ``kmn`` and ``kmx``.

    A float's order key is its bits with the magnitude flipped when negative
    (``b ^ ((b >> 63) & _ABS_MASK)``): keys compare as integers like the
    floats, and integer min/max reductions vectorise (float ones LLVM will not).
    """
    out = np.empty(2, np.int64)
    out[0] = kmn ^ ((kmn >> 63) & _ABS_MASK)
    out[1] = kmx ^ ((kmx >> 63) & _ABS_MASK)
    f = out.view(np.float64)
    return f[0], f[1]


@njit(cache=True, nogil=True, inline="never")
def _sort_in_place(buf, m):  # pragma: no cover - compiled
    """Sort ``buf[:m]`` ascending: insertion sort for the few values a median bin holds, else numba's sort."""
    if m > 32:
        buf[:m].sort()
        return
    for i in range(1, m):
        x = buf[i]
        j = i - 1
        while j >= 0 and buf[j] > x:
            buf[j + 1] = buf[j]
            j -= 1
        buf[j + 1] = x


@njit(cache=True, nogil=True)
def _row_median(row, i1, i2, lo_bound, hi_bound, counts, bins, buf, binned=False):  # pragma: no cover - compiled
    """(min, max, lower median) of one row, exactly.

    The median is MEME's ``(sorted[i1] + sorted[i2]) / 2``. Values go into
    ``counts.size`` monotone bins spanning ``[lo_bound, hi_bound]``
    (``(x - lo_bound) * f`` clipped to the bins, truncated), the bins are
    counted, the bin holding rank ``i1`` (and the next non-empty one, if
    rank ``i2`` lies there) is found, and only the values in those bins are
    gathered and sorted. A monotone binning keeps the order between bins,
    so the result is a full sort's. Indices are unsigned (no negative-index
    wraparound code in the scatter loops).

    Parameters
    ----------
    row : ndarray, shape (C,), float64, no NaNs; lo_bound, hi_bound : float: the scores' range
        (values outside it go to the end bins).
    counts : ndarray, shape (nbins,), int32; bins : ndarray, shape (C,), uint16;
    buf : ndarray, shape (C,), float64: scratch.
    binned : bool: ``bins`` already holds the row's bins (as :func:`_ed_bin_row` writes them).
    """
    n = row.size
    nb = counts.size
    top = np.float64(nb - 1)
    f = nb / (hi_bound - lo_bound)
    bits = row.view(np.int64)
    kmn = _ABS_MASK
    kmx = -_ABS_MASK - 1
    if binned:  # bins written by the caller (ed_shift_scale_hist): the extremes only
        for j in range(n):
            b = bits[j]
            k = b ^ ((b >> 63) & _ABS_MASK)
            kmn = min(kmn, k)
            kmx = max(kmx, k)
    else:
        for j in range(n):  # the bins and the extremes (as order keys, see _from_keys) in one vectorised pass
            bins[j] = np.uint16(int(min(max((row[j] - lo_bound) * f, 0.0), top)))
            b = bits[j]
            k = b ^ ((b >> 63) & _ABS_MASK)
            kmn = min(kmn, k)
            kmx = max(kmx, k)
    mn, mx = _from_keys(kmn, kmx)
    if mx == mn:
        return mn, mx, mn
    counts[:] = 0
    for j in range(n):
        counts[np.uint64(bins[j])] += 1
    before = 0
    t1 = 0
    for b in range(nb):
        c = counts[b]
        if before + c > i1:
            t1 = b
            break
        before += c
    t2 = t1
    if before + counts[t1] <= i2:  # rank i2 is the smallest value of the next non-empty bin
        t2 = t1 + 1
        while counts[t2] == 0:
            t2 += 1
    u1 = np.uint16(t1)
    u2 = np.uint16(t2)
    m = 0
    for j in range(n):
        b = bins[j]
        if b == u1 or b == u2:
            buf[m] = row[j]
            m += 1
    _sort_in_place(buf, m)
    return mn, mx, (buf[i1 - before] + buf[i2 - before]) / 2.0


@njit(cache=True, nogil=True)
def _scale_row(row, med, offset, scale, out):  # pragma: no cover - compiled
    """``out[j] = nint((row[j] - med - offset) * scale)`` in MEME's operation order (vectorised)."""
    for j in range(row.size):
        out[j] = int(np.floor(((row[j] - med) - offset) * scale + 0.5))


@njit(cache=True, nogil=True)
def shift_scale_hist(scores, lo_bound, hi_bound, pad_pos, z_pad, hist, counts, bins, buf, ints):  # pragma: no cover
    """MEME's median shift, integer scaling and the per-row histogram of the integers.

    Parameters
    ----------
    scores : ndarray, shape (Q, C), float64: column scores (no NaNs), about within [lo_bound, hi_bound].
    pad_pos : ndarray, shape (C,), int64: each column's position in the padded layout.
    z_pad : ndarray, shape (Q, C'), int8: ``nint((s - median - offset) * scale) - k0`` (in [-BINS, BINS]) written
        at ``pad_pos``; the padding must hold 0 (an unaligned column adds nothing).
    hist : ndarray, shape (Q, BINS + 1), int64, written: counts of each integer per row.
    counts : ndarray, shape (nbins,), int32; bins : ndarray, shape (C,), uint16;
    buf : ndarray, shape (C,), float64; ints : ndarray, shape (C,), int64: scratch.

    Returns
    -------
    offset, scale, k0 : ``floor(min)``, ``floor(100 / (max - offset))``, ``rint(-offset * scale)``.
    """
    return _shift_scale_rows(scores, False, np.empty((0, 4)), np.empty((4, 0)), lo_bound, hi_bound, pad_pos, z_pad,
                             hist, counts, bins, buf, ints)


@njit(cache=True, nogil=True)
def ed_shift_scale_hist(query, targets_t, scores, lo_bound, hi_bound, pad_pos, z_pad, hist, counts, bins, buf,
                        ints):  # pragma: no cover - compiled
    """MEME's ED column scores, then :func:`shift_scale_hist` on them: the same numbers, with each row's
    distances and their median bins written in one pass (the bin arithmetic runs beside the square roots)
    and its median taken while the row is in cache.

    ``query`` : ndarray, shape (Q, 4), float64; ``targets_t`` : ndarray, shape (4, C), float64: target
    columns, letter-major; ``scores`` : ndarray, shape (Q, C), float64, written; the rest as
    :func:`shift_scale_hist`.
    """
    return _shift_scale_rows(scores, True, query, targets_t, lo_bound, hi_bound, pad_pos, z_pad, hist, counts, bins,
                             buf, ints)


@njit(cache=True, nogil=True)
def _shift_scale_rows(scores, ed, query, targets_t, lo_bound, hi_bound, pad_pos, z_pad, hist, counts, bins, buf,
                      ints):  # pragma: no cover - compiled
    """Each row's extremes and lower median (writing the row's ED distances and bins first when ``ed``), then
    :func:`_scale_hist`: the body of :func:`shift_scale_hist` and :func:`ed_shift_scale_hist`."""
    q, n = scores.shape
    i1 = max(int(np.floor(0.5 * n)) - 1, 0)
    i2 = max(int(np.ceil(0.5 * n)) - 1, i1)
    quantile = np.empty(q)
    small = np.inf
    large = -np.inf
    for i in range(q):
        if ed:  # the distances and their median bins in one pass, while the row is in cache
            _ed_bin_row(query, i, targets_t, scores[i], lo_bound, hi_bound, counts.size, bins)
        lo, hi, med = _row_median(scores[i], i1, i2, lo_bound, hi_bound, counts, bins, buf, ed)
        quantile[i] = med
        # x - med is monotone in x, so the shifted block's extremes are these
        small = min(small, lo - med)
        large = max(large, hi - med)
    return _scale_hist(scores, quantile, small, large, pad_pos, z_pad, hist, ints)


@njit(cache=True, nogil=True)
def _scale_hist(scores, quantile, small, large, pad_pos, z_pad, hist, ints):  # pragma: no cover - compiled
    """MEME's offset and scale from the shifted block's extremes ``small``, ``large``, then each row's integers
    (minus ``k0``, into ``z_pad`` at ``pad_pos``) and their counts (``hist``); see :func:`shift_scale_hist`."""
    q, n = scores.shape
    if large == small:
        small = large - 1.0
    offset = np.floor(small)
    scale = np.floor(BINS / (large - offset))
    k0 = int(np.rint(-offset * scale))
    hist[:, :] = 0
    for i in range(q):
        _scale_row(scores[i], quantile[i], offset, scale, ints)
        h = hist[i]
        z_row = z_pad[i]
        for j in range(n):
            k = ints[j]  # in [0, BINS]
            z_row[np.uint64(pad_pos[j])] = k - k0
            h[np.uint64(k)] += 1
    return offset, scale, k0


@njit(cache=True, nogil=True, inline="never")
def _ed_bin_row(query, i, targets_t, row, lo_bound, hi_bound, nb, bins):  # pragma: no cover - compiled
    """``row[j] = -sqrt(((dA^2 + dC^2) + dG^2) + dT^2)`` (MEME's order) for query column ``i``, and each
    value's median bin (as :func:`_row_median`'s binning pass) into ``bins``.

    ``row`` : ndarray, shape (C,), float64; ``bins`` : ndarray, shape (C,), uint16: written.
    """
    top = np.float64(nb - 1)
    f = nb / (hi_bound - lo_bound)
    t0 = targets_t[0]
    t1 = targets_t[1]
    t2 = targets_t[2]
    t3 = targets_t[3]
    a0 = query[i, 0]
    a1 = query[i, 1]
    a2 = query[i, 2]
    a3 = query[i, 3]
    for j in range(row.size):
        d0 = a0 - t0[j]
        d1 = a1 - t1[j]
        d2 = a2 - t2[j]
        d3 = a3 - t3[j]
        x = -np.sqrt(((d0 * d0 + d1 * d1) + d2 * d2) + d3 * d3)
        row[j] = x
        bins[j] = np.uint16(int(min(max((x - lo_bound) * f, 0.0), top)))


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
    z_pad : ndarray, shape (Q, C'), int8: scaled scores minus ``k0`` in the padded layout.
    pstarts, lengths : ndarray, shape (T,), int64: each target's first padded column and width.
    score, offset, overlap : ndarray, shape (T,), int64, written
        (offset = configuration - Q: target column = query column + offset).
    diag : ndarray, shape (C' - Q + 1,), int16 scratch: a sum of at most 100 (MAX_QUERY_WIDTH) values
        in [-BINS, BINS] fits, and 16-bit lanes make the row additions a quarter of the int64 work.
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
        # (score, overlap) compared at once as score * 256 + overlap (overlap <= 100): the first maximum
        best_key = np.iinfo(np.int64).min
        best_conf = first
        for conf in range(first, last + 1):
            key = np.int64(diag[first_p + conf]) * 256 + min(min(conf, q + length - conf), min(q, length))
            if key > best_key:
                best_key = key
                best_conf = conf
        ov = best_key & 255
        score[t] = (best_key - ov) >> 8
        offset[t] = best_conf - q
        overlap[t] = ov


@njit(cache=True, nogil=True, inline="never")
def _add_row(acc, row):  # pragma: no cover - compiled
    for i in range(acc.size):
        acc[i] += row[i]


@njit(cache=True, nogil=True)
def _radix_sort(key, tmp, counts):  # pragma: no cover - compiled
    """Sort non-negative int64 ``key`` ascending in place: LSD radix, 11-bit digits, skipping constant digits.

    ``tmp`` : same shape as ``key``; ``counts`` : shape (2048,), int64: scratch.
    (A thousand keys: about twice as fast as numba's quicksort.)
    """
    n = key.size
    top = np.int64(0)
    for j in range(n):
        top |= key[j]
    shift = 0
    src = key
    dst = tmp
    while (top >> shift) != 0:
        counts[:] = 0
        for j in range(n):
            counts[np.uint64((src[j] >> shift) & 2047)] += 1
        if counts[np.uint64((src[0] >> shift) & 2047)] != n:  # else every key has this digit: nothing moves
            acc = 0
            for d in range(2048):
                c = counts[d]
                counts[d] = acc
                acc += c
            for j in range(n):
                k = src[j]
                d = np.uint64((k >> shift) & 2047)
                dst[np.uint64(counts[d])] = k
                counts[d] += 1
            src, dst = dst, src
        shift += 11
    if src is not key:
        key[:] = src


@njit(cache=True, nogil=True)
def sort_matches(p_bits, overlap, offset, tie_rank, by_tie_rank, tie_bits,
                 order, p_ord, off_ord, ov_ord, first):  # pragma: no cover - compiled
    """MEME's order of each query's matches: p ascending, overlap descending, then MEME's tie rank.

    One int64 key per match, ``((p_bits << 8) | (255 - overlap)) << tie_bits | tie_rank``
    (p >= 0, so a float32's bits sort like its value; the tie rank is a
    permutation, so the key also names the match), is sorted per row and
    read back.

    Parameters
    ----------
    p_bits : ndarray, shape (B, 2N), int32: the float32 p-values' bits.
    overlap, offset : ndarray, shape (B, 2N), int64.
    tie_rank, by_tie_rank : ndarray, shape (2N,), int64: MEME's tie rank of each match, and its inverse.
    tie_bits : int: bits of the largest tie rank.
    order, off_ord, ov_ord : ndarray, shape (B, 2N), int64, written: match index, offset, overlap in order.
    p_ord : ndarray, shape (B, 2N), int32, written: the p bits in order.
    first : ndarray, shape (B, 2N), bool, written: this strand sorts before the same target's other
        strand (matches ``t0+, t0-, t1+, ...``: the other strand of match ``o`` is ``o ^ 1``).
    """
    b_count, n = p_bits.shape
    mask = (np.int64(1) << tie_bits) - 1
    key = np.empty(n, np.int64)
    tmp = np.empty(n, np.int64)
    counts = np.empty(2048, np.int64)
    rank = np.empty(n, np.int64)
    for b in range(b_count):
        for j in range(n):
            key[j] = (((np.int64(p_bits[b, j]) << 8) | (255 - overlap[b, j])) << tie_bits) | tie_rank[j]
        _radix_sort(key, tmp, counts)
        for r in range(n):
            k = key[r]
            o = by_tie_rank[k & mask]
            order[b, r] = o
            p_ord[b, r] = np.int32(k >> (tie_bits + 8))
            ov_ord[b, r] = 255 - ((k >> tie_bits) & 255)
            off_ord[b, r] = offset[b, o]
            rank[o] = r
        for r in range(n):
            first[b, r] = r < rank[order[b, r] ^ 1]
