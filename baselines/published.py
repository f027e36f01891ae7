"""The papers' published numbers that the results table puts beside ours.

Only values with a source are listed; a cell without one stays empty in the
table rather than being filled from memory. Each entry names where it comes
from. REFERENCE.md (the project's fact sheet) states the papers' findings
qualitatively (section 7) but carries no per-model numeric table, so this
list holds what the issue tracker quoted from the papers; extend it (with the
source) when the papers' tables are transcribed.
"""
from __future__ import annotations

from typing import NamedTuple


class Published(NamedTuple):
    """A published mean and sd (sd None when the paper gave none) with its source."""

    mean: float
    sd: float | None
    source: str


#: (model, activation, metric) -> published value. Metrics use the results table's column keys.
PUBLISHED: dict[tuple[str, str, str], Published] = {
    ("cnn-4", "relu", "match_ground_truth_fraction"): Published(
        0.127, 0.080,
        "Koo & Ploenzke 2021 as quoted in issue 13 ('at best 0.127 +/- 0.080' for ReLU first-layer pools <= 4)",
    ),
}


def published(model: str, activation: str, metric: str) -> Published | None:
    """The published value for one cell, or None when the papers' value is not on file."""
    return PUBLISHED.get((model, activation, metric))
