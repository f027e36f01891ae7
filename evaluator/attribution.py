"""Attribution against ground truth: in silico mutagenesis (ISM) scored on motif positions.

Works for any ONNX model (no gradients needed). For a sequence ``x`` (4, L)
and a chosen class ``k``:

1. ``delta[c, i] = f_k(x with position i set to base c) - f_k(x)`` for the 3
   non-reference bases at every position (``3L`` mutants, run in batches),
   0 for the reference base. ``f_k`` is class ``k``'s logit: the model's
   logits output when it has one (metadata ``motifbench.logits_output`` or a
   declared name, see :meth:`OnnxModel.ism_logits`), else the prediction
   output, probabilities going through a logit clipped at ``1e-6`` (which caps
   logits at 13.8; float32 probabilities near 1 then give exact ties).
2. Centre per position: ``delta'[c, i] = delta[c, i] - mean_c delta[c, i]``.
3. Attribution x input, summed over nucleotides (REFERENCE.md section 8):
   ``score[i] = sum_c x[c, i] delta'[c, i] = -mean_c delta[c, i]``,
   i.e. how much the class logit drops, on average over the 4 bases, when
   position i is mutated (0 at ``N`` positions). The papers' code multiplied
   the *uncentred* map by the input, which is identically 0 for ISM; centring
   is the standard fix.

Class ``k`` per sequence: among the sequence's positive labels, the one with
the highest predicted probability. Each sequence's scores are ranked against
its ground-truth mask (True inside a recorded motif instance): AUROC, average
precision and the papers' trapezoid auPR, then averaged over sequences.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from evaluator.classification import auroc, aupr_trapezoid, average_precision
from evaluator.ism_mutants import mutants  # noqa: F401  (re-exported: part of this module's API)
from evaluator.onnx_model import OnnxModel


#: Whether :func:`ism_delta` tries incremental ISM when not told (perf/ compares both ways).
INCREMENTAL_DEFAULT = True


class AttributionScores(NamedTuple):
    """Per-sequence scores (NaN when a mask is all True or all False) and their means."""

    auroc: np.ndarray
    aupr: np.ndarray
    aupr_trapezoid: np.ndarray
    mean_auroc: float
    mean_aupr: float
    mean_aupr_trapezoid: float
    n_scored: int


def choose_classes(y: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Per sequence, the positive class with the highest predicted probability.

    y: shape=(S, C) 0/1, every row with at least one positive. probabilities: shape=(S, C).
    Returns int64 shape=(S,).
    """
    masked = np.where(np.asarray(y) > 0, probabilities, -np.inf)
    return masked.argmax(axis=1).astype(np.int64)


def ism_delta(model: OnnxModel, x: np.ndarray, classes: np.ndarray, batch_mutants: int = 4800,
              logit_eps: float = 1e-6, incremental: bool | None = None) -> np.ndarray:
    """Mutant-minus-reference logit map.

    x: float32 shape=(S, 4, L). classes: int shape=(S,). Returns float64
    shape=(S, 4, L), 0 at each reference base.

    With ``incremental`` (None: :data:`INCREMENTAL_DEFAULT`, True) and a model whose first layer is the only
    path from input to output, each mutant's first layer is recomputed only
    around the substitution (:mod:`evaluator.ism_incremental`; the same
    numbers to float rounding, checked on a probe); otherwise every mutant
    runs through the whole model.
    """
    if (INCREMENTAL_DEFAULT if incremental is None else incremental) and len(x):
        inc = incremental_ism(model)
        if inc is not None:
            return inc.delta(np.asarray(x, np.float32), np.asarray(classes), batch_mutants, eps=logit_eps)
    return full_ism_delta(model, x, classes, batch_mutants, logit_eps)


_incremental_cache: dict = {}


def incremental_ism(model: OnnxModel):
    """The model's :class:`evaluator.ism_incremental.IncrementalIsm`, or None if it doesn't apply.

    Built (and checked on a probe) once per model file and settings in a
    process: re-evaluating the same model reuses it.
    """
    from evaluator import ism_incremental

    key = (model.info.sha256, model.length, model.info.extra.get("threads"), model.ism_output["output_name"],
           model.output_kind, ism_incremental.SHORTCUTS)
    if key not in _incremental_cache:
        from evaluator.ism_incremental import build_incremental

        if len(_incremental_cache) >= 4:
            _incremental_cache.pop(next(iter(_incremental_cache)))
        _incremental_cache[key] = build_incremental(model)
    return _incremental_cache[key]


def full_ism_delta(model: OnnxModel, x: np.ndarray, classes: np.ndarray, batch_mutants: int = 4800,
                   logit_eps: float = 1e-6) -> np.ndarray:
    """:func:`ism_delta` by running every mutant through the whole model, shape (S, 4, L)."""
    s, _, length = x.shape
    per_call = max(1, batch_mutants // (3 * length))
    delta = np.zeros((s, 4, length), np.float64)
    for start in range(0, s, per_call):
        xb = x[start:start + per_call]
        kb = classes[start:start + per_call]
        b = xb.shape[0]
        ref_logit = model.ism_logits(xb, b, logit_eps)[np.arange(b), kb]
        mut = mutants(xb).reshape(b * 3 * length, 4, length)
        out = model.ism_logits(mut, mut.shape[0], logit_eps).reshape(b, 3 * length, -1)
        mut_logit = np.take_along_axis(out, kb[:, None, None], axis=2)[:, :, 0]  # (b, 3L)
        d = (mut_logit - ref_logit[:, None]).reshape(b, length, 3)
        ref = xb.argmax(axis=1)
        alts = (ref[:, :, None] + np.arange(1, 4)) % 4
        bi, li, _ = np.meshgrid(np.arange(b), np.arange(length), np.arange(3), indexing="ij")
        delta[start + bi, alts, li] = d
    return delta


def position_scores(delta: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Centre the ISM map per position, multiply by the input, sum over bases.

    delta: shape=(S, 4, L). x: shape=(S, 4, L) one-hot. Returns shape=(S, L).
    """
    centred = delta - delta.mean(axis=1, keepdims=True)
    return (centred * x).sum(axis=1)


def score_against_mask(scores: np.ndarray, mask: np.ndarray) -> AttributionScores:
    """Rank each sequence's positions by score against its ground-truth mask.

    scores: shape=(S, L). mask: bool shape=(S, L), True inside a motif instance.
    """
    roc = np.array([auroc(m, s) for s, m in zip(scores, mask)], dtype=np.float64)
    ap = np.array([average_precision(m, s) for s, m in zip(scores, mask)], dtype=np.float64)
    trap = np.array([aupr_trapezoid(m, s) for s, m in zip(scores, mask)], dtype=np.float64)
    ok = np.isfinite(roc)

    def mean(a: np.ndarray) -> float:
        return float(a[ok].mean()) if ok.any() else float("nan")

    return AttributionScores(roc, ap, trap, mean(roc), mean(ap), mean(trap), int(ok.sum()))


def select_sequences(y: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first ``n`` sequences (split order) with a positive label and a masked position."""
    eligible = np.flatnonzero((np.asarray(y).sum(axis=1) > 0) & np.asarray(mask).any(axis=1))
    return eligible[:n]
