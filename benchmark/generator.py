"""Synthetic 12-motif sequences: the published generator, bit for bit, and a fast one.

Two generators share one output type, :class:`SyntheticSample`:

- :func:`generate_koo2019` re-runs the published notebook's random stream
  (legacy ``np.random`` seeded 33, the 10 figure draws, then one
  ``generate_model`` + ``simulate_sequence`` per sequence, then the split
  permutation). Identical calls in identical order are what make "same seed,
  same bytes" hold against the paper's data, so nothing here is vectorised.
- :func:`generate_fast` draws from the same distribution with a NumPy
  ``Generator``, vectorised over sequences, for fresh samples at scale.

Both record every embedded instance explicitly (the original HDF5 kept only
the per-sequence generating PWM, so positions were implicit).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The published motif-count thresholds: n = (last i with rand() > cum[i]) + 1,
#: so P(n = 1..5) = .50/.25/.17/.05/.03 (the trailing .3 is never reached).
COUNT_CUMSUM = np.cumsum([0, 0.5, 0.25, 0.17, 0.05, 0.3])
COUNT_PROBS = np.array([0.5, 0.25, 0.17, 0.05, 0.03])
SPLIT_FRACTIONS = (0.7, 0.1, 0.2)
SPLIT_NAMES = ("train", "validation", "test")


@dataclass
class SyntheticSample:
    """Generated sequences and their ground truth, in generation order.

    Attributes
    ----------
    codes: uint8, shape=(N, L): 0,1,2,3 = A,C,G,T.
    labels: int8, shape=(N, 12): label k = 1 iff TF k is embedded at least once.
    inst_seq, inst_entry, inst_start, inst_end: int arrays, one row per embedded
        motif instance (sequence index, generator entry 0..23 with TF = entry // 2
        and strand + for even entries, start, end exclusive), grouped by sequence
        and in layout order within a sequence.
    splits: split name -> sequence indices (in the order the split lists them).
    """

    codes: np.ndarray
    labels: np.ndarray
    inst_seq: np.ndarray
    inst_entry: np.ndarray
    inst_start: np.ndarray
    inst_end: np.ndarray
    splits: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.codes.shape[0])

    @property
    def length(self) -> int:
        return int(self.codes.shape[1])

    def motif_counts(self) -> np.ndarray:
        """Embedded instances per sequence, shape=(N,)."""
        return np.bincount(self.inst_seq, minlength=self.n)


# --------------------------------------------------------------------------
# koo2019: the published generator, call for call
# --------------------------------------------------------------------------

def _koo_generate_model(entries: list[np.ndarray], seq_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``generate_model`` call: returns (sequence PWM (4, L), entries drawn, gaps)."""
    num_motif = len(entries)
    while True:
        num_interactions = np.where(np.random.rand() > COUNT_CUMSUM)[0][-1] + 1
        sim_motifs = np.random.randint(num_motif, size=num_interactions)
        distance = 0
        for i in range(len(sim_motifs)):
            distance += entries[sim_motifs[i]].shape[1]
        if seq_length > distance > 0:
            break
    remainder = seq_length - distance
    while True:
        sep = np.random.uniform(0, 1, size=len(sim_motifs) + 1)
        # builtin sum (sequential), as published: np.sum may round differently
        sep = np.round(sep / sum(sep) * remainder).astype(int)
        if np.sum(sep) == remainder:
            break
    pwm = np.ones((4, sep[0])) / 4
    for i in range(len(sim_motifs)):
        pwm = np.hstack([pwm, entries[sim_motifs[i]], np.ones((4, sep[i + 1])) / 4])
    return pwm, sim_motifs, sep


def _koo_simulate_sequence(sequence_pwm: np.ndarray) -> np.ndarray:
    """One ``simulate_sequence`` call: letter codes (L,) from a single uniform draw of length L."""
    cum_prob = sequence_pwm.cumsum(axis=0)
    z = np.random.uniform(0, 1, sequence_pwm.shape[1])
    return (z < cum_prob).argmax(axis=0).astype(np.uint8)


def _split_indices(shuffle: np.ndarray, n: int) -> dict[str, np.ndarray]:
    cum_index = np.cumsum(np.multiply([0, *SPLIT_FRACTIONS], n)).astype(int)
    return {
        name: shuffle[cum_index[i] : cum_index[i + 1]] for i, name in enumerate(SPLIT_NAMES)
    }


