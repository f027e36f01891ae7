"""Each first-layer filter's logo beside the ground-truth motif it matches, one filter per cell.

The figure a reader wants from a recovery result: for every filter, its
logo (bits axis 0-2) and, directly underneath on the same x axis, the logo
of the ground-truth motif its Tomtom hits matched, aligned the way Tomtom
aligned them (the target reverse-complemented for a ``-`` hit and shifted by
the hit's offset), then the match in words. Filters without a ground-truth
match show their best JASPAR hit the same way, on grey, or why they have none.

Drawn once per filter with :mod:`evaluator.logos`' letter paths, straight onto one figure (no Axes per panel), at 180 dpi
(2,430 px for three cells per row: 2x the CSS pixels of a 1,400 px window's
page width), so the PNG stays sharp on a high-density screen. The PNG is
saved with a 64-colour palette: logos use a handful of colours, and the file is
about a third of a full-colour PNG's size with no visible difference.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from evaluator.logos import CLASSIC_COLOURS, OTHER_COLOUR, TRUTH_COLOUR, information_heights, logo_collection

#: File name suffix of the paired figure; the Space redraws records whose artifact predates it.
PAIRS_SUFFIX = ".filter_pairs.png"
#: Inches: cell width, title band, one logo, band between the logos (the truth's label), caption band, row gap.
CELL_W, TITLE_H, LOGO_H, LOGO_GAP, CAPTION_H, ROW_GAP = 4.5, 0.3, 0.85, 0.24, 0.7, 0.1
CAPTION_LINE = 0.19
LEFT_PAD, RIGHT_PAD = 0.55, 0.12
DPI = 180
PALETTE_COLOURS = 64


def aligned_target(target_ppm: np.ndarray, hit: dict) -> tuple[np.ndarray, int]:
    """The target as Tomtom aligned it to the query, and where it starts on the query's axis.

    Parameters
    ----------
    target_ppm : ndarray, shape (w_t, 4)
        The target motif, A,C,G,T columns, in its JASPAR orientation.
    hit : dict
        A record hit with ``orientation`` (``+``/``-``) and ``offset``
        (Tomtom's Optimal_offset: query position ``i`` sits on target position ``i + offset``).

    Returns
    -------
    ppm : ndarray, shape (w_t, 4), reverse-complemented for a ``-`` hit.
    start : int, the target's first column on the query's axis (``-offset``).
    """
    ppm = np.asarray(target_ppm, dtype=np.float64)
    if hit.get("orientation") == "-":
        ppm = ppm[::-1, ::-1]
    return ppm, -int(hit.get("offset") or 0)


def _e(hit: dict) -> str:
    e = hit.get("e_value")
    return f"E={e:.1e}" if e is not None else ""


def caption(entry: dict) -> tuple[list[str], bool]:
    """The words under a filter's cell: best hit, then the ground-truth match and why it counts.

    Returns (lines, is_ground_truth); at most three short lines.
    """
    best = entry.get("best_hit")
    truth_hit = entry.get("best_ground_truth_hit")
    if not entry.get("tested"):
        return ["uninformative: no position above the", "information threshold (not sent to Tomtom)"], False
    if best is None:
        return ["no JASPAR match", "(no Tomtom hit below the E-value threshold)"], False
    first = f"best Tomtom match: {best.get('target_name') or best['target_id']} ({best['target_id']}) {_e(best)}"
    if truth_hit is None:
        return [first, "none of its matches is a ground-truth motif"], False
    tf = truth_hit.get("ground_truth_tf") or ""
    if truth_hit["target_id"] == best["target_id"]:
        name = (best.get("target_name") or "").upper()
        if name == tf.upper():
            return [first, f"= ground truth {tf}"], True
        return [first, f"= ground truth {tf}: {best['target_id']} is on", f"{tf}'s accepted list (see About)"], True
    return [first, f"counts as {tf}: its hit {truth_hit['target_id']} {_e(truth_hit)}",
            f"is on {tf}'s accepted list (see About)"], True


def filter_match_pairs(ppms: Sequence[np.ndarray], recovery: dict, motif_set, path: str | Path, *,
                       targets: Mapping[str, np.ndarray] | None = None, ncols: int = 3, dpi: int = DPI) -> Path:
    """Draw one cell per filter: its logo, the aligned ground-truth logo it matches, the match in words.

    Parameters
    ----------
    ppms : sequence of ndarray, each shape (w, 4)
        One per filter, in the order of ``recovery["filters"]`` (clipped when tested, else the full window).
    recovery : dict
        The record's ``motif_recovery`` section (``filters`` entries with ``best_hit`` and ``best_ground_truth_hit``).
    motif_set : benchmark.motifs.MotifSet
        The ground-truth motifs (PPMs by TF name, accepted IDs).
    path : str or Path
        PNG destination.
    targets : mapping of JASPAR ID to ndarray, shape (w, 4), optional
        The Tomtom targets (:func:`jaspar_targets_by_id`). A ground-truth hit on
        another accepted ID (e.g. MEF2D's MA0773.1 for MEF2A) is drawn as that
        matrix, since that is what Tomtom aligned; without it only hits on the
        embedded motif's own ID are aligned, others are drawn unaligned.
    ncols : int
        Cells per row.
    dpi : int
        Pixels per inch: the PNG is ``ncols * 4.5 * dpi`` pixels wide (2,430 at the defaults).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    entries = list(recovery.get("filters") or [])
    own = dict(zip(motif_set.jaspar_ids, (pwm.T for pwm in motif_set.pwms)))
    embedded = dict(zip(motif_set.names, (pwm.T for pwm in motif_set.pwms)))
    cells = []
    for ppm, entry in zip(ppms, entries):
        ppm = np.asarray(ppm, dtype=np.float64)
        truth_hit = entry.get("best_ground_truth_hit")
        hit = truth_hit or entry.get("best_hit")  # no ground truth: show the best JASPAR match instead, in grey
        target = None
        if hit is not None:
            matrix = (targets or {}).get(hit["target_id"])
            matrix = own.get(hit["target_id"]) if matrix is None else matrix
            if matrix is not None:
                target = (*aligned_target(matrix, hit), True, hit, truth_hit is not None)
            elif truth_hit is not None and truth_hit.get("ground_truth_tf") in embedded:
                target = (embedded[truth_hit["ground_truth_tf"]], 0, False, truth_hit, True)
        lo = min(0, target[1]) if target else 0
        hi = max(len(ppm), target[1] + len(target[0])) if target else len(ppm)
        cells.append((entry, ppm, target, lo, hi))
    span = max([hi - lo for *_, lo, hi in cells] + [8])
    n = max(1, len(cells))
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    row_h = TITLE_H + 2 * LOGO_H + LOGO_GAP + CAPTION_H + ROW_GAP
    fig_w, fig_h = ncols * CELL_W, nrows * row_h
    fig = Figure(figsize=(fig_w, fig_h), dpi=dpi)
    FigureCanvasAgg(fig)
    logo_w = CELL_W - LEFT_PAD - RIGHT_PAD
    for k, (entry, ppm, target, lo, hi) in enumerate(cells):
        r, c = divmod(k, ncols)
        x0 = c * CELL_W + LEFT_PAD
        top = fig_h - r * row_h - TITLE_H
        left = lo - (span - (hi - lo)) / 2  # centre the aligned pair in the common span
        lines, is_truth = caption(entry)
        colour = TRUTH_COLOUR if is_truth else OTHER_COLOUR
        upper = _LogoBox(fig, x0, top - LOGO_H, logo_w, LOGO_H, left, span)
        upper.letters(information_heights(ppm), 0)
        upper.title(f"{entry.get('filter')}" + ("   ✓ ground truth" if is_truth else ""), colour)
        lower = _LogoBox(fig, x0, top - 2 * LOGO_H - LOGO_GAP, logo_w, LOGO_H, left, span)
        if target is not None:
            t_ppm, start, aligned, hit, truth = target
            if not truth:
                lower.background("#f2f2f2")
            lower.letters(information_heights(t_ppm), start)
            label = truth_label(hit, aligned) if truth else other_label(hit)
            fig.text(x0 / fig_w, (top - LOGO_H - 0.05) / fig_h, label, fontsize=8,
                     color=TRUTH_COLOUR if truth else OTHER_COLOUR, ha="left", va="top")
        else:
            lower.centre_text("no JASPAR match to show")
        for box in (upper, lower):
            box.bits_axis()
        for i, line in enumerate(lines):
            fig.text(x0 / fig_w, (top - 2 * LOGO_H - LOGO_GAP - 0.06 - CAPTION_LINE * i) / fig_h, line, fontsize=8.5,
                     color=colour if i else OTHER_COLOUR, ha="left", va="top")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_palette_png(fig, path)
    return path


def _save_palette_png(fig, path: Path) -> None:
    """Rasterise ``fig`` and save it as a 64-colour palette PNG (a third of the full-colour size)."""
    from PIL import Image

    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]))
    image.quantize(colors=PALETTE_COLOURS, method=Image.Quantize.FASTOCTREE).save(path, format="PNG")


