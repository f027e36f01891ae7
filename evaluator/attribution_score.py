"""Class-specific attribution scores against the embedded motifs, with bootstrap CIs.

The question asked of a map explaining class ``k`` (TF ``t_k``) for sequence
``n``: does it point at the instances of ``t_k``, rather than at background or
at *other* TFs' instances? Position sets per (sequence, class):

* **own** ``P``: positions inside an instance of ``t_k`` whose generating-PWM
  column carries more than ``ic_min`` bits (0.01, the NMI code's rule;
  reverse-strand instances use the reversed column order);
* **distractors** ``D``: positions inside an instance of any other TF (never
  positives, never plain negatives);
* **background** ``B``: everything else (``N`` positions excluded).

Per sequence, with position scores ``s`` (non-negative,
:func:`evaluator.attribution_methods.position_scores`):

* ``auroc`` = AUROC of ``s`` on ``P`` (positive) vs ``B`` (negative)
  (Mann-Whitney, ties count 1/2);
* ``aupr`` = average precision of ``s`` on ``P`` vs ``B``
  (``sum_r (R_r - R_{r-1}) Prec_r`` over distinct thresholds, sklearn's rule);
* ``mass_in_motif`` = ``sum_{P} s / sum_{all} s``; ``mass_in_distractors`` = ``sum_{D} s / sum_{all} s``;
* ``background_fpr`` = ``|{i in B : s_i >= median_{P} s}| / |B|`` (the FPR at TPR = 0.5);
* ``own_vs_distractor_auroc`` = AUROC of ``P`` vs ``D`` (only sequences with a distractor).

Each is averaged over sequences; the 95% CI is the percentile bootstrap over
sequences (``n_boot`` resamples, fixed seed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple
from functools import lru_cache

import numpy as np

from evaluator.classification import unit_score

METRICS: tuple[str, ...] = ("auroc", "aupr", "mass_in_motif", "mass_in_distractors", "background_fpr",
                            "own_vs_distractor_auroc")


@dataclass
class ClassMasks:
    """Ground truth for the explained class of each sequence.

    own, distractor, background : bool ndarray, shape (S, L).
    """

    own: np.ndarray
    distractor: np.ndarray
    background: np.ndarray


def choose_explained_classes(y: np.ndarray, motifs: list[list[dict]], names: list[str],
                             seed: int = 0) -> np.ndarray:
    """Per sequence, one positive class with a recorded instance, drawn with a fixed seed (model-independent).

    y : ndarray, shape (S, 12). motifs : per-row motif records (``tf`` names). Returns int ndarray, shape (S,);
    -1 where a sequence has no positive class with an instance.
    """
    rng = np.random.default_rng(seed)
    index = {n: i for i, n in enumerate(names)}
    out = np.full(len(y), -1, np.int64)
    for i, (row, recs) in enumerate(zip(y, motifs)):
        present = sorted({index[r["tf"]] for r in recs if r.get("tf") in index and row[index[r["tf"]]] > 0})
        draw = rng.integers(0, 1 << 30)
        if present:
            out[i] = present[draw % len(present)]
    return out


def class_masks(motifs: list[list[dict]], classes: np.ndarray, x: np.ndarray, names: list[str],
                informative: dict[str, np.ndarray] | None = None) -> ClassMasks:
    """Own / distractor / background masks.

    motifs : per-row records ``{tf, start, end, strand}`` (``end`` exclusive). classes : int ndarray, shape (S,).
    x : ndarray, shape (S, 4, L) (``N`` = all-zero columns are in no set).
    informative : TF name -> bool ndarray, shape (width,) (columns above ``ic_min`` bits, forward strand);
    None = every column of an instance.
    """
    s, _, length = x.shape
    own = np.zeros((s, length), bool)
    other = np.zeros((s, length), bool)
    for i, (recs, k) in enumerate(zip(motifs, classes)):
        for r in recs:
            start, end = int(r["start"]), int(r["end"])
            span = np.ones(end - start, bool)
            if informative is not None and r["tf"] in informative and len(informative[r["tf"]]) == end - start:
                cols = informative[r["tf"]]
                span = cols[::-1] if r.get("strand") == "-" else cols
            if r["tf"] == names[k]:
                own[i, start:end] |= span
            else:
                other[i, start:end] = True
    real = x.sum(axis=1) > 0
    distractor = other & ~own & real
    own &= real
    background = real & ~own & ~other
    return ClassMasks(own, distractor, background)


def informative_columns(ic_min: float = 0.01) -> dict[str, np.ndarray]:
    """TF name -> bool ndarray, shape (width,): generating-PWM columns with information > ``ic_min`` bits."""
    from benchmark.motifs import load_motif_set

    ms = load_motif_set()
    return {name: ic > ic_min for name, ic in zip(ms.names, ms.information_content())}


def _auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUROC: ``mean over pairs of [p > n] + 1/2 [p == n]`` (searchsorted on sorted negatives)."""
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    neg = np.sort(neg)
    below = np.searchsorted(neg, pos, side="left")
    ties = np.searchsorted(neg, pos, side="right") - below
    return unit_score((below.sum() + 0.5 * ties.sum()) / (pos.size * neg.size))


