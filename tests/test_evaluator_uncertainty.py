"""Bootstrap intervals: exact weighted metrics, coverage of known values in simulation, rank bands, families."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, roc_auc_score

from evaluator.ppm import PPMAccumulator
from evaluator.recovery_uncertainty import PerSequencePPMs
from evaluator.uncertainty import (
    BootstrapSettings,
    bootstrap_counts,
    classification_intervals,
    family_summary,
    mean_interval,
    rank_bands,
    weighted_auroc,
    weighted_average_precision,
)


def test_counts_are_resamples_and_deterministic():
    a = bootstrap_counts(500, 20, np.random.default_rng(3))
    b = bootstrap_counts(500, 20, np.random.default_rng(3))
    assert a.shape == (20, 500) and np.array_equal(a, b)
    assert np.all(a.sum(axis=1) == 500) and a.min() >= 0


def test_weighted_metrics_equal_sklearn_with_sample_weight_including_ties():
    rng = np.random.default_rng(0)
    y = (rng.random(800) < 0.25).astype(int)
    score = np.round(rng.random(800) + 0.4 * y, 1)  # coarse: many ties
    counts = bootstrap_counts(800, 6, rng)
    counts[0] = 1  # the point estimate is the all-ones resample
    roc = weighted_auroc(y, score, counts)
    ap = weighted_average_precision(y, score, counts)
    for b in range(6):
        assert roc[b] == pytest.approx(roc_auc_score(y, score, sample_weight=counts[b]), abs=1e-12)
        assert ap[b] == pytest.approx(average_precision_score(y, score, sample_weight=counts[b]), abs=1e-12)


def test_undefined_resample_is_nan():
    y = np.array([1, 0, 0, 0])
    counts = np.array([[0, 2, 1, 1], [1, 1, 1, 1]])
    assert np.isnan(weighted_auroc(y, np.arange(4.0), counts)[0])
    assert weighted_auroc(y, np.arange(4.0), counts)[1] == 0.0


def test_auroc_interval_covers_the_known_value_in_simulation():
    """Binormal scores: positives N(d, 1), negatives N(0, 1) -> AUROC = Phi(d / sqrt 2)."""
    d, n_pos, n_neg, trials = 1.0, 80, 240, 150
    truth = norm.cdf(d / np.sqrt(2))
    rng = np.random.default_rng(11)
    settings = BootstrapSettings(resamples=1000)
    hit = 0
    for t in range(trials):
        score = np.r_[rng.normal(d, 1, n_pos), rng.normal(0, 1, n_neg)]
        y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
        lo, hi = classification_intervals(y[:, None], score[:, None], BootstrapSettings(seed=t))["per_class"][0]["auroc"]
        hit += lo <= truth <= hi
    coverage = hit / trials
    # nominal 0.95; the percentile bootstrap at this size runs a little below. 150 trials: sd ~0.018
    assert 0.88 <= coverage <= 0.995, coverage
    assert settings.as_dict()["resamples"] == 1000


def test_mean_interval_covers_the_known_mean_in_simulation():
    rng = np.random.default_rng(5)
    hit = sum(lo <= 0.7 <= hi for lo, hi in
              (mean_interval(rng.beta(7, 3, 150), BootstrapSettings(seed=s)) for s in range(200)))
    assert 0.90 <= hit / 200 <= 0.99


def test_intervals_contain_the_point_estimate_and_shrink_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (400, 4000):
        y = (rng.random((n, 12)) < 0.2).astype(int)
        score = rng.random((n, 12)) + 0.5 * y
        ci = classification_intervals(y, score)
        macro = np.mean([roc_auc_score(y[:, c], score[:, c]) for c in range(12)])
        assert ci["macro_auroc"][0] <= macro <= ci["macro_auroc"][1]
        widths.append(ci["macro_auroc"][1] - ci["macro_auroc"][0])
    assert widths[1] < widths[0] / 2  # ~ 1/sqrt(10)


def test_resampled_ppms_equal_ppms_built_from_the_resampled_sequences():
    rng = np.random.default_rng(0)
    n, f, length = 240, 5, 200
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()
    acts = rng.gamma(0.3, 1, (n, f, length)).astype(np.float32)
    for method, window in (("nmi", 20), ("ke", 19)):
        maxima = acts.max(axis=(0, 2))
        acc = PerSequencePPMs(method, maxima, window, length, length, 0.5)
        for s in range(0, n, 64):
            acc.update(x[s:s + 64], acts[s:s + 64])
        counts = bootstrap_counts(n, 3, rng)
        counts[0] = 1
        ppms = acc.resampled_ppms(counts)
        np.testing.assert_allclose(ppms[0], acc.result().ppms, atol=1e-7)
        idx = np.repeat(np.arange(n), counts[2])
        ref = PPMAccumulator(method, maxima, window, length, length, 0.5)
        for s in range(0, len(idx), 64):
            ref.update(x[idx[s:s + 64]], acts[idx[s:s + 64]])
        np.testing.assert_allclose(ppms[2], ref.result().ppms, atol=1e-7)


def test_rank_bands_share_the_leaders_rank_when_intervals_overlap():
    values = [0.90, 0.89, 0.80, 0.79, None]
    lows = [0.88, 0.87, 0.78, 0.70, None]
    highs = [0.92, 0.91, 0.82, 0.81, None]
    assert rank_bands(values, lows, highs).tolist() == [1, 1, 3, 3, 5]
    # no intervals: plain ranks with ties sharing
    assert rank_bands([0.5, 0.7, 0.7], [None] * 3, [None] * 3).tolist() == [3, 1, 1]
    # lower is better
    assert rank_bands([1.0, 2.0], [0.9, 1.9], [1.1, 2.1], higher_is_better=False).tolist() == [1, 2]


def test_family_summary():
    s = family_summary([0.8, 0.9, None, 1.0])
    assert s["n"] == 3 and s["mean"] == pytest.approx(0.9) and s["sd"] == pytest.approx(0.1)
    assert family_summary([0.5]) == {"mean": 0.5, "sd": None, "n": 1}
    assert family_summary([]) == {"mean": None, "sd": None, "n": 0}


def test_resample_fractions_follow_motif_recovery_definitions():
    """The all-resamples count equals evaluator.recovery.motif_recovery run on each resample's hits."""
    from benchmark.jaspar import core_vertebrates
    from benchmark.motifs import load_motif_set
    from evaluator.meme_io import MemeMotif
    from evaluator.recovery import motif_recovery
    from evaluator.recovery_uncertainty import resample_fractions
    from evaluator.tomtom import jaspar_targets, tomtom

    ms = load_motif_set()
    rng = np.random.default_rng(4)
    queries, ids = [], []
    for b in range(3):
        ids.append([f"b{b}.filter{i}" for i in range(6)])
        for i in range(5):  # filter 5 untested in every resample
            ppm = ms.pwms[(3 * b + i) % 12].T + rng.random((ms.pwms[(3 * b + i) % 12].shape[1], 4)) * (0.2 + i * 0.6)
            queries.append(MemeMotif(ids[b][i], "", ppm / ppm.sum(axis=1, keepdims=True), 10))
    hits = tomtom(queries, jaspar_targets(2016))
    got = resample_fractions(hits, 3, 6, ms)
    names = {m.matrix_id: m.name for m in core_vertebrates(2016)}
    for b in range(3):
        part = hits[hits["Query_ID"].str.startswith(f"b{b}.")]
        rec = motif_recovery(part, ids[b], ids[b][:5], ms, names)
        assert got[:, b].tolist() == [rec["match_ground_truth_fraction"], rec["match_jaspar_fraction"], rec["coverage"]]
    assert 0 < got[0].max() < 1  # the case exercises both matching and non-matching filters


