"""Rounds: the secret (0600 file or environment), commitments, rotation, and the hidden draw's distribution."""
from __future__ import annotations

import hashlib
import os
import stat

import numpy as np
import pytest
from scipy import stats

from benchmark import rounds
from benchmark.generator import COUNT_PROBS
from benchmark.hidden_test import HIDDEN_N, hidden_info, hidden_sample, hidden_split, load_draw, save_draw


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.delenv(rounds.SECRET_ENV, raising=False)
    return tmp_path


def test_first_round_creates_an_owner_only_secret_and_its_commitment(home):
    assert rounds.current_round(home) is None and rounds.load_secret(home) is None
    r1 = rounds.ensure_round(home)
    path = home / "rounds" / "secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    seed = rounds.load_secret(home)
    assert len(seed) == 32 and path.read_text().strip() == seed.hex()
    assert r1.id == "r1" and r1.commitment == hashlib.sha256(seed).hexdigest() and r1.seed is None
    assert rounds.ensure_round(home) == r1  # idempotent
    ledger = (home / "rounds" / "ledger.json").read_text()
    assert seed.hex() not in ledger and r1.commitment in ledger


def test_widened_secret_file_is_narrowed_back(home):
    rounds.ensure_round(home)
    path = home / "rounds" / "secret"
    os.chmod(path, 0o644)
    rounds.load_secret(home)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rotate_publishes_the_old_seed_and_draws_a_new_one(home):
    r1 = rounds.ensure_round(home)
    old_seed = rounds.load_secret(home)
    rotation = rounds.rotate(home)
    assert rotation.ended.id == "r1" and rotation.ended.seed == old_seed.hex() and rotation.ended.ended
    assert rounds.verify_round(rotation.ended)
    new_seed = rounds.load_secret(home)
    assert new_seed != old_seed
    assert rotation.started.id == "r2" and rotation.started.commitment == rounds.commitment(new_seed)
    assert [r.id for r in rounds.read_ledger(home)] == ["r1", "r2"]
    assert rounds.current_round(home) == rotation.started
    assert rounds.find_round("r1", home).seed == old_seed.hex()
    assert rounds.find_round(r1.commitment[:12], home).id == "r1"
    assert new_seed.hex() not in (home / "rounds" / "ledger.json").read_text()
    assert not (home / "rounds" / "secret.next").exists()


def test_interrupted_rotation_is_completed(home):
    rounds.ensure_round(home)
    seed = bytes(range(32))
    ledger = rounds.read_ledger(home)
    ended = rounds.Round(**{**ledger[0].as_dict(), "ended": "x", "seed": rounds.load_secret(home).hex()})
    started = rounds.Round(id="r2", commitment=rounds.commitment(seed), started="x")
    (home / "rounds" / "secret.next").write_text(seed.hex())
    rounds._write_ledger([ended, started], home)  # died here: ledger written, secret not yet replaced
    assert rounds.ensure_round(home).id == "r2"
    assert rounds.load_secret(home) == seed


def test_environment_secret_wins_and_cannot_be_rotated_here(home, monkeypatch):
    seed = bytes(range(1, 33))
    monkeypatch.setenv(rounds.SECRET_ENV, seed.hex())
    r1 = rounds.ensure_round(home)
    assert r1.commitment == rounds.commitment(seed)
    assert not (home / "rounds" / "secret").exists()
    with pytest.raises(rounds.RoundError, match="MOTIFBENCH_ROUND_SECRET"):
        rounds.rotate(home)
    # the owner changes the Space secret: the old round closes unrevealed, a new one opens
    monkeypatch.setenv(rounds.SECRET_ENV, bytes(range(2, 34)).hex())
    r2 = rounds.ensure_round(home)
    first = rounds.read_ledger(home)[0]
    assert r2.id == "r2" and first.ended and first.seed is None
    # going back to a retired secret is refused
    monkeypatch.setenv(rounds.SECRET_ENV, seed.hex())
    with pytest.raises(rounds.RoundError, match="ended round r1"):
        rounds.ensure_round(home)


