"""Tomtom's numerical steps, each named after what MEME 5.5.8's ``tomtom.c`` computes.

The order of floating-point operations follows MEME wherever it can change an
integer score (pseudocounts, column distances, the median shift, the scaling to
integers), because one flipped rounding changes a p-value. After the scaling
everything is integer until the null distributions, which are computed here
with a different but equally precise formula (see :func:`max_alignment_pvalues`).

Shapes: ``B`` queries of one width ``Q`` are processed together; ``C`` is the
total number of target columns over both strands (MEME's ``targets_len``).
"""
from __future__ import annotations

import numpy as np

from evaluator.tomtom_jit_pvalues import alignment_range  # the rule's one statement (called as plain Python here)

#: MEME's BINS: scaled column scores are integers in [0, 100].
BINS = 100
#: MEME's DEFAULT_SITE_COUNT, used for the pseudocount when nsites is absent.
DEFAULT_SITE_COUNT = 20
#: Elements per temporary in chunked loops (about 1 MB of float64: stays in cache).
_CACHE_ELEMENTS = 100_000
#: MEME rounds Pearson partial sums to this many significant digits (macros.h RNDDIG).
RND_DIGITS = 14


def normalise_rows(ppm: np.ndarray, tolerance: float = 1e-5) -> np.ndarray:
    """MEME's ``normalize_motif``: divide a row by its sum only if it is off 1 by more than ``tolerance``.

    Parameters
    ----------
    ppm: float64, shape=(width, 4).
    """
    ppm = np.array(ppm, dtype=np.float64)
    total = ((ppm[:, 0] + ppm[:, 1]) + ppm[:, 2]) + ppm[:, 3]  # MEME sums left to right
    off = (1.0 - tolerance > total) | (1.0 + tolerance < total)
    ppm[off] = ppm[off] / total[off, None]
    return ppm


def apply_pseudocount(ppm: np.ndarray, nsites: int | None, background: np.ndarray, pseudo: float) -> np.ndarray:
    """MEME's ``apply_pseudocount_to_motif``: ``(p*n + pseudo*bg) / (n + pseudo)``.

    ``n`` is the motif's nsites truncated to an int, or 20 when absent or 0.

    Parameters
    ----------
    ppm: float64, shape=(width, 4), rows already normalised.
    background: float64, shape=(4,).
    """
    if pseudo == 0:
        return np.array(ppm, dtype=np.float64)
    sites = float(int(nsites)) if nsites is not None and int(nsites) > 0 else float(DEFAULT_SITE_COUNT)
    total = sites + pseudo
    return ((ppm * sites) + (pseudo * background[None, :])) / total


def pseudocounted_many(ppms: list[np.ndarray], nsites: list, background: np.ndarray, pseudo: float) -> list[np.ndarray]:
    """:func:`apply_pseudocount` of :func:`normalise_rows` of each matrix, all rows in one pass (the same numbers).

    Parameters
    ----------
    ppms: float64 matrices, each shape=(width, 4); nsites: each matrix's site count (or None).

    Returns
    -------
    list of float64 arrays, each shape=(width, 4): C-contiguous row blocks of one array.
    """
    widths = [p.shape[0] for p in ppms]
    rows = normalise_rows(np.concatenate(ppms, axis=0))
    if pseudo != 0:
        sites = np.array([float(int(n)) if n is not None and int(n) > 0 else float(DEFAULT_SITE_COUNT)
                          for n in nsites])
        sites_rows = np.repeat(sites, widths)[:, None]
        total_rows = np.repeat(sites + pseudo, widths)[:, None]  # sites + pseudo, as one motif's total
        rows = ((rows * sites_rows) + (pseudo * background[None, :])) / total_rows
    return np.split(rows, np.cumsum(widths)[:-1], axis=0)


def symmetric_background(background) -> np.ndarray:
    """The query background as MEME uses it: normalised, then averaged with its complement (A<->T, C<->G)."""
    bg = np.asarray(background, dtype=np.float64)
    bg = bg / bg.sum()
    return (bg + bg[::-1]) / 2.0


