"""Sequence-logo grids (matplotlib Agg): first-layer filters and the ground truth.

Letter heights are information-scaled: ``p x (2 + sum_b p_b log2 p_b)`` per
position, y axis 0..2 bits, biggest letter on top, logomaker's "classic"
colours. Two engines draw the same picture:

- ``"logomaker"``: ``logomaker.Logo`` per panel. Measured here: about 5 ms per
  letter (it builds two TextPaths and updates the axes limits for every
  glyph), so a 30-filter x 20-position grid takes ~14 s on one core.
- ``"fast"`` (default): the same glyph construction (a TextPath per letter,
  stretched into its box) but each letter's path is built once and reused
  through an affine transform, and each panel is one PatchCollection: well
  under a second for the same grid.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluator.ppm import information_per_position

TRUTH_COLOUR = "#1a7f37"
OTHER_COLOUR = "#444444"
ENGINES = ("fast", "logomaker")
#: logomaker's "classic" colour scheme.
CLASSIC_COLOURS = {"A": (0.0, 0.5, 0.0), "C": (0.0, 0.0, 1.0), "G": (1.0, 0.65, 0.0), "T": (1.0, 0.0, 0.0)}
_LETTER_PATHS: dict = {}


def _letter_path(letter: str):
    """The letter's outline scaled into the unit square (cached)."""
    if letter not in _LETTER_PATHS:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextPath
        from matplotlib.transforms import Affine2D

        raw = TextPath((0, 0), letter, size=1, prop=FontProperties(family="sans-serif", weight="bold"))
        box = raw.get_extents()
        unit = Affine2D().translate(-box.x0, -box.y0).scale(1.0 / box.width, 1.0 / box.height)
        _LETTER_PATHS[letter] = unit.transform_path(raw)
    return _LETTER_PATHS[letter]


def draw_logo(ax, heights: np.ndarray, x_offset: float = 0.0, width: float = 0.9) -> None:
    """Draw one logo into ``ax`` (data coordinates: column ``i`` centred at ``x_offset + i``).

    Parameters
    ----------
    ax : matplotlib Axes
    heights : ndarray, shape (w, 4)
        Letter heights (bits), A,C,G,T columns (see :func:`information_heights`).
    x_offset : float
        Where the first column sits on the x axis (aligned logos share one axis).
    """
    collection = logo_collection(heights, x_offset, width)
    if collection is not None:
        ax.add_collection(collection)


def letter_boxes(heights: np.ndarray, x_offset: float = 0.0, width: float = 0.9):
    """Each letter of one logo with its box, bottom to top in each column, columns left to right.

    Parameters
    ----------
    heights : ndarray, shape (w, 4)
        Letter heights (bits), A,C,G,T columns; column ``i`` is centred at ``x_offset + i``.
    width : float
        Letter width in columns.

    Yields
    ------
    (letter, x_left, floor, height) : the letter stacked from ``floor`` (bits) upwards, smallest first,
    so the biggest is on top; letters of height ``<= 1e-4`` are left out.
    """
    for pos, row in enumerate(np.asarray(heights, dtype=np.float64)):
        floor = 0.0
        for b in np.argsort(row, kind="stable"):
            h = float(row[b])
            if h <= 1e-4:
                continue
            yield "ACGT"[b], x_offset + pos - width / 2, floor, h
            floor += h


def logo_collection(heights: np.ndarray, x_offset: float = 0.0, width: float = 0.9):
    """The letters of one logo as one PathCollection in data coordinates (None when every height is 0).

    heights : ndarray, shape (w, 4); boxes from :func:`letter_boxes`. Each letter is its cached
    unit-square outline stretched into its box (vertices scaled and shifted).
    """
    from matplotlib.collections import PathCollection
    from matplotlib.path import Path as GlyphPath

    paths, colours = [], []
    for letter, x, floor, h in letter_boxes(heights, x_offset, width):
        unit = _letter_path(letter)
        paths.append(GlyphPath(unit.vertices * (width, h) + (x, floor), unit.codes))
        colours.append(CLASSIC_COLOURS[letter])
    if not paths:
        return None
    return PathCollection(paths, facecolors=colours, edgecolors="none", linewidths=0)


def _draw_fast(ax, heights: np.ndarray, width: float = 0.9) -> None:
    draw_logo(ax, heights, 0.0, width)
    ax.set_xlim(-0.5, len(heights) - 0.5)
    for spine in ax.spines.values():
        spine.set_visible(False)


def information_heights(ppm: np.ndarray) -> np.ndarray:
    """Information-scaled letter heights, shape=(w, 4) -> (w, 4), never negative."""
    ppm = np.asarray(ppm, dtype=np.float64)
    return np.clip(ppm * information_per_position(ppm, 1e-10)[:, None], 0.0, None)