def test_bad_seed_text_is_refused_without_echoing_it(home, monkeypatch):
    with pytest.raises(rounds.RoundError) as err:
        rounds.parse_seed("deadbeef" * 7 + "zz")
    assert "deadbeef" not in str(err.value)
    monkeypatch.setenv(rounds.SECRET_ENV, "not-a-seed-1234567")
    with pytest.raises(rounds.RoundError) as err:
        rounds.load_secret(home)
    assert "not-a-seed" not in str(err.value)


# ----------------------------------------------------------------------------- the hidden draw

SEED_A = bytes.fromhex("11" * 32)
SEED_B = bytes.fromhex("a7" * 16 + "3c" * 16)


@pytest.fixture(scope="module")
def draws():
    return hidden_sample(SEED_A), hidden_sample(SEED_B)


def test_hidden_draw_is_deterministic_and_sized_like_the_public_test(draws):
    a, _ = draws
    assert a.codes.shape == (HIDDEN_N, 200)
    again = hidden_sample(SEED_A, n=50)
    assert np.array_equal(again.codes, a.codes[:50])  # same stream, prefix of the larger draw


def test_two_rounds_differ_in_sequences(draws):
    a, b = draws
    assert (a.codes != b.codes).mean() > 0.7  # unrelated sequences differ at ~3/4 of positions
    assert not np.array_equal(a.labels, b.labels)


def _count_table(a, b, values_a, values_b, categories):
    return np.array([[np.sum(values_a == c) for c in categories], [np.sum(values_b == c) for c in categories]])


def test_two_rounds_share_the_distribution(draws):
    a, b = draws
    # class balance: positives per class, 2 x 12 contingency
    table = np.stack([a.labels.sum(axis=0), b.labels.sum(axis=0)])
    assert stats.chi2_contingency(table).pvalue > 1e-3
    # motifs per sequence against the published probabilities, and between rounds
    for s in draws:
        observed = np.bincount(s.motif_counts(), minlength=6)[1:6]
        assert stats.chisquare(observed, COUNT_PROBS * s.n).pvalue > 1e-3
    counts = _count_table(a, b, a.motif_counts(), b.motif_counts(), range(1, 6))
    assert stats.chi2_contingency(counts[:, counts.sum(axis=0) > 0]).pvalue > 1e-3
    # generator entries (TF and strand) used
    entries = _count_table(a, b, a.inst_entry, b.inst_entry, range(24))
    assert stats.chi2_contingency(entries).pvalue > 1e-3
    # positions: every instance start, and the first start of each sequence
    assert stats.ks_2samp(a.inst_start, b.inst_start).pvalue > 1e-3
    first = lambda s: s.inst_start[np.r_[0, np.flatnonzero(np.diff(s.inst_seq)) + 1]]  # noqa: E731
    assert stats.ks_2samp(first(a), first(b)).pvalue > 1e-3


def test_hidden_split_arrays_and_the_sandbox_handoff(tmp_path, draws):
    a, _ = draws
    split = hidden_split(SEED_A, "1.0.0", n=300)
    assert split.x.shape == (300, 4, 200) and split.y.shape == (300, 12) and split.mask.shape == (300, 200)
    assert np.array_equal(split.x.argmax(axis=1), a.codes[:300])
    assert split.info.split == "hidden" and rounds.commitment(SEED_A) in split.info.source
    # the mask is True exactly inside recorded instances; labels agree with them
    for i in (0, 7, 123):
        inside = np.zeros(200, bool)
        for m in split.motifs[i]:
            inside[m["start"]:m["end"]] = True
        assert np.array_equal(inside, split.mask[i])
    sample = hidden_sample(SEED_A, n=300)
    path = save_draw(sample, hidden_info(sample, rounds.commitment(SEED_A), "1.0.0"), tmp_path / "draw.npz")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    back = load_draw(path)
    assert np.array_equal(back.x, split.x) and np.array_equal(back.y, split.y) and back.ids == split.ids
    assert back.info == split.info and back.motifs == split.motifs
    assert SEED_A.hex() not in path.read_bytes().hex()
