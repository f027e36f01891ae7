"""Motif discovery from attribution maps: TF-MoDISco patterns -> PPMs -> Tomtom vs JASPAR.

The motif-recovery score for any architecture (no first-layer tap needed),
and a second column for models that have one. Steps:

1. TF-MoDISco (``modisco-lite``) on the positives: one-hot ``x`` and the
   hypothetical contributions ``A`` (corrected gradients by default,
   Majdandzic et al.); actual contributions are ``x * A``.
2. Each pattern (positive and negative metaclusters) -> its PPM (the mean
   one-hot of its seqlets) and its contribution matrix ``C`` ``(w, 4)``.
3. Trim (modisco's report rule): keep from the first to the last position
   whose ``sum_c |C[i, c]|`` reaches ``trim_fraction`` (0.3) of the maximum.
4. The trimmed PPMs go through the same MEME text round trip and MEME-parity
   Tomtom (``-evalue -thresh 0.1 -dist ed``) against JASPAR CORE vertebrates
   as first-layer filters, and :func:`evaluator.recovery.motif_recovery`
   scores them: **match fraction** = patterns with a ground-truth hit /
   patterns, **coverage** = TFs matched by at least one pattern (k/12),
   **spurious patterns** = patterns with no ground-truth hit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class ModiscoSettings:
    """modisco-lite settings that differ from its defaults (recorded)."""

    n_leiden_runs: int = 10
    max_seqlets_per_metacluster: int = 2000
    sliding_window_size: int = 15
    flank_size: int = 5
    trim_fraction: float = 0.3
    min_seqlets: int = 20

    def as_dict(self) -> dict:
        from importlib.metadata import version

        return {"n_leiden_runs": self.n_leiden_runs, "max_seqlets_per_metacluster": self.max_seqlets_per_metacluster,
                "sliding_window_size": self.sliding_window_size, "flank_size": self.flank_size,
                "final_min_cluster_size": self.min_seqlets, "trim_fraction": self.trim_fraction,
                "modisco_lite": version("modisco-lite")}


@dataclass
class Pattern:
    """One modisco pattern. ppm, contrib : ndarray, shape (w, 4) (MEME row layout); trimmed span [start, end)."""

    name: str
    ppm: np.ndarray
    contrib: np.ndarray
    n_seqlets: int
    start: int
    end: int
    extra: dict = field(default_factory=dict)

    @property
    def trimmed(self) -> np.ndarray:
        return self.ppm[self.start:self.end]


def trim_span(contrib: np.ndarray, fraction: float = 0.3) -> tuple[int, int]:
    """First and one-past-last position with ``sum |contrib|`` >= ``fraction`` of the maximum. contrib : (w, 4)."""
    score = np.abs(contrib).sum(axis=1)
    keep = np.flatnonzero(score >= fraction * score.max()) if score.max() > 0 else np.arange(len(score))
    return int(keep[0]), int(keep[-1] + 1)


def run_modisco(x: np.ndarray, hypothetical: np.ndarray, settings: ModiscoSettings | None = None) -> list[Pattern]:
    """TF-MoDISco patterns from one-hot sequences and hypothetical contributions.

    x, hypothetical : ndarray, shape (S, 4, L). Returns the patterns (``pos_i`` then ``neg_i``).
    """
    from modiscolite.tfmodisco import TFMoDISco

    settings = settings or ModiscoSettings()
    one_hot = np.ascontiguousarray(np.transpose(x, (0, 2, 1)), np.float32)
    hyp = np.ascontiguousarray(np.transpose(hypothetical, (0, 2, 1)), np.float32)
    pos, neg = TFMoDISco(one_hot=one_hot, hypothetical_contribs=hyp, n_leiden_runs=settings.n_leiden_runs,
                         max_seqlets_per_metacluster=settings.max_seqlets_per_metacluster,
                         sliding_window_size=settings.sliding_window_size, flank_size=settings.flank_size,
                         final_min_cluster_size=settings.min_seqlets, verbose=False)
    patterns = []
    for prefix, group in (("pos", pos or []), ("neg", neg or [])):
        for i, p in enumerate(group):
            ppm = np.asarray(p.sequence, np.float64)
            contrib = np.asarray(p.contrib_scores, np.float64)
            start, end = trim_span(contrib, settings.trim_fraction)
            patterns.append(Pattern(f"{prefix}_{i}", ppm, contrib, len(p.seqlets), start, end))
    return patterns


def score_patterns(patterns: list[Pattern], jaspar_release: int = 2016, dist: str = "ed", thresh: float = 0.1,
                   min_overlap: int = 1, motif_pseudo: float = 0.1) -> dict:
    """Tomtom (MEME parity) of trimmed pattern PPMs vs JASPAR, scored against the ground-truth motifs.

    Returns a JSON-ready dict: ``n_patterns``, ``match_ground_truth_fraction``, ``match_jaspar_fraction``,
    ``coverage`` / ``coverage_count``, ``covered_tfs``, ``n_spurious_patterns`` and one entry per pattern.
    """
    from benchmark.jaspar import core_vertebrates
    from benchmark.motifs import load_motif_set
    from evaluator.meme_io import MemeMotif, read_meme, write_meme
    from evaluator.recovery import motif_recovery
    from evaluator.tomtom import COLUMNS, jaspar_targets, tomtom

    ids = [p.name for p in patterns]
    queries = [MemeMotif(p.name, "", p.trimmed, max(p.n_seqlets, 1)) for p in patterns]
    queries = read_meme(write_meme(queries, None)) if queries else []
    if queries:
        hits = tomtom(queries, jaspar_targets(jaspar_release), dist=dist, min_overlap=min_overlap,
                      motif_pseudo=motif_pseudo, evalue=True, thresh=thresh)
    else:
        import pandas as pd

        hits = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    names = {m.matrix_id: m.name for m in core_vertebrates(jaspar_release)}
    rec = motif_recovery(hits, ids, ids, load_motif_set(), names)
    entries = []
    for p, entry in zip(patterns, rec["filters"]):
        entries.append({"pattern": p.name, "n_seqlets": p.n_seqlets, "trim": [p.start, p.end],
                        "ppm": np.round(p.trimmed, 4).tolist(),
                        "contrib": np.round(p.contrib[p.start:p.end], 5).tolist(),
                        "best_hit": entry["best_hit"], "best_ground_truth_hit": entry["best_ground_truth_hit"],
                        "ground_truth_tfs": entry["ground_truth_tfs"]})
    return {
        "n_patterns": len(patterns),
        "n_match_ground_truth": rec["n_match_ground_truth"],
        "n_match_jaspar": rec["n_match_jaspar"],
        "match_ground_truth_fraction": rec["match_ground_truth_fraction"] if patterns else None,
        "match_jaspar_fraction": rec["match_jaspar_fraction"] if patterns else None,
        "coverage": rec["coverage"],
        "coverage_count": rec["coverage_count"],
        "covered_tfs": rec["covered_tfs"],
        "missed_tfs": rec["missed_tfs"],
        "n_spurious_patterns": len(patterns) - rec["n_match_ground_truth"],
        "patterns": entries,
    }


def no_patterns(reason: str, jaspar_release: int = 2016) -> dict:
    """The discovery section of a run that found nothing, with ``error`` = why."""
    out = score_patterns([], jaspar_release)
    out["error"] = reason
    return out


def discover(x: np.ndarray, hypothetical: np.ndarray, settings: ModiscoSettings | None = None,
             jaspar_release: int = 2016) -> dict:
    """:func:`run_modisco` then :func:`score_patterns`; x, hypothetical : ndarray, shape (S, 4, L)."""
    settings = settings or ModiscoSettings()
    try:
        patterns = run_modisco(x, hypothetical, settings)
    except Exception as exc:  # noqa: BLE001 - modisco fails on too few seqlets; the record says so
        log.warning("TF-MoDISco failed: %s", exc)
        return no_patterns(f"TF-MoDISco failed: {type(exc).__name__}: {exc}", jaspar_release)
    return score_patterns(patterns, jaspar_release)