def truth_label(hit: dict, aligned: bool = True) -> str:
    """The line above the lower logo: which matrix it is and how it was placed."""
    tf, tid = hit.get("ground_truth_tf") or "", hit["target_id"]
    strand = "reverse complement" if hit.get("orientation") == "-" else "forward"
    if not aligned:
        return f"ground truth {tf} (embedded motif; not aligned: {tid} unavailable)"
    name = hit.get("target_name") or tid
    if name.upper() == tf.upper():
        return f"ground truth {tf} ({tid}), {strand}, aligned by Tomtom"
    return f"{tid} ({name}): accepted for {tf}, {strand}"


def other_label(hit: dict) -> str:
    """The line above a best match that is not ground truth (drawn on grey)."""
    strand = "rev. complement" if hit.get("orientation") == "-" else "forward"
    return f"{hit['target_id']} ({hit.get('target_name') or '?'}), {strand}: not ground truth"


def jaspar_targets_by_id(release: int) -> dict[str, np.ndarray]:
    """JASPAR ID -> PPM, shape (w, 4), of the Tomtom target database of ``release``."""
    from evaluator.tomtom import jaspar_targets

    return {m.id: m.ppm for m in jaspar_targets(release)}


class _LogoBox:
    """One logo panel drawn straight onto the figure: letters, a 0-2 bits axis on the left, a title above.

    What an Axes with ``_frame``'s settings drew (x from ``left - 0.5`` to ``left + span - 0.5``, y 0-2 bits,
    only the left spine, ticks 0/1/2 two points long), without building an Axes per panel: the figure
    has 60 of them, and an Axes' ticks and spines were most of the drawing time. Sizes are in inches.
    """

    def __init__(self, fig, x0: float, y0: float, width: float, height: float, left: float, span: float):
        from matplotlib.transforms import Affine2D, Bbox, TransformedBbox

        self.fig, self.x0, self.y0, self.width, self.height = fig, x0, y0, width, height
        self.inches = fig.dpi_scale_trans
        self.data = (Affine2D().translate(-(left - 0.5), 0.0).scale(width / span, height / 2.0)
                     .translate(x0, y0) + self.inches)
        self.clip = TransformedBbox(Bbox.from_bounds(x0, y0, width, height), self.inches)

    def letters(self, heights: np.ndarray, x_offset: float) -> None:
        collection = logo_collection(heights, x_offset=x_offset)
        if collection is not None:
            collection.set_transform(self.data)
            collection.set_clip_box(self.clip)
            self.fig.add_artist(collection)

    def background(self, colour: str) -> None:
        from matplotlib.patches import Rectangle

        self.fig.add_artist(Rectangle((self.x0, self.y0), self.width, self.height, transform=self.inches,
                                      facecolor=colour, edgecolor="none", zorder=0.5))

    def centre_text(self, text: str) -> None:
        self.fig.text(self.x0 + self.width / 2, self.y0 + self.height / 2, text, transform=self.inches,
                      ha="center", va="center", fontsize=8, color="#888888")

    def title(self, text: str, colour: str) -> None:
        self.fig.text(self.x0, self.y0 + self.height + 3 / 72, text, transform=self.inches, ha="left",
                      va="baseline", fontsize=10, color=colour, fontweight="bold")

    def bits_axis(self) -> None:
        """The left spine, ticks at 0, 1 and 2 bits (2 pt, outward), their labels and the word "bits"."""
        import matplotlib as mpl
        from matplotlib.lines import Line2D

        pt = 1 / 72
        line_w, tick_w = mpl.rcParams["axes.linewidth"], mpl.rcParams["ytick.major.width"]
        x0, y0, h = self.x0, self.y0, self.height
        self.fig.add_artist(Line2D([x0, x0], [y0, y0 + h], transform=self.inches, color="black", linewidth=line_w,
                                   solid_capstyle="projecting"))
        for bits in (0, 1, 2):
            y = y0 + h * bits / 2
            self.fig.add_artist(Line2D([x0 - 2 * pt, x0], [y, y], transform=self.inches, color="black",
                                       linewidth=tick_w))
            self.fig.text(x0 - 3 * pt, y, str(bits), transform=self.inches, ha="right", va="center_baseline",
                          fontsize=8)
        self.fig.text(x0 - 3 * pt - _digit_width(self.fig, 8) - pt, y0 + h / 2, "bits", transform=self.inches,
                      rotation=90, rotation_mode="anchor", ha="center", va="bottom", fontsize=8)


def _digit_width(fig, size: float) -> float:
    """Width in inches of one digit at ``size`` points (where the "bits" label goes left of the tick labels)."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    width, _, _ = TextToPath().get_text_width_height_descent("0", FontProperties(size=size), ismath=False)
    return width / 72


__all__ = ["CLASSIC_COLOURS", "PAIRS_SUFFIX", "aligned_target", "caption", "filter_match_pairs",
           "jaspar_targets_by_id", "truth_label"]