def generate_koo2019(
    entries: list[np.ndarray],
    n: int = 25_000,
    length: int = 200,
    seed: int = 33,
    n_figure_draws: int = 10,
    progress: bool = False,
) -> SyntheticSample:
    """Re-run the published generator (Koo & Eddy 2019 notebook) exactly.

    Parameters
    ----------
    entries: the 24 generator entries, each float64 shape=(4, width): TF k
        forward at 2k, reverse complement at 2k+1 (``MotifSet.generator_entries``).
    n, length, seed: 25,000 x 200 nt with seed 33 reproduce the paper's set.
    n_figure_draws: ``generate_model`` calls the notebook made for a figure
        before the main loop; they consume RNG state, so faithful mode makes them.

    The legacy global RNG state is saved and restored, so callers are unaffected.
    """
    from tqdm.auto import tqdm

    saved = np.random.get_state()
    try:
        np.random.seed(seed)
        for _ in range(n_figure_draws):
            _koo_generate_model(entries, length)
        codes = np.empty((n, length), dtype=np.uint8)
        labels = np.zeros((n, len(entries) // 2), dtype=np.int8)
        inst_seq: list[int] = []
        inst_entry: list[int] = []
        inst_start: list[int] = []
        inst_end: list[int] = []
        for j in tqdm(range(n), desc="koo2019 generator", unit="seq", disable=not progress):
            pwm, drawn, sep = _koo_generate_model(entries, length)
            codes[j] = _koo_simulate_sequence(pwm)
            labels[j, np.unique(np.floor(drawn / 2).astype(int))] = 1
            pos = int(sep[0])
            for i, entry in enumerate(drawn):
                width = entries[entry].shape[1]
                inst_seq.append(j)
                inst_entry.append(int(entry))
                inst_start.append(pos)
                inst_end.append(pos + width)
                pos += width + int(sep[i + 1])
        shuffle = np.random.permutation(n)
    finally:
        np.random.set_state(saved)
    return SyntheticSample(
        codes=codes,
        labels=labels,
        inst_seq=np.asarray(inst_seq, dtype=np.int64),
        inst_entry=np.asarray(inst_entry, dtype=np.int16),
        inst_start=np.asarray(inst_start, dtype=np.int32),
        inst_end=np.asarray(inst_end, dtype=np.int32),
        splits=_split_indices(shuffle, n),
    )


# --------------------------------------------------------------------------
# fast: same distribution, vectorised over sequences
# --------------------------------------------------------------------------

def _draw_motif_sets(
    rng: np.random.Generator, widths: np.ndarray, n: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Motif counts (N,) and entry indices (N, 5) with -1 padding; redraw rows whose motifs don't fit."""
    max_k = len(COUNT_PROBS)
    counts = np.zeros(n, dtype=np.int64)
    drawn = np.full((n, max_k), -1, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        k = rng.choice(np.arange(1, max_k + 1), size=todo.size, p=COUNT_PROBS)
        m = rng.integers(len(widths), size=(todo.size, max_k))
        m[np.arange(max_k)[None, :] >= k[:, None]] = -1
        distance = np.where(m >= 0, widths[np.maximum(m, 0)], 0).sum(axis=1)
        ok = (distance > 0) & (distance < length)
        counts[todo[ok]] = k[ok]
        drawn[todo[ok]] = m[ok]
        todo = todo[~ok]
    return counts, drawn


def _draw_gaps(rng: np.random.Generator, counts: np.ndarray, remainder: np.ndarray) -> np.ndarray:
    """Gaps (N, 6): n+1 uniform weights scaled to the remainder, rounded, redrawn until they sum exactly."""
    n = counts.size
    max_gaps = COUNT_PROBS.size + 1
    gaps = np.zeros((n, max_gaps), dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        sep = rng.uniform(0.0, 1.0, size=(todo.size, max_gaps))
        sep[np.arange(max_gaps)[None, :] > counts[todo][:, None]] = 0.0
        scaled = np.round(sep / sep.sum(axis=1, keepdims=True) * remainder[todo][:, None]).astype(np.int64)
        ok = scaled.sum(axis=1) == remainder[todo]
        gaps[todo[ok]] = scaled[ok]
        todo = todo[~ok]
    return gaps


def generate_fast(
    entries: list[np.ndarray],
    n: int,
    length: int = 200,
    seed: int = 0,
) -> SyntheticSample:
    """Draw ``n`` sequences from the koo2019 distribution, vectorised (any seed, N, length).

    Not the same numbers as :func:`generate_koo2019` (a different RNG and call
    order) but the same distribution: motif-count probabilities, uniform entry
    choice, the rounded-gap redraw rule, per-position PWM sampling.
    """
    rng = np.random.default_rng(seed)
    widths = np.array([e.shape[1] for e in entries], dtype=np.int64)
    counts, drawn = _draw_motif_sets(rng, widths, n, length)
    motif_w = np.where(drawn >= 0, widths[np.maximum(drawn, 0)], 0)
    remainder = length - motif_w.sum(axis=1)
    gaps = _draw_gaps(rng, counts, remainder)

    # start of motif i = gap_0 + sum_{j<i} (width_j + gap_{j+1})
    step = motif_w + gaps[:, 1:]
    starts = gaps[:, :1] + np.concatenate([np.zeros((n, 1), dtype=np.int64), np.cumsum(step, axis=1)[:, :-1]], axis=1)
    valid = drawn >= 0
    seq_idx = np.repeat(np.arange(n), valid.sum(axis=1))
    inst_entry = drawn[valid]
    inst_start = starts[valid]
    inst_end = inst_start + widths[inst_entry]

    codes = rng.integers(0, 4, size=(n, length), dtype=np.uint8)
    for e, pwm in enumerate(entries):
        sel = np.flatnonzero(inst_entry == e)
        if sel.size == 0:
            continue
        cum = np.cumsum(pwm, axis=0)  # (4, w)
        z = rng.uniform(0.0, 1.0, size=(sel.size, pwm.shape[1]))
        letters = (z[:, None, :] < cum[None, :, :]).argmax(axis=1).astype(np.uint8)
        cols = inst_start[sel][:, None] + np.arange(pwm.shape[1])[None, :]
        codes[seq_idx[sel][:, None], cols] = letters

    labels = np.zeros((n, len(entries) // 2), dtype=np.int8)
    labels[seq_idx, inst_entry // 2] = 1
    return SyntheticSample(
        codes=codes,
        labels=labels,
        inst_seq=seq_idx.astype(np.int64),
        inst_entry=inst_entry.astype(np.int16),
        inst_start=inst_start.astype(np.int32),
        inst_end=inst_end.astype(np.int32),
        splits=_split_indices(rng.permutation(n), n),
    )