def reverse_complement(ppm: np.ndarray) -> np.ndarray:
    """Rows reversed and A<->T, C<->G swapped; shape=(width, 4) in and out."""
    return np.ascontiguousarray(ppm[::-1, ::-1])


def consensus(ppm: np.ndarray) -> str:
    """MEME's ``get_cons``: per row the first letter holding the maximum, the running max kept as float32."""
    return consensus_many([ppm])[0]


_LETTERS = np.frombuffer(b"ACGT", dtype="S1")


def consensus_many(ppms) -> list[str]:
    """:func:`consensus` of each matrix (each shape (width, 4)), all rows in one pass (rows are independent)."""
    rows = np.concatenate(ppms, axis=0)
    best = rows[:, 0].astype(np.float32)
    letter = np.zeros(rows.shape[0], dtype=np.int64)
    for j in range(1, 4):
        better = rows[:, j] > best.astype(np.float64)
        best = np.where(better, rows[:, j].astype(np.float32), best)
        letter = np.where(better, j, letter)
    text = _LETTERS[letter].tobytes().decode()
    ends = np.cumsum([p.shape[0] for p in ppms])
    return [text[e - p.shape[0]:e] for p, e in zip(ppms, ends)]


#: 10**k for the decimal scalings RND can need (k = 13 - floor(log10|x|)), as C's pow gives them.
_POW10_MIN = -300
_POW10 = np.power(10.0, np.arange(_POW10_MIN, 300, dtype=np.float64))


def _rnd(x: np.ndarray) -> np.ndarray:
    """MEME's ``RND(x, 14, y)``: round to 14 significant digits via ``rint(z*x)/z``, in place.

    ``z = pow(10, ceil(13 - log(|x|)/2.30258509299405))``, the power looked up
    (the exponent is an integer). ``rint`` is symmetric, so ``rint(z*x)``
    equals MEME's ``-rint(z*(-x))`` for negative x; x = 0 stays 0.
    """
    buf = np.abs(x)
    np.maximum(buf, 1e-300, out=buf)
    np.log(buf, out=buf)
    np.divide(buf, 2.30258509299405, out=buf)  # MEME's mylog10: a division, not a multiplication
    np.subtract(RND_DIGITS - 1, buf, out=buf)
    np.ceil(buf, out=buf)
    np.clip(buf, _POW10_MIN, -_POW10_MIN - 1, out=buf)
    z = _POW10.take(buf.astype(np.int64) - _POW10_MIN)
    np.multiply(z, x, out=x)
    np.rint(x, out=x)
    np.divide(x, z, out=x)
    return x


