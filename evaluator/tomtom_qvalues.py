"""Storey q-values as MEME's ``compute_qvalues`` computes them for Tomtom.

MEME estimates pi0 from all 2N p-values of a query (both strands of every
target): pi0(lambda) = #{p >= lambda} / ((1 - lambda) m) for 100 lambdas in
(0, 0.5]; the plug-in estimate is the smallest of them, and the lambda kept is
the one whose pi0 has the least mean squared error to it over 100 bootstrap
resamples of 1000 p-values. The q-value of the i-th smallest p is then
``min_{j >= i} min(1, pi0 * p_j * m / j)``.

MEME draws its bootstraps from the ``mtwist`` Mersenne Twister, never
seeded, so it starts from mtwist's default state (the 1998 ``sgenrand``
seeding with 4357) and runs on from query to query: a query's q-values depend
on how many queries came before it. :class:`MemeRandom` replays that stream
(``mt_ldrand``: two tempered 32-bit outputs per double), so q-values match
MEME's when the queries are given in the same order as MEME read them.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np

from evaluator import tomtom_jit_cache as J
from evaluator.tomtom_jit_random import mt_bootstrap_tables, mt_doubles, pi_zero

NUM_BOOTSTRAPS = 100
NUM_BOOTSTRAP_SAMPLES = 1000
NUM_LAMBDA = 100
MAX_LAMBDA = 0.5
MIN_SAMPLES = 100
#: The lambdas of Storey's pi0 estimate, shape (NUM_LAMBDA,), read-only.
_LAMBDAS = (np.arange(1, NUM_LAMBDA + 1) / NUM_LAMBDA) * MAX_LAMBDA
_LAMBDAS.flags.writeable = False
#: mtwist's DEFAULT_SEED32_OLD, used when the generator was never seeded.
MTWIST_DEFAULT_SEED = 4357


#: Bytes of bootstrap tables kept between calls (see :class:`MemeRandom`).
BOOTSTRAP_CACHE_BYTES = 128 * 2**20
_bootstrap_cache: OrderedDict = OrderedDict()
_bootstrap_cache_lock = threading.Lock()
_bootstrap_cache_bytes = 0


def clear_bootstrap_cache() -> None:
    """Forget the kept bootstrap tables (they are drawn again when next needed)."""
    global _bootstrap_cache_bytes
    with _bootstrap_cache_lock:
        _bootstrap_cache.clear()
        _bootstrap_cache_bytes = 0


@lru_cache(maxsize=8)
def _seeded_key(seed: int) -> np.ndarray:
    """mtwist's state after ``sgenrand(seed)``, shape (624,), uint64 (read-only: copy it)."""
    key = np.empty(624, dtype=np.uint64)
    key[0] = seed & 0xFFFFFFFF
    for i in range(1, 624):  # sgenrand: Knuth's multiplier 69069
        key[i] = (69069 * int(key[i - 1])) & 0xFFFFFFFF
    key.flags.writeable = False
    return key


