"""Tomtom hits -> motif recovery: match-JASPAR, match-ground-truth, coverage, filters per TF.

Definitions (denominators are *all* first-layer filters, including those
left out of Tomtom because their PPM had no informative position):

- match-JASPAR fraction: filters with at least one Tomtom hit at the
  threshold / all filters.
- match-ground-truth fraction: filters with at least one hit whose target ID
  is an accepted ID of a ground-truth TF / all filters.
- filters per TF: for each of the 12 TFs, the filters with at least one
  accepted hit for it (a filter hitting accepted IDs of two TFs counts for both).
- coverage: TFs with at least one such filter, k of 12.
- best hit per filter: the hit with the smallest p-value (ties keep Tomtom's
  order, which is MEME's).

The original scripts' bugs are not copied: the TSV is read as a table (not by
dropping its last 3 lines), filter 0 counts like any other, and MA0660.1 /
MA0773.1 count for MEF2A.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from benchmark.motifs import MotifSet


def _finite_or_none(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _hit_dict(row: Mapping, target_names: Mapping[str, str], tf_of_id: Mapping[str, str]) -> dict:
    target = str(row["Target_ID"])
    tf = tf_of_id.get(target)
    return {
        "target_id": target,
        "target_name": target_names.get(target, ""),
        "ground_truth_tf": tf,
        "is_ground_truth": tf is not None,
        "p_value": _finite_or_none(row["p-value"]),
        "e_value": _finite_or_none(row["E-value"]),
        "q_value": _finite_or_none(row["q-value"]),
        "offset": int(row["Optimal_offset"]),
        "overlap": int(row["Overlap"]),
        "orientation": str(row["Orientation"]),
    }


def motif_recovery(hits: pd.DataFrame, filter_ids: Sequence[str], tested_ids: Sequence[str],
                   motif_set: MotifSet, target_names: Mapping[str, str]) -> dict:
    """Score Tomtom hits of first-layer filters against the ground-truth motifs.

    Parameters
    ----------
    hits: Tomtom output (MEME ``tomtom.tsv`` columns), already thresholded.
    filter_ids: every first-layer filter's query ID, in filter order (the denominator).
    tested_ids: the filters that were sent to Tomtom (the others had no informative position).
    motif_set: the benchmark's motifs (accepted IDs per TF).
    target_names: JASPAR ID -> TF name, for labelling hits.

    Returns
    -------
    JSON-ready dict: fractions, counts, coverage, per-TF counts and one entry per filter.
    """
    n_filters = len(filter_ids)
    tf_of_id = motif_set.tf_of_accepted_id
    known = set(filter_ids)
    unknown = sorted(set(hits["Query_ID"].astype(str)) - known) if len(hits) else []
    if unknown:
        raise ValueError(f"Tomtom hits name queries that are not filters: {unknown[:5]}")
    tested = set(tested_ids)
    ordered = hits.assign(_row=range(len(hits))).sort_values(["p-value", "_row"], kind="stable") if len(hits) else hits
    by_filter = {str(q): group for q, group in ordered.groupby("Query_ID", sort=False)} if len(hits) else {}

    filters_per_tf = {tf: 0 for tf in motif_set.names}
    per_filter = []
    n_jaspar = n_truth = 0
    for index, fid in enumerate(filter_ids):
        group = by_filter.get(fid)
        entry: dict = {"filter": fid, "index": index, "tested": fid in tested, "n_hits": 0,
                       "best_hit": None, "best_ground_truth_hit": None, "ground_truth_tfs": []}
        if group is not None and len(group):
            rows = group.to_dict("records")
            entry["n_hits"] = len(rows)
            entry["best_hit"] = _hit_dict(rows[0], target_names, tf_of_id)
            truth_rows = [r for r in rows if str(r["Target_ID"]) in tf_of_id]
            tfs = [tf for tf in motif_set.names if any(tf_of_id[str(r["Target_ID"])] == tf for r in truth_rows)]
            entry["ground_truth_tfs"] = tfs
            if truth_rows:
                entry["best_ground_truth_hit"] = _hit_dict(truth_rows[0], target_names, tf_of_id)
                n_truth += 1
                for tf in tfs:
                    filters_per_tf[tf] += 1
            n_jaspar += 1
        per_filter.append(entry)

    covered = [tf for tf in motif_set.names if filters_per_tf[tf] > 0]
    return {
        "n_filters": n_filters,
        "n_filters_tested": len(tested),
        "untested_filters": [fid for fid in filter_ids if fid not in tested],
        "n_match_jaspar": n_jaspar,
        "n_match_ground_truth": n_truth,
        "match_jaspar_fraction": n_jaspar / n_filters if n_filters else 0.0,
        "match_ground_truth_fraction": n_truth / n_filters if n_filters else 0.0,
        "coverage": len(covered) / len(motif_set) if len(motif_set) else 0.0,
        "coverage_count": len(covered),
        "n_ground_truth_tfs": len(motif_set),
        "covered_tfs": covered,
        "missed_tfs": [tf for tf in motif_set.names if tf not in covered],
        "filters_per_tf": filters_per_tf,
        "filters": per_filter,
    }
