"""The leaderboard's two figures: what the papers plotted, drawn from the rows the table shows.

1. AUROC vs GT match, one point per model: classification is flat across
   designs while motif recovery is not (Koo & Eddy 2019, Fig. 2; Koo &
   Ploenzke 2021).
2. GT match vs first-layer pool size, one line per activation: ReLU needs
   large pools to learn whole motifs, the exponential activation does not.

Uncertainty is drawn when it exists: a row's confidence interval from the
columns ``<score>_ci_low`` / ``<score>_ci_high`` (when the export provides
them), and, where several rows share an activation and pool (seeds), the
spread (min to max) of their values around the mean.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from space_app.glossary import AUROC, GT_MATCH

ACTIVATION_COLOURS = {"exp": "#c44e52", "relu": "#4c72b0"}
ACTIVATION_MARKERS = {"exp": "s", "relu": "o"}  # shape as well as colour: readable without colour vision
OTHER_COLOURS = ("#55a868", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974", "#64b5cd")
LABEL_LIMIT = 30  # name the points when there are at most this many ...
LABEL_CLEARANCE = 0.05  # ... and only those this far (fraction of the axes) from every other point
LABEL_CHARS = 40  # user-given names and activations are cut to this length on a figure


def _plain(value: object) -> str:
    """User text (model names, activations) as matplotlib text: never mathtext, one short line.

    Matplotlib reads ``$...$`` as TeX math (a hostile name would make the figure fail to draw),
    so ``$`` is escaped; control characters become spaces.
    """
    text = "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(value))
    text = text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"
    return text.replace("$", r"\$")


def _colour(activation: str, others: dict[str, str]) -> str:
    if activation in ACTIVATION_COLOURS:
        return ACTIVATION_COLOURS[activation]
    return others.setdefault(activation, OTHER_COLOURS[len(others) % len(OTHER_COLOURS)])


def _ci(rows: pd.DataFrame, column: str) -> np.ndarray | None:
    """Asymmetric error bars, shape (2, N), from ``<column>_ci_low/_ci_high`` when present, else None."""
    low, high = f"{column}_ci_low", f"{column}_ci_high"
    if low not in rows or high not in rows or rows[low].isna().all():
        return None
    value = rows[column].astype("float64").to_numpy()
    return np.vstack([value - rows[low].astype("float64").to_numpy(), rows[high].astype("float64").to_numpy() - value])


def _empty(fig: Figure, ax, text: str) -> Figure:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def _label_points(ax, rows: pd.DataFrame, x_min: float) -> None:
    """Name each point, or each tight group of two or three (``a, b``); larger clumps stay unnamed."""
    xy = np.column_stack([(rows["auroc"].astype("float64") - x_min) / (1.0 - x_min),
                          rows["match_ground_truth"].astype("float64") / 1.08])
    names = [_plain(n) for n in rows["model_name"]]
    left = set(range(len(xy)))
    taken: dict[str, list[float]] = {"right": [], "left": []}  # label heights already used on each side
    while left:  # left to right: the first label at a height extends left, a later one right
        i = min(left, key=lambda j: (xy[j, 0], j))
        group = sorted(j for j in left if np.hypot(*(xy[j] - xy[i])) < LABEL_CLEARANCE)
        left -= set(group)
        if len(group) > 3:
            continue
        y = float(np.mean(xy[group, 1]))
        side = next((side for side in ("left", "right") if all(abs(y - t) >= LABEL_CLEARANCE for t in taken[side])),
                    None)
        if side is None:  # both sides have a label at this height: leave it unnamed rather than overprint
            continue
        taken[side].append(y)
        at = min(group, key=lambda j: xy[j, 0]) if side == "left" else max(group, key=lambda j: xy[j, 0])
        ax.annotate(", ".join(names[j] for j in group), (float(rows["auroc"].iloc[at]),
                    float(rows["match_ground_truth"].iloc[at])), fontsize=7, xytext=(-6 if side == "left" else 6, 0),
                    textcoords="offset points", ha="right" if side == "left" else "left", va="center",
                    color="#333333")


def auroc_vs_gt_match(rows: pd.DataFrame) -> Figure:
    """Scatter: AUROC (x) vs GT match (y), one point per row of the exported table, coloured by activation.

    Parameters
    ----------
    rows : DataFrame
        Exported leaderboard rows of one view (:func:`space_app.leaderboard.select_rows`).
    """
    fig = Figure(figsize=(6.4, 4.4), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    rows = rows[rows["auroc"].notna() & rows["match_ground_truth"].notna()]
    ax.set_title("Classification is flat, motif recovery is not", fontsize=11)
    if rows.empty:
        return _empty(fig, ax, "no finished evaluations in this view")
    others: dict[str, str] = {}
    acts = rows["activation"].fillna("unknown").astype(str)
    for act in sorted(acts.unique()):
        part = rows[acts == act]
        ax.errorbar(part["auroc"].astype("float64"), part["match_ground_truth"].astype("float64"),
                    xerr=_ci(part, "auroc"), yerr=_ci(part, "match_ground_truth"),
                    fmt=ACTIVATION_MARKERS.get(act, "D"), ms=7, capsize=3, color=_colour(act, others),
                    label=f"{_plain(act)} ({len(part)})", alpha=0.85)
    lo = float(rows["auroc"].min())
    x_min = min(0.5, lo - 0.02)
    if len(rows) <= LABEL_LIMIT:
        _label_points(ax, rows, x_min)
    ax.set_xlabel(f"{AUROC} (macro, test split)")
    ax.set_ylabel(f"{GT_MATCH} (fraction of filters)")
    ax.set_ylim(-0.03, 1.05)
    ax.set_xlim(x_min, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(title="first-layer activation (models)", fontsize=8, title_fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncols=4, frameon=False)
    return fig


def gt_match_by_pool(rows: pd.DataFrame) -> Figure:
    """GT match (y) vs first-layer pool size (x, log scale), one line per activation; seeds as mean and range."""
    fig = Figure(figsize=(6.4, 4.4), dpi=110, layout="constrained")
    ax = fig.add_subplot()
    ax.set_title("Motif recovery vs first-layer pool size", fontsize=11)
    rows = rows[rows["first_layer_pool"].notna() & rows["match_ground_truth"].notna()]
    if rows.empty:
        return _empty(fig, ax, "no rows with a known first-layer pool size")
    rows = rows.assign(_act=rows["activation"].fillna("unknown").astype(str),
                       _pool=rows["first_layer_pool"].astype("int64"),
                       _gt=rows["match_ground_truth"].astype("float64"))
    others: dict[str, str] = {}
    for act, part in sorted(rows.groupby("_act"), key=lambda kv: kv[0]):
        stats = part.groupby("_pool")["_gt"].agg(["mean", "min", "max", "count"]).sort_index()
        spread = np.vstack([stats["mean"] - stats["min"], stats["max"] - stats["mean"]])
        ci = _ci(part.sort_values("_pool"), "match_ground_truth") if (stats["count"] == 1).all() else None
        yerr = ci if ci is not None else (spread if (stats["count"] > 1).any() else None)
        ax.errorbar(stats.index, stats["mean"], yerr=yerr, fmt="-" + ACTIVATION_MARKERS.get(act, "D"), ms=6, capsize=3,
                    color=_colour(act, others), label=_plain(act))
    pools = sorted(rows["_pool"].unique())
    ax.set_xscale("log")
    ax.set_xticks(pools, [str(p) for p in pools])
    ax.minorticks_off()
    ax.set_xlabel("first-layer max-pool size")
    ax.set_ylabel(f"{GT_MATCH} (fraction of filters)")
    ax.set_ylim(-0.03, 1.05)
    ax.grid(alpha=0.3)
    note = "points: mean over seeds; bars: min-max" if (rows.groupby(["_act", "_pool"]).size() > 1).any() else \
        "one model per point"
    ax.legend(title=f"first-layer activation ({note})", fontsize=8, title_fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.14), ncols=4, frameon=False)
    return fig
