"""Uncertainty on every headline number: bootstrap CIs, tie-aware rank bands, seed families.

Bootstrap over sequences, vectorised: one draw of ``B`` resamples is a count
matrix ``(B, N)`` (how often each sequence appears in each resample), and
every statistic is computed for all resamples at once as a weighted statistic
of the original data, never with a Python loop over resamples:

- AUROC with weights: sort the scores once, sum the weights of tied scores
  per group (``np.add.reduceat``), then
  ``AUROC_b = sum_g P_bg (N_b,<g + N_bg / 2) / (P_b N_b)`` (ties count half,
  as ``sklearn.metrics.roc_auc_score``).
- Average precision with weights, as ``sklearn.metrics.average_precision_score``
  with ``sample_weight``: one threshold per distinct score, descending,
  ``AP_b = sum_g (P_bg / P_b) * TP_bg / (TP_bg + FP_bg)``.
- Means (attribution scores per sequence): ``counts @ values / n``.

Intervals are percentile intervals (2.5 %, 97.5 % for 95 %) over the
resamples; a resample where a class has no positive or no negative has no
defined score for it and is left out of that class's interval and of that
resample's macro (which averages the classes defined in it, like the point
estimate). The seed and the number of resamples are recorded, so intervals
are deterministic.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from evaluator.classification import unit_score

#: Resamples for classification and attribution intervals.
DEFAULT_RESAMPLES = 1000
#: Resamples for motif recovery (each needs Tomtom on every filter's resampled PPM).
DEFAULT_RECOVERY_RESAMPLES = 50
#: The recorded seed every bootstrap draws from (numpy.random.default_rng).
DEFAULT_SEED = 20_190_601
DEFAULT_LEVEL = 0.95


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are drawn (recorded in every record's ``uncertainty.settings``).

    Attributes
    ----------
    resamples : int
        Bootstrap resamples for classification and attribution.
    recovery_resamples : int
        Bootstrap resamples for motif recovery (0 = no recovery intervals).
    seed : int
        Seed of ``numpy.random.default_rng`` for the resampling.
    level : float
        Central coverage of each interval (0.95).
    """

    resamples: int = DEFAULT_RESAMPLES
    recovery_resamples: int = DEFAULT_RECOVERY_RESAMPLES
    seed: int = DEFAULT_SEED
    level: float = DEFAULT_LEVEL

    def __post_init__(self) -> None:
        if self.resamples < 10:
            raise ValueError(f"resamples must be at least 10, got {self.resamples}")
        if self.recovery_resamples < 0:
            raise ValueError(f"recovery_resamples must be >= 0, got {self.recovery_resamples}")
        if not 0.5 <= self.level < 1.0:
            raise ValueError(f"level must be in [0.5, 1), got {self.level}")

    def as_dict(self) -> dict:
        return {**asdict(self), "method": "percentile bootstrap over sequences"}


def bootstrap_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``n`` items appears in each resample: int32, shape (resamples, n), rows sum to n."""
    idx = rng.integers(0, n, size=(resamples, n))
    flat = idx + (np.arange(resamples, dtype=np.int64) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.int32)


def _narrow(counts: np.ndarray) -> np.ndarray:
    """Resample counts in the narrowest integer type holding them (int8 almost always: a count is ~Poisson(1)).

    The per-class reordering moves the whole (B, N) matrix, so a quarter of the bytes is a quarter of the time;
    every sum over them is then taken in int32, so the numbers do not depend on the type.
    """
    counts = np.asarray(counts)
    if counts.dtype == np.int8:
        return counts
    return counts.astype(np.int8 if counts.max(initial=0) <= np.iinfo(np.int8).max else np.int32)


def _cumulative_at_cuts(counts: np.ndarray, counts_t: np.ndarray | None, order: np.ndarray, pos: np.ndarray,
                        cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each resample's total and positive weight in score order before each cut, int32 (B, len(cuts)).

    counts (B, N) in input order (``counts_t`` its transpose, (N, B) C-contiguous, or None); order (N,) the
    score order; pos (N,) in score order; cuts ascending, from 0 to N. One compiled pass over the
    sequences when numba's cache holds the kernel (:mod:`evaluator.bootstrap_jit`), else NumPy segment
    sums: the same integers either way.
    """
    from evaluator import tomtom_jit_cache

    if tomtom_jit_cache.ready():
        from evaluator.bootstrap_jit import cumulative_at_cuts

        if counts_t is None:
            counts_t = np.ascontiguousarray(counts.T)
        total = np.empty((counts.shape[0], cuts.size), np.int32)
        positive = np.empty_like(total)
        cumulative_at_cuts(np.require(counts_t, requirements=["C", "W"]),  # the compiled signature's layout
                           np.require(order, np.int64, ["C", "W"]), np.require(pos, bool, ["C", "W"]),
                           np.require(cuts, np.int64, ["C", "W"]), total, positive)
        return total, positive
    cs = np.take(counts, order, axis=1)  # (B, N) in score order

    def cumulative(weights):
        out = np.zeros((weights.shape[0], cuts.size), np.int32)
        np.cumsum(np.add.reduceat(weights, cuts[:-1], axis=1, dtype=np.int32), axis=1, out=out[:, 1:])
        return out

    return cumulative(cs), cumulative(cs * pos[None, :])


