"""The papers' published numbers that the results table puts beside ours.

Only values with a source are listed; a cell without one stays empty in the
table rather than being filled from memory. Each entry names where it comes
from. REFERENCE.md (the project's fact sheet) states the papers' findings
qualitatively (section 7) but carries no per-model numeric table, so this
list holds what the issue tracker quoted from the papers; extend it (with the
source) when the papers' tables are transcribed.

Beside those numbers, :data:`FINDINGS` states REFERENCE.md section 7's
qualitative findings as ranges a row can be checked against ("most filters
match" = a fraction above one half; "~0.95-0.97" = a value that rounds to
0.95-0.97), so the papers' column covers every CNN-k row, not only the one
number on file. A finding is weaker evidence than a number: the table labels it
as qualitative.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

from baselines.zoo import POOL_FAMILY


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


#: The papers' qualitative findings, cited once (REFERENCE.md section 7 summarises Koo & Eddy 2019 and
#: Koo & Ploenzke 2021).
FINDINGS_SOURCE = "REFERENCE.md §7 (qualitative)"
#: The GT-match columns a finding about first-layer filters applies to (both PPM methods).
GT_MATCH_KEYS = ("match_ground_truth_fraction", "match_ground_truth_fraction_ke")
#: "Few" for ReLU pools 1 and 2: at most the quoted best of pools <= 4 (0.127 +/- 0.080, `PUBLISHED`) plus 2 sd.
FEW_BOUND = 0.127 + 2 * 0.080


class Finding(NamedTuple):
    """A qualitative finding, and how a row's mean is read against it.

    claim : the finding in words. reading : the range it is read as (shown beside the claim).
    holds : callable mean -> bool. applies : callable (model, activation, first-layer width,
    first-layer pool) -> bool.
    """

    claim: str
    reading: str
    metrics: tuple[str, ...]
    holds: Callable[[float], bool]
    applies: Callable[[str, str, int, int], bool]


#: REFERENCE.md section 7, read as ranges: "most" = above one half, "~0.95-0.97" = rounds to 0.95-0.97.
FINDINGS: tuple[Finding, ...] = (
    Finding("~0.95-0.97 for every CNN-k", "0.945 <= x < 0.975", ("test_auroc",),
            lambda x: 0.945 <= x < 0.975, lambda m, a, w, p: m in POOL_FAMILY and w == 19),
    Finding("few filters match (ReLU, pools 1 and 2; CNN-4 has the quoted number)", f"x <= {FEW_BOUND:.3f}",
            GT_MATCH_KEYS,
            lambda x: x <= FEW_BOUND, lambda m, a, w, p: m in POOL_FAMILY and a == "relu" and p in (1, 2)),
    Finding("most filters match (ReLU, pools >= 10)", "x > 0.5", GT_MATCH_KEYS,
            lambda x: x > 0.5, lambda m, a, w, p: m in POOL_FAMILY and a == "relu" and p >= 10),
    Finding("most filters match (exp, every pool, CNN-deep)", "x > 0.5", GT_MATCH_KEYS,
            lambda x: x > 0.5, lambda m, a, w, p: a == "exp" and (m in POOL_FAMILY or m.startswith("cnn-deep"))),
    Finding("classifies poorly", "x < 0.945", ("test_auroc",),
            lambda x: x < 0.945, lambda m, a, w, p: m == "cnn3-50"),
)


def findings(model: str, activation: str, metric: str, width: int, pool: int) -> list[Finding]:
    """The qualitative findings that speak about one cell (model, activation, metric).

    width, pool : the model's first-layer filter width and max-pool size.
    """
    return [f for f in FINDINGS if metric in f.metrics and f.applies(model, activation, width, pool)]


def finding_verdict(mean: float, finding: Finding) -> str:
    """``consistent`` / ``NOT consistent`` (the mean read against the finding's range); empty for no value."""
    if mean != mean:  # NaN: not measured
        return ""
    return "consistent" if finding.holds(mean) else "NOT consistent"
