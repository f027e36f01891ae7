"""MEME-faithful Tomtom (Gupta et al. 2007, as MEME 5.5.8's ``tomtom.c`` computes it) in NumPy.

This is the instrument the benchmark's motif recovery is judged by, so it
reproduces MEME's numbers rather than approximating them: pseudocounts,
column distances (``ed`` default, ``pearson``), the median shift of each query
column, the integer scaling, the exact null of the best alignment over all
offsets and both strands, E = p x number of targets, MEME's sort order and
thresholding. ``../shared/tomtom-reference/SPEC.md`` describes every step;
``docs/tomtom.md`` gives the measured agreement with MEME.

Every p-value depends on the whole target database (the median shift, the
scaling and the null are computed from all target columns), so pass the same
database MEME would read: :func:`jaspar_targets` gives JASPAR CORE vertebrates
exactly as exported for MEME.
"""
from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import pandas as pd

from benchmark.errors import MotifbenchError
from evaluator import tomtom_jit as J
from evaluator import tomtom_jit_cache as JC
from evaluator import tomtom_jit_pvalues as JP
from evaluator import tomtom_kernels as K
from evaluator.meme_io import MemeMotif, read_meme
from evaluator.tomtom_qvalues import MemeRandom, draws_per_query, kept_qvalue_rows, qvalue_rows
from evaluator.tomtom_targets import TomtomTargets, check_ppms, prepare_targets

__all__ = ["COLUMNS", "TOMTOM_METHOD", "TomtomTargets", "best_strand_evalues", "format_tsv", "jaspar_targets",
           "prepare_targets", "tomtom"]

log = logging.getLogger(__name__)

COLUMNS = ["Query_ID", "Target_ID", "Optimal_offset", "p-value", "E-value", "q-value",
           "Overlap", "Query_consensus", "Target_consensus", "Orientation"]
DISTANCES = ("ed", "pearson")
#: MEME's TOMTOM_MAX_QUERY_WIDTH: wider queries are skipped (memory is cubic in width).
MAX_QUERY_WIDTH = 100
#: Queries per thread-pool task (at least): a query takes about a millisecond.
_MIN_CHUNK = 4
#: Chunks per pool worker for large query sets.
_CHUNKS_PER_WORKER = 2

#: What a result record should store to say how Tomtom was run (the papers' command).
TOMTOM_METHOD: dict = {
    "implementation": "motifbench evaluator.tomtom (NumPy port of MEME 5.5.8 tomtom.c)",
    "reference": "MEME 5.5.8 tomtom",
    "command_equivalent": "tomtom -evalue -thresh 0.1 QUERIES.meme JASPAR2016_CORE_vertebrates.meme",
    "dist": "ed",
    "motif_pseudo": 0.1,
    "min_overlap": 1,
    "internal": False,
    "thresh": 0.1,
    "evalue": True,
    "complete_scores": True,
    "both_strands": True,
    "background": "uniform (query file background, strand-symmetric)",
    "median_shift": "lower median over all target columns, both strands",
    "bins": K.BINS,
    "evalue_definition": "p-value x number of target motifs",
    "qvalue": "Storey pi0 (100 bootstraps, MEME's default-seeded mtwist stream) over both strands of every target",
}


def jaspar_targets(release: int = 2016) -> list[MemeMotif]:
    """JASPAR CORE vertebrates (519 matrices for 2016) exactly as MEME reads them.

    The matrices go through the same MEME text export MEME was given (6
    decimals), so the target columns are bit-identical to MEME's. Parsed once
    per process (read-only arrays): every evaluation uses the same database.
    """
    return list(_jaspar_targets(int(release)))


@lru_cache(maxsize=None)
def _jaspar_targets(release: int) -> tuple[MemeMotif, ...]:
    from benchmark.jaspar import core_vertebrates_meme

    motifs = tuple(read_meme(core_vertebrates_meme(release)))
    for motif in motifs:
        motif.ppm.flags.writeable = False
    return motifs


#: Bounds of each distance's column scores (for the median's value bins; an ED column distance is at
#: most sqrt(2), a Pearson correlation within [-1, 1]; a value outside goes to the end bin).
_SCORE_BOUNDS = {"ed": (-1.5, 0.0), "pearson": (-1.0, 1.0)}


