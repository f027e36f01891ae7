"""Classification metrics used during training (macro AUROC / auPR over classes).

Classes with no positive or no negative example in the evaluated set are left
out of the macro mean (their score is undefined), so tiny smoke slices still
give a number; the count of scored classes is returned with it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


class MacroScores(NamedTuple):
    auroc: float
    aupr: float
    n_classes_scored: int


def macro_scores(y_true: np.ndarray, y_prob: np.ndarray) -> MacroScores:
    """Macro AUROC and average precision (sklearn), shapes (N, C) both.

    Returns NaN for both when no class has both labels present, or when a prediction is not
    finite (a diverged model: its scores are undefined, and `fit` records it as diverged).
    """
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    positives = y_true.sum(axis=0)
    scorable = (positives > 0) & (positives < y_true.shape[0])
    if not scorable.any() or not np.isfinite(y_prob).all():
        return MacroScores(float("nan"), float("nan"), 0)
    yt, yp = y_true[:, scorable], y_prob[:, scorable]
    return MacroScores(
        float(roc_auc_score(yt, yp, average="macro")),
        float(average_precision_score(yt, yp, average="macro")),
        int(scorable.sum()),
    )
