"""Bootstrap intervals for motif recovery: resample the sequences that build the filter PPMs.

A filter's PPM is a sum of windows over (sequence, position) pairs where it
fired, divided by their coverage (:mod:`evaluator.ppm`). Both sums are
additive over sequences, so :class:`PerSequencePPMs` (the same accumulator,
same rule) also keeps each (sequence, filter) pair's window sum, coverage and
window count. A resample of the sequences is then one sparse product
``counts (R, N) @ pairs (N, F * 4w)``: every resample's PPMs at once, turned
into PPMs by the accumulator's own :meth:`~evaluator.ppm.PPMAccumulator.result`,
clipped with the same IC rule, and compared with JASPAR in **one** Tomtom run
(on every core, or on one thread beside the evaluation's other stages; every
resample's filters are queries of the same run; the target side, JASPAR's
pseudocounted columns in the kernels' layouts, is prepared once per process),
keeping only what the counts need: each query's E-values. The matches are then counted by :func:`_fractions`
(``motif_recovery``'s definitions, every resample at once).

The activation threshold (half of each filter's maximum over the split) is
held at its full-split value: the bootstrap of a sample maximum is not
consistent (it reproduces the observed maximum with probability ~0.63), so
re-deriving the threshold per resample would add noise, not information.
"""
from __future__ import annotations

import numpy as np

from evaluator.meme_io import MemeMotif, as_written
from evaluator.ppm import PPMAccumulator, clip_ppm