class _Workspace:
    """One thread's scratch arrays for queries up to ``q_max`` columns."""

    def __init__(self, q_max: int, targets: TomtomTargets):
        n_cols, n = targets.n_columns, targets.lengths.size
        self.scores = np.empty((q_max, n_cols))
        self.hist = np.empty((q_max, K.BINS + 1), dtype=np.int64)
        self.median_bins = np.empty(J.MEDIAN_BINS, dtype=np.int32)
        self.bins = np.empty(n_cols, dtype=np.uint16)
        self.median_buf = np.empty(n_cols)
        self.score = np.empty(n, dtype=np.int64)
        self.p = np.empty(n)
        self.s_int = np.empty(n_cols, dtype=np.int64)
        self._z_pad: dict[int, np.ndarray] = {}
        self._targets = targets

    def z_pad(self, q: int) -> np.ndarray:
        """The (q, C') padded block, int8 (values in [-BINS, BINS]); its padding stays 0, only target columns are
        rewritten."""
        if q not in self._z_pad:
            self._z_pad[q] = np.zeros((q, self._targets.padded_layout(q)[2]), dtype=np.int8)
        return self._z_pad[q]


def _score_query(mat: np.ndarray, ts: TomtomTargets, dist: str, min_overlap: int, internal: bool,
                 ws: _Workspace) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p-value float32, offset, overlap), each shape (2N,), for one query ``mat`` (Q, 4)."""
    q = mat.shape[0]
    scores, hist = ws.scores[:q], ws.hist[:q]
    pad_pos, pstarts, width = ts.padded_layout(q)
    z_pad = ws.z_pad(q)
    lo, hi = _SCORE_BOUNDS[dist]
    if dist == "ed":  # distances, median bins and medians row by row
        _, _, k0 = J.ed_shift_scale_hist(np.ascontiguousarray(mat), ts.columns_t, scores, lo, hi, pad_pos, z_pad,
                                         hist, ws.median_bins, ws.bins, ws.median_buf, ws.s_int)
    else:
        scores[...] = K.pearson_scores(mat[None], ts.columns)[0]
        _, _, k0 = J.shift_scale_hist(scores, lo, hi, pad_pos, z_pad, hist, ws.median_bins, ws.bins,
                                      ws.median_buf, ws.s_int)
    n = ts.lengths.size
    offsets, overlaps = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    diag = np.empty(width - q + 1, dtype=np.int16)  # |sum| <= MAX_QUERY_WIDTH * BINS fits
    J.best_alignments(z_pad, pstarts, ts.lengths, int(min_overlap), bool(internal),
                      ws.score, offsets, overlaps, diag)
    lookup = ws.score + q * k0
    JP.alignment_pvalues(hist, ts.n_columns, k0, ts.unique_lengths, ts.length_slot, lookup, 2, ws.p)
    return ws.p.astype(np.float32), offsets, overlaps


def _workspace(ts: TomtomTargets, q_max: int) -> _Workspace:
    """This thread's workspace for ``ts`` (kept on it, so repeated calls allocate nothing)."""
    spaces = ts.__dict__.setdefault("_workspaces", {})
    key = threading.get_ident()
    ws = spaces.get(key)
    if ws is None or ws.scores.shape[0] < q_max:
        ws = spaces[key] = _Workspace(q_max, ts)
    return ws


def _score_query_numpy(mat: np.ndarray, ts: TomtomTargets, dist: str, min_overlap: int, internal: bool):
    """:func:`_score_query` with the NumPy kernels (used until the compiled ones are cached)."""
    scorer = K.ed_scores if dist == "ed" else K.pearson_scores
    s_int, offset, scale = K.shift_and_scale(scorer(mat[None], ts.columns))
    k0 = np.rint(-offset * scale).astype(np.int64)
    score, best_offset, overlap = K.best_alignments(s_int, k0, ts.col_index, ts.lengths, min_overlap=min_overlap,
                                                    internal=internal)
    lookup = score + mat.shape[0] * k0[:, None]
    p = K.max_alignment_pvalues(s_int, k0, ts.unique_lengths, ts.length_slot, lookup)
    return p[0].astype(np.float32), best_offset[0], overlap[0]


def _score_chunk(mats: list[np.ndarray], ts: TomtomTargets, dist: str, min_overlap: int, internal: bool,
                 compiled: bool = True, finish=None, start: int = 0):
    """Score a chunk of queries, then ``finish(scored, ts, start)`` (default :func:`_sort_block`: MEME's order).

    ``start``: the chunk's first query's index in the run.
    """
    if not compiled:
        scored = [_score_query_numpy(m, ts, dist, min_overlap, internal) for m in mats]
    else:
        ws = _workspace(ts, max(m.shape[0] for m in mats))
        scored = [_score_query(m, ts, dist, min_overlap, internal, ws) for m in mats]
    return (finish or _sort_block)(scored, ts, start)


