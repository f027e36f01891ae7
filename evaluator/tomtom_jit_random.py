"""Compiled (numba) kernels for MEME's q-value bootstraps: mtwist's MT19937 stream and Storey's MSE.

Used by :mod:`evaluator.tomtom_qvalues` once numba's cache holds them
(:func:`evaluator.tomtom_jit_cache.ready`); the same numbers as its NumPy code.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_UPPER = np.uint64(0x80000000)
_LOWER = np.uint64(0x7FFFFFFF)
_MATRIX_A = np.uint64(0x9908B0DF)
_TEMPER_B = np.uint64(0x9D2C5680)
_TEMPER_C = np.uint64(0xEFC60000)
_WORD = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def _mt_twist(key):  # pragma: no cover - compiled
    """One MT19937 state refill (``key``: shape (624,), uint64 holding 32-bit words)."""
    one = np.uint64(1)
    zero = np.uint64(0)
    for i in range(227):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i + 397] ^ (y >> one) ^ (_MATRIX_A if (y & one) != zero else zero)
    for i in range(227, 623):
        y = (key[i] & _UPPER) | (key[i + 1] & _LOWER)
        key[i] = key[i - 227] ^ (y >> one) ^ (_MATRIX_A if (y & one) != zero else zero)
    y = (key[623] & _UPPER) | (key[0] & _LOWER)
    key[623] = key[396] ^ (y >> one) ^ (_MATRIX_A if (y & one) != zero else zero)


@njit(cache=True, nogil=True, inline="always")
def _mt_next(key, pos):  # pragma: no cover - compiled
    if pos >= 624:
        _mt_twist(key)
        pos = 0
    y = key[pos]
    y ^= y >> np.uint64(11)
    y ^= (y << np.uint64(7)) & _TEMPER_B
    y ^= (y << np.uint64(15)) & _TEMPER_C
    y ^= y >> np.uint64(18)
    return y & _WORD, pos + 1


@njit(cache=True, nogil=True)
def mt_doubles(key, pos, out):  # pragma: no cover - compiled
    """Fill ``out`` (float64, flat) with MEME's ``mt_ldrand`` doubles; returns the new position."""
    for i in range(out.size):
        hi, pos = _mt_next(key, pos)
        lo, pos = _mt_next(key, pos)
        out[i] = (float(np.int64(hi)) * 4294967296.0 + float(np.int64(lo))) * 2.0 ** -64
    return pos


@njit(cache=True, nogil=True)
def mt_bootstrap_tables(key, pos, m, n_samples, out):  # pragma: no cover - compiled
    """Storey's bootstrap resamples from MEME's stream, as tail counts.

    Bootstrap ``b`` (``out.shape[0]`` of them) draws ``n_samples`` indices
    ``min(int(u * m), m - 1)`` from the stream's doubles ``u`` in order;
    ``out[b, s]`` is how many of them are ``>= s``, for ``s`` in ``[0, m]``
    (``out.shape[1] == m + 1``). Returns the new stream position.
    """
    n_boot = out.shape[0]
    fm = float(m)
    cnt = np.zeros(m + 1, np.int64)
    for b in range(n_boot):
        cnt[:] = 0
        for _ in range(n_samples):
            hi, pos = _mt_next(key, pos)
            lo, pos = _mt_next(key, pos)
            u = (float(np.int64(hi)) * 4294967296.0 + float(np.int64(lo))) * 2.0 ** -64
            idx = int(u * fm)
            if idx > m - 1:
                idx = m - 1
            cnt[idx] += 1
        acc = 0
        for s in range(m, -1, -1):
            acc += cnt[s]
            out[b, s] = acc
    return pos


@njit(cache=True, nogil=True, error_model="numpy")  # no division-by-zero check: the divisions vectorise
def bootstrap_mse(tables, starts, lambdas, min_pi0, n_samples):  # pragma: no cover - compiled
    """Storey's bootstrap MSE of each lambda's pi0 (MEME ``estimate_pi_zero``), shape (n_lambda,).

    ``boot[b, l] = tables[b, starts[l]] / ((1 - lambdas[l]) * n_samples)``
    (0 counts as infinity), ``mse[l] = sum_b (boot[b, l] - min_pi0)^2``
    added bootstrap by bootstrap as MEME does; NaN becomes infinity.
    """
    n_boot = tables.shape[0]
    n_lambda = starts.size
    mse = np.zeros(n_lambda)
    denom = np.empty(n_lambda)
    for l in range(n_lambda):
        denom[l] = (1.0 - lambdas[l]) * n_samples
    counts = np.empty(n_lambda)
    for b in range(n_boot):
        row = tables[b]
        for l in range(n_lambda):  # the loads first, so the arithmetic below vectorises over lambdas
            counts[l] = float(row[starts[l]])
        for l in range(n_lambda):
            v = counts[l] / denom[l]
            v = np.inf if v == 0.0 else v
            d = v - min_pi0
            mse[l] += d * d
    for l in range(n_lambda):
        if np.isnan(mse[l]):
            mse[l] = np.inf
    return mse


@njit(cache=True, nogil=True)
def pi_zero(sorted_p, tables, lambdas, n_samples):  # pragma: no cover - compiled
    """MEME's ``estimate_pi_zero`` for ascending p-values, shape (m,), given the bootstraps' tail ``tables``.

    ``pi0(lambda) = #{p >= lambda} / ((1 - lambda) m)`` (0 as infinity); the
    lambda kept is the first with the least :func:`bootstrap_mse` to their
    minimum; its pi0 clipped to [0, 1]. The same operations as
    :func:`evaluator.tomtom_qvalues.estimate_pi_zero`'s NumPy path, in one call.
    """
    m = sorted_p.size
    starts = np.searchsorted(sorted_p, lambdas)  # first p >= lambda
    pi0 = np.empty(lambdas.size)
    min_pi0 = np.inf
    for l in range(lambdas.size):
        v = (m - starts[l]) / ((1.0 - lambdas[l]) * m)
        if v == 0.0:
            v = np.inf
        pi0[l] = v
        min_pi0 = min(min_pi0, v)
    mse = bootstrap_mse(tables, starts, lambdas, min_pi0, n_samples)
    return min(max(pi0[np.argmin(mse)], 0.0), 1.0)