class MemeRandom:
    """MEME's ``my_drand`` stream: mtwist's default-seeded MT19937, 64-bit doubles in [0, 1).

    The generator runs in compiled code (:mod:`evaluator.tomtom_jit_random`). The
    stream is the same in every run (MEME never seeds it), so the bootstrap
    tables drawn from it depend only on where in the stream they start and
    on ``m``: they are kept between calls (up to ``BOOTSTRAP_CACHE_BYTES``,
    least recently used dropped), with the generator state after each, and
    a later run with the same target count skips regenerating them. A
    table is 100 x (m + 1) uint16 (about 200 kB for JASPAR 2016).
    """

    def __init__(self, seed: int = MTWIST_DEFAULT_SEED):
        self._seed = int(seed)
        self._key = _seeded_key(self._seed).copy()
        self._pos = 624  # twist before the first output, as after seeding
        self._consumed = 0  # 32-bit outputs drawn so far

    def random(self, shape: tuple[int, ...]) -> np.ndarray:
        """Doubles ``(hi * 2**32 + lo) * 2**-64`` from consecutive 32-bit outputs, shape=shape."""
        n = int(np.prod(shape))
        if J.ready():
            out = np.empty(n)
            self._pos = int(mt_doubles(self._key, self._pos, out))
        else:  # NumPy's MT19937 from the same state (while the compiled kernels are not cached yet)
            raw = self._numpy_raw(2 * n).reshape(n, 2).astype(np.float64)
            out = (raw[:, 0] * 4294967296.0 + raw[:, 1]) * 2.0**-64
        self._consumed += 2 * n
        return out.reshape(shape)

    def _numpy_raw(self, n: int) -> np.ndarray:
        bits = np.random.MT19937(0)
        state = bits.state
        state["state"]["key"] = self._key.astype(np.uint32)
        state["state"]["pos"] = self._pos
        bits.state = state
        raw = bits.random_raw(n)
        after = bits.state["state"]
        self._key, self._pos = np.asarray(after["key"], dtype=np.uint64), int(after["pos"])
        return raw

    @property
    def position(self) -> int:
        """32-bit outputs drawn so far."""
        return self._consumed

    def skip_qvalue_rows(self, m: int, n: int) -> None:
        """Advance the stream as :func:`qvalue_rows` of ``n`` rows of ``m`` p-values would (cheap when their tables
        are kept)."""
        if draws_per_query(m):
            for _ in range(n):
                self.bootstrap_tables(m, NUM_BOOTSTRAPS, NUM_BOOTSTRAP_SAMPLES)

    def bootstrap_tables(self, m: int, n_boot: int, n_samples: int) -> np.ndarray:
        """Tail counts of ``n_boot`` bootstraps of ``n_samples`` indices in ``[0, m)``, shape (n_boot, m + 1)
        (a transposed view: ``out[:, s]`` is contiguous).

        ``out[b, s]`` = how many indices ``min(int(u * m), m - 1)`` of
        bootstrap ``b`` are ``>= s``, ``u`` = :meth:`random` doubles in order
        (the stream advances exactly as drawing them would).
        """
        cache_key = (self._seed, self._consumed, int(m), int(n_boot), int(n_samples))
        with _bootstrap_cache_lock:
            hit = _bootstrap_cache.get(cache_key)
            if hit is not None:
                _bootstrap_cache.move_to_end(cache_key)
        if hit is not None:
            table, key, pos = hit
            self._key, self._pos = key.copy(), pos
        else:
            # stored start-major: the pi0 estimate reads one start's n_boot counts at a time, so a query
            # touches 100 short rows of a table instead of all of it (tables are many, larger than the cache)
            table = np.empty((m + 1, n_boot), dtype=np.uint16 if n_samples < 2**16 else np.int64).T
            if J.ready():
                self._pos = int(mt_bootstrap_tables(self._key, self._pos, int(m), int(n_samples), table))
            else:
                consumed = self._consumed
                idx = np.minimum((self.random((n_boot, n_samples)) * float(m)).astype(np.int64), m - 1)
                self._consumed = consumed
                flat = idx + (m + 1) * np.arange(n_boot)[:, None]
                counts = np.bincount(flat.ravel(), minlength=n_boot * (m + 1)).reshape(n_boot, m + 1)
                table[...] = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]  # table[b, s] = #idx >= s
            table.flags.writeable = False
            global _bootstrap_cache_bytes
            with _bootstrap_cache_lock:
                _bootstrap_cache[cache_key] = (table, self._key.copy(), self._pos)
                _bootstrap_cache_bytes += table.nbytes
                while _bootstrap_cache_bytes > BOOTSTRAP_CACHE_BYTES and len(_bootstrap_cache) > 1:
                    old, _, _ = _bootstrap_cache.popitem(last=False)[1]
                    _bootstrap_cache_bytes -= old.nbytes
        self._consumed += 2 * n_boot * n_samples
        return table


def estimate_pi_zero(sorted_p: np.ndarray, rng: MemeRandom) -> float:
    """Storey's bootstrap pi0 (MEME ``estimate_pi_zero``) for ascending p-values, shape=(m,)."""
    m = sorted_p.size
    lambdas = _LAMBDAS
    if J.ready():  # the same steps in one compiled call
        tables = rng.bootstrap_tables(m, NUM_BOOTSTRAPS, NUM_BOOTSTRAP_SAMPLES)
        return float(pi_zero(sorted_p, tables, lambdas, float(NUM_BOOTSTRAP_SAMPLES)))
    starts = np.searchsorted(sorted_p, lambdas, side="left")  # first p >= lambda
    pi0 = (m - starts) / ((1.0 - lambdas) * m)
    pi0 = np.where(pi0 == 0.0, np.inf, pi0)
    min_pi0 = pi0.min()
    # number of resampled p-values >= lambda = number of resampled indices >= start(lambda)
    tables = rng.bootstrap_tables(m, NUM_BOOTSTRAPS, NUM_BOOTSTRAP_SAMPLES)
    # boot[b, l] = tables[b, starts[l]] / ((1 - lambda) * samples), 0 as inf; summed bootstrap by bootstrap
    boot = tables[:, starts].astype(np.int64) / ((1.0 - lambdas) * NUM_BOOTSTRAP_SAMPLES)
    boot = np.where(boot == 0.0, np.inf, boot)
    with np.errstate(invalid="ignore"):
        mse = np.add.reduce((boot - min_pi0) ** 2, axis=0)  # bootstrap by bootstrap, as MEME adds
    mse = np.where(np.isnan(mse), np.inf, mse)
    best = int(np.argmin(mse))  # first minimum, like MEME's strict '<' scan
    return float(min(max(pi0[best], 0.0), 1.0))


