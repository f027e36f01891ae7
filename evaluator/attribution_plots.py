"""Pictures of the attribution stage: discovered patterns beside their ground-truth match, example maps.

* ``<stem>.patterns.png``: one row per TF-MoDISco pattern: its trimmed PPM (left) and the
  ground-truth motif it matched best (right, in the orientation Tomtom aligned; a uniform panel
  when it matched none).
* ``<stem>.attribution_examples.png``: a few sequences' actual contributions ``sum_c x A`` per
  position, the explained class's instances shaded green and other TFs' instances grey.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from evaluator.logos import logo_grid


def pattern_logos(discovery: dict, path: str | Path, engine: str = "fast") -> Path | None:
    """Pattern logos beside their best ground-truth match; None when there is no pattern."""
    from benchmark.motifs import load_motif_set, reverse_complement_pwm

    patterns = discovery.get("patterns") or []
    if not patterns:
        return None
    ms = load_motif_set()
    ppms, titles, highlight = [], [], []
    for p in patterns:
        ppms.append(np.asarray(p["ppm"], np.float64))
        hit = p.get("best_ground_truth_hit")
        titles.append(f"{p['pattern']} ({p['n_seqlets']} seqlets)")
        highlight.append(hit is not None)
        if hit is None:
            ppms.append(np.full((6, 4), 0.25))
            best = p.get("best_hit")
            titles.append(f"no ground-truth match (best: {best['target_name']})" if best else "no JASPAR match")
            highlight.append(False)
            continue
        pwm = ms.pwms[ms.index_of(hit["ground_truth_tf"])]
        pwm = reverse_complement_pwm(pwm) if hit["orientation"] == "-" else pwm
        ppms.append(pwm.T)
        titles.append(f"{hit['ground_truth_tf']} {hit['target_id']} E={hit['e_value']:.2g}")
        highlight.append(True)
    return logo_grid(ppms, titles, path, highlight=highlight, ncols=2, engine=engine, panel_size=(3.0, 1.1))


def example_maps(examples: dict, path: str | Path, dpi: int = 72) -> Path | None:
    """Bar plots of example contributions with the true motif spans shaded; None when there are none.

    examples : ``{"method", "ids", "classes", "contributions" (n, L), "own" (n, L) bool, "distractor" (n, L) bool}``.
    """
    if not examples or len(examples.get("ids", [])) == 0:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    contrib = np.asarray(examples["contributions"])
    n, length = contrib.shape
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.3 * n), squeeze=False)
    for ax, row, own, dis, sid, cls in zip(axes[:, 0], contrib, examples["own"], examples["distractor"],
                                           examples["ids"], examples["classes"]):
        for mask, colour in ((own, "#2ca02c"), (dis, "#999999")):
            edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(int), 0]))
            for start, end in zip(edges[::2], edges[1::2]):
                ax.axvspan(start - 0.5, end - 0.5, color=colour, alpha=0.25, lw=0)
        ax.bar(np.arange(length), row, width=1.0, color=np.where(row >= 0, "#1f77b4", "#d62728"))
        ax.set_xlim(-0.5, length - 0.5)
        ax.set_yticks([])
        ax.set_title(f"{sid}: explaining {cls} ({examples['method']}); green = {cls} sites, grey = other TFs",
                     fontsize=7, loc="left")
    fig.tight_layout(pad=0.4)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
