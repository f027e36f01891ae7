"""The detail view's attribution part: per-method scores with CIs, the randomisation check, discovery.

Everything comes from the stored record (``results.gradient_attribution``, ``results.discovery``) and
the evaluator's pictures (``pattern_logos``, ``attribution_examples``); text only, no markup from
the record (method and TF names are fixed vocabularies, numbers are formatted here).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from space_app.records import artifact_path
from space_app.safe_text import md

PATTERN_LOGOS, ATTRIBUTION_EXAMPLES = "pattern_logos", "attribution_examples"
_LABELS = {"saliency": "saliency", "grad_x_input": "grad × input", "integrated_gradients": "integrated gradients",
           "deeplift_shap": "DeepLIFT/SHAP", "ism": "ISM"}


def _label(method: str) -> str:
    base = method[:-len("_corrected")] if method.endswith("_corrected") else method
    return _LABELS.get(base, "?") + (" (corrected)" if method.endswith("_corrected") else "")


def _ci(entry: dict | None) -> str:
    if not entry or entry.get("mean") is None:
        return "n/a"
    return f"{entry['mean']:.3f} [{entry['ci_low']:.3f}, {entry['ci_high']:.3f}]"


def attribution_markdown(record: dict[str, Any]) -> str:
    """Markdown tables: class-specific scores per method, randomisation drop, discovery summary."""
    res = record.get("results") or {}
    sec = res.get("gradient_attribution")
    if not sec:
        return "Class-specific attribution: not run for this record."
    lines = [f"#### Class-specific attribution ({int(sec.get('n_sequences') or 0)} positives, 95% bootstrap CIs)"]
    if sec.get("status") == "skipped":
        return f"Class-specific attribution: skipped ({md(sec.get('reason') or 'no reason recorded')})."
    if sec.get("status") == "ism-fallback":
        # the converter's message quotes node names from the model file: text, never markup
        reason = ((sec.get("conversion") or {}).get("error")) or "no reason recorded"
        lines += ["", f"No gradient method could be used, so ISM was scored instead. Reason: {md(reason)}"]
    for name, why in (sec.get("method_errors") or {}).items():
        lines += ["", f"{_label(name)} not scored: {md(why)}"]
    methods = sec.get("methods") or {}
    if methods:
        lines += ["", "| method | AUROC | AUPR | mass in motif | background FPR | own vs distractor AUROC |",
                  "|---|---|---|---|---|---|"]
        order = list(_LABELS)  # the methods' logical order (cheapest first, ISM last), raw before corrected
        ranked = sorted(methods, key=lambda n: (order.index(n.removesuffix("_corrected"))
                                                if n.removesuffix("_corrected") in order else len(order),
                                                n.endswith("_corrected"), n))
        for name in ranked:
            m = methods[name]
            lines.append(f"| {_label(name)} | {_ci(m.get('auroc'))} | {_ci(m.get('aupr'))} | "
                         f"{_ci(m.get('mass_in_motif'))} | {_ci(m.get('background_fpr'))} | "
                         f"{_ci(m.get('own_vs_distractor_auroc'))} |")
    drop = ((sec.get("randomisation") or {}).get("drop")) or {}
    if drop:
        parts = [f"{_label(k)} {v:+.3f}" for k, v in drop.items() if isinstance(v, (int, float))]
        lines += ["", "Cascading randomisation (all weight layers re-initialised), AUROC drop: " + ", ".join(parts)]
    disc = res.get("discovery")
    if disc:
        match = disc.get("match_ground_truth_fraction")
        lines += ["", f"**Motif discovery (TF-MoDISco)**: {int(disc.get('n_patterns') or 0)} patterns, "
                      f"match {'n/a' if match is None else f'{match:.2f}'}, coverage "
                      f"{int(disc.get('coverage_count') or 0)}/12, spurious {int(disc.get('n_spurious_patterns') or 0)}"]
    artifacts = record.get("artifacts") or {}
    if artifacts.get(PATTERN_LOGOS) or artifacts.get(ATTRIBUTION_EXAMPLES):
        lines += ["", "Below: " + "; then ".join(text for key, text in (
            (PATTERN_LOGOS, "each TF-MoDISco pattern's logo (bits) above the JASPAR matrix Tomtom matched it to, "
                            "aligned as Tomtom aligned them (green = counts as ground truth, grey = another JASPAR "
                            "motif)"),
            (ATTRIBUTION_EXAMPLES, "example sequences' contributions per position (blue > 0, red < 0), the "
                                   "explained TF's sites shaded green and other TFs' sites grey"))
            if artifacts.get(key)) + "."]
    return "\n".join(lines)


def attribution_images(record: dict[str, Any], submission_id: str, root: Path | None = None
                       ) -> tuple[Path | None, Path | None]:
    """(pattern logos beside their best ground-truth match, example attribution maps) PNG paths, or None."""
    return (artifact_path(record, PATTERN_LOGOS, submission_id, root),
            artifact_path(record, ATTRIBUTION_EXAMPLES, submission_id, root))
