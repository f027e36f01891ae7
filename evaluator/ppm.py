"""First-layer activations -> one position probability matrix (PPM) per filter.

Both papers' methods (REFERENCE.md section 6), vectorised over filters and
sequences and streamed over batches so memory stays bounded on large splits:

- ``nmi`` (Koo & Ploenzke 2021): every (sequence, position ``p``) whose
  activation is strictly above ``threshold x`` the filter's maximum over the
  split contributes the one-hot window ``[q - w//2, q - w//2 + w)`` (``w`` = 20,
  ``q`` = ``p`` mapped to input coordinates); windows touching either end of
  the sequence (first position 0 or last position L-1, as the original
  ``start > 0 and end < L`` test) are dropped; the PPM is the unweighted mean;
  at most one surviving window gives a uniform PPM.
- ``ke`` (Koo & Eddy 2019): same threshold, window width ``w`` = 19 by default
  (the original ``activation_pwm(..., window=19)`` for every model, whatever
  its kernel width), ``[q - w//2, q - w//2 + w)``, zero-padded past the ends,
  each window weighted by its activation; each column is normalised by the
  total weight of the windows that cover a real base there. For even ``w``
  (and even kernel widths) the window sits one position left of the
  receptive field, as the original ``int(w/2)`` put it.

Where a column has no observed base at all (every contributing window padded
or ``N`` there) the PPM column is uniform; the original KE code wrote zeros,
which the IC rule would then read as 2 bits, a bug we do not copy. With no
``N`` in the data, normalising by observed bases equals the plain mean.

Activation position ``p`` maps to input position ``q = p + (L - L') // 2``
(``L'`` = tap length): identity for "same" padding (the papers' models),
receptive-field centre for "valid" convolutions.

Then :func:`clip_ppm`: information per position ``2 + sum p log2(p + 1e-7)``;
keep from the first to the last position with information > 0.5, extended by
3 positions each side within the matrix.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from evaluator.params import KE_DEFAULT_WINDOW

METHODS = ("nmi", "ke")
#: Below 1/SPARSE_FACTOR of window starts hit, windows are gathered instead of multiplied densely.
SPARSE_FACTOR = 8


class FilterPPMs(NamedTuple):
    """PPMs of every first-layer filter.

    ppms: float64, shape=(F, window, 4), rows sum to 1 (A,C,G,T).
    n_windows: int64, shape=(F,): windows aligned per filter.
    max_activation: float64, shape=(F,): each filter's maximum over the split.
    method, window, offset: how they were built (offset = input position of activation 0).
    """

    ppms: np.ndarray
    n_windows: np.ndarray
    max_activation: np.ndarray
    method: str
    window: int
    offset: int


def tap_offset(length: int, tap_length: int) -> int:
    """Input position of activation position 0: ``(L - L') // 2``."""
    if tap_length > length:
        raise ValueError(f"tap length {tap_length} exceeds sequence length {length}")
    return (length - tap_length) // 2


class PPMAccumulator:
    """Streaming PPM builder: feed batches with :meth:`update`, read :meth:`result`.

    Parameters
    ----------
    method: ``"nmi"`` or ``"ke"``.
    max_activation: shape=(F,), each filter's maximum over the whole split
        (a first pass computes it; the threshold is ``threshold x`` this).
    window: window width (NMI: 20; KE: 19 by default).
    length: sequence length L.
    tap_length: activation length L'.
    threshold: fraction of the maximum an activation must strictly exceed.
    """

    def __init__(self, method: str, max_activation: np.ndarray, window: int, length: int, tap_length: int,
                 threshold: float = 0.5):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        self.max_activation = np.asarray(max_activation, dtype=np.float64)
        self.thresholds = (threshold * self.max_activation).astype(np.float32)
        self.window = int(window)
        self.length = int(length)
        self.tap_length = int(tap_length)
        self.offset = tap_offset(length, tap_length)
        n = self.max_activation.shape[0]
        self.sums = np.zeros((n, 4, self.window), np.float64)
        self.coverage = np.zeros((n, self.window), np.float64)
        self.n_windows = np.zeros(n, np.int64)

    def update(self, x: np.ndarray, acts: np.ndarray) -> None:
        """Add one batch.

        x: float32, shape=(B, 4, L) one-hot. acts: float32, shape=(B, F, L').
        """
        if self.method == "nmi":
            self._update_nmi(x, acts)
        else:
            self._update_ke(x, acts)

    def _accumulate(self, weights: np.ndarray, windows: np.ndarray) -> None:
        """weights (B, F, S) x windows (B, 4, S, W) -> sums (F, 4, W), coverage (F, W).

        Dense hits: one matmul over every window start. Sparse hits (the usual
        case for trained filters, < 1/8 of starts): gather only the windows
        that count and sum them per filter with a sparse matrix.
        """
        b, f, s = weights.shape
        w = self.window
        n_hits = int(np.count_nonzero(weights))
        if n_hits == 0:
            return
        if n_hits * SPARSE_FACTOR < weights.size:
            from scipy.sparse import csr_matrix

            bi, fi, si = np.nonzero(weights)
            gathered = windows[bi, :, si, :].reshape(n_hits, 4 * w).astype(np.float64)  # (H, 4w)
            select = csr_matrix((weights[bi, fi, si], (fi, np.arange(n_hits))), shape=(f, n_hits))
            self.sums += np.asarray(select @ gathered).reshape(f, 4, w)
            self.coverage += np.asarray(select @ gathered.reshape(n_hits, 4, w).sum(axis=1))
            return
        w_mat = np.ascontiguousarray(weights.transpose(1, 0, 2)).reshape(f, b * s)
        win = np.ascontiguousarray(windows.transpose(0, 2, 1, 3), dtype=np.float64).reshape(b * s, 4 * w)
        self.sums += (w_mat @ win).reshape(f, 4, w)
        self.coverage += w_mat @ win.reshape(b * s, 4, w).sum(axis=1)

    def _update_nmi(self, x: np.ndarray, acts: np.ndarray) -> None:
        w, length, half = self.window, self.length, self.window // 2
        n_starts = length - 1 - w  # window starts s = 1 .. L-1-w keep both ends untouched
        if n_starts <= 0:
            return
        starts = np.arange(1, n_starts + 1)
        pos = starts + half - self.offset  # activation index whose window starts at s
        ok = (pos >= 0) & (pos < self.tap_length)
        hits = np.zeros((acts.shape[0], acts.shape[1], n_starts), np.float64)
        hits[:, :, ok] = acts[:, :, pos[ok]] > self.thresholds[None, :, None]
        self.n_windows += hits.sum(axis=(0, 2)).astype(np.int64)
        windows = sliding_window_view(x, w, axis=2)[:, :, 1:n_starts + 1]
        self._accumulate(hits, windows)

    def _update_ke(self, x: np.ndarray, acts: np.ndarray) -> None:
        w, length, left = self.window, self.length, self.window // 2
        padded = np.pad(x, ((0, 0), (0, 0), (left, w - left)))
        windows = sliding_window_view(padded, w, axis=2)[:, :, :length]  # window for input position q starts at q-left
        weights = np.zeros((acts.shape[0], acts.shape[1], length), np.float64)
        hit = acts > self.thresholds[None, :, None]
        weights[:, :, self.offset:self.offset + self.tap_length] = np.where(hit, acts, 0.0)
        self.n_windows += hit.sum(axis=(0, 2)).astype(np.int64)
        self._accumulate(weights, windows)

    def result(self) -> FilterPPMs:
        """The PPMs, shape=(F, window, 4); uniform rows where nothing was observed."""
        with np.errstate(invalid="ignore", divide="ignore"):
            ppm = self.sums / self.coverage[:, None, :]
        empty = ~(self.coverage > 0)
        ppm = np.where(empty[:, None, :], 0.25, ppm)
        if self.method == "nmi":
            ppm[self.n_windows <= 1] = 0.25
        else:
            ppm[self.n_windows < 1] = 0.25
        return FilterPPMs(np.ascontiguousarray(ppm.transpose(0, 2, 1)), self.n_windows.copy(),
                          self.max_activation.copy(), self.method, self.window, self.offset)


def activation_ppms(x: np.ndarray, acts: np.ndarray, method: str = "nmi", threshold: float = 0.5,
                    window: int | None = None, batch_size: int = 512) -> FilterPPMs:
    """PPMs from in-memory arrays (both passes): x (N, 4, L) one-hot, acts (N, F, L').

    ``window`` None = the method's default (NMI 20, KE 19).
    """
    if window is None:
        window = KE_DEFAULT_WINDOW if method == "ke" else 20
    maxima = acts.max(axis=(0, 2)) if acts.size else np.zeros(acts.shape[1])
    acc = PPMAccumulator(method, maxima, window, x.shape[2], acts.shape[2], threshold)
    with single_threaded_blas():
        for start in range(0, x.shape[0], batch_size):
            acc.update(x[start:start + batch_size], acts[start:start + batch_size])
    return acc.result()


def single_threaded_blas():
    """Context manager: BLAS on one thread.

    The accumulation matmuls are small ((F x B*S) @ (B*S x 4w)); multi-threaded
    OpenBLAS spends more time spinning than computing on them, badly so on a
    shared machine (measured here: 0.02 s on one thread vs 0.3-0.8 s on two).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def information_per_position(ppm: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """``2 + sum_b p log2(p + eps)`` per position; ppm shape=(w, 4) -> (w,)."""
    ppm = np.asarray(ppm, dtype=np.float64)
    return 2.0 + np.sum(ppm * np.log2(ppm + eps), axis=1)


class ClippedPPM(NamedTuple):
    """A clipped PPM (None if no position is informative) and its span [start, end) in the full PPM."""

    ppm: np.ndarray | None
    start: int
    end: int


def clip_ppm(ppm: np.ndarray, threshold: float = 0.5, pad: int = 3, eps: float = 1e-7) -> ClippedPPM:
    """Keep the informative core of a PPM.

    From the first to the last position whose information exceeds
    ``threshold`` bits, extended by ``pad`` positions each side within the
    matrix. No informative position -> ``ClippedPPM(None, 0, 0)``: the filter
    is left out of Tomtom (and still counted in every denominator). Unlike the
    original ``clip_filters``, a filter whose only informative position is 0
    is clipped, not passed through whole.

    ppm: shape=(w, 4).
    """
    info = information_per_position(ppm, eps)
    idx = np.flatnonzero(info > threshold)
    if idx.size == 0:
        return ClippedPPM(None, 0, 0)
    start = max(int(idx[0]) - pad, 0)
    end = min(int(idx[-1]) + pad + 1, ppm.shape[0])
    return ClippedPPM(np.ascontiguousarray(ppm[start:end]), start, end)
