"""Every single-base substitution of a batch of one-hot sequences (the inputs of in silico mutagenesis)."""
from __future__ import annotations

import numpy as np


def mutants(x: np.ndarray) -> np.ndarray:
    """Every single-base substitution of every sequence.

    x: float32 shape=(B, 4, L) one-hot. Returns float32 shape=(B, 3L, 4, L):
    mutant ``3i + j`` puts base ``(ref_i + 1 + j) % 4`` at position i.
    """
    b, _, length = x.shape
    ref = x.argmax(axis=1)  # (B, L); N positions give 0 and are zeroed by x later
    alts = (ref[:, :, None] + np.arange(1, 4)) % 4  # (B, L, 3)
    m = np.arange(3 * length)
    pos = m // 3
    out = np.repeat(x[:, None], 3 * length, axis=1)
    out[:, m, :, pos] = 0.0
    out[np.arange(b)[:, None], m[None, :], alts[:, pos, m % 3], pos[None, :]] = 1.0
    return out