def evalues(p32: np.ndarray, n_targets: int) -> np.ndarray:
    """MEME's E-value of float32 p-values: ``p * 2N / 2`` in float32 (``tomtom.c`` line 1615), same shape."""
    return (p32 * np.float32(2 * n_targets)) / np.float32(2)


def _best_strand_evalues(scored: list, ts: TomtomTargets, start: int = 0) -> np.ndarray:
    """E-value of each query's better strand of every target, float32 (B, N) (E is monotone in p)."""
    p32 = np.stack([r[0] for r in scored])
    return evalues(np.minimum(p32[:, 0::2], p32[:, 1::2]), ts.n_targets)  # t0+, t0-, t1+, ... interleaved


def _sort_block(scored: list, ts: TomtomTargets, start: int = 0) -> dict[str, np.ndarray]:
    """MEME's order of each query's matches (``scored``: ``(p32, offset, overlap)`` per query, each shape (2N,)).

    :func:`evaluator.tomtom_jit.sort_matches` (until numba's cache is warm,
    :func:`evaluator.tomtom_kernels.sort_matches`: the same). Returns its dict
    of (B, 2N) arrays: ``order``, ``p32``, ``offset``, ``overlap``, ``first``.
    """
    tie_bits = max(1, int(ts.lengths.size - 1).bit_length())
    p32 = np.stack([r[0] for r in scored])
    ov = np.stack([r[2] for r in scored]).astype(np.int64)
    off = np.stack([r[1] for r in scored])
    if JC.ready():
        shape = p32.shape
        order, off_ord, ov_ord = (np.empty(shape, dtype=np.int64) for _ in range(3))
        p_ord, first = np.empty(shape, dtype=np.int32), np.empty(shape, dtype=np.bool_)
        J.sort_matches(p32.view(np.int32), ov, off, ts.tie_rank, ts.by_tie_rank, tie_bits,
                       order, p_ord, off_ord, ov_ord, first)
        return {"order": order, "p32": p_ord.view(np.float32), "offset": off_ord, "overlap": ov_ord, "first": first}
    return K.sort_matches(p32, ov, off, ts.tie_rank, ts.by_tie_rank, tie_bits)


def _workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_pools: dict[int, ThreadPoolExecutor] = {}


def _pool() -> ThreadPoolExecutor:
    """This process's thread pool (a forked child makes its own: threads do not survive fork)."""
    pid = os.getpid()
    if pid not in _pools:
        _pools.clear()
        _pools[pid] = ThreadPoolExecutor(max_workers=_workers(), thread_name_prefix="tomtom")
    return _pools[pid]


