"""Classification metrics: per-class and macro AUROC and auPR.

Two auPR flavours are reported, because they differ and the papers used the
second one:

- ``aupr`` = average precision (``sklearn.metrics.average_precision_score``),
  a step-function integral of the precision-recall curve; the standard.
- ``aupr_trapezoid`` = ``auc(recall, precision)`` on ``precision_recall_curve``,
  linear interpolation between PR points as the papers' code computed it. It is
  optimistic, and it is labelled as such wherever it appears.

A class with no positive (or no negative) in the split has no defined score:
it is reported as NaN, listed in ``undefined_classes`` and left out of macros.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _binary_clf_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive counts at each distinct threshold, highest first (sklearn's
    ``_binary_clf_curve``, the same operations, so the same floats; sklearn itself is not
    imported on the evaluate path: its import alone took about a second)."""
    order = np.argsort(score, kind="mergesort")[::-1]
    score = score[order]
    y = y_true[order].astype(np.float64)
    distinct = np.where(np.diff(score))[0]
    idx = np.r_[distinct, y.size - 1]
    tps = np.cumsum(y, dtype=np.float64)[idx]
    fps = 1 + idx - tps
    return fps, tps


#: How far a score that is mathematically in [0, 1] may drift outside it from float64 round-off
#: alone (an area summed over thousands of curve steps is off by a few ulps: a perfect ranking's
#: average precision can come out as 1.0000000000000002).
UNIT_ROUND_OFF = 1e-9


def unit_score(value):
    """A score that lies in [0, 1] by definition (AUROC, average precision, a fraction), clipped there.

    Parameters
    ----------
    value : float or ndarray, any shape
        The computed score(s); NaN (undefined) passes through.

    Returns
    -------
    float or ndarray, same shape
        ``value`` clipped to [0, 1] (a float for a scalar input).

    Raises
    ------
    ValueError
        When a value lies further than ``UNIT_ROUND_OFF`` outside [0, 1]: that is a bug, not round-off,
        and clipping would hide it.
    """
    arr = np.asarray(value, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size and (finite.min() < -UNIT_ROUND_OFF or finite.max() > 1.0 + UNIT_ROUND_OFF):
        raise ValueError(f"a [0, 1] score came out as {finite.min()!r}..{finite.max()!r}: beyond round-off")
    clipped = np.clip(arr, 0.0, 1.0)
    return float(clipped) if clipped.ndim == 0 else clipped


def _trapezoid_area(x: np.ndarray, y: np.ndarray) -> float:
    """sklearn ``auc``: trapezoid area for monotone ``x`` (either direction), in [0, 1] for unit curves."""
    direction = -1 if np.any(np.diff(x) < 0) else 1
    return unit_score(direction * np.trapezoid(y, x))


def roc_auc_score(y_true: np.ndarray, score: np.ndarray) -> float:
    """sklearn ``roc_auc_score`` for one binary task with both classes present."""
    fps, tps = _binary_clf_curve(y_true, np.asarray(score))
    if fps.size > 2:  # sklearn drops intermediate points only then (one or two distinct scores keep all)
        keep = np.where(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True])[0]
        fps, tps = fps[keep], tps[keep]
    fps, tps = np.r_[0, fps], np.r_[0, tps]
    return _trapezoid_area(fps / fps[-1], tps / tps[-1])


def precision_recall_curve(y_true: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sklearn ``precision_recall_curve`` (precision, recall; thresholds not needed)."""
    fps, tps = _binary_clf_curve(y_true, np.asarray(score))
    ps = tps + fps
    precision = np.zeros_like(tps)
    np.divide(tps, ps, out=precision, where=(ps != 0))
    recall = tps / tps[-1]
    return np.hstack((precision[::-1], 1)), np.hstack((recall[::-1], 0))


def average_precision_score(y_true: np.ndarray, score: np.ndarray) -> float:
    """sklearn ``average_precision_score`` for one binary task."""
    precision, recall = precision_recall_curve(y_true, score)
    return unit_score(-np.sum(np.diff(recall) * np.array(precision)[:-1]))


class ClassificationScores(NamedTuple):
    """Per-class arrays (12,) with NaN where undefined, and macros over defined classes."""

    auroc: np.ndarray
    aupr: np.ndarray
    aupr_trapezoid: np.ndarray
    n_positive: np.ndarray
    macro_auroc: float
    macro_aupr: float
    macro_aupr_trapezoid: float
    undefined_classes: list[int]


def auroc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve for one binary task; NaN if only one class is present.

    y_true: shape=(N,), 0/1. score: shape=(N,), higher = more likely positive.
    """
    y_true = np.asarray(y_true).astype(bool)
    if y_true.all() or not y_true.any():
        return float("nan")
    return float(roc_auc_score(y_true, score))


def average_precision(y_true: np.ndarray, score: np.ndarray) -> float:
    """Average precision (step-wise area under precision-recall); NaN without positives or negatives."""
    y_true = np.asarray(y_true).astype(bool)
    if y_true.all() or not y_true.any():
        return float("nan")
    return float(average_precision_score(y_true, score))


def aupr_trapezoid(y_true: np.ndarray, score: np.ndarray) -> float:
    """The papers' auPR: trapezoid ``auc(recall, precision)``; NaN without positives or negatives."""
    y_true = np.asarray(y_true).astype(bool)
    if y_true.all() or not y_true.any():
        return float("nan")
    precision, recall = precision_recall_curve(y_true, score)
    return _trapezoid_area(recall, precision)


def _nanmean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def classification_scores(y_true: np.ndarray, y_score: np.ndarray) -> ClassificationScores:
    """Score a multi-label prediction.

    Parameters
    ----------
    y_true: shape=(N, C), 0/1 labels in class order.
    y_score: shape=(N, C), probabilities or logits (ranks are all that matter).
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise ValueError(f"labels {y_true.shape} and scores {y_score.shape} must both be (N, classes)")
    n_classes = y_true.shape[1]
    roc = np.array([auroc(y_true[:, c], y_score[:, c]) for c in range(n_classes)])
    ap = np.array([average_precision(y_true[:, c], y_score[:, c]) for c in range(n_classes)])
    trap = np.array([aupr_trapezoid(y_true[:, c], y_score[:, c]) for c in range(n_classes)])
    undefined = [int(c) for c in range(n_classes) if not np.isfinite(roc[c])]
    return ClassificationScores(
        auroc=roc, aupr=ap, aupr_trapezoid=trap, n_positive=y_true.astype(bool).sum(axis=0),
        macro_auroc=_nanmean(roc), macro_aupr=_nanmean(ap), macro_aupr_trapezoid=_nanmean(trap),
        undefined_classes=undefined,
    )
