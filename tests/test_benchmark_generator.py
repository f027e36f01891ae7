"""The synthetic generators: koo2019 is the published stream bit for bit, fast draws the same distribution."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmark.generator import COUNT_PROBS, generate_fast, generate_koo2019
from benchmark.motifs import load_motif_set


@pytest.fixture(scope="module")
def entries():
    return load_motif_set().generator_entries()


@pytest.fixture(scope="module")
def koo(entries):
    return generate_koo2019(entries, n=25_000)


@pytest.fixture(scope="module")
def fast(entries):
    return generate_fast(entries, n=25_000, seed=7)


def _published_notebook(core_motifs, num_seq, seq_length=200, num_plot=10):
    """The published notebook's data path, transcribed in its own style (one-hot X, Y, per-sequence PWMs).

    Kept deliberately naive and separate from benchmark.generator: the test is
    that two independent writings of the same published procedure agree bit for bit.
    """
    np.random.seed(33)
    cum_dist = np.cumsum([0, 0.5, 0.25, 0.17, 0.05, 0.3])

    def model():
        while True:
            k = np.where(np.random.rand() > cum_dist)[0][-1] + 1
            picks = np.random.randint(len(core_motifs), size=k)
            distance = sum(core_motifs[p].shape[1] for p in picks)
            if seq_length > distance > 0:
                break
        while True:
            sep = np.random.uniform(0, 1, size=len(picks) + 1)
            sep = np.round(sep / sum(sep) * (seq_length - distance)).astype(int)
            if np.sum(sep) == seq_length - distance:
                break
        parts = [np.ones((4, sep[0])) / 4]
        for i, p in enumerate(picks):
            parts += [core_motifs[p], np.ones((4, sep[i + 1])) / 4]
        return np.hstack(parts), picks

    for _ in range(num_plot):
        model()
    xs, ys, models = [], [], []
    for _ in range(num_seq):
        pwm, picks = model()
        z = np.random.uniform(0, 1, pwm.shape[1])
        one_hot = np.zeros(pwm.shape)
        one_hot[(z < pwm.cumsum(axis=0)).argmax(axis=0), np.arange(pwm.shape[1])] = 1
        y = np.zeros(len(core_motifs) // 2)
        y[np.unique(np.floor(picks / 2).astype(int))] = 1
        xs.append(one_hot), ys.append(y), models.append(pwm)
    shuffle = np.random.permutation(num_seq)
    return np.array(xs), np.array(ys), np.array(models), shuffle


def test_koo2019_reproduces_the_published_stream_bit_for_bit(entries):
    n = 1_500
    x, y, models, shuffle = _published_notebook(entries, n)
    ours = generate_koo2019(entries, n=n)
    np.testing.assert_array_equal(ours.codes, x.argmax(axis=1))
    np.testing.assert_array_equal(ours.labels, y.astype(np.int8))
    cum = np.cumsum([0, 0.7, 0.1, 0.2]) * n
    np.testing.assert_array_equal(ours.splits["train"], shuffle[: int(cum[1])])
    np.testing.assert_array_equal(ours.splits["test"], shuffle[int(cum[2]) : int(cum[3])])
    # the recorded instances rebuild each sequence's generating PWM exactly
    rebuilt = np.full(models.shape, 0.25)
    for s, e, a in zip(ours.inst_seq, ours.inst_entry, ours.inst_start):
        rebuilt[s, :, a : a + entries[e].shape[1]] = entries[e]
    np.testing.assert_array_equal(rebuilt, models)


def test_koo2019_is_deterministic_and_leaves_global_rng_alone(entries):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = generate_koo2019(entries, n=300)
    assert np.array_equal(np.random.get_state()[1], before)
    b = generate_koo2019(entries, n=300)
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.inst_start, b.inst_start)
    c = generate_koo2019(entries, n=300, seed=34)
    assert not np.array_equal(a.codes, c.codes)


def test_paper_split_sizes(koo):
    assert {k: len(v) for k, v in koo.splits.items()} == {"train": 17_500, "validation": 2_500, "test": 5_000}
    assert np.array_equal(np.sort(np.concatenate(list(koo.splits.values()))), np.arange(25_000))


@pytest.mark.parametrize("which", ["koo", "fast"])
def test_instances_are_consistent_with_layout_and_labels(which, request, entries):
    s = request.getfixturevalue(which)
    widths = np.array([e.shape[1] for e in entries])
    assert np.all(s.inst_end - s.inst_start == widths[s.inst_entry])
    assert s.inst_start.min() >= 0 and s.inst_end.max() <= s.length
    # instances of one sequence are in layout order and never overlap
    same = s.inst_seq[1:] == s.inst_seq[:-1]
    assert np.all(s.inst_start[1:][same] >= s.inst_end[:-1][same])
    implied = np.zeros_like(s.labels)
    implied[s.inst_seq, s.inst_entry // 2] = 1
    np.testing.assert_array_equal(implied, s.labels)
    assert s.motif_counts().min() >= 1 and s.motif_counts().max() <= 5


def test_fast_matches_koo2019_motif_count_distribution(koo, fast):
    for s in (koo, fast):
        observed = np.bincount(s.motif_counts(), minlength=6)[1:]
        assert stats.chisquare(observed, COUNT_PROBS * s.n).pvalue > 1e-3
    table = np.vstack([np.bincount(s.motif_counts(), minlength=6)[1:] for s in (koo, fast)])
    assert stats.chi2_contingency(table).pvalue > 1e-3


def test_fast_matches_koo2019_class_balance_and_entry_choice(koo, fast):
    table = np.vstack([np.bincount(s.inst_entry, minlength=24) for s in (koo, fast)])
    assert stats.chi2_contingency(table).pvalue > 1e-3
    np.testing.assert_allclose(koo.labels.mean(0), fast.labels.mean(0), atol=0.015)


def test_fast_matches_koo2019_positions_and_gaps(koo, fast):
    def first_start(s):
        first = np.r_[True, s.inst_seq[1:] != s.inst_seq[:-1]]
        return s.inst_start[first]

    def gaps_between(s):
        same = s.inst_seq[1:] == s.inst_seq[:-1]
        return (s.inst_start[1:] - s.inst_end[:-1])[same]

    assert stats.ks_2samp(first_start(koo), first_start(fast)).pvalue > 1e-3
    assert stats.ks_2samp(gaps_between(koo), gaps_between(fast)).pvalue > 1e-3
    assert stats.ks_2samp(koo.inst_start, fast.inst_start).pvalue > 1e-3


@pytest.mark.parametrize("which", ["koo", "fast"])
def test_letters_inside_instances_follow_the_pwm(which, request, entries):
    s = request.getfixturevalue(which)
    for e, pwm in enumerate(entries):
        sel = np.flatnonzero(s.inst_entry == e)
        cols = s.inst_start[sel][:, None] + np.arange(pwm.shape[1])
        letters = s.codes[s.inst_seq[sel][:, None], cols]  # (instances, w)
        freq = np.stack([(letters == b).mean(axis=0) for b in range(4)])  # (4, w)
        # binomial standard error is at most 0.5 / sqrt(n): allow 5 of them
        assert np.abs(freq - pwm).max() < 5 * 0.5 / np.sqrt(sel.size), f"entry {e}"
        # a letter with probability 0 in the PWM never appears
        assert np.all(freq[pwm == 0] == 0)


def test_background_is_uniform(fast):
    mask = np.zeros(fast.codes.shape, dtype=bool)
    for s, a, b in zip(fast.inst_seq, fast.inst_start, fast.inst_end):
        mask[s, a:b] = True
    counts = np.bincount(fast.codes[~mask], minlength=4)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_fast_generator_any_length_and_seed(entries):
    s = generate_fast(entries, n=64, length=60, seed=3)
    assert s.codes.shape == (64, 60) and s.inst_end.max() <= 60
    t = generate_fast(entries, n=64, length=60, seed=3)
    assert np.array_equal(s.codes, t.codes)
