"""The all-sequences-at-once attribution metrics equal the per-sequence formulas bit for bit.

:func:`evaluator.attribution_score.per_sequence_metrics` sorts every sequence's scores at
once; the record's numbers must stay what the per-sequence definitions give
(``_auroc``, ``_average_precision``, ``np.median``, sums of each sequence's own arrays).
The reference below applies those definitions one sequence at a time.
"""
from __future__ import annotations

import numpy as np
import pytest

from evaluator.attribution_score import (METRICS, ClassMasks, _auroc, _average_precision, bootstrap_summary,
                                         per_sequence_metrics)
from evaluator.classification import unit_score


def one_at_a_time(scores: np.ndarray, masks: ClassMasks) -> dict[str, np.ndarray]:
    out = {m: np.full(len(scores), np.nan) for m in METRICS}
    for i, row in enumerate(np.asarray(scores, np.float64)):
        own, dis, bg = masks.own[i], masks.distractor[i], masks.background[i]
        p, d, b = row[own], row[dis], row[bg]
        if p.size == 0:
            continue
        out["auroc"][i] = _auroc(p, b)
        out["aupr"][i] = _average_precision(p, b)
        total = row[own | dis | bg].sum()
        if total > 0:
            out["mass_in_motif"][i] = unit_score(p.sum() / total)
            out["mass_in_distractors"][i] = unit_score(d.sum() / total)
        if b.size:
            out["background_fpr"][i] = float((b >= np.median(p)).mean())
        if d.size:
            out["own_vs_distractor_auroc"][i] = _auroc(p, d)
    return out


def _case(seed: int, ties: bool):
    rng = np.random.default_rng(seed)
    s, length = 80, int(rng.integers(6, 150))
    scores = np.abs(rng.standard_normal((s, length))).astype(np.float32)
    if ties:  # few distinct values: ties inside and across the sets
        scores = (np.round(scores * 2) / 2).astype(np.float32)
    scores[:4] = 0.0  # all-zero maps
    label = rng.integers(0, 4, (s, length))  # 3 = N / in no set
    own, dis, bg = label == 0, label == 1, label == 2
    own[4:7] = False  # no own position: every metric undefined
    bg[7:10] = False  # no background
    dis[10:13] = False  # no distractor
    own[13], bg[13], dis[13] = np.arange(length) == 5, np.arange(length) != 5, False  # a single own position
    return scores, ClassMasks(own, dis, bg)


@pytest.mark.parametrize("seed, ties", [(0, False), (1, True), (2, True), (3, False), (4, True)])
def test_all_at_once_equals_one_at_a_time_bit_for_bit(seed, ties):
    scores, masks = _case(seed, ties)
    got = per_sequence_metrics(scores, masks)
    want = one_at_a_time(scores, masks)
    for m in METRICS:
        np.testing.assert_array_equal(got[m], want[m], err_msg=m)
        assert np.isfinite(got[m]).sum() > 40, m  # not vacuous
    assert np.isnan(got["auroc"][4:7]).all() and np.isnan(got["auroc"][7:10]).all()
    assert np.isnan(got["own_vs_distractor_auroc"][10:13]).all()


def test_asking_for_some_metrics_gives_the_same_values_and_nan_for_the_rest():
    scores, masks = _case(5, True)
    full = per_sequence_metrics(scores, masks)
    only = per_sequence_metrics(scores, masks, ("auroc",))
    np.testing.assert_array_equal(only["auroc"], full["auroc"])
    assert set(only) == {"auroc"}


def test_shared_bootstrap_draws_change_no_interval():
    """The resample indices are cached per (seed, resamples, size): the summary is what a fresh draw gives."""
    v = np.random.default_rng(6).random(300)
    rng = np.random.default_rng(0)
    means = v[rng.integers(0, v.size, size=(500, v.size))].mean(axis=1)
    for _ in range(2):  # the second call reads the cache
        got = bootstrap_summary(v, 500, 0)
        assert got["ci_low"] == float(np.quantile(means, 0.025))
        assert got["ci_high"] == float(np.quantile(means, 0.975))
        assert got["mean"] == float(v.mean()) and got["n"] == 300