def ed_scores(query: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """MEME's ``ed_scores``: minus the Euclidean distance between every query and target column.

    Parameters
    ----------
    query: float64, shape=(B, Q, 4).
    targets: float64, shape=(C, 4).

    Returns
    -------
    float64, shape=(B, Q, C).
    """
    rows = query.reshape(-1, 4)
    out = np.empty((rows.shape[0], targets.shape[0]))
    step = max(1, _CACHE_ELEMENTS // targets.shape[0])
    for start in range(0, rows.shape[0], step):
        total = out[start:start + step]
        for letter in range(4):  # MEME's order: ((d_A^2 + d_C^2) + d_G^2) + d_T^2
            diff = rows[start:start + step, None, letter] - targets[None, :, letter]
            diff *= diff
            if letter == 0:
                total[...] = diff
            else:
                total += diff
        np.sqrt(total, out=total)
        np.negative(total, out=total)
    return out.reshape(query.shape[0], query.shape[1], targets.shape[0])


def pearson_scores(query: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """MEME's ``pearson_scores``: correlation around 1/4, partial sums rounded to 14 digits.

    A column with zero variance (uniform) scores exactly 0 against everything.
    Computed a few query columns at a time so the temporaries stay in cache
    (the rounding makes this the costliest step).

    Parameters
    ----------
    query: float64, shape=(B, Q, 4).
    targets: float64, shape=(C, 4).

    Returns
    -------
    float64, shape=(B, Q, C).
    """
    rows = query.reshape(-1, 4) - 0.25
    tc = targets - 0.25
    d2 = np.zeros(targets.shape[0])
    for letter in range(4):
        d2 = _rnd(d2 + tc[:, letter] ** 2)
    out = np.empty((rows.shape[0], targets.shape[0]))
    step = max(1, _CACHE_ELEMENTS // targets.shape[0])
    for start in range(0, rows.shape[0], step):
        qc = rows[start:start + step]
        num = out[start:start + step]
        d1 = np.zeros(qc.shape[0])
        for letter in range(4):
            if letter == 0:
                np.multiply(qc[:, None, 0], tc[None, :, 0], out=num)
            else:
                num += qc[:, None, letter] * tc[None, :, letter]
            _rnd(num)
            d1 = _rnd(d1 + qc[:, letter] ** 2)
        den = np.sqrt(d1[:, None] * d2[None, :])
        zero = den == 0
        np.divide(num, np.where(zero, 1.0, den), out=num)
        num[zero] = 0.0
    return out.reshape(query.shape[0], query.shape[1], targets.shape[0])


def shift_and_scale(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MEME's ``shift_all_pairwise_scores`` then ``scale_score_matrix`` (complete scores mode).

    Each query column's scores lose their median over all target columns
    (``(sorted[floor(C/2)-1] + sorted[ceil(C/2)-1]) / 2``), so an unaligned
    column contributes 0; then one global offset/scale per query maps them to
    integers in [0, 100].

    Parameters
    ----------
    scores: float64, shape=(B, Q, C).

    Returns
    -------
    s_int: int16, shape=(B, Q, C), ``nint((s - offset) * scale)``.
    offset: float64, shape=(B,), ``floor(min)``.
    scale: float64, shape=(B,), ``floor(100 / (max - offset))``.
    """
    n = scores.shape[-1]
    i1 = max(int(np.floor(0.5 * n)) - 1, 0)
    i2 = max(int(np.ceil(0.5 * n)) - 1, i1)
    part = np.partition(scores, sorted({i1, i2}), axis=-1)
    quantile = (part[..., i1] + part[..., i2]) / 2.0
    shifted = scores - quantile[..., None]
    small = shifted.min(axis=(1, 2))
    large = shifted.max(axis=(1, 2))
    small = np.where(large == small, large - 1.0, small)
    offset = np.floor(small)
    scale = np.floor(BINS / (large - offset))
    scaled = (shifted - offset[:, None, None]) * scale[:, None, None]
    s_int = np.floor(scaled + 0.5).astype(np.int16)  # nint() of a non-negative value
    return s_int, offset, scale


def _range_pmfs(hist: np.ndarray) -> dict[tuple[int, int], np.ndarray]:
    """Null pmf of the summed scaled score of every contiguous query column range [a, e].

    Parameters
    ----------
    hist: float64, shape=(Q, BINS + 1): each query column's score distribution
        against a uniformly drawn target column (all columns, both strands).
    """
    q = hist.shape[0]
    out = {}
    for a in range(q):
        pmf = np.ones(1)
        for e in range(a, q):
            pmf = np.convolve(pmf, hist[e])
            out[(a, e)] = pmf
    return out


def alignment_ranges(query_len: int, target_len: int) -> list[tuple[int, int]]:
    """The query column range [start, end] of each of the Q+L-1 alignments (MEME's loop order)."""
    return [alignment_range.py_func(query_len, target_len, i) for i in range(query_len + target_len - 1)]


def max_alignment_pvalues(
    s_int: np.ndarray,
    k0: np.ndarray,
    target_lengths: np.ndarray,
    length_slot: np.ndarray,
    lookup: np.ndarray,
    n_orient: int = 2,
) -> np.ndarray:
    """p-values of observed best complete scores: the null of the best alignment over all offsets and strands.

    MEME (``calc_shifted_scores_pvalues_per_query``) builds, for each target
    length L, the distribution of the maximum of 2*(Q+L-1) independent
    alignment scores, each the sum of its aligned columns' nulls plus ``k0``
    per unaligned query column, by a pmf recursion. The maximum of
    independent variables has CDF = product of CDFs, so here
    ``P(max >= k) = -expm1(sum_j log1p(-S_j(k)))`` with ``S_j`` each
    alignment's survival function: the same number with full relative
    precision in the far tail, evaluated only where a target needs it.

    Parameters
    ----------
    s_int: int16, shape=(B, Q, C), scaled column scores.
    k0: int, shape=(B,): ``-offset*scale``, the scaled score of an unaligned column.
    target_lengths: int, shape=(nL,), the distinct target widths.
    length_slot: int, shape=(T,): each target's index into ``target_lengths``.
    lookup: int, shape=(B, T): observed best complete score + Q*k0 (MEME's lookup index).

    Returns
    -------
    float64, shape=(B, T).
    """
    b_count, q, n_cols = s_int.shape
    ranges = [(a, e) for a in range(q) for e in range(a, q)]
    index = {r: i for i, r in enumerate(ranges)}
    span = np.array([e - a + 1 for a, e in ranges])
    # how many times each target length's alignments use each column range (times strands)
    uses = np.zeros((len(target_lengths), len(ranges)))
    for li, length in enumerate(target_lengths):
        for r in alignment_ranges(q, int(length)):
            uses[li, index[r]] += n_orient
    inv_c = 1.0 / n_cols
    width = q * BINS + 1
    out = np.empty(lookup.shape)
    for b in range(b_count):
        counts = np.stack([np.bincount(s_int[b, j], minlength=BINS + 1) for j in range(q)])
        pmfs = _range_pmfs(counts * inv_c)
        padded = np.zeros((len(ranges), width + 1))  # last column: survival beyond the support = 0
        for i, r in enumerate(ranges):
            pmf = pmfs[r]
            padded[i, :pmf.size] = pmf
        survival = np.cumsum(padded[:, ::-1], axis=1)[:, ::-1]
        needed, where = np.unique(lookup[b], return_inverse=True)
        # alignment scores are shifted up by k0 per unaligned query column
        j = needed[None, :] - ((q - span) * int(k0[b]))[:, None]
        s_at = survival[np.arange(len(ranges))[:, None], np.clip(j, 0, width)]
        with np.errstate(divide="ignore"):
            log_cdf = np.log1p(-np.minimum(s_at, 1.0))  # log P(X < k); -inf where X < k is impossible
        log_cdf = np.maximum(log_cdf, -1e300)  # keep -inf out of the product below (0 * -inf)
        table = -np.expm1(uses @ log_cdf)  # (nL, n_needed)
        out[b] = table[length_slot, where]
    return out


def best_alignments(
    s_int: np.ndarray,
    k0: np.ndarray,
    col_index: np.ndarray,
    lengths: np.ndarray,
    min_overlap: int = 1,
    internal: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MEME's ``compare_motifs`` with complete scores, for every query and target motif.

    The complete score of an alignment is the sum of its aligned columns'
    scaled scores minus ``k0`` per aligned column (unaligned columns add 0).
    The best is the highest score; ties go to the larger overlap, then to the
    first configuration (most negative offset).

    Parameters
    ----------
    s_int: int16, shape=(B, Q, C).
    k0: int, shape=(B,): ``-offset*scale``.
    col_index: int, shape=(T, Lmax): each target's column indices into C,
        padded with C (a zero-score column).
    lengths: int, shape=(T,): target widths.

    Returns
    -------
    score: int64, shape=(B, T), the best complete score.
    offset: int64, shape=(B, T), configuration - Q (target column = query column + offset).
    overlap: int64, shape=(B, T).
    """
    b_count, q, _ = s_int.shape
    n_targets, l_max = col_index.shape
    z = s_int.astype(np.int32) - k0[:, None, None].astype(np.int32)
    z = np.concatenate([z, np.zeros((b_count, q, 1), dtype=np.int32)], axis=2)  # padding column
    n_conf = q + l_max - 1
    diag = np.zeros((b_count, n_targets, n_conf), dtype=np.int32)
    for qc in range(q):
        block = z[:, qc, :][:, col_index]  # (B, T, Lmax): this query column vs every target column
        # configuration c (1-based) aligns query column qc with target column qc + c - Q
        start = q - 1 - qc
        diag[:, :, start:start + l_max] += block
    conf = np.arange(1, n_conf + 1)[None, :]
    lengths_col = lengths[:, None]
    overlap = np.minimum.reduce([np.broadcast_to(conf, (n_targets, n_conf)),
                                 q + lengths_col - conf,
                                 np.full((n_targets, n_conf), q),
                                 np.broadcast_to(lengths_col, (n_targets, n_conf))])
    first, last = np.ones_like(lengths), q + lengths - 1
    if internal:
        first, last = np.minimum(q, lengths), np.maximum(q, lengths)
    elif min_overlap > 1:
        mo = np.minimum(np.minimum(min_overlap, q), lengths)
        first, last = mo, q + lengths - mo
    valid = (conf >= first[:, None]) & (conf <= last[:, None])
    # lexicographic (score, overlap, -configuration) packed into one int64 key
    k_conf = n_conf + 1
    k_overlap = k_conf * (q + 1)
    key = diag.astype(np.int64) * k_overlap + overlap[None] * k_conf + (n_conf - conf)[None]
    key = np.where(valid[None], key, np.iinfo(np.int64).min)
    best = key.argmax(axis=2)
    score = np.take_along_axis(diag, best[..., None], axis=2)[..., 0].astype(np.int64)
    best_overlap = overlap[np.arange(n_targets)[None, :], best]
    return score, best + 1 - q, best_overlap


def sort_matches(p32: np.ndarray, overlap: np.ndarray, offset: np.ndarray, tie_rank: np.ndarray,
                 by_tie_rank: np.ndarray, tie_bits: int) -> dict[str, np.ndarray]:
    """MEME's order of each query's matches (p ascending, overlap descending, then MEME's tie rank), in NumPy.

    The same as :func:`evaluator.tomtom_jit.sort_matches`: one int64 key per
    match (p >= 0, so a float32's bits sort like its value; the tie rank is a
    permutation, so it also names the match), sorted, read back.

    Parameters
    ----------
    p32: float32, shape=(B, 2N); overlap, offset: int64, shape=(B, 2N);
    tie_rank, by_tie_rank: int64, shape=(2N,): each match's tie rank and its inverse;
    tie_bits: bits of the largest tie rank.

    Returns
    -------
    dict of arrays, each shape (B, 2N): ``order`` (match index), ``p32``,
    ``offset``, ``overlap``, ``first`` (this strand sorts before the same
    target's other strand; matches are ``t0+, t0-, t1+, ...``).
    """
    n_strands = tie_rank.size
    key = ((p32.view(np.int32).astype(np.int64) << 8) | (255 - overlap)) << tie_bits | tie_rank
    key.sort(axis=1)
    order = by_tie_rank[key & ((1 << tie_bits) - 1)]
    p_ord = (key >> (tie_bits + 8)).astype(np.int32).view(np.float32)
    ov_ord = 255 - ((key >> tie_bits) & 255)
    off_ord = np.take_along_axis(offset, order, axis=1)
    positions = np.broadcast_to(np.arange(n_strands), order.shape)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, positions, axis=1)
    pair = np.arange(n_strands) ^ 1  # the other strand of the same target
    first = positions < np.take_along_axis(rank, pair[order], axis=1)
    return {"order": order, "p32": p_ord, "offset": off_ord, "overlap": ov_ord, "first": first}
