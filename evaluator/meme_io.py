"""MEME minimal motif format: read and write letter-probability matrices.

Tomtom's inputs and the papers' filter PPMs travel in this format, so the
reader is strict where a silent misread would change a p-value (wrong width,
a row that is not four non-negative numbers, an alphabet other than ACGT) and
names the offending line. Values are kept exactly as written: MEME's own
post-processing (row renormalisation, pseudocounts) happens in
:mod:`evaluator.tomtom`, where MEME does it.

Layout note: matrices here are MEME's row-per-position ``(width, 4)``, columns
A, C, G, T, unlike the channel-first ``(4, width)`` used elsewhere.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.errors import MotifbenchError

ALPHABET = "ACGT"
#: Decimals of the probabilities :func:`write_meme` writes (as MEME's own writers do).
DECIMALS = 6


class MemeFormatError(MotifbenchError):
    """A MEME motif file (or text) is malformed; the message names the line."""


@dataclass(frozen=True, eq=False)
class MemeMotif:
    """One motif of a MEME file.

    Attributes
    ----------
    id: the first word after ``MOTIF``.
    name: the optional second word after ``MOTIF`` ("" when absent).
    ppm: float64, shape=(width, 4): letter probabilities, columns A,C,G,T.
    nsites: the ``nsites=`` value (MEME uses it to weight the pseudocount;
        None when absent, when MEME assumes 20).
    """

    id: str
    name: str
    ppm: np.ndarray
    nsites: int | None = None

    @property
    def width(self) -> int:
        return int(self.ppm.shape[0])


_MATRIX_RE = re.compile(r"^letter-probability\s+matrix\s*:(.*)$", re.IGNORECASE)
_KEY_RE = re.compile(r"(\w+)\s*=\s*(\S+)")


def _source_text(source: str | Path) -> tuple[str, str]:
    """(text, label) for a path or literal MEME text; label is used in error messages."""
    if isinstance(source, Path):
        path = source
    elif "\n" in source or source.lstrip().startswith("MEME"):
        return source, "<text>"
    else:
        path = Path(source)
    if not path.is_file():
        raise MemeFormatError(f"MEME motif file not found: {path}")
    try:
        return path.read_text(), str(path)
    except UnicodeDecodeError as exc:
        raise MemeFormatError(f"{path} is not a text MEME motif file ({exc.reason})") from None


def _parse_float(token: str, label: str, lineno: int) -> float:
    try:
        value = float(token)
    except ValueError:
        raise MemeFormatError(f"{label}:{lineno}: expected a number, got {token!r}") from None
    if not np.isfinite(value):
        raise MemeFormatError(f"{label}:{lineno}: expected a finite number, got {token!r}")
    return value


def _parse_background(tokens: list[str], label: str, lineno: int) -> tuple[float, ...]:
    pairs = dict(zip(tokens[0::2], tokens[1::2]))
    missing = [b for b in ALPHABET if b not in pairs]
    if len(tokens) % 2 or missing:
        raise MemeFormatError(
            f"{label}:{lineno}: background must give 'A p C p G p T p', got {' '.join(tokens)!r}"
        )
    values = tuple(_parse_float(pairs[b], label, lineno) for b in ALPHABET)
    if min(values) < 0 or sum(values) <= 0:
        raise MemeFormatError(f"{label}:{lineno}: background frequencies must be non-negative")
    return values


def _parse(text: str, label: str) -> tuple[list[MemeMotif], tuple[float, ...] | None]:
    lines = text.splitlines()
    motifs: list[MemeMotif] = []
    background: tuple[float, ...] | None = None
    seen_ids: set[str] = set()
    i = 0
    current: tuple[str, str, int] | None = None  # id, name, MOTIF line number
    while i < len(lines):
        lineno = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        if line.startswith("ALPHABET"):
            value = line.split("=", 1)[1].strip() if "=" in line else ""
            if value.split()[:1] != [ALPHABET]:
                raise MemeFormatError(
                    f"{label}:{lineno}: only the DNA alphabet ACGT is supported, got {line!r}"
                )
            continue
        if line.startswith("Background letter frequencies"):
            tokens: list[str] = []
            while i < len(lines) and len(tokens) < 8:
                if lines[i].strip():
                    tokens.extend(lines[i].split())
                i += 1
            background = _parse_background(tokens, label, i)
            continue
        if line.startswith("MOTIF"):
            words = line.split()
            if len(words) < 2:
                raise MemeFormatError(f"{label}:{lineno}: MOTIF line without an identifier")
            if current is not None:
                raise MemeFormatError(
                    f"{label}:{current[2]}: motif {current[0]!r} has no letter-probability matrix"
                )
            if words[1] in seen_ids:
                raise MemeFormatError(f"{label}:{lineno}: duplicate motif identifier {words[1]!r}")
            current = (words[1], words[2] if len(words) > 2 else "", lineno)
            continue
        match = _MATRIX_RE.match(line)
        if match:
            if current is None:
                raise MemeFormatError(f"{label}:{lineno}: letter-probability matrix before any MOTIF line")
            keys = {k.lower(): v for k, v in _KEY_RE.findall(match.group(1))}
            alength = keys.get("alength", "4")
            if alength != "4":
                raise MemeFormatError(f"{label}:{lineno}: alength= must be 4 for ACGT, got {alength}")
            if "w" not in keys:
                raise MemeFormatError(f"{label}:{lineno}: letter-probability matrix without w=")
            try:
                width = int(keys["w"])
            except ValueError:
                raise MemeFormatError(f"{label}:{lineno}: w= must be an integer, got {keys['w']!r}") from None
            if width < 1:
                raise MemeFormatError(f"{label}:{lineno}: w= must be at least 1, got {width}")
            nsites = None
            if "nsites" in keys:
                # MEME stores nsites as a double but uses it as an int (truncation).
                nsites = int(_parse_float(keys["nsites"], label, lineno))
            rows = []
            while len(rows) < width:
                if i >= len(lines):
                    raise MemeFormatError(
                        f"{label}:{lineno}: motif {current[0]!r} declares w= {width} but the file "
                        f"ends after {len(rows)} rows"
                    )
                row_line = lines[i].strip()
                i += 1
                if not row_line:
                    continue
                tokens = row_line.split()
                if tokens[0] in ("MOTIF", "URL") or _MATRIX_RE.match(row_line):
                    raise MemeFormatError(
                        f"{label}:{i}: motif {current[0]!r} declares w= {width} but has only "
                        f"{len(rows)} rows"
                    )
                if len(tokens) != 4:
                    raise MemeFormatError(
                        f"{label}:{i}: expected 4 probabilities (A C G T), got {len(tokens)} values"
                    )
                row = [_parse_float(t, label, i) for t in tokens]
                if min(row) < 0:
                    raise MemeFormatError(f"{label}:{i}: negative probability in {row_line!r}")
                if sum(row) <= 0:
                    raise MemeFormatError(f"{label}:{i}: a matrix row sums to zero")
                rows.append(row)
            motifs.append(MemeMotif(current[0], current[1], np.array(rows, dtype=np.float64), nsites))
            seen_ids.add(current[0])
            current = None
            continue
        # Other header lines (MEME version, strands:, URL, E-value lines) carry nothing we use.
    if current is not None:
        raise MemeFormatError(f"{label}:{current[2]}: motif {current[0]!r} has no letter-probability matrix")
    if not motifs:
        raise MemeFormatError(f"{label}: no motifs found (expected 'MOTIF' and 'letter-probability matrix' lines)")
    return motifs, background


def read_meme(source: str | Path) -> list[MemeMotif]:
    """Motifs of a MEME minimal-format file, in file order.

    Parameters
    ----------
    source: a path, or MEME text itself (any string containing a newline).

    Returns
    -------
    list of MemeMotif, each ``ppm`` float64 shape=(width, 4).

    Raises
    ------
    MemeFormatError (a MotifbenchError) naming the file and line that is wrong.
    """
    text, label = _source_text(source)
    return _parse(text, label)[0]


def read_meme_background(source: str | Path) -> tuple[float, float, float, float] | None:
    """The ``Background letter frequencies`` of a MEME file (A, C, G, T), or None if absent.

    Tomtom applies its pseudocount with the *query* file's background, so the
    CLI reads it from there.
    """
    text, label = _source_text(source)
    return _parse(text, label)[1]


def write_meme(
    motifs: Sequence[MemeMotif],
    path: str | Path | None = None,
    background: Sequence[float] = (0.25, 0.25, 0.25, 0.25),
) -> str:
    """MEME minimal-format text for ``motifs`` (6 decimals, like MEME's own writers).

    Parameters
    ----------
    motifs: motifs whose ``ppm`` has shape=(width, 4).
    path: if given, the text is also written there.
    background: A, C, G, T frequencies for the header.

    Returns
    -------
    The text.
    """
    if len(background) != 4:
        raise MotifbenchError(f"background needs 4 frequencies (A, C, G, T), got {len(background)}")
    out = ["MEME version 4", "", "ALPHABET= ACGT", "", "strands: + -", "",
           "Background letter frequencies",
           " ".join(f"{b} {float(p):g}" for b, p in zip(ALPHABET, background)), ""]
    for motif in motifs:
        ppm = np.asarray(motif.ppm, dtype=np.float64)
        if ppm.ndim != 2 or ppm.shape[1] != 4 or ppm.shape[0] < 1:
            raise MotifbenchError(f"motif {motif.id!r}: ppm must have shape (width, 4), got {ppm.shape}")
        if not motif.id or any(c.isspace() for c in motif.id):
            raise MotifbenchError(f"motif id {motif.id!r} must be a non-empty word without spaces")
        out.append(f"MOTIF {motif.id} {motif.name}".rstrip())
        nsites = f" nsites= {int(motif.nsites)}" if motif.nsites is not None else ""
        out.append(f"letter-probability matrix: alength= 4 w= {ppm.shape[0]}{nsites} E= 0")
        out.extend(" " + " ".join(f"{v:.{DECIMALS}f}" for v in row) for row in ppm)
        out.append("")
    text = "\n".join(out) + "\n"
    if path is not None:
        Path(path).write_text(text)
    return text


def as_written(values: np.ndarray) -> np.ndarray:
    """The numbers a MEME file written by :func:`write_meme` gives back: ``float(f"{v:.6f}")`` of each value.

    Vectorised and exact: ``rint(v * 1e6) / 1e6`` is the same double as the
    parsed decimal (both are the double nearest ``k / 10**6``) whenever
    ``rint`` picks the digit string's ``k``; the few values within rounding
    error of a half-way point are formatted and parsed one by one. For
    callers that would write and read back many matrices only to get these
    numbers (e.g. the bootstrap resamples of filter PPMs).

    values : ndarray, any shape, finite. Returns float64, same shape.
    """
    v = np.asarray(values, dtype=np.float64)
    scale = 10.0 ** DECIMALS
    scaled = v * scale
    out = np.rint(scaled) / scale
    halfway = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6 + np.abs(scaled) * 1e-15
    if halfway.any():
        flat, source = out.reshape(-1), v.reshape(-1)
        for i in np.flatnonzero(halfway.reshape(-1)):
            flat[i] = float(f"{source[i]:.{DECIMALS}f}")
    return out