def _scored(mats: list[np.ndarray], ts: TomtomTargets, dist: str, min_overlap: int, internal: bool,
            progress: bool, finish=None, workers: int | None = None):
    """Yield each chunk's matches in MEME's order (:func:`_sort_block`), chunks in query order, run on a thread pool.

    The compiled kernels release the GIL, so chunks run on every core, while
    the caller consumes finished chunks in order (q-values draw from one
    random stream, so they must go in query order). ``workers=1`` scores
    every chunk in the calling thread (same numbers).
    """
    n_workers = _workers() if workers is None else max(1, int(workers))
    compiled = JC.ready()
    if not compiled:
        JC.start_warm_up()
    if len(mats) < 2 * _MIN_CHUNK or n_workers == 1:
        chunks = [mats[i:i + _MIN_CHUNK] for i in range(0, len(mats), _MIN_CHUNK)]
        futures = None
    else:
        # two chunks per worker: each chunk's fixed cost (Python glue, the caller's table assembly) is
        # paid twice per worker, and the caller's work on the first chunks overlaps the scoring of the last
        size = max(_MIN_CHUNK, -(-len(mats) // (_CHUNKS_PER_WORKER * n_workers)))
        chunks = [mats[i:i + size] for i in range(0, len(mats), size)]
        futures = [_pool().submit(_score_chunk, c, ts, dist, min_overlap, internal, compiled, finish, i * size)
                   for i, c in enumerate(chunks)]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(mats), desc="tomtom", unit="query")
    for i, chunk in enumerate(chunks):
        yield futures[i].result() if futures else _score_chunk(chunk, ts, dist, min_overlap, internal, compiled,
                                                               finish, i * _MIN_CHUNK)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()


def tomtom(
    queries: Sequence[MemeMotif],
    targets: Sequence[MemeMotif] | TomtomTargets,
    *,
    dist: str = "ed",
    min_overlap: int = 1,
    motif_pseudo: float = 0.1,
    evalue: bool = True,
    thresh: float | None = 0.1,
    background=None,
    internal: bool = False,
    progress: bool = False,
) -> pd.DataFrame:
    """Compare query motifs with a target database as ``tomtom -dist DIST -evalue -thresh THRESH`` does.

    Parameters
    ----------
    queries: motifs with ``ppm`` shape=(width, 4); widths above 100 are skipped, as MEME does.
    targets: the database (its size and content change every p-value, as in MEME), or
        a :class:`TomtomTargets` from :func:`prepare_targets` (prepared with the same
        ``motif_pseudo`` and ``background``) to reuse its precomputation.
    dist: "ed" (MEME's default, Euclidean) or "pearson".
    min_overlap: MEME ``-min-overlap`` (alignments shorter than this are not considered).
    motif_pseudo: MEME ``-motif-pseudo``, applied to queries and targets.
    evalue: threshold on E-value (``-evalue``); otherwise on q-value.
    thresh: the threshold; None (or anything >= 1e9) reports every query-target pair.
    background: A,C,G,T frequencies for the pseudocount (MEME uses the query
        file's, made strand-symmetric); None means uniform.
    internal: MEME ``-internal`` (only alignments where one motif lies inside the other).
    progress: show a tqdm bar over queries.

    Returns
    -------
    DataFrame with MEME's ``tomtom.tsv`` columns, queries in input order, each
    query's matches by p-value (MEME's order), one row per target (its better
    strand). p-, E- and q-values hold MEME's float32 values.
    """
    _check_arguments(dist, min_overlap, motif_pseudo)
    if thresh is not None and not evalue and thresh > 1:
        raise MotifbenchError(f"a q-value threshold must be at most 1, got {thresh} (use evalue=True)")
    ts = prepare_targets(targets, motif_pseudo=motif_pseudo, background=background)
    prepared = _prepare_queries(queries, ts)
    if not prepared:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})

    limit = np.inf if thresh is None else float(thresh)
    rng = MemeRandom()  # one stream for the whole run, as in MEME
    parts: dict[str, list] = {c: [] for c in COLUMNS}
    done = 0
    for block in _scored([mat for _, mat in prepared], ts, dist, int(min_overlap), internal, progress,
                         _sort_and_qvalues):
        count = block["order"].shape[0]
        _select_block(prepared[done:done + count], block, ts, rng, evalue, limit, parts)
        done += count
    return pd.DataFrame({c: np.concatenate(parts[c]) for c in COLUMNS})


def _check_arguments(dist: str, min_overlap: int, motif_pseudo: float) -> None:
    if dist not in DISTANCES:
        raise MotifbenchError(f"dist must be one of {DISTANCES}, got {dist!r}")
    if int(min_overlap) < 1:
        raise MotifbenchError(f"min_overlap must be at least 1, got {min_overlap}")
    if motif_pseudo < 0:
        raise MotifbenchError(f"motif_pseudo must be non-negative, got {motif_pseudo}")


def _prepare_queries(queries: Sequence[MemeMotif], ts: TomtomTargets) -> list[tuple[MemeMotif, np.ndarray]]:
    """``(motif, matrix)`` of each query MEME compares: rows renormalised, pseudocounted; too wide ones skipped."""
    kept, ppms = [], []
    for motif, ppm in zip(queries, check_ppms(queries)):
        if ppm.shape[0] > MAX_QUERY_WIDTH:
            log.warning("skipping query %s: wider than %d columns (as MEME does)", motif.id, MAX_QUERY_WIDTH)
            continue
        kept.append(motif)
        ppms.append(ppm)
    if not kept:
        return []
    mats = K.pseudocounted_many(ppms, [m.nsites for m in kept], ts.background, ts.motif_pseudo)
    return list(zip(kept, mats))


