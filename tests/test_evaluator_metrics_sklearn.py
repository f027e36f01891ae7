"""The evaluator's AUROC / AP / trapezoid auPR are scikit-learn's numbers, computed without importing it."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from evaluator import classification as C


@pytest.mark.parametrize("seed", range(6))
def test_metrics_equal_sklearn_exactly(seed):
    rng = np.random.default_rng(seed)
    for trial in range(60):
        n = int(rng.integers(2, 400))
        y = rng.random(n) < rng.uniform(0.05, 0.95)
        if y.all() or not y.any():
            continue
        if trial % 3 == 0:
            s = np.round(rng.random(n), int(rng.integers(1, 3)))  # many ties
        elif trial % 3 == 1:
            s = rng.normal(size=n).astype(np.float32)
        else:
            s = rng.random(n)
        precision, recall, _ = metrics.precision_recall_curve(y, s)
        assert C.auroc(y, s) == metrics.roc_auc_score(y, s)
        assert C.average_precision(y, s) == metrics.average_precision_score(y, s)
        assert C.aupr_trapezoid(y, s) == metrics.auc(recall, precision)


def test_evaluate_path_does_not_import_sklearn():
    import subprocess
    import sys

    code = ("import sys; from evaluator.classification import classification_scores; import numpy as np; "
            "classification_scores(np.eye(12)[np.arange(40) % 12], np.random.default_rng(0).random((40, 12))); "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
