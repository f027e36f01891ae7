"""Putative motif sites: a FIMO scan (memelite) of the 12 JASPAR motifs over one-hot sequences.

In vivo sequences have no recorded motif positions, so the `deepsea` config
annotates each row with the sites FIMO calls at a stated p-value threshold.
These are *putative*: a statistically unusual match to a PWM under a uniform
background, not evidence that the TF binds there, and a bound TF may have no
call at all. Every record carries ``putative=True`` and its FIMO p-value.

memelite's FIMO (a NumPy/numba port of MEME's) is used instead of calling the
MEME binary: it scans arrays in memory, so each chunk of the stream is scanned
without writing FASTA files, and its numba kernels are cached after the first
call (the first call in a fresh environment compiles them, about 20 s).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from importlib.metadata import version
from typing import NamedTuple

import numpy as np

from benchmark.motifs import MotifSet


@dataclass(frozen=True)
class FimoParams:
    """Everything that changes which sites FIMO calls (recorded in the manifest).

    threshold: report a site iff its p-value is below this.
    bin_size: score discretisation of the p-value table (memelite's default).
    eps: pseudocount added to the PWM probabilities before the log-odds (memelite's default).
    reverse_complement: scan both strands.
    """

    threshold: float = 1e-4
    bin_size: float = 0.1
    eps: float = 1e-4
    reverse_complement: bool = True

    def record(self) -> dict:
        return {
            **asdict(self),
            "background": "uniform (0.25 per letter)",
            "tool": "memelite.fimo",
            "tool_version": version("memelite"),
            "coordinates": "0-based start, exclusive end, on the forward strand; strand '-' = reverse complement match",
        }


class PutativeSites(NamedTuple):
    """FIMO hits as flat columns, sorted by (row, start, class, strand).

    Attributes
    ----------
    row: int64, shape=(m,): row of the scanned batch.
    motif: int64, shape=(m,): class index (REFERENCE.md section 1 order).
    start, end: int32, shape=(m,): 0-based start and exclusive end.
    minus: bool, shape=(m,): True for a reverse-complement match.
    p_value: float32, shape=(m,).
    """

    row: np.ndarray
    motif: np.ndarray
    start: np.ndarray
    end: np.ndarray
    minus: np.ndarray
    p_value: np.ndarray

    def __len__(self) -> int:
        return int(self.row.shape[0])


def no_sites() -> PutativeSites:
    """An empty result (a chunk with no rows, or a build with the scan switched off)."""
    return PutativeSites(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int32),
                         np.zeros(0, np.int32), np.zeros(0, bool), np.zeros(0, np.float32))


def scan(onehot: np.ndarray, motif_set: MotifSet, params: FimoParams = FimoParams()) -> PutativeSites:
    """FIMO hits of every class's motif in every row.

    Parameters
    ----------
    onehot: shape=(n, 4, L), A,C,G,T channel-first, N columns all zero (scored as the
        PWM's zero row, so a window touching N rarely passes).
    motif_set: the 12 classes; their PWMs ``(4, w)`` are probabilities.
    params: threshold and scoring parameters.
    """
    if onehot.shape[0] == 0:
        return no_sites()
    from memelite import fimo

    motifs = {jid: pwm for jid, pwm in zip(motif_set.jaspar_ids, motif_set.pwms)}
    hits = fimo(motifs, onehot, threshold=params.threshold, bin_size=params.bin_size, eps=params.eps,
                reverse_complement=params.reverse_complement, dim=0)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in PutativeSites._fields}
    for k, df in enumerate(hits):  # dim=0: one frame per motif, in the dict's (class) order
        if len(df) == 0:
            continue
        cols["row"].append(df["sequence_name"].to_numpy(np.int64))
        cols["motif"].append(np.full(len(df), k, np.int64))
        cols["start"].append(df["start"].to_numpy(np.int32))
        cols["end"].append(df["end"].to_numpy(np.int32))
        cols["minus"].append(df["strand"].to_numpy(object) == "-")
        cols["p_value"].append(df["p-value"].to_numpy(np.float32))
    if not cols["row"]:
        return no_sites()
    flat = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((flat["minus"], flat["motif"], flat["start"], flat["row"]))
    return PutativeSites(**{k: v[order] for k, v in flat.items()})
