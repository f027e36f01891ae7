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


def per_sequence_metrics(scores: np.ndarray, masks: ClassMasks) -> dict[str, np.ndarray]:
    """Every metric for every sequence (NaN where undefined).

    scores : ndarray, shape (S, L), non-negative. Returns metric name -> float ndarray, shape (S,).
    """
    s = len(scores)
    out = {m: np.full(s, np.nan) for m in METRICS}
    for i in range(s):
        sc = np.asarray(scores[i], np.float64)
        own, dis, bg = masks.own[i], masks.distractor[i], masks.background[i]
        p, d, b = sc[own], sc[dis], sc[bg]
        if p.size == 0:
            continue
        out["auroc"][i] = _auroc(p, b)
        out["aupr"][i] = _average_precision(p, b)
        total = sc[own | dis | bg].sum()
        if total > 0:
            out["mass_in_motif"][i] = unit_score(p.sum() / total)
            out["mass_in_distractors"][i] = unit_score(d.sum() / total)
        if b.size:
            out["background_fpr"][i] = float((b >= np.median(p)).mean())
        if d.size:
            out["own_vs_distractor_auroc"][i] = _auroc(p, d)
    return out


def bootstrap_summary(values: np.ndarray, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """Mean over sequences and percentile-bootstrap CI (resampling sequences).

    values : ndarray, shape (S,), NaN = undefined (left out). Returns ``{mean, ci_low, ci_high, n}``.
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": None, "ci_low": None, "ci_high": None, "n": 0}
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
    alpha = (1 - level) / 2
    return {"mean": float(v.mean()), "ci_low": float(np.quantile(means, alpha)),
            "ci_high": float(np.quantile(means, 1 - alpha)), "n": int(v.size)}


def summarise(scores: np.ndarray, masks: ClassMasks, n_boot: int = 1000, seed: int = 0) -> dict:
    """Every metric's mean and CI for one method. scores : ndarray, shape (S, L)."""
    per = per_sequence_metrics(scores, masks)
    return {m: bootstrap_summary(per[m], n_boot, seed) for m in METRICS}
