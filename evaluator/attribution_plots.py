"""Pictures of the attribution stage: discovered patterns beside their ground-truth match, example maps.

* ``<stem>.patterns.png``: one cell per TF-MoDISco pattern, drawn like the first-layer filters
  (:func:`evaluator.logo_pairs.filter_match_pairs`): the pattern's trimmed logo (bits) and, on the same
  x axis underneath, the JASPAR matrix Tomtom matched it to (the ground-truth hit, else the best hit on
  grey), reverse-complemented and shifted as Tomtom aligned it, with the match in words. The drawn
  matrix is the matched JASPAR target itself, so a hit on another accepted ID (NFYA's MA0060.2 for the
  NFYB class) is shown as that matrix, not the embedded motif.
* ``<stem>.attribution_examples.png``: a few sequences' actual contributions ``sum_c x A`` per
  position, the explained class's instances shaded green and other TFs' instances grey, with a
  contribution axis and positions in nt.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

#: Example maps: inches per row and overall width, and dots per inch (1,680 px wide at the defaults: the
#: detail view shows it at the page's full width, about 1,300 px in a 1,400 px window, never upscaled).
EXAMPLE_W, EXAMPLE_ROW_H, EXAMPLE_DPI = 12.0, 1.7, 140
OWN_COLOUR, DISTRACTOR_COLOUR = "#2ca02c", "#999999"


def pattern_logos(discovery: dict, path: str | Path, engine: str = "fast", jaspar_release: int = 2016,
                  ncols: int = 3) -> Path | None:
    """Pattern logos above their aligned best ground-truth match; None when there is no pattern.

    ``engine`` is accepted for the caller's symmetry with the other logo figures; the paired cells are
    drawn by :mod:`evaluator.logo_pairs`' letter paths.
    """
    from benchmark.motifs import load_motif_set
    from evaluator.logo_pairs import filter_match_pairs, jaspar_targets_by_id

    del engine
    patterns = discovery.get("patterns") or []
    if not patterns:
        return None
    entries = [{"filter": f"{p['pattern']} · {p['n_seqlets']} seqlets", "tested": True,
                "best_hit": p.get("best_hit"), "best_ground_truth_hit": p.get("best_ground_truth_hit")}
               for p in patterns]
    ppms = [np.asarray(p["ppm"], np.float64) for p in patterns]
    return filter_match_pairs(ppms, {"filters": entries}, load_motif_set(), path,
                              targets=jaspar_targets_by_id(jaspar_release), ncols=ncols)


def has_examples(examples: dict | None) -> bool:
    """Whether :func:`example_maps` has anything to draw."""
    return bool(examples) and len(examples.get("ids", [])) > 0


def example_maps(examples: dict, path: str | Path, dpi: int = EXAMPLE_DPI) -> Path | None:
    """Bar plots of example contributions with the true motif spans shaded; None when there are none.

    examples : ``{"method", "ids", "classes", "contributions" (n, L), "own" (n, L) bool, "distractor" (n, L) bool}``.
    Drawn on a :class:`matplotlib.figure.Figure` of its own (no pyplot state), so it may run in a
    background thread; the margins are fixed in inches (no layout pass).
    """
    if not has_examples(examples):
        return None
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    contrib = np.asarray(examples["contributions"])
    n, length = contrib.shape
    height = EXAMPLE_ROW_H * n + 0.6
    fig = Figure(figsize=(EXAMPLE_W, height))
    # inches: 0.8 left for the axis label and ticks, 0.55 top for the legend, 0.5 bottom for the x label
    fig.subplots_adjust(left=0.8 / EXAMPLE_W, right=1 - 0.15 / EXAMPLE_W, top=1 - 0.55 / height,
                        bottom=0.5 / height, hspace=0.45)
    axes = fig.subplots(n, 1, squeeze=False, sharex=True)
    for ax, row, own, dis, sid, cls in zip(axes[:, 0], contrib, examples["own"], examples["distractor"],
                                           examples["ids"], examples["classes"]):
        for mask, colour in ((own, OWN_COLOUR), (dis, DISTRACTOR_COLOUR)):
            edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(mask).astype(int), 0]))
            for start, end in zip(edges[::2], edges[1::2]):
                ax.axvspan(start - 0.5, end - 0.5, color=colour, alpha=0.25, lw=0)
        edges = np.arange(length + 1) - 0.5  # bars of width 1 centred on each position, as two filled step lines
        ax.stairs(np.where(row >= 0, row, 0.0), edges, fill=True, color="#1f77b4", linewidth=0)
        ax.stairs(np.where(row < 0, row, 0.0), edges, fill=True, color="#d62728", linewidth=0)
        ax.axhline(0, color="#444444", lw=0.5)
        ax.set_xlim(-0.5, length - 0.5)
        ax.tick_params(labelsize=9)
        ax.set_ylabel("Σ_c x·A", fontsize=9)
        ax.set_title(f"{sid}: explaining {cls} ({examples['method']})", fontsize=10, loc="left")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    axes[-1, 0].set_xlabel("position (nt)", fontsize=9)
    handles = [Patch(color=OWN_COLOUR, alpha=0.35, label="sites of the explained TF (positives)"),
               Patch(color=DISTRACTOR_COLOUR, alpha=0.35, label="sites of other TFs (distractors)"),
               Patch(color="#1f77b4", label="contribution > 0"), Patch(color="#d62728", label="contribution < 0")]
    fig.legend(handles=handles, loc="upper center", ncol=4, fontsize=9, frameon=False)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path
