"""A small raster canvas for logo figures: stretched letter glyphs, text and rectangles, straight to a palette PNG.

The paired-logo figure (:mod:`evaluator.logo_pairs`) is a few thousand
letters, ~130 short texts and a few hundred axis lines on a 2,430 x 5,472 px
page. Drawn by matplotlib that is ~1.2 CPU-s here (text layout and
rasterising a 53 MB RGBA buffer, then quantising it to the 64-colour palette
PNG); drawn here it is a fraction of that, with the same picture:

- letters are DejaVu Sans Bold (matplotlib's default bold sans-serif, the font
  the matplotlib renderer's ``TextPath`` used), each glyph's ink box rendered
  once by FreeType (Pillow) at 400 px and resized (box filter) into the
  letter's box, so a letter fills its box exactly as the stretched path did;
- text is Pillow's FreeType rendering of the same DejaVu Sans faces at the same
  sizes (points at the canvas's dpi), anchored as matplotlib anchors it;
- the image is palette indices from the start: white, a flat grey, and for
  each colour :data:`LEVELS` shades between white and the colour, so an
  antialiased edge keeps its shade and no quantising pass is needed.

Coordinates are pixels from the top-left corner (floats; edges are rounded to
whole pixels, inside which the glyph's own antialiasing stays). The canvas
keeps a list of the letters it drew (:attr:`PaletteCanvas.letters_drawn`):
what a test reads to check a figure shows the right logo.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

#: Shades per colour between white (excluded) and the full colour (included).
LEVELS = 7
#: Pixel size the letter glyphs are rendered at before being resized into their boxes.
GLYPH_PX = 400


class DrawnLetter(NamedTuple):
    """One letter as drawn: its base, colour and pixel box (``top < bottom``: y grows downwards)."""

    letter: str
    colour: tuple[float, float, float]
    left: int
    right: int
    top: int
    bottom: int


def font_path(bold: bool = False) -> Path:
    """DejaVu Sans (matplotlib's default sans-serif) from matplotlib's data folder, without importing matplotlib."""
    spec = importlib.util.find_spec("matplotlib")
    folder = Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf"
    return folder / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")


@lru_cache(maxsize=32)
def _font(px: float, bold: bool):
    from PIL import ImageFont

    return ImageFont.truetype(str(font_path(bold)), px, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=8)
def _glyph(letter: str):
    """The letter's ink, cropped to its box, as a Pillow ``L`` image (DejaVu Sans Bold at :data:`GLYPH_PX`)."""
    from PIL import Image, ImageDraw

    font = _font(GLYPH_PX, True)
    left, top, right, bottom = font.getbbox(letter, anchor="ls")
    image = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(image).text((-left, -top), letter, font=font, fill=255, anchor="ls")
    return image


@lru_cache(maxsize=4096)
def _glyph_mask(letter: str, width: int, height: int) -> np.ndarray:
    """The letter's glyph stretched to ``width x height`` px, coverage 0-255, shape (height, width)."""
    from PIL import Image

    return np.asarray(_glyph(letter).resize((width, height), Image.Resampling.BOX))


@lru_cache(maxsize=4)
def _typo_metrics(bold: bool) -> tuple[float, float]:
    """The font's OS/2 typographic ascender and descender, in ems (the minimum line extent matplotlib uses)."""
    import struct

    data = font_path(bold).read_bytes()
    tables = {}
    for i in range(struct.unpack(">H", data[4:6])[0]):
        tag, _, offset, _ = struct.unpack(">4sIII", data[12 + 16 * i:28 + 16 * i])
        tables[tag] = offset
    units = struct.unpack(">H", data[tables[b"head"] + 18:tables[b"head"] + 20])[0]
    ascender, descender = struct.unpack(">hh", data[tables[b"OS/2"] + 68:tables[b"OS/2"] + 72])
    return ascender / units, -descender / units


@lru_cache(maxsize=1024)
def _text_mask(text: str, px: float, bold: bool) -> tuple[np.ndarray, int, float, float]:
    """``(coverage, baseline row, ascent, descent)``: ``text`` at ``px`` pixels per em.

    ``ascent`` and ``descent`` (pixels) bound the line box matplotlib aligns a one-line text by: from
    the baseline up by the larger of the text's ink and the font's typographic ascender, down by the
    larger of its ink and the descender. The mask's rows cover that box, rounded outwards.
    """
    from PIL import Image, ImageDraw

    font = _font(px, bold)
    left, top, right, bottom = font.getbbox(text, anchor="ls")
    typo_ascent, typo_descent = _typo_metrics(bold)
    ascent, descent = max(-top, typo_ascent * px), max(bottom, typo_descent * px)
    row = int(np.ceil(ascent))
    image = Image.new("L", (max(1, right - left), row + int(np.ceil(descent))))
    ImageDraw.Draw(image).text((-left, row), text, font=font, fill=255, anchor="ls")
    return np.asarray(image), row, ascent, descent


def _rgb(colour) -> tuple[int, int, int]:
    if isinstance(colour, str):
        c = colour.lstrip("#")
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)
    return tuple(round(255 * v) for v in colour)


def _coverage(lo: float, hi: float, n: int) -> tuple[int, np.ndarray]:
    """Per-pixel coverage of the interval [lo, hi) on a pixel axis clipped to [0, n): (first pixel, fractions)."""
    first, last = max(0, int(np.floor(lo))), min(n, int(np.ceil(hi)))
    if last <= first:
        return first, np.zeros(0)
    edges = np.arange(first, last + 1, dtype=np.float64)
    return first, np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0.0, 1.0)


