"""What each leaderboard number means, in one place: the table's legend, its header tooltips and About.

Every page that names a metric takes the name and the sentence from here, so
the leaderboard, the detail view and the About page never disagree (the
issue this fixes: "Match JASPAR" on one page, "JASPAR match" on another).
"""
from __future__ import annotations

N_TFS = 12

AUROC, AUPR = "AUROC", "auPR"
GT_MATCH, COVERAGE, JASPAR_MATCH, ATTRIBUTION = "GT match", f"Coverage (/{N_TFS})", "JASPAR match", "Attribution"
PARAMS = "Params"

#: Column name -> one-sentence definition (plain text: shown as a tooltip, in the legend and on About).
DEFINITIONS: dict[str, str] = {
    AUROC: "Area under the ROC curve, macro mean over the 12 classes (test split). Higher is better; 0.5 = chance.",
    AUPR: "Area under the precision-recall curve (average precision), macro mean over the 12 classes.",
    GT_MATCH: "Fraction of first-layer filters whose Tomtom matches include an accepted JASPAR ID of one of the "
              "12 embedded (ground-truth) motifs. The interpretability score the table is ordered by.",
    COVERAGE: "How many of the 12 ground-truth TFs at least one filter matches (0-12).",
    JASPAR_MATCH: "Fraction of first-layer filters with any Tomtom match in JASPAR CORE vertebrates "
                  "(E-value < 0.1), ground truth or not.",
    ATTRIBUTION: "In silico mutagenesis on positive test sequences: AUROC of the attribution map against the "
                 "embedded-motif positions, averaged over sequences (empty when not run).",
    PARAMS: "Parameters of the model as exported to ONNX, with every batch normalization folded into the "
            "layer before it: the same count for every model whatever the framework or exporter did "
            "(batch-norm running statistics are not parameters).",
    "Rank": "1 + the number of rows whose 95% bootstrap interval of GT match lies entirely above this row's: "
            "rows overlapping the leader's interval share rank 1 (a row without an interval counts as its "
            "value). Within a rank, rows are ordered by GT match, then AUROC.",
    "AUROC ±": "Half the width of the 95% bootstrap interval of AUROC (\"no CI\": scored without intervals).",
    "GT match ±": "Half the width of the 95% bootstrap interval of GT match (\"no CI\": scored without "
                  "intervals; the row then ranks by its value alone).",
    "Pool": "First-layer max-pool size (the papers' key design choice).",
    "Activation": "First-layer activation (exp or relu in the papers).",
}

#: Scores shown with this many decimals everywhere (tables, headers, detail).
DECIMALS = 3


def _number(value) -> float | None:
    """``value`` as a finite float if it is a real number (not a bool, not text), else None."""
    import numbers
    import math

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def score(value) -> str:
    """A score as every page prints it: three decimals, ``n/a`` when missing or not a number."""
    number = _number(value)
    return "n/a" if number is None else f"{number:.{DECIMALS}f}"


def count(value) -> str:
    """An integer count with thousands separators (``160,048``), ``n/a`` when missing or not a whole number."""
    number = _number(value)
    return "n/a" if number is None or not number.is_integer() else f"{int(number):,}"


def legend_markdown(names: tuple[str, ...] = (GT_MATCH, COVERAGE, JASPAR_MATCH, ATTRIBUTION, AUROC, AUPR,
                                              PARAMS)) -> str:
    """The legend under the leaderboard (and the metric list on About): ``**name**: definition`` lines."""
    return "\n".join(f"- **{name}**: {DEFINITIONS[name]}" for name in names)
