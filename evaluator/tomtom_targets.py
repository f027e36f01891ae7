"""Tomtom's target side, computed once per database and reused by every call.

Every Tomtom p-value depends on the whole target database (the median
shift, the scaling and the null come from all its columns), and a
database is compared against many query sets (each evaluated model; the
integrity checks' bootstrap resamples of one model's filters). Everything
that depends only on the targets is therefore computed once here:
pseudocounted matrices in MEME's working layout (``t0+, t0-, t1+, ...``),
the concatenated columns in both layouts the kernels read, widths, column
starts, consensus strings and MEME's tie order.

:func:`prepare_targets` returns a :class:`TomtomTargets`, from a small cache
keyed by the targets' content, so passing the same list of motifs again
costs one hash; pass a :class:`TomtomTargets` to ``tomtom()`` to skip even that.
"""
from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from benchmark.errors import MotifbenchError
from evaluator import tomtom_kernels as K
from evaluator.meme_io import MemeMotif

log = logging.getLogger(__name__)

#: Prepared target sets kept by :func:`prepare_targets` (least recently used dropped).
CACHE_SIZE = 8
_cache: OrderedDict = OrderedDict()
_lock = threading.Lock()


def check_ppm(motif: MemeMotif) -> np.ndarray:
    """The motif's PPM as float64 ``(width, 4)``, or a :class:`MotifbenchError` naming what is wrong."""
    ppm = np.asarray(motif.ppm, dtype=np.float64)
    if ppm.ndim != 2 or ppm.shape[1] != 4 or ppm.shape[0] < 1:
        raise MotifbenchError(f"motif {motif.id!r}: ppm must have shape (width, 4), got {ppm.shape}")
    if not np.all(np.isfinite(ppm)) or (ppm < 0).any():
        raise MotifbenchError(f"motif {motif.id!r}: ppm must be finite and non-negative")
    if (ppm.sum(axis=1) <= 0).any():
        raise MotifbenchError(f"motif {motif.id!r}: a ppm row sums to zero")
    return ppm


def check_ppms(motifs: Sequence[MemeMotif]) -> list[np.ndarray]:
    """:func:`check_ppm` of each motif (the first bad one raises its error), the value checks over all rows at once."""
    ppms = [np.asarray(m.ppm, dtype=np.float64) for m in motifs]
    shapes_ok = all(p.ndim == 2 and p.shape[1] == 4 and p.shape[0] >= 1 for p in ppms)
    if shapes_ok and ppms:
        rows = np.concatenate(ppms, axis=0)
        if np.isfinite(rows).all() and not (rows < 0).any() and not (rows.sum(axis=1) <= 0).any():
            return ppms
    return [check_ppm(m) for m in motifs]


def query_background(background=None) -> np.ndarray:
    """The background MEME applies pseudocounts with: the query file's (uniform if None), strand-symmetric."""
    return K.symmetric_background((0.25,) * 4 if background is None else background)