def logo_grid(ppms: Sequence[np.ndarray], titles: Sequence[str], path: str | Path, *,
              highlight: Sequence[bool] | None = None, ncols: int = 6, dpi: int = 72,
              panel_size: tuple[float, float] = (2.4, 1.1), engine: str = "fast", bits_axis: bool = False) -> Path:
    """Draw one logo per PPM in a grid and save a PNG.

    Parameters
    ----------
    ppms: each shape=(w, 4), rows A,C,G,T probabilities.
    titles: one per panel.
    path: PNG destination.
    highlight: panels whose title is drawn in green bold (ground-truth matches).
    engine: ``"fast"`` or ``"logomaker"`` (same picture; see the module docstring).
    bits_axis: label the y axis 0/1/2 bits on every panel (off: the bare grid the engine test compares).
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # not pyplot: its figure registry is global and logos draw in a thread

    path = Path(path)
    n = len(ppms)
    highlight = list(highlight) if highlight is not None else [False] * n
    ncols = max(1, min(ncols, n)) if n else 1
    nrows = max(1, -(-n // ncols))
    fig = Figure(figsize=(panel_size[0] * ncols, panel_size[1] * nrows))
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, ppm, title, hi in zip(axes.flat, ppms, titles, highlight):
        heights = information_heights(ppm)
        if engine == "logomaker":
            import logomaker
            import pandas as pd

            logomaker.Logo(pd.DataFrame(heights, columns=list("ACGT")), ax=ax, show_spines=False, color_scheme="classic")
        else:
            _draw_fast(ax, heights)
        ax.set_ylim(0, 2)
        ax.set_xticks([])
        if bits_axis:
            ax.set_yticks([0, 1, 2], ["0", "1", "2"], fontsize=7)
            ax.set_ylabel("bits", fontsize=7, labelpad=1)
            ax.spines["left"].set_visible(True)
        else:
            ax.set_yticks([])
        ax.set_title(title, fontsize=9 if bits_axis else 7, color=TRUTH_COLOUR if hi else OTHER_COLOUR,
                     fontweight="bold" if hi else "normal")
    fig.tight_layout(pad=0.4)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def filter_title(filter_id: str, best_hit: dict | None, tested: bool, truth_tfs: Sequence[str] = ()) -> str:
    """``filter3: MAX (MA0058.3) E=1.2e-05 *`` (star: the best hit is ground truth), or why there is no match.

    When the best hit is not ground truth but another hit is, the TFs are appended: ``[CEBPB]``.
    """
    if not tested:
        return f"{filter_id}: uninformative"
    if best_hit is None:
        return f"{filter_id}: no match"
    name = best_hit.get("target_name") or best_hit["target_id"]
    star = " *" if best_hit.get("is_ground_truth") else ""
    also = f" [{', '.join(truth_tfs)}]" if truth_tfs and not best_hit.get("is_ground_truth") else ""
    evalue = best_hit.get("e_value")
    e_text = f" E={evalue:.1e}" if evalue is not None else ""
    return f"{filter_id}: {name} ({best_hit['target_id']}){e_text}{star}{also}"


def filter_logos(ppms: Sequence[np.ndarray], recovery: dict, path: str | Path, **kwargs) -> Path:
    """Grid of filter logos, each titled with its best Tomtom match; ground-truth matches in green.

    ppms: one per filter, in the order of ``recovery["filters"]`` (clipped when
    tested, the full window otherwise).
    """
    entries = recovery["filters"]
    titles = [filter_title(e["filter"], e["best_hit"], e["tested"], e["ground_truth_tfs"]) for e in entries]
    highlight = [bool(e["ground_truth_tfs"]) for e in entries]
    return logo_grid(ppms, titles, path, highlight=highlight, **kwargs)


_ground_truth_png: dict = {}


def ground_truth_logos(motif_set, path: str | Path, **kwargs) -> Path:
    """Grid of the 12 ground-truth motifs, titled ``TF (JASPAR ID)``: 4 per row, bits axis, 150 dpi.

    The same motifs give the same picture in every evaluation, so it is
    drawn once (per motif set and drawing options), kept in memory and in the
    data home (:func:`_disk_cache_path`), and its PNG bytes are written again
    after that: a fresh process does not draw it either.
    """
    ppms = [pwm.T for pwm in motif_set.pwms]
    titles = [f"{name} ({jid})" for name, jid in zip(motif_set.names, motif_set.jaspar_ids)]
    options = {"ncols": 4, "dpi": 150, "panel_size": (3.4, 1.35), "bits_axis": True, **kwargs}
    key = (tuple(titles), tuple(p.tobytes() for p in ppms), repr(sorted(options.items())))
    path = Path(path)
    if key not in _ground_truth_png:
        cached = _disk_cache_path(key)
        if cached.is_file():
            _ground_truth_png[key] = cached.read_bytes()
    if key in _ground_truth_png:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_ground_truth_png[key])
        return path
    out = logo_grid(ppms, titles, path, highlight=[True] * len(ppms), **options)
    _ground_truth_png[key] = out.read_bytes()
    try:
        from benchmark.files import atomic_write

        atomic_write(_disk_cache_path(key), _ground_truth_png[key])
    except OSError:  # a read-only data home only loses the cache
        pass
    return out


def _disk_cache_path(key: tuple) -> Path:
    """Where the ground-truth grid of ``key`` is kept between processes (data home ``cache/logos``).

    The name hashes the motifs, titles and options with this module's source and matplotlib's
    version, so a change to either draws the picture again instead of reusing an old one.
    """
    import hashlib
    from importlib.metadata import version

    from benchmark.paths import data_home

    digest = hashlib.sha256(repr(key).encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(version("matplotlib").encode())  # not ``import matplotlib``: a cache hit never imports it
    return data_home() / "cache" / "logos" / f"ground_truth-{digest.hexdigest()[:32]}.png"