def best_strand_evalues(
    queries: Sequence[MemeMotif],
    targets: Sequence[MemeMotif] | TomtomTargets,
    *,
    dist: str = "ed",
    min_overlap: int = 1,
    motif_pseudo: float = 0.1,
    background=None,
    internal: bool = False,
    workers: int | None = None,
) -> np.ndarray:
    """Every query's E-value against every target motif (its better strand): what ``tomtom()`` reports as E-value.

    For callers that only threshold on E-values (e.g. the bootstrap
    resamples of motif recovery): the same p- and E-values as
    :func:`tomtom` (a pair ``tomtom(..., thresh=t)`` reports is exactly one
    with ``E <= t`` here), without q-values, MEME's ordering or a table, so
    it costs only the scoring, on every core.

    Parameters are :func:`tomtom`'s, and ``workers``: None = every core (the process's pool),
    1 = only the calling thread (for a caller that runs beside other work; same numbers).

    Returns
    -------
    ndarray, shape (n_queries, N), float32: row i for ``queries[i]``, column j for
    target j in input order; NaN rows for queries MEME skips (wider than 100).
    """
    _check_arguments(dist, min_overlap, motif_pseudo)
    ts = prepare_targets(targets, motif_pseudo=motif_pseudo, background=background)
    out = np.full((len(queries), ts.n_targets), np.nan, dtype=np.float32)
    kept = [i for i, ppm in enumerate(check_ppms(queries)) if ppm.shape[0] <= MAX_QUERY_WIDTH]
    prepared = _prepare_queries(queries, ts)
    done = 0
    for block in _scored([mat for _, mat in prepared], ts, dist, int(min_overlap), internal, False,
                         _best_strand_evalues, workers):
        out[kept[done:done + block.shape[0]]] = block
        done += block.shape[0]
    return out


def _sort_and_qvalues(scored: list, ts: TomtomTargets, start: int) -> dict[str, np.ndarray]:
    """:func:`_sort_block`, plus the block's q-values (``q_sorted``) where every bootstrap table they draw is kept.

    The run's random stream is fresh and every query draws the same number
    of outputs, so the block's rows draw from a known position: on a warm
    call their tables are kept and the q-values are computed here, in the
    worker; otherwise ``q_sorted`` is None and the caller's thread draws them.
    """
    block = _sort_block(scored, ts, start)
    m = block["p32"].shape[1]
    block["start"] = start
    block["q_sorted"] = kept_qvalue_rows(block["p32"].astype(np.float64), start * draws_per_query(m))
    return block


def _select_block(prepared: list, block: dict[str, np.ndarray], ts: TomtomTargets, rng: MemeRandom, evalue: bool,
                  limit: float, parts: dict[str, list]) -> None:
    """q-values (from the run's one random stream, so in query order) and MEME's threshold for a block.

    ``prepared`` holds ``(motif, mat)`` per query of the block, ``block`` its
    matches in MEME's order (:func:`_sort_block`); rows are appended to ``parts``.
    """
    p_ord, order, sel = block["p32"], block["order"], block["first"]
    p_sorted = p_ord.astype(np.float64)
    n_rows, m = p_sorted.shape
    q_sorted = block.get("q_sorted")
    if q_sorted is not None and rng.position == block["start"] * draws_per_query(m):
        rng.skip_qvalue_rows(m, n_rows)  # computed in the worker from the kept tables: only move the stream on
    else:
        q_sorted = qvalue_rows(p_sorted, rng)
    e_sorted = evalues(p_ord, ts.n_targets)
    sel = sel & ((e_sorted.astype(np.float64) if evalue else q_sorted) <= limit)
    keep = order[sel]
    counts = sel.sum(axis=1)
    parts["Query_ID"].append(np.repeat(np.array([m.id for m, _ in prepared], dtype=object), counts))
    parts["Target_ID"].append(ts.id_array[ts.owner[keep]])
    parts["Optimal_offset"].append(block["offset"][sel])
    parts["p-value"].append(p_sorted[sel])
    parts["E-value"].append(e_sorted[sel].astype(np.float64))
    parts["q-value"].append(q_sorted[sel].astype(np.float32).astype(np.float64))
    parts["Overlap"].append(block["overlap"][sel])
    parts["Query_consensus"].append(np.repeat(np.array(K.consensus_many([mat for _, mat in prepared]), dtype=object),
                                              counts))
    parts["Target_consensus"].append(ts.consensus[keep])
    parts["Orientation"].append(ts.strand[keep])


def format_tsv(hits: pd.DataFrame, comment_lines: Sequence[str] = ()) -> str:
    """``tomtom.tsv`` text: MEME's header, ``%g`` numbers, then ``# ...`` comment lines."""
    lines = ["\t".join(COLUMNS)]
    for row in hits.itertuples(index=False):
        lines.append("\t".join([
            str(row[0]), str(row[1]), str(int(row[2])),
            f"{row[3]:g}", f"{row[4]:g}", f"{row[5]:g}",
            str(int(row[6])), str(row[7]), str(row[8]), str(row[9]),
        ]))
    text = "\n".join(lines) + "\n"
    if comment_lines:
        text += "\n" + "".join(f"# {c}\n" for c in comment_lines)
    return text
