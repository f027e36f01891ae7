"""The compiled Tomtom kernels and the NumPy ones (used until numba's cache is warm) give the same output."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluator import tomtom_jit_cache as J
from evaluator.meme_io import MemeMotif
from evaluator.tomtom import jaspar_targets, prepare_targets, tomtom
from evaluator.tomtom_qvalues import MemeRandom, qvalues


@pytest.fixture(scope="module")
def queries():
    rng = np.random.default_rng(4)
    widths = [3, 8, 19, 19, 24, 11, 30, 19, 7, 19]
    return [MemeMotif(f"q{i}", "", rng.dirichlet(np.full(4, 0.4), size=w), 20) for i, w in enumerate(widths)]


def _both(monkeypatch, fn):
    monkeypatch.setattr(J, "start_warm_up", lambda: None)
    monkeypatch.setattr(J, "ready", lambda: False)
    slow = fn()
    monkeypatch.setattr(J, "ready", lambda: True)
    return slow, fn()


@pytest.mark.parametrize("dist", ["ed", "pearson"])
def test_compiled_and_numpy_paths_agree(monkeypatch, queries, dist):
    targets = jaspar_targets(2016)
    slow, fast = _both(monkeypatch, lambda: tomtom(queries, targets, dist=dist, thresh=None))
    pd.testing.assert_frame_equal(slow, fast)
    assert len(fast) == len(queries) * len(targets)


def test_restricted_alignments_agree(monkeypatch, queries):
    targets = jaspar_targets(2016)
    for kwargs in ({"min_overlap": 6}, {"internal": True, "evalue": False, "thresh": 0.5}):
        slow, fast = _both(monkeypatch, lambda: tomtom(queries[:4], targets, **kwargs))
        pd.testing.assert_frame_equal(slow, fast)


def test_random_stream_and_bootstraps_agree(monkeypatch):
    p = np.sort(np.random.default_rng(2).random(1038) ** 2)

    from evaluator import tomtom_qvalues

    def run():
        tomtom_qvalues.clear_bootstrap_cache()  # draw the tables, don't reuse them
        rng = MemeRandom(seed=12345)
        return [qvalues(p, rng) for _ in range(3)] + [rng.random((5,))]

    slow, fast = _both(monkeypatch, run)
    for a, b in zip(slow, fast):
        np.testing.assert_array_equal(a, b)


def test_prepared_targets_are_reused_and_checked():
    targets = jaspar_targets(2016)
    prepared = prepare_targets(targets)
    assert prepare_targets(list(targets)) is prepared  # same content: the cached object
    hits = tomtom([MemeMotif("q", "", targets[3].ppm, 20)], prepared)
    assert hits.iloc[0].Target_ID == targets[3].id
    from benchmark.errors import MotifbenchError

    with pytest.raises(MotifbenchError, match="motif_pseudo"):
        tomtom([MemeMotif("q", "", targets[3].ppm, 20)], prepared, motif_pseudo=0.5)


@pytest.mark.parametrize("dist", ["ed", "pearson"])
def test_best_strand_evalues_are_tomtoms_evalues(monkeypatch, queries, dist):
    """The E-value-only path (bootstrap resamples) gives tomtom()'s E-values and its matches at any threshold."""
    from pathlib import Path

    from evaluator.meme_io import read_meme
    from evaluator.tomtom import best_strand_evalues

    targets = jaspar_targets(2016)
    meme = read_meme(Path(__file__).parent / "data" / "tomtom" / "all.meme")[::4]
    wide = MemeMotif("too_wide", "", np.full((101, 4), 0.25), 20)  # skipped, as MEME does
    motifs = list(queries) + [wide] + meme
    table = tomtom(motifs, targets, dist=dist, thresh=None)
    slow, fast = _both(monkeypatch, lambda: best_strand_evalues(motifs, targets, dist=dist))
    np.testing.assert_array_equal(slow, fast)
    assert fast.shape == (len(motifs), len(targets)) and fast.dtype == np.float32
    assert np.isnan(fast[len(queries)]).all() and not np.isnan(np.delete(fast, len(queries), axis=0)).any()
    row = {m.id: i for i, m in enumerate(motifs)}
    col = {t.id: j for j, t in enumerate(targets)}
    got = fast[table["Query_ID"].map(row).to_numpy(), table["Target_ID"].map(col).to_numpy()]
    np.testing.assert_array_equal(got.astype(np.float64), table["E-value"].to_numpy())
    for thresh in (0.1, 1.0):
        kept = tomtom(motifs, targets, dist=dist, thresh=thresh)
        qi, ti = np.nonzero(fast.astype(np.float64) <= thresh)
        assert sorted(zip(kept["Query_ID"], kept["Target_ID"])) == sorted(
            (motifs[i].id, targets[j].id) for i, j in zip(qi, ti))


def test_qvalues_from_kept_tables_equal_the_runs():
    """A worker's q-values from kept bootstrap tables (no generator) equal the run's stream's, row by row."""
    from evaluator import tomtom_qvalues as TQ

    rng = np.random.default_rng(5)
    p = np.sort(rng.random((4, 1038)) ** 3, axis=1)
    TQ.clear_bootstrap_cache()
    assert TQ.kept_qvalue_rows(p, 0) is None  # nothing kept yet: the caller's thread must draw
    run = TQ.MemeRandom()
    expected = TQ.qvalue_rows(p, run)  # draws (and keeps) four tables
    step = TQ.draws_per_query(1038)
    assert run.position == 4 * step
    np.testing.assert_array_equal(TQ.kept_qvalue_rows(p, 0), expected)
    np.testing.assert_array_equal(TQ.kept_qvalue_rows(p[2:], 2 * step), expected[2:])
    assert TQ.kept_qvalue_rows(p, step) is None  # the fifth table was never drawn
    skipped = TQ.MemeRandom()
    skipped.skip_qvalue_rows(1038, 2)
    np.testing.assert_array_equal(TQ.qvalue_rows(p[2:], skipped), expected[2:])


def test_warm_call_repeats_the_first(queries):
    """The second call (q-values from kept tables, in the workers) reports what the first (drawing them) did."""
    from evaluator import tomtom_qvalues as TQ

    targets = jaspar_targets(2016)
    many = queries * 3  # 30 queries: chunks on the thread pool
    TQ.clear_bootstrap_cache()
    first = tomtom(many, targets, thresh=None)
    pd.testing.assert_frame_equal(first, tomtom(many, targets, thresh=None))