class _RankedTask:
    """One binary task sorted once, with the cumulative resampled weights both metrics read.

    For each positive sequence (in ascending score order) it holds its
    resample counts ``c`` (B, P), and at its tied-score group: the negative
    weight strictly below the group (``neg_below``), inside the group
    (``neg_tied``) and the positive weight strictly below (``pos_below``);
    plus the totals ``P``, ``Q`` (B,).
    """

    def __init__(self, y: np.ndarray, score: np.ndarray, counts: np.ndarray, counts_t: np.ndarray | None = None):
        score = np.asarray(score, dtype=np.float64)
        order = np.argsort(score, kind="stable")
        s = score[order]
        is_start = np.r_[True, s[1:] != s[:-1]]
        starts = np.flatnonzero(is_start)
        group = np.cumsum(is_start) - 1
        first = starts[group]  # each sorted element's group start
        last = np.r_[starts[1:], s.size][group] - 1  # and group end
        pos = np.asarray(y, dtype=bool)[order]
        counts = _narrow(counts)
        pi = np.flatnonzero(pos)
        # every weight below is a cumulative sum up to a group start of a positive (first) or past its
        # group (last + 1): the weights before those cuts, (B, len(cuts)) int32 (a resample sums to N)
        cuts, where = np.unique(np.r_[0, first[pi], last[pi] + 1, s.size], return_inverse=True)
        below_first, below_past = where[1:1 + pi.size], where[1 + pi.size:1 + 2 * pi.size]
        total, positive = _cumulative_at_cuts(counts, counts_t, order, pos, cuts)
        self.P = positive[:, -1].astype(np.float64)
        self.Q = (total[:, -1] - positive[:, -1]).astype(np.float64)
        self.c = np.take(counts, order[pi], axis=1).astype(np.float64)
        self.pos_below = np.take(positive, below_first, axis=1).astype(np.float64)
        self.neg_below = np.take(total, below_first, axis=1) - self.pos_below
        neg_upto = np.take(total, below_past, axis=1) - np.take(positive, below_past, axis=1)
        self.neg_tied = neg_upto - self.neg_below

    @property
    def defined(self) -> np.ndarray:
        return (self.P > 0) & (self.Q > 0)