def _average_precision(pos: np.ndarray, neg: np.ndarray) -> float:
    if pos.size == 0:
        return float("nan")
    scores = np.concatenate([pos, neg])
    labels = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    order = np.argsort(-scores, kind="mergesort")
    scores, labels = scores[order], labels[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # end of each distinct-score group
    tp = np.cumsum(labels)[last]
    precision = tp / (last + 1)
    recall = tp / pos.size
    return unit_score(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def per_sequence_metrics(scores: np.ndarray, masks: ClassMasks,
                         metrics: tuple[str, ...] = METRICS) -> dict[str, np.ndarray]:
    """Every metric in ``metrics`` for every sequence (NaN where undefined).

    scores : ndarray, shape (S, L), non-negative. Returns metric name -> float ndarray, shape (S,).

    All sequences at once (sorting along the rows); every value is bit for bit what
    :func:`_auroc`, :func:`_average_precision` and the sums on each sequence's own arrays give
    (the same integer counts, the same float operations in the same order; tested).
    """
    sc = np.asarray(scores, np.float64)
    s = len(sc)
    own, dis, bg = (np.asarray(m, bool) for m in (masks.own, masks.distractor, masks.background))
    n_own, n_dis, n_bg = own.sum(axis=1), dis.sum(axis=1), bg.sum(axis=1)
    has = n_own > 0
    out = {m: np.full(s, np.nan) for m in metrics}
    if not s:
        return out
    if "auroc" in metrics or "own_vs_distractor_auroc" in metrics:
        rows = _sorted_rows(sc)
        if "auroc" in metrics:
            out["auroc"] = _rows_auroc(rows, own, bg, n_own, n_bg)
        if "own_vs_distractor_auroc" in metrics:
            out["own_vs_distractor_auroc"] = _rows_auroc(rows, own, dis, n_own, n_dis)
    if "aupr" in metrics:
        out["aupr"] = _rows_average_precision(sc, own, bg, n_own)
    if "background_fpr" in metrics:
        med = _rows_median(sc, own, n_own)
        ok = has & (n_bg > 0)
        above = ((sc >= med[:, None]) & bg).sum(axis=1)
        out["background_fpr"][ok] = above[ok] / n_bg[ok]
    if "mass_in_motif" in metrics or "mass_in_distractors" in metrics:
        motif, distractors = np.full(s, np.nan), np.full(s, np.nan)
        for i in np.flatnonzero(has):  # sums of each sequence's own arrays (pairwise summation order kept)
            row = sc[i]
            total = row[own[i] | dis[i] | bg[i]].sum()
            if total > 0:
                motif[i] = row[own[i]].sum() / total
                distractors[i] = row[dis[i]].sum() / total
        for m, v in (("mass_in_motif", motif), ("mass_in_distractors", distractors)):
            if m in metrics:
                out[m] = unit_score(v)
    return out


class _SortedRows(NamedTuple):
    """Each row's scores in increasing order (ties in any order) and each place's tie group."""

    order: np.ndarray  # (S, L) int: the sorting permutation
    start: np.ndarray  # (S, L) int: first place of the place's tie group
    end: np.ndarray  # (S, L) int: last place of it


def _sorted_rows(sc: np.ndarray) -> _SortedRows:
    order = np.argsort(sc, axis=1)  # the order inside a tie group does not matter: counts are per group
    val = np.take_along_axis(sc, order, axis=1)
    s, length = sc.shape
    idx = np.broadcast_to(np.arange(length), (s, length))
    new_group = np.ones((s, length), bool)
    new_group[:, 1:] = val[:, 1:] != val[:, :-1]
    start = np.maximum.accumulate(np.where(new_group, idx, 0), axis=1)
    end_group = np.ones((s, length), bool)
    end_group[:, :-1] = new_group[:, 1:]
    end = np.minimum.accumulate(np.where(end_group, idx, length - 1)[:, ::-1], axis=1)[:, ::-1]
    return _SortedRows(order, start, end)


def _rows_auroc(rows: _SortedRows, pos: np.ndarray, neg: np.ndarray, n_pos: np.ndarray,
                n_neg: np.ndarray) -> np.ndarray:
    """:func:`_auroc` of every row: ``pos``/``neg`` masks, shape (S, L); NaN where either set is empty."""
    is_pos = np.take_along_axis(pos, rows.order, axis=1)
    is_neg = np.take_along_axis(neg, rows.order, axis=1)
    neg_incl = np.cumsum(is_neg, axis=1)  # negatives at or before each sorted place
    neg_before = np.take_along_axis(neg_incl, rows.start, axis=1) - np.take_along_axis(is_neg, rows.start, axis=1)
    neg_tied = np.take_along_axis(neg_incl, rows.end, axis=1) - neg_before
    below = np.where(is_pos, neg_before, 0).sum(axis=1)  # int64 counts, as searchsorted's sums
    ties = np.where(is_pos, neg_tied, 0).sum(axis=1)
    out = np.full(len(pos), np.nan)
    ok = (n_pos > 0) & (n_neg > 0)
    out[ok] = (below[ok] + 0.5 * ties[ok]) / (n_pos[ok] * n_neg[ok])  # _auroc's formula on the same integers
    return unit_score(out)


def _rows_average_precision(sc: np.ndarray, pos: np.ndarray, neg: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """:func:`_average_precision` of every row (NaN where ``pos`` is empty)."""
    s, length = sc.shape
    member = pos | neg
    key = np.where(member, -sc, np.inf)  # members by decreasing score first, the rest after them
    order = np.argsort(key, axis=1)  # group-end counts do not depend on the order inside a tie group
    val = np.take_along_axis(key, order, axis=1)
    is_member = np.take_along_axis(member, order, axis=1)
    seen = np.cumsum(is_member, axis=1)  # last + 1 of _average_precision at each member
    tp = np.cumsum(np.take_along_axis(pos, order, axis=1), axis=1).astype(np.float64)
    group_end = is_member.copy()
    group_end[:, :-1] &= (val[:, 1:] != val[:, :-1]) | ~is_member[:, 1:]
    rr, cc = np.nonzero(group_end)  # each row's group ends, in order
    slot = np.cumsum(group_end, axis=1)[rr, cc] - 1
    precision, recall = np.zeros((s, length)), np.zeros((s, length))
    precision[rr, slot] = tp[rr, cc] / seen[rr, cc]
    recall[rr, slot] = tp[rr, cc] / np.maximum(n_pos, 1)[rr]  # rows without positives are not read
    terms = np.diff(recall, axis=1, prepend=0.0) * precision
    n_groups = group_end.sum(axis=1)
    out = np.full(s, np.nan)
    for i in np.flatnonzero(n_pos > 0):  # the sum over this row's groups only, in order (as np.sum sums them)
        out[i] = np.sum(terms[i, :n_groups[i]])
    return unit_score(out)


def _rows_median(sc: np.ndarray, pos: np.ndarray, n_pos: np.ndarray) -> np.ndarray:
    """``np.median`` of each row's ``pos`` values (NaN where there are none).

    np.median is the mean of the middle one or two sorted values, ``(a + b) / 2``; with one middle
    value ``(a + a) / 2 == a`` exactly.
    """
    srt = np.sort(np.where(pos, sc, np.inf), axis=1)
    n = np.maximum(n_pos, 1)[:, None]
    lo = np.take_along_axis(srt, (n - 1) // 2, axis=1)[:, 0]
    hi = np.take_along_axis(srt, n // 2, axis=1)[:, 0]
    return np.where(n_pos > 0, (lo + hi) / 2, np.nan)


@lru_cache(maxsize=4)
def resample_indices(seed: int, n_boot: int, size: int) -> np.ndarray:
    """``default_rng(seed).integers(0, size, (n_boot, size))``, read-only: every metric with ``size`` values
    resamples the same sequences, so the draw is made once (per process) and shared."""
    idx = np.random.default_rng(seed).integers(0, size, size=(n_boot, size))
    idx.flags.writeable = False
    return idx


def bootstrap_summary(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean over sequences and percentile-bootstrap CI (resampling sequences).

    values : ndarray, shape (S,), NaN = undefined (left out). Returns ``{mean, ci_low, ci_high, n}``.
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    means = v[resample_indices(seed, n_boot, v.size)].mean(axis=1)
    alpha = (1 - level) / 2
    return {"mean": float(v.mean()), "ci_low": float(np.quantile(means, alpha)),
            "ci_high": float(np.quantile(means, 1 - alpha)), "n": int(v.size)}


def summarise(scores: np.ndarray, masks: ClassMasks, n_boot: int = 1000, seed: int = 0) -> dict:
    """Every metric's mean and CI for one method. scores : ndarray, shape (S, L)."""
    per = per_sequence_metrics(scores, masks)
    return {m: bootstrap_summary(per[m], n_boot, seed) for m in METRICS}
