"""evaluator.tomtom_kernels and tomtom(): MEME's rules checked on small hand-made cases."""
from __future__ import annotations

import numpy as np
import pytest

from benchmark.errors import MotifbenchError
from evaluator import tomtom_kernels as K
from evaluator.meme_io import MemeMotif
from evaluator.tomtom import COLUMNS, TOMTOM_METHOD, jaspar_targets, tomtom
from evaluator.tomtom_qvalues import MemeRandom, qvalues


def test_pseudocount_and_row_normalisation_follow_meme():
    bg = K.symmetric_background([0.25] * 4)
    uniform = np.full((1, 4), 0.25)
    assert (K.apply_pseudocount(uniform, 7, bg, 0.1) == 0.25).all()  # stays exact
    onehot = np.array([[1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_allclose(K.apply_pseudocount(onehot, None, bg, 0.1)[0, 0], (20 + 0.025) / 20.1)
    np.testing.assert_allclose(K.apply_pseudocount(onehot, 0, bg, 0.1)[0, 0], (20 + 0.025) / 20.1)
    rows = np.array([[0.333333, 0.333333, 0.333333, 0.0], [2.0, 1.0, 1.0, 0.0]])
    out = K.normalise_rows(rows)
    np.testing.assert_array_equal(out[0], rows[0])  # within 1e-5 of 1: left alone
    np.testing.assert_array_equal(out[1], [0.5, 0.25, 0.25, 0.0])
    np.testing.assert_allclose(K.symmetric_background([0.3, 0.2, 0.2, 0.3]), [0.3, 0.2, 0.2, 0.3])
    np.testing.assert_allclose(K.symmetric_background([0.4, 0.1, 0.3, 0.2]), [0.3, 0.2, 0.2, 0.3])


def test_consensus_takes_first_maximum():
    ppm = np.array([[0.25, 0.25, 0.25, 0.25], [0.1, 0.4, 0.4, 0.1], [0.0, 0.0, 0.1, 0.9]])
    assert K.consensus(ppm) == "ACT"
    assert K.consensus(K.reverse_complement(ppm)) == "ACA"  # tie C/G again goes to C


def test_rnd_rounds_to_14_significant_digits():
    rng = np.random.default_rng(1)
    x = rng.standard_normal(2000) * 10.0 ** rng.integers(-6, 2, 2000)
    x[:3] = [0.0, 0.1875000000000001, -1e-17]
    got = K._rnd(x.copy())
    assert got[0] == 0.0 and got[1] == 0.1875
    for value, rounded in zip(x[3:], got[3:]):
        scale = 10.0 ** (13 - np.floor(np.log10(abs(value))))
        assert abs(rounded * scale - round(rounded * scale)) < 0.02  # 14 significant digits
        assert abs(rounded - value) * scale <= 0.5 + 0.02  # nearest such number


def test_distances():
    q = np.array([[[1.0, 0, 0, 0], [0.25, 0.25, 0.25, 0.25]]])
    t = np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]])
    np.testing.assert_allclose(K.ed_scores(q, t)[0], [[0, -np.sqrt(2)], [-np.sqrt(0.75), -np.sqrt(0.75)]])
    pearson = K.pearson_scores(q, t)[0]
    np.testing.assert_allclose(pearson[0], [1.0, -1 / 3])
    assert (pearson[1] == 0).all()  # zero-variance column scores 0, no NaN


def test_shift_and_scale_maps_scores_to_0_100():
    rng = np.random.default_rng(0)
    scores = -rng.random((2, 3, 10))
    s_int, offset, scale = K.shift_and_scale(scores)
    assert s_int.min() >= 0 and s_int.max() <= K.BINS
    assert (offset == np.floor(offset)).all() and (scale >= 1).all()
    med = np.sort(scores, axis=-1)[..., 4]  # lower median of 10
    expected = np.floor((scores - med[..., None] - offset[:, None, None]) * scale[:, None, None] + 0.5)
    np.testing.assert_array_equal(s_int, expected)


def test_alignment_ranges_cover_every_offset():
    ranges = K.alignment_ranges(3, 2)
    assert ranges == [(2, 2), (1, 2), (0, 1), (0, 0)]
    assert len(K.alignment_ranges(19, 7)) == 25