def _auroc(task: _RankedTask) -> np.ndarray:
    num = (task.c * (task.neg_below + 0.5 * task.neg_tied)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return unit_score(np.where(task.defined, num / (task.P * task.Q), np.nan))


def _average_precision(task: _RankedTask) -> np.ndarray:
    tp = task.P[:, None] - task.pos_below  # positives scored at or above the group's score
    fp = task.Q[:, None] - task.neg_below
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        return unit_score(np.where(task.defined, (task.c * precision).sum(axis=1) / task.P, np.nan))


def weighted_auroc(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUROC of one binary task under each row of integer weights (resample counts).

    y : shape (N,), 0/1; score : shape (N,); weights : int, shape (B, N).
    Returns float64 shape (B,), NaN where a resample has no positive or no negative.
    """
    return _auroc(_RankedTask(y, score, weights))


def weighted_average_precision(y: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Average precision (sklearn's step definition) under each row of integer weights: shape (B,)."""
    return _average_precision(_RankedTask(y, score, weights))


def percentile_interval(samples: np.ndarray, level: float = DEFAULT_LEVEL) -> list[float | None]:
    """``[lo, hi]`` percentile interval of the finite samples along the last axis (None when none are finite)."""
    samples = np.asarray(samples, dtype=np.float64)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return [None, None]
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(finite, [tail, 100.0 - tail])
    return [float(lo), float(hi)]


def classification_intervals(y: np.ndarray, scores: np.ndarray, settings: BootstrapSettings | None = None,
                             counts: np.ndarray | None = None) -> dict:
    """Bootstrap intervals of macro and per-class AUROC and average precision.

    Parameters
    ----------
    y : ndarray, shape (N, C)
        0/1 labels.
    scores : ndarray, shape (N, C)
        Predicted probabilities (or any monotone score).
    settings : BootstrapSettings
    counts : ndarray, shape (B, N), optional
        Resample counts (default: drawn from ``settings.seed``).

    Returns
    -------
    dict
        ``{"macro_auroc": [lo, hi], "macro_aupr": [lo, hi], "per_class": [{"auroc": [..], "aupr": [..]}, ...]}``.
    """
    settings = settings or BootstrapSettings()
    y = np.asarray(y)
    scores = np.asarray(scores, dtype=np.float64)
    n, n_classes = y.shape
    if counts is None:
        counts = bootstrap_counts(n, settings.resamples, np.random.default_rng(settings.seed))
    counts = _narrow(counts)  # once for the 12 classes
    counts_t = np.ascontiguousarray(counts.T)  # sequences as rows, for the compiled pass
    roc = np.full((counts.shape[0], n_classes), np.nan)
    ap = np.full_like(roc, np.nan)
    defined = np.zeros(n_classes, bool)
    for c in range(n_classes):  # a loop over 12 classes; every resample is done at once inside
        yc = y[:, c].astype(bool)
        if yc.all() or not yc.any():
            continue
        defined[c] = True
        task = _RankedTask(yc, scores[:, c], counts, counts_t)
        roc[:, c] = _auroc(task)
        ap[:, c] = _average_precision(task)
    with warnings.catch_warnings():  # a resample where every class is undefined: mean of nothing = NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        macro_roc = np.nanmean(roc[:, defined], axis=1) if defined.any() else np.full(counts.shape[0], np.nan)
        macro_ap = np.nanmean(ap[:, defined], axis=1) if defined.any() else np.full(counts.shape[0], np.nan)
    level = settings.level
    return {
        "macro_auroc": percentile_interval(macro_roc, level),
        "macro_aupr": percentile_interval(macro_ap, level),
        "per_class": [{"auroc": percentile_interval(roc[:, c], level), "aupr": percentile_interval(ap[:, c], level)}
                      for c in range(n_classes)],
    }


def mean_interval(values: np.ndarray, settings: BootstrapSettings | None = None, seed_offset: int = 0) -> list[float | None]:
    """Bootstrap interval of the mean of per-item values (NaN items left out), e.g. attribution AUROC per sequence.

    values : shape (S,). The resampling stream is ``default_rng([settings.seed, seed_offset])``.
    """
    settings = settings or BootstrapSettings()
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [None, None]
    counts = bootstrap_counts(values.size, settings.resamples, np.random.default_rng([settings.seed, seed_offset]))
    return percentile_interval(counts @ values / values.size, settings.level)


def rank_bands(values, lows, highs, higher_is_better: bool = True) -> np.ndarray:
    """Tie-aware ranks: 1 + the number of rows whose interval lies entirely better than this row's.

    Rows whose intervals overlap the leader's share rank 1 (the rule of
    arena-style leaderboards). A row without an interval uses its value as a
    zero-width interval; a row without a value ranks last.

    values, lows, highs : shape (R,), NaN/None where unknown. Returns int64 shape (R,).
    """
    v = np.asarray([np.nan if x is None else x for x in values], dtype=np.float64)
    lo = np.asarray([np.nan if x is None else x for x in lows], dtype=np.float64)
    hi = np.asarray([np.nan if x is None else x for x in highs], dtype=np.float64)
    lo = np.where(np.isfinite(lo), lo, v)
    hi = np.where(np.isfinite(hi), hi, v)
    if not higher_is_better:
        lo, hi = -hi, -lo
    known = np.isfinite(lo) & np.isfinite(hi)
    better = (lo[None, :] > hi[:, None]) & known[None, :]  # better[i, j]: row j entirely above row i
    ranks = 1 + better.sum(axis=1)
    ranks[~known] = int(known.sum()) + 1
    return ranks.astype(np.int64)


def family_summary(values) -> dict:
    """Mean, sample standard deviation (ddof 1) and count of a family's finite values (its seeds).

    ``sd`` is None with fewer than two values.
    """
    v = np.asarray([np.nan if x is None else x for x in values], dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "sd": None, "n": 0}
    return {"mean": float(v.mean()), "sd": float(v.std(ddof=1)) if v.size > 1 else None, "n": int(v.size)}