def qvalue_rows(sorted_p: np.ndarray, rng: MemeRandom) -> np.ndarray:
    """:func:`qvalues` of each row of ``sorted_p`` (float64, shape (B, m), rows ascending), in row order.

    Each row draws its bootstraps from ``rng`` in turn, as consecutive queries
    do in MEME; the same numbers as calling :func:`qvalues` row by row.
    """
    n, m = sorted_p.shape
    if m == 0:
        return sorted_p.copy()
    pi0 = np.ones((n, 1))
    if m > MIN_SAMPLES:
        for i in range(n):
            pi0[i, 0] = estimate_pi_zero(sorted_p[i], rng)
    return _qvalues_given_pi0(sorted_p, pi0)


def _qvalues_given_pi0(sorted_p: np.ndarray, pi0: np.ndarray) -> np.ndarray:
    """``min_{j >= i} min(1, pi0 * p_j * m / j)`` per row: ``sorted_p`` (B, m) ascending, ``pi0`` (B, 1)."""
    m = sorted_p.shape[1]
    ranks = np.arange(1, m + 1, dtype=np.float32).astype(np.float64)
    fdr = np.minimum(1.0, (pi0 * sorted_p * float(np.float32(m))) / ranks)
    if m == 1:
        return fdr
    return np.minimum.accumulate(fdr[:, ::-1], axis=1)[:, ::-1]


def draws_per_query(m: int) -> int:
    """32-bit outputs one query's q-values draw from the stream (its bootstraps; none for ``m <= MIN_SAMPLES``)."""
    return 2 * NUM_BOOTSTRAPS * NUM_BOOTSTRAP_SAMPLES if m > MIN_SAMPLES else 0


def kept_qvalue_rows(sorted_p: np.ndarray, position: int, seed: int = MTWIST_DEFAULT_SEED) -> np.ndarray | None:
    """:func:`qvalue_rows` for a stream that has drawn ``position`` outputs, from kept bootstrap tables only.

    For a thread other than the run's: it uses no generator, so it returns
    None (nothing computed) unless the compiled kernels are ready and every
    table the rows would draw (one per row, from ``position`` on) is kept
    (:class:`MemeRandom`); the run's stream must then still be advanced
    past these rows (:meth:`MemeRandom.skip_qvalue_rows`).
    """
    n, m = sorted_p.shape
    if m == 0 or not J.ready():
        return None
    pi0 = np.ones((n, 1))
    step = draws_per_query(m)
    if step:
        for i in range(n):
            key = (int(seed), int(position) + i * step, int(m), NUM_BOOTSTRAPS, NUM_BOOTSTRAP_SAMPLES)
            with _bootstrap_cache_lock:
                hit = _bootstrap_cache.get(key)
            if hit is None:
                return None
            pi0[i, 0] = float(pi_zero(sorted_p[i], hit[0], _LAMBDAS, float(NUM_BOOTSTRAP_SAMPLES)))
    return _qvalues_given_pi0(sorted_p, pi0)


def qvalues(sorted_p: np.ndarray, rng: MemeRandom | None = None) -> np.ndarray:
    """q-values for ascending p-values (float64, shape=(m,)), same order.

    ``rng`` is the stream shared by all queries of one run (a fresh
    :class:`MemeRandom` if None, i.e. as for MEME's first query).
    """
    m = sorted_p.size
    if m == 0:
        return sorted_p.copy()
    pi0 = 1.0
    if m > MIN_SAMPLES:
        pi0 = estimate_pi_zero(sorted_p, rng if rng is not None else MemeRandom())
    ranks = np.arange(1, m + 1, dtype=np.float32).astype(np.float64)
    fdr = np.minimum(1.0, (pi0 * sorted_p * float(np.float32(m))) / ranks)
    if m == 1:
        return fdr
    return np.minimum.accumulate(fdr[::-1])[::-1]
