"""Figures of the model detail view, drawn from a result record (matplotlib, no pyplot state).

Figures are built with :class:`matplotlib.figure.Figure` directly, so nothing
accumulates in pyplot's global figure list on a long-running server.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

AUROC_COLOUR, AUPR_COLOUR = "#4c72b0", "#dd8452"


def class_scores(record: dict[str, Any]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(TF names, AUROC per class, auPR per class) from the record; undefined scores are NaN.

    Returns arrays of shape (12,) in class order.
    """
    per_class = ((record.get("results") or {}).get("classification") or {}).get("per_class") or []
    names = [str(c.get("tf", c.get("index", i))) for i, c in enumerate(per_class)]
    auroc = np.array([np.nan if c.get("auroc") is None else c["auroc"] for c in per_class], dtype=float)
    aupr = np.array([np.nan if c.get("aupr") is None else c["aupr"] for c in per_class], dtype=float)
    return names, auroc, aupr


def per_class_chart(record: dict[str, Any]) -> Figure:
    """Grouped bars: AUROC and auPR (average precision) for each of the 12 classes."""
    names, auroc, aupr = class_scores(record)
    fig = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(names))
    ax.bar(x - 0.2, np.nan_to_num(auroc), width=0.4, label="AUROC", color=AUROC_COLOUR)
    ax.bar(x + 0.2, np.nan_to_num(aupr), width=0.4, label="auPR", color=AUPR_COLOUR)
    for i in np.flatnonzero(~np.isfinite(auroc)):
        ax.text(i, 0.02, "n/a", ha="center", fontsize=7, rotation=90)
    ax.set_xticks(x, names, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 1.0)
    ax.set_yticks(np.linspace(0, 1, 6), [f"{v:.1f}" for v in np.linspace(0, 1, 6)])
    ax.set_ylabel("score")
    ax.set_title("Classification per class (test split)", fontsize=10, loc="left")
    # the legend sits above the axes, right of the title: it never covers a bar
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncols=2, frameon=False, borderaxespad=0.2)
    ax.grid(axis="y", alpha=0.3)
    return fig


def coverage_matrix(record: dict[str, Any]) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Which filters matched which ground-truth TF.

    Returns
    -------
    tfs : list of str, the 12 TFs in class order.
    filters : list of str, filters with at least one ground-truth match.
    matrix : shape (len(filters), 12), 1 where a filter's Tomtom hits include an accepted ID of that TF.
    per_tf : shape (12,), filters matching each TF (the record's ``filters_per_tf``).
    """
    recovery = ((record.get("results") or {}).get("motif_recovery")) or {}
    names, _, _ = class_scores(record)
    per_tf_map = recovery.get("filters_per_tf") or {}
    tfs = names or list(per_tf_map)
    per_tf = np.array([int(per_tf_map.get(tf, 0)) for tf in tfs], dtype=int)
    matched = [f for f in recovery.get("filters") or [] if f.get("ground_truth_tfs")]
    matrix = np.zeros((len(matched), len(tfs)), dtype=int)
    for row, entry in enumerate(matched):
        for tf in entry["ground_truth_tfs"]:
            if tf in tfs:
                matrix[row, tfs.index(tf)] = 1
    return tfs, [str(f.get("filter")) for f in matched], matrix, per_tf


def coverage_heatmap(record: dict[str, Any], max_rows: int = 48) -> Figure:
    """12-TF coverage: filters per TF (top strip, annotated) and the filter x TF match matrix below."""
    tfs, filters, matrix, per_tf = coverage_matrix(record)
    shown = matrix[:max_rows]
    n_rows = max(1, len(shown))
    fig = Figure(figsize=(9, 1.6 + 0.18 * n_rows), dpi=90, layout="constrained")
    top, bottom = fig.subplots(2, 1, height_ratios=[1, max(1.5, 0.18 * n_rows / 0.5)], sharex=True)
    vmax = max(1, int(per_tf.max()) if per_tf.size else 1)
    top.imshow(per_tf[None, :], aspect="auto", cmap="Greens", vmin=0, vmax=vmax)
    for i, count in enumerate(per_tf):
        top.text(i, 0, str(count), ha="center", va="center", fontsize=9,
                 color="white" if count > vmax / 2 else "black")
    top.set_yticks([0], ["filters"], fontsize=8)
    covered = int((per_tf > 0).sum())
    top.set_title(f"Coverage {covered}/{len(tfs)}: first-layer filters matching each ground-truth TF", fontsize=10)
    if len(shown):
        bottom.imshow(shown, aspect="auto", cmap=ListedColormap(["#f4f4f4", "#1a7f37"]), vmin=0, vmax=1,
                      interpolation="nearest")
        bottom.set_yticks(range(len(shown)), filters[:max_rows], fontsize=6)
        if len(matrix) > max_rows:
            bottom.set_ylabel(f"first {max_rows} of {len(matrix)} matching filters", fontsize=7)
    else:
        bottom.text(0.5, 0.5, "no filter matches a ground-truth motif", ha="center", va="center",
                    transform=bottom.transAxes, fontsize=9)
        bottom.set_yticks([])
    bottom.set_xticks(range(len(tfs)), tfs, rotation=45, ha="right", fontsize=8)
    return fig