class PerSequencePPMs(PPMAccumulator):
    """:class:`~evaluator.ppm.PPMAccumulator` that also keeps per-(sequence, filter) window sums.

    Memory: one float32 row of ``4w + w + 1`` values per (sequence, filter)
    pair that fired at least once (at most N x F rows).
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._seen = 0
        self._base = 0
        self._seq: list[np.ndarray] = []
        self._filter: list[np.ndarray] = []
        self._sums: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []

    def update(self, x: np.ndarray, acts: np.ndarray) -> None:
        """Add one batch (x float32 (B, 4, L), acts float32 (B, F, L')), consecutive sequences in split order."""
        self._base = self._seen
        super().update(x, acts)
        self._seen += x.shape[0]

    def _accumulate(self, weights: np.ndarray, windows: np.ndarray) -> None:
        super()._accumulate(weights, windows)
        b, f, s = weights.shape
        fired = np.count_nonzero(weights, axis=2)  # (B, F)
        bi, fi = np.nonzero(fired)
        if bi.size == 0:
            return
        w = self.window
        flat = np.ascontiguousarray(windows.transpose(0, 2, 1, 3), dtype=np.float32).reshape(b, s, 4 * w)
        sums = np.matmul(weights.astype(np.float32), flat)  # (B, F, 4w): each pair's weighted window sum
        self._seq.append((self._base + bi).astype(np.int64))
        self._filter.append(fi.astype(np.int64))
        self._sums.append(sums[bi, fi])
        self._counts.append(fired[bi, fi].astype(np.float32))

    @property
    def n_sequences(self) -> int:
        return self._seen

    def resampled_ppms(self, counts: np.ndarray) -> np.ndarray:
        """PPMs of every resample, float64 shape (R, F, window, 4), by the accumulator's own rule.

        counts : int, shape (R, N): how often each sequence is in each resample.
        """
        from scipy.sparse import csr_matrix

        r = counts.shape[0]
        f, w = self.sums.shape[0], self.window
        if counts.shape[1] != self._seen:
            raise ValueError(f"counts cover {counts.shape[1]} sequences, the accumulator saw {self._seen}")
        if self._seq:
            seq = np.concatenate(self._seq)
            fil = np.concatenate(self._filter)
            sums = np.concatenate(self._sums).reshape(-1, 4, w)
            cov = sums.sum(axis=1)  # (P, w): weight of the windows observing a base there
            nwin = np.concatenate(self._counts)
            values = np.concatenate([sums.reshape(-1, 4 * w), cov, nwin[:, None]], axis=1)  # (P, 5w + 1)
            width = values.shape[1]
            # (F * width, P): row (filter, value) holds that value of each of the filter's pairs; times each
            # pair's resample counts (P, R), summed pair by pair in a fixed order (deterministic, no BLAS)
            rows = (fil[:, None] * width + np.arange(width)[None, :]).ravel()
            cols = np.repeat(np.arange(seq.size), width)
            by_value = csr_matrix((values.ravel().astype(np.float64), (rows, cols)), shape=(f * width, seq.size))
            weights = np.ascontiguousarray(counts[:, seq].T, dtype=np.float64)  # (P, R)
            agg = (by_value @ weights).T.reshape(r, f, width).reshape(r * f, width)
        else:
            agg = np.zeros((r * f, 5 * w + 1))
        acc = PPMAccumulator(self.method, np.zeros(r * f), w, self.length, self.tap_length)
        acc.sums = agg[:, :4 * w].reshape(r * f, 4, w)
        acc.coverage = agg[:, 4 * w:5 * w]
        acc.n_windows = np.rint(agg[:, -1]).astype(np.int64)
        return acc.result().ppms.reshape(r, f, w, 4)


def recovery_intervals(acc: PerSequencePPMs, params, counts: np.ndarray, level: float = 0.95,
                       workers: int | None = None, share=None) -> dict:
    """Bootstrap intervals of match-ground-truth, match-JASPAR and coverage.

    Every resample's clipped PPMs go to Tomtom as the evaluation's own do
    (the 6 decimals of its MEME file, :func:`evaluator.meme_io.as_written`)
    in one run (on every core, or ``workers`` threads). With an E-value threshold (the default) only
    each query's E-values are needed (:func:`evaluator.tomtom.best_strand_evalues`:
    no q-values, no table); a q-value threshold runs full :func:`evaluator.tomtom.tomtom`.

    Parameters
    ----------
    acc : PerSequencePPMs
        The accumulator the evaluation built its PPMs with (after every batch).
    params : evaluator.params.EvalParams
        IC clipping and Tomtom settings (the evaluation's own).
    counts : ndarray, int, shape (R, N)
        Resample counts over the split's sequences.
    level : float
        Central coverage of the intervals.
    workers : int, optional
        Tomtom threads of the E-value run: None = every core, 1 = the calling thread only (same numbers).
    share : evaluator.work_share.WorkShare, optional
        Run the E-value queries in blocks that a waiting thread may help with (same numbers).

    Returns
    -------
    dict
        ``{"match_ground_truth_fraction": [lo, hi], "match_jaspar_fraction": [lo, hi], "coverage": [lo, hi],
        "resamples": R, "tomtom_queries": Q}``.
    """
    from benchmark.motifs import load_motif_set
    from evaluator.uncertainty import percentile_interval

    ppms = acc.resampled_ppms(counts)
    r, f = ppms.shape[:2]
    queries, slots = [], []
    for b in range(r):
        for i in range(f):
            clip = clip_ppm(ppms[b, i], params.ic_threshold, params.ic_pad, params.ic_eps)
            if clip.ppm is not None:
                queries.append(MemeMotif(f"b{b}.filter{i}", "", as_written(clip.ppm), clip.ppm.shape[0]))
                slots.append(b * f + i)
    slot, target = _matches(queries, params, workers, share)
    slot = np.asarray(slots, dtype=np.int64)[slot]
    stats = _fractions(slot // f, slot % f, target, r, f, load_motif_set())
    return {
        "match_ground_truth_fraction": percentile_interval(stats[0], level),
        "match_jaspar_fraction": percentile_interval(stats[1], level),
        "coverage": percentile_interval(stats[2], level),
        "resamples": int(r),
        "tomtom_queries": len(queries),
    }


#: Queries per block of a shared E-value run (about 50 ms of Tomtom each).
SHARED_BLOCK = 48


def _matches(queries: list, params, workers: int | None = None, share=None) -> tuple[np.ndarray, np.ndarray]:
    """(query index, target ID) of every Tomtom match at the evaluation's threshold, shape (H,) each."""
    from evaluator.tomtom import best_strand_evalues, jaspar_targets, tomtom

    if not queries:
        return np.zeros(0, np.int64), np.zeros(0, dtype=object)
    targets = jaspar_targets(params.jaspar_release)  # parsed once per process
    settings = {"dist": params.tomtom_dist, "min_overlap": params.tomtom_min_overlap,
                "motif_pseudo": params.tomtom_motif_pseudo}
    if params.tomtom_evalue:
        limit = np.inf if params.tomtom_thresh is None else float(params.tomtom_thresh)
        with np.errstate(invalid="ignore"):
            if share is None:
                evalues = best_strand_evalues(queries, targets, workers=workers, **settings)
            else:  # each block in one thread; a query's E-values do not depend on the other queries
                evalues = np.concatenate(share.map_blocks(
                    queries, lambda block: best_strand_evalues(block, targets, workers=1, **settings), SHARED_BLOCK))
            qi, ti = np.nonzero(evalues.astype(np.float64) <= limit)
        return qi, np.array([t.id for t in targets], dtype=object)[ti]
    hits = tomtom(queries, targets, evalue=False, thresh=params.tomtom_thresh, **settings)
    index = {q.id: i for i, q in enumerate(queries)}
    return (np.array([index[q] for q in hits["Query_ID"].astype(str)], dtype=np.int64),
            hits["Target_ID"].astype(str).to_numpy(dtype=object))


def resample_fractions(hits, n_resamples: int, n_filters: int, motif_set) -> np.ndarray:
    """Match-ground-truth, match-JASPAR and coverage of every resample from one Tomtom table.

    hits : Tomtom table whose ``Query_ID`` is ``b<resample>.filter<index>``.
    Returns float64 shape (3, R): rows match_ground_truth, match_jaspar, coverage (see :func:`_fractions`).
    """
    if hits is None or not len(hits):
        return np.zeros((3, n_resamples))
    query = hits["Query_ID"].astype(str).str.extract(r"^b(\d+)\.filter(\d+)$").astype(np.int64).to_numpy()
    return _fractions(query[:, 0], query[:, 1], hits["Target_ID"].astype(str).to_numpy(dtype=object),
                      n_resamples, n_filters, motif_set)


def _fractions(b: np.ndarray, fi: np.ndarray, target_ids: np.ndarray, n_resamples: int, n_filters: int,
               motif_set) -> np.ndarray:
    """Match-ground-truth, match-JASPAR and coverage of every resample from its matches.

    The definitions of :func:`evaluator.recovery.motif_recovery` (denominators:
    all filters; a filter matches when it has any hit at the threshold, matches
    ground truth when any hit is an accepted ID of a ground-truth TF; coverage
    = TFs with a matching filter / 12), counted for all resamples at once
    (a test checks they equal ``motif_recovery`` resample by resample).

    b, fi, target_ids : shape (H,): resample, filter and target ID of each match.
    Returns float64 shape (3, R): rows match_ground_truth, match_jaspar, coverage.
    """
    out = np.zeros((3, n_resamples))
    if len(b) == 0:
        return out
    b, fi = np.asarray(b, dtype=np.int64), np.asarray(fi, dtype=np.int64)
    tf_index = {tf: k for k, tf in enumerate(motif_set.names)}
    tf = np.array([tf_index.get(motif_set.tf_of_accepted_id.get(t), -1) for t in target_ids], dtype=np.int64)
    n_tfs = len(motif_set.names)
    jaspar_pairs = np.unique(b * n_filters + fi)
    truth = tf >= 0
    truth_pairs = np.unique(b[truth] * n_filters + fi[truth])
    tf_pairs = np.unique(b[truth] * n_tfs + tf[truth])
    out[0] = np.bincount(truth_pairs // n_filters, minlength=n_resamples) / n_filters
    out[1] = np.bincount(jaspar_pairs // n_filters, minlength=n_resamples) / n_filters
    out[2] = np.bincount(tf_pairs // n_tfs, minlength=n_resamples) / n_tfs
    return out
