"""Storey q-values as MEME's ``compute_qvalues`` computes them for Tomtom.

MEME estimates pi0 from all 2N p-values of a query (both strands of every
target): pi0(lambda) = #{p >= lambda} / ((1 - lambda) m) for 100 lambdas in
(0, 0.5]; the plug-in estimate is the smallest of them, and the lambda kept is
the one whose pi0 has the least mean squared error to it over 100 bootstrap
resamples of 1000 p-values. The q-value of the i-th smallest p is then
``min_{j >= i} min(1, pi0 * p_j * m / j)``.

MEME draws its bootstraps from an unseeded Mersenne Twister whose state runs
on from query to query, so its q-values depend on query order and cannot be
reproduced from one query alone; here each query gets a fixed-seed generator
(deterministic, order independent). The bootstraps only pick which lambda's
pi0 is used, so q-values agree with MEME's whenever that choice agrees.
"""
from __future__ import annotations

import numpy as np

NUM_BOOTSTRAPS = 100
NUM_BOOTSTRAP_SAMPLES = 1000
NUM_LAMBDA = 100
MAX_LAMBDA = 0.5
MIN_SAMPLES = 100
SEED = 5489


def estimate_pi_zero(sorted_p: np.ndarray, rng: np.random.Generator) -> float:
    """Storey's bootstrap pi0 (MEME ``estimate_pi_zero``) for ascending p-values, shape=(m,)."""
    m = sorted_p.size
    lambdas = (np.arange(1, NUM_LAMBDA + 1) / NUM_LAMBDA) * MAX_LAMBDA
    starts = np.searchsorted(sorted_p, lambdas, side="left")  # first p >= lambda
    pi0 = (m - starts) / ((1.0 - lambdas) * m)
    pi0 = np.where(pi0 == 0.0, np.inf, pi0)
    min_pi0 = pi0.min()
    idx = (rng.random((NUM_BOOTSTRAPS, NUM_BOOTSTRAP_SAMPLES)) * m).astype(np.int64)
    # number of resampled p-values >= lambda = number of resampled indices >= start(lambda)
    counts = np.zeros((NUM_BOOTSTRAPS, m + 1), dtype=np.int64)
    np.add.at(counts, (np.arange(NUM_BOOTSTRAPS)[:, None], idx), 1)
    at_least = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # at_least[b, s] = #idx >= s
    boot = at_least[:, starts] / ((1.0 - lambdas) * NUM_BOOTSTRAP_SAMPLES)
    boot = np.where(boot == 0.0, np.inf, boot)
    with np.errstate(invalid="ignore"):
        mse = ((boot - min_pi0) ** 2).sum(axis=0)
    mse = np.where(np.isnan(mse), np.inf, mse)
    best = int(np.argmin(mse))  # first minimum, like MEME's strict '<' scan
    return float(min(max(pi0[best], 0.0), 1.0))


def qvalues(sorted_p: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """q-values for ascending p-values (float64, shape=(m,)), same order."""
    m = sorted_p.size
    if m == 0:
        return sorted_p.copy()
    pi0 = 1.0
    if m > MIN_SAMPLES:
        pi0 = estimate_pi_zero(sorted_p, rng if rng is not None else np.random.default_rng(SEED))
    ranks = np.arange(1, m + 1, dtype=np.float32).astype(np.float64)
    fdr = np.minimum(1.0, (pi0 * sorted_p * float(np.float32(m))) / ranks)
    if m == 1:
        return fdr
    return np.minimum.accumulate(fdr[::-1])[::-1]