def test_compiled_and_numpy_cumulation_give_the_same_intervals(monkeypatch):
    """The classification bootstrap's compiled pass (evaluator.bootstrap_jit) and its NumPy fallback agree exactly."""
    from evaluator import tomtom_jit_cache

    rng = np.random.default_rng(8)
    y = (rng.random((300, 3)) < 0.3).astype(int)
    score = np.round(rng.random((300, 3)) + 0.4 * y, 2)  # rounded: many tied scores
    monkeypatch.setattr(tomtom_jit_cache, "start_warm_up", lambda: None)
    for counts in (bootstrap_counts(300, 50, rng), bootstrap_counts(300, 50, rng) * 100):  # int8 and int32 paths
        runs = []
        for ready in (False, True):
            monkeypatch.setattr(tomtom_jit_cache, "ready", lambda ready=ready: ready)
            runs.append(classification_intervals(y, score, BootstrapSettings(resamples=50), counts=counts))
        assert runs[0] == runs[1]


def test_tomtom_evalues_on_the_calling_thread_equal_the_pools():
    """The background recovery bootstrap scores its queries on its own thread (workers=1): same E-values, bit-equal."""
    from evaluator.meme_io import MemeMotif, as_written
    from evaluator.tomtom import best_strand_evalues, jaspar_targets

    rng = np.random.default_rng(4)
    targets = jaspar_targets()
    ppms = [targets[7 * i].ppm if i % 3 == 0 else rng.dirichlet(np.full(4, 0.3), size=int(rng.integers(6, 16)))
            for i in range(24)]  # JASPAR matrices among random ones; more than two chunks: the default uses the pool
    queries = [MemeMotif(f"q{i}", "", as_written(np.asarray(p, dtype=float)), 20) for i, p in enumerate(ppms)]
    pool = best_strand_evalues(queries, targets)
    alone = best_strand_evalues(queries, targets, workers=1)
    assert pool.shape == (24, len(targets)) and np.isfinite(pool).all()
    assert np.array_equal(pool, alone)
    assert (pool <= 0.1).any()  # the comparison covers matches, not only noise