class TomtomTargets:
    """A target database in MEME's working layout, with everything Tomtom derives from it alone.

    Parameters
    ----------
    targets : sequence of MemeMotif, each ``ppm`` shape (width, 4).
    motif_pseudo : float, MEME ``-motif-pseudo`` (applied with ``background``).
    background : A,C,G,T frequencies of the query file (None: uniform).

    Attributes
    ----------
    ids : list[str], the N target ids in input order.
    mats : list of ndarray, 2N pseudocounted matrices ``(width, 4)``, ``t0+, t0-, t1+, ...``.
    strand, owner : ndarray, shape (2N,): '+'/'-' and the index into ``ids``.
    lengths, starts : ndarray, shape (2N,), int64: widths and first column in ``columns``.
    columns : ndarray, shape (C, 4), float64: all columns concatenated (C = sum of widths).
    columns_t : ndarray, shape (4, C), float64: the same, letter-major.
    unique_lengths : ndarray, shape (nL,); length_slot : ndarray, shape (2N,): index into it.
    consensus : ndarray, shape (2N,), object; tie_rank : ndarray, shape (2N,): MEME's tie order;
    by_tie_rank : ndarray, shape (2N,): its inverse (the match index of each rank).
    """

    def __init__(self, targets: Sequence[MemeMotif], motif_pseudo: float = 0.1, background=None):
        if len(targets) == 0:
            raise MotifbenchError("tomtom needs at least one target motif")
        if len(targets) < 50:
            log.warning("only %d target motifs: MEME warns that p-values need at least 50", len(targets))
        if motif_pseudo < 0:
            raise MotifbenchError(f"motif_pseudo must be non-negative, got {motif_pseudo}")
        self.motif_pseudo = float(motif_pseudo)
        self.background = query_background(background)
        self.ids = [t.id for t in targets]
        mats, strands, owners = [], [], []
        for i, t in enumerate(targets):
            fwd = K.apply_pseudocount(K.normalise_rows(check_ppm(t)), t.nsites, self.background, self.motif_pseudo)
            mats += [fwd, K.reverse_complement(fwd)]
            strands += ["+", "-"]
            owners += [i, i]
        self.mats = mats
        self.strand = np.array(strands, dtype=object)
        self.owner = np.array(owners)
        self.lengths = np.array([m.shape[0] for m in mats], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)
        self.columns = np.ascontiguousarray(np.concatenate(mats, axis=0))  # (C, 4)
        self.columns_t = np.ascontiguousarray(self.columns.T)  # (4, C)
        self.unique_lengths = np.unique(self.lengths)
        self.length_slot = np.searchsorted(self.unique_lengths, self.lengths).astype(np.int64)
        self.consensus = np.array(K.consensus_many(mats), dtype=object)
        self.id_array = np.array(self.ids, dtype=object)
        # MEME's tie order: strcmp of strand-prefixed ids, so every '+' sorts before every '-'
        order = sorted(range(len(mats)), key=lambda j: (strands[j], self.ids[owners[j]]))
        self.tie_rank = np.empty(len(mats), dtype=np.int64)
        self.tie_rank[order] = np.arange(len(mats))
        self.by_tie_rank = np.asarray(order, dtype=np.int64)  # the match holding each tie rank
        for arr in (self.columns, self.columns_t, self.lengths, self.starts, self.length_slot, self.by_tie_rank):
            arr.flags.writeable = False
        self._layouts: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}

    def padded_layout(self, q: int) -> tuple[np.ndarray, np.ndarray, int]:
        """The columns spread out with ``q - 1`` padding columns before, between and after the targets.

        In this layout each alignment of a width-``q`` query with a target is
        one diagonal of the ``(q, C')`` score block (see
        :func:`evaluator.tomtom_jit.best_alignments`).

        Returns
        -------
        pad_pos : ndarray, shape (C,), int64: each column's padded position.
        pstarts : ndarray, shape (2N,), int64: each target's first padded position.
        width : int, C'.
        """
        with _lock:
            hit = self._layouts.get(q)
        if hit is None:
            pad = q - 1
            pstarts = self.starts + pad * (np.arange(self.lengths.size, dtype=np.int64) + 1)
            owner_col = np.repeat(np.arange(self.lengths.size), self.lengths)
            pad_pos = (np.arange(self.n_columns, dtype=np.int64) + pad * (owner_col + 1)).astype(np.int64)
            hit = (pad_pos, pstarts, int(self.n_columns + pad * (self.lengths.size + 1)))
            with _lock:
                self._layouts[q] = hit
        return hit

    @property
    def col_index(self) -> np.ndarray:
        """int64, shape (2N, Lmax): each target's column indices into ``columns``, padded with C."""
        if not hasattr(self, "_col_index"):
            pos = np.arange(int(self.lengths.max()))[None, :]
            self._col_index = np.where(pos < self.lengths[:, None], self.starts[:, None] + pos, self.n_columns)
        return self._col_index

    @property
    def n_targets(self) -> int:
        """N, the number of target motifs (E = p x N)."""
        return len(self.ids)

    @property
    def n_columns(self) -> int:
        """C, the number of columns over both strands (MEME's ``targets_len``)."""
        return int(self.columns.shape[0])

    def matches(self, motif_pseudo: float, background) -> bool:
        """Whether this was prepared with these pseudocount settings (they change every target column)."""
        return self.motif_pseudo == float(motif_pseudo) and np.array_equal(self.background, query_background(background))


def _fingerprint(targets: Sequence[MemeMotif], motif_pseudo: float, background) -> str:
    """A digest of the settings, the targets' ids, nsites and shapes, then all matrices' values (one update each)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((float(motif_pseudo), query_background(background).tobytes())).encode())
    ids = [str(t.id) for t in targets]
    ppms = [np.asarray(t.ppm, dtype=np.float64) for t in targets]
    h.update("\0".join(ids).encode())
    h.update(repr([t.nsites for t in targets]).encode())
    # id lengths (the joined ids split one way) and each matrix's ndim, rows and size (its shape, if 2-D)
    for numbers in ([len(i) for i in ids], [p.ndim for p in ppms], [len(p) if p.ndim else 0 for p in ppms],
                    [p.size for p in ppms]):
        h.update(np.array(numbers, dtype=np.int64).tobytes())
    h.update(np.concatenate([p.ravel() for p in ppms]).tobytes() if ppms else b"")
    return h.hexdigest()


def prepare_targets(targets: Sequence[MemeMotif] | TomtomTargets, *, motif_pseudo: float = 0.1,
                    background=None) -> TomtomTargets:
    """The :class:`TomtomTargets` for a database, from a cache keyed by content and pseudocount settings.

    A :class:`TomtomTargets` passes through if it was prepared with the same
    ``motif_pseudo`` and ``background``; otherwise that is an error, since
    the p-values would silently change.
    """
    if isinstance(targets, TomtomTargets):
        if not targets.matches(motif_pseudo, background):
            raise MotifbenchError("these TomtomTargets were prepared with another motif_pseudo or background: "
                                  "prepare them again with the settings of this call")
        return targets
    key = _fingerprint(targets, motif_pseudo, background)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    prepared = TomtomTargets(targets, motif_pseudo=motif_pseudo, background=background)
    with _lock:
        _cache[key] = prepared
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return prepared