def test_best_alignment_prefers_score_then_overlap_then_first_offset():
    # one query column scores 2 above its unaligned value only against target column 1
    s_int = np.array([[[0, 2, 0]]], dtype=np.int16)  # Q=1, C=3 (one target of width 3)
    col_index = np.array([[0, 1, 2]])
    score, offset, overlap = K.best_alignments(s_int, np.array([0]), col_index, np.array([3]))
    assert (score[0, 0], offset[0, 0], overlap[0, 0]) == (2, 1, 1)
    # all ties: the first configuration (most negative offset) wins
    flat = np.zeros((1, 2, 2), dtype=np.int16)
    score, offset, overlap = K.best_alignments(flat, np.array([0]), np.array([[0, 1]]), np.array([2]))
    assert (score[0, 0], offset[0, 0], overlap[0, 0]) == (0, 0, 2)  # equal score: larger overlap
    score, offset, _ = K.best_alignments(flat, np.array([0]), np.array([[0, 1]]), np.array([2]), min_overlap=2)
    assert offset[0, 0] == 0


def test_qvalues_follow_storey_and_meme_stream():
    p = np.sort(np.random.default_rng(3).random(500) ** 3)
    q1 = qvalues(p, MemeRandom())
    q2 = qvalues(p, MemeRandom())
    np.testing.assert_array_equal(q1, q2)  # deterministic: MEME's default-seeded stream
    assert (np.diff(q1) >= 0).all() and (q1 <= 1).all() and (q1 >= p * 0).all()
    bh = np.minimum.accumulate((p * p.size / np.arange(1, p.size + 1))[::-1])[::-1]
    assert (q1 <= np.minimum(bh, 1) + 1e-12).all()  # pi0 <= 1 can only lower BH's values
    small = np.array([0.01, 0.5])
    np.testing.assert_allclose(qvalues(small), [0.02, 0.5])  # < 100 p-values: pi0 = 1


@pytest.fixture(scope="module")
def jaspar():
    return jaspar_targets(2016)


def test_self_match_and_reverse_complement(jaspar):
    target = jaspar[100]
    rc = MemeMotif("rc", "", K.reverse_complement(target.ppm), target.nsites)
    trimmed = MemeMotif("slice", "", target.ppm[2:7], target.nsites)
    hits = tomtom([target, rc, trimmed], jaspar, thresh=0.1)
    assert list(hits.columns) == COLUMNS
    top = hits.groupby("Query_ID", sort=False).head(1).set_index("Query_ID")
    assert top.loc[target.id, "Target_ID"] == target.id
    assert top.loc[target.id, ["Optimal_offset", "Orientation"]].tolist() == [0, "+"]
    assert top.loc["rc", "Target_ID"] == target.id and top.loc["rc", "Orientation"] == "-"
    assert top.loc["slice", "Target_ID"] == target.id and top.loc["slice", "Optimal_offset"] == 2
    assert (hits["E-value"] <= 0.1).all()
    assert hits.groupby("Query_ID").Target_ID.apply(lambda s: s.is_unique).all()  # one row per target


def test_thresholds_and_arguments(jaspar):
    q = [MemeMotif("q", "", jaspar[5].ppm, 20)]
    every = tomtom(q, jaspar, thresh=None)
    assert len(every) == len(jaspar)
    assert every["p-value"].is_monotonic_increasing
    np.testing.assert_allclose(every["E-value"], every["p-value"] * len(jaspar), rtol=1e-6)
    assert len(tomtom(q, jaspar, thresh=1e9)) == len(jaspar)
    with pytest.raises(MotifbenchError, match="dist"):
        tomtom(q, jaspar, dist="sandelin")
    with pytest.raises(MotifbenchError, match="q-value threshold"):
        tomtom(q, jaspar, evalue=False, thresh=2)
    with pytest.raises(MotifbenchError, match="min_overlap"):
        tomtom(q, jaspar, min_overlap=0)
    with pytest.raises(MotifbenchError, match="shape"):
        tomtom([MemeMotif("bad", "", np.ones((3, 3)))], jaspar)
    wide = MemeMotif("wide", "", np.full((101, 4), 0.25))
    assert tomtom([wide], jaspar, thresh=None).empty  # MEME skips queries wider than 100
    assert TOMTOM_METHOD["dist"] == "ed" and TOMTOM_METHOD["thresh"] == 0.1 and TOMTOM_METHOD["evalue"]


def test_min_overlap_and_internal_restrict_alignments(jaspar):
    q = [MemeMotif("q", "", jaspar[7].ppm, 20)]
    plain = tomtom(q, jaspar, thresh=None).set_index("Target_ID")
    strict = tomtom(q, jaspar, thresh=None, min_overlap=5).set_index("Target_ID")
    inside = tomtom(q, jaspar, thresh=None, internal=True).set_index("Target_ID")
    widths = {t.id: t.width for t in jaspar}
    need = np.minimum(5, np.minimum(q[0].width, [widths[t] for t in strict.index]))
    assert (strict["Overlap"].values >= need).all()
    assert (inside["Overlap"].values == np.minimum(q[0].width, [widths[t] for t in inside.index])).all()
    assert (plain["Overlap"] < 5).any()  # the restriction changed something
