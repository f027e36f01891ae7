"""Each first-layer filter's logo beside the ground-truth motif it matches, one filter per cell.

The figure a reader wants from a recovery result: for every filter, its
logo (bits axis 0-2) and, directly underneath on the same x axis, the logo
of the ground-truth motif its Tomtom hits matched, aligned the way Tomtom
aligned them (the target reverse-complemented for a ``-`` hit and shifted by
the hit's offset), then the match in words. Filters without a ground-truth
match show their best JASPAR hit the same way, on grey, or why they have none.

Drawn at 180 dpi (2,430 px for three cells per row: 2x the CSS pixels of a
1,400 px window's page width), so the PNG stays sharp on a high-density
screen, by :class:`evaluator.logo_raster.PaletteCanvas`: the letters are
DejaVu Sans Bold glyphs stretched into their boxes (:func:`evaluator.logos.letter_boxes`,
the same boxes and colours as the matplotlib logos), the text is the same fonts
at the same sizes, and the page is palette indices from the start (under 64
colours: a third of a full-colour PNG's bytes), so no figure, no text layout
engine and no quantising pass are needed (~0.2 CPU-s for 30 filters instead
of matplotlib's ~1.2).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from evaluator.logos import CLASSIC_COLOURS, OTHER_COLOUR, TRUTH_COLOUR, information_heights, letter_boxes

#: File name suffix of the paired figure; the Space redraws records whose artifact predates it.
PAIRS_SUFFIX = ".filter_pairs.png"
#: Inches: cell width, title band, one logo, band between the logos (the truth's label), caption band, row gap.
CELL_W, TITLE_H, LOGO_H, LOGO_GAP, CAPTION_H, ROW_GAP = 4.5, 0.3, 0.85, 0.24, 0.7, 0.1
CAPTION_LINE = 0.19
LEFT_PAD, RIGHT_PAD = 0.55, 0.12
DPI = 180
#: Background of a lower logo that is not ground truth; the words "no JASPAR match to show"; axes and tick labels.
OTHER_BACKGROUND, NOTE_COLOUR, AXIS_COLOUR = "#f2f2f2", "#888888", "#000000"
#: matplotlib's default axes line and tick widths (points), tick length and label gap (points).
AXIS_LINE_PT, TICK_LEN_PT, TICK_PAD_PT = 0.8, 2.0, 1.0


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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return draw_pairs(ppms, recovery, motif_set, targets=targets, ncols=ncols, dpi=dpi).save_png(path)


def draw_pairs(ppms: Sequence[np.ndarray], recovery: dict, motif_set, *,
               targets: Mapping[str, np.ndarray] | None = None, ncols: int = 3, dpi: int = DPI):
    """:func:`filter_match_pairs`' picture as a :class:`evaluator.logo_raster.PaletteCanvas`, not yet saved.

    The canvas's ``letters_drawn`` lists every letter in drawing order: cell by cell, the filter's
    logo, then its match's, each column by column, bottom to top.
    """
    from evaluator.logo_raster import PaletteCanvas

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
    page = _Page(PaletteCanvas(round(fig_w * dpi), round(fig_h * dpi), dpi), fig_h)
    logo_w = CELL_W - LEFT_PAD - RIGHT_PAD
    for k, (entry, ppm, target, lo, hi) in enumerate(cells):
        r, c = divmod(k, ncols)
        x0 = c * CELL_W + LEFT_PAD
        top = fig_h - r * row_h - TITLE_H
        left = lo - (span - (hi - lo)) / 2  # centre the aligned pair in the common span
        lines, is_truth = caption(entry)
        colour = TRUTH_COLOUR if is_truth else OTHER_COLOUR
        upper = _LogoBox(page, x0, top - LOGO_H, logo_w, LOGO_H, left, span)
        upper.letters(information_heights(ppm), 0)
        upper.title(f"{entry.get('filter')}" + ("   ✓ ground truth" if is_truth else ""), colour)
        lower = _LogoBox(page, x0, top - 2 * LOGO_H - LOGO_GAP, logo_w, LOGO_H, left, span)
        if target is not None:
            t_ppm, start, aligned, hit, truth = target
            if not truth:
                lower.background(OTHER_BACKGROUND)
            lower.letters(information_heights(t_ppm), start)
            label = truth_label(hit, aligned) if truth else other_label(hit)
            page.text(x0, top - LOGO_H - 0.05, label, 8, TRUTH_COLOUR if truth else OTHER_COLOUR, va="top")
        else:
            lower.centre_text("no JASPAR match to show")
        for box in (upper, lower):
            box.bits_axis()
        for i, line in enumerate(lines):
            page.text(x0, top - 2 * LOGO_H - LOGO_GAP - 0.06 - CAPTION_LINE * i, line, 8.5,
                      colour if i else OTHER_COLOUR, va="top")
    return page.canvas


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


class _Page:
    """The canvas addressed in figure inches from the bottom-left corner, as a matplotlib figure is."""

    def __init__(self, canvas, fig_h: float):
        self.canvas, self.fig_h, self.dpi = canvas, fig_h, canvas.dpi

    def px(self, x: float, y: float) -> tuple[float, float]:
        """Figure inches (y up) -> canvas pixels (y down)."""
        return x * self.dpi, (self.fig_h - y) * self.dpi

    def text(self, x: float, y: float, text: str, points: float, colour, **kwargs) -> None:
        self.canvas.text(*self.px(x, y), text, points, colour, **kwargs)

    def rect(self, x0: float, y0: float, x1: float, y1: float, colour, antialias: bool = True) -> None:
        (left, bottom), (right, top) = self.px(x0, y0), self.px(x1, y1)
        self.canvas.fill_rect(left, top, right, bottom, colour, antialias=antialias)


class _LogoBox:
    """One logo panel: letters, a 0-2 bits axis on the left, a title above (sizes in inches).

    The picture an Axes with x from ``left - 0.5`` to ``left + span - 0.5``, y 0-2 bits, only the
    left spine and ticks 0/1/2 two points long would draw.
    """

    def __init__(self, page: _Page, x0: float, y0: float, width: float, height: float, left: float, span: float):
        self.page, self.x0, self.y0, self.width, self.height = page, x0, y0, width, height
        self.left, self.span = left, span

    def letters(self, heights: np.ndarray, x_offset: float) -> None:
        """Draw the logo of ``heights`` (shape (w, 4), bits) with its first column at ``x_offset``."""
        sx, sy = self.width / self.span, self.height / 2.0
        x_from, y_base = self.x0 - (self.left - 0.5) * sx, self.y0
        lo, hi = self.page.px(self.x0, self.y0), self.page.px(self.x0 + self.width, self.y0 + self.height)
        for letter, x, floor, h in letter_boxes(heights, x_offset):
            (left, bottom), (right, top) = (self.page.px(x_from + x * sx, y_base + floor * sy),
                                            self.page.px(x_from + (x + 0.9) * sx, y_base + (floor + h) * sy))
            left, right = max(left, lo[0]), min(right, hi[0])  # clipped to the panel
            top, bottom = max(top, hi[1]), min(bottom, lo[1])
            self.page.canvas.letter(letter, left, right, top, bottom, CLASSIC_COLOURS[letter])

    def background(self, colour: str) -> None:
        self.page.rect(self.x0, self.y0, self.x0 + self.width, self.y0 + self.height, colour, antialias=False)

    def centre_text(self, text: str) -> None:
        self.page.text(self.x0 + self.width / 2, self.y0 + self.height / 2, text, 8, NOTE_COLOUR, ha="center",
                       va="center")

    def title(self, text: str, colour: str) -> None:
        self.page.text(self.x0, self.y0 + self.height + 3 / 72, text, 10, colour, bold=True)

    def bits_axis(self) -> None:
        """The left spine, ticks at 0, 1 and 2 bits (2 pt, outward), their labels and the word "bits"."""
        pt, half = 1 / 72, AXIS_LINE_PT / 72 / 2
        x0, y0, h = self.x0, self.y0, self.height
        self.page.rect(x0 - half, y0 - half, x0 + half, y0 + h + half, AXIS_COLOUR)  # projecting caps
        for bits in (0, 1, 2):
            y = y0 + h * bits / 2
            self.page.rect(x0 - TICK_LEN_PT * pt, y - half, x0, y + half, AXIS_COLOUR)
            self.page.text(x0 - (TICK_LEN_PT + TICK_PAD_PT) * pt, y, str(bits), 8, AXIS_COLOUR, ha="right",
                           va="center_baseline")
        digit = self.page.canvas.text_width("0", 8) / self.page.dpi
        self.page.text(x0 - (TICK_LEN_PT + TICK_PAD_PT) * pt - digit - pt, y0 + h / 2, "bits", 8, AXIS_COLOUR,
                       ha="center", va="bottom", rotate=True)


__all__ = ["CLASSIC_COLOURS", "PAIRS_SUFFIX", "aligned_target", "caption", "draw_pairs", "filter_match_pairs",
           "jaspar_targets_by_id", "truth_label"]