class PaletteCanvas:
    """A ``width x height`` px page of palette indices with Pillow text and glyphs (see the module docstring).

    Parameters
    ----------
    width, height : int
        Pixels.
    dpi : float
        Pixels per inch: text sizes are given in points, as in matplotlib.
    """

    def __init__(self, width: int, height: int, dpi: float):
        self.width, self.height, self.dpi = int(width), int(height), float(dpi)
        self.index = np.zeros((self.height, self.width), dtype=np.uint8)  # 0 = white
        self._palette: list[tuple[int, int, int]] = [(255, 255, 255)]
        self._luts: dict[tuple[int, int, int], np.ndarray] = {}
        self._flat: dict[tuple[int, int, int], int] = {}
        self.letters_drawn: list[DrawnLetter] = []

    # colours -----------------------------------------------------------------------------------------------
    def _lut(self, colour) -> np.ndarray:
        """Coverage 0-255 -> palette index (255 = leave the pixel alone), the colour's shades added once."""
        rgb = _rgb(colour)
        if rgb not in self._luts:
            base = len(self._palette)
            if base + LEVELS > 255:
                raise ValueError("too many colours for one palette image")
            for k in range(1, LEVELS + 1):
                a = k / LEVELS
                self._palette.append(tuple(round(255 * (1 - a) + v * a) for v in rgb))
            level = np.rint(np.arange(256) * LEVELS / 255.0).astype(np.int64)
            self._luts[rgb] = np.where(level == 0, 255, base + level - 1).astype(np.uint8)
        return self._luts[rgb]

    def _flat_index(self, colour) -> int:
        rgb = _rgb(colour)
        if rgb == (255, 255, 255):
            return 0
        if rgb not in self._flat:
            self._flat[rgb] = len(self._palette)
            self._palette.append(rgb)
        return self._flat[rgb]

    # drawing -----------------------------------------------------------------------------------------------
    def paste(self, mask: np.ndarray, left: int, top: int, colour) -> None:
        """Composite a coverage mask (uint8, shape (h, w)) at pixel ``(left, top)`` in ``colour``.

        A pixel takes the colour's shade for its coverage; a faint edge (under half) does not
        overwrite a pixel something else already coloured, so stacked letters keep their edges.
        """
        h, w = mask.shape
        y0, x0, y1, x1 = max(top, 0), max(left, 0), min(top + h, self.height), min(left + w, self.width)
        if y1 <= y0 or x1 <= x0:
            return
        mask = mask[y0 - top:y1 - top, x0 - left:x1 - left]
        region = self.index[y0:y1, x0:x1]
        shade = self._lut(colour)[mask]
        write = (shade != 255) & ((region == 0) | (mask >= 128))
        np.copyto(region, shade, where=write)

    def fill_rect(self, left: float, top: float, right: float, bottom: float, colour, antialias: bool = True) -> None:
        """Fill a rectangle (pixel floats); partly covered edge pixels get a shade (``antialias``) or none."""
        if not antialias:
            x0, x1 = max(0, round(left)), min(self.width, round(right))
            y0, y1 = max(0, round(top)), min(self.height, round(bottom))
            self.index[y0:y1, x0:x1] = self._flat_index(colour)
            return
        fx, cx = _coverage(left, right, self.width)
        fy, cy = _coverage(top, bottom, self.height)
        if cx.size and cy.size:
            self.paste(np.rint(255 * np.outer(cy, cx)).astype(np.uint8), fx, fy, colour)

    def letter(self, letter: str, left: float, right: float, top: float, bottom: float, colour) -> None:
        """Draw ``letter`` stretched to fill the box (pixel floats, edges rounded); nothing if under half a pixel."""
        l, r, t, b = round(left), round(right), round(top), round(bottom)
        if r <= l or b <= t:
            return
        self.paste(_glyph_mask(letter, r - l, b - t), l, t, colour)
        self.letters_drawn.append(DrawnLetter(letter, tuple(colour), l, r, t, b))

    def text(self, x: float, y: float, text: str, points: float, colour, *, ha: str = "left", va: str = "baseline",
             bold: bool = False, rotate: bool = False) -> None:
        """Draw ``text`` at ``points`` anchored as matplotlib anchors it.

        ha : {"left", "center", "right"}
        va : {"baseline", "top", "center", "center_baseline", "bottom"}
        rotate : turn 90 degrees anticlockwise about the anchor (matplotlib's ``rotation=90``,
            ``rotation_mode="anchor"``); only ``ha="center", va="bottom"`` is supported then.
        """
        mask, row, ascent, descent = _text_mask(text, points * self.dpi / 72.0, bold)
        w = mask.shape[1]
        if rotate:  # the mask's rows become columns, its baseline row at the anchor minus the descent
            if (ha, va) != ("center", "bottom"):
                raise ValueError("rotated text supports ha='center', va='bottom' only")
            self.paste(np.ascontiguousarray(np.rot90(mask)), round(x - descent - row), round(y - w / 2), colour)
            return
        left = {"left": x, "center": x - w / 2, "right": x - w}[ha]
        baseline = {"top": y + ascent, "baseline": y, "center": y + (ascent - descent) / 2,
                    "center_baseline": y + ascent / 2, "bottom": y - descent}[va]
        self.paste(mask, round(left), round(baseline - row), colour)

    def text_width(self, text: str, points: float, bold: bool = False) -> float:
        """Advance width of ``text`` at ``points``, in pixels."""
        return _font(points * self.dpi / 72.0, bold).getlength(text)

    def save_png(self, path: str | Path) -> Path:
        """Write the page as a palette PNG."""
        from PIL import Image

        image = Image.fromarray(self.index)  # mode "L"; putpalette makes it "P" without touching the pixels
        image.putpalette([v for rgb in self._palette for v in rgb])
        path = Path(path)
        image.save(path, format="PNG")
        return path


__all__ = ["LEVELS", "DrawnLetter", "PaletteCanvas", "font_path"]
