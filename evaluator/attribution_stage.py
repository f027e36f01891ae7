"""The evaluator's attribution-benchmark stage: record sections and artifacts for one model.

:func:`run_stage` is what :mod:`evaluator.evaluate` calls; it runs
:func:`evaluator.attribution_benchmark.attribution_benchmark` on the split,
converts arrays to JSON-ready record sections (``results.gradient_attribution``,
``results.discovery``) and writes the pictures (:mod:`evaluator.attribution_plots`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


@dataclass
class StageResult:
    gradient_attribution: dict | None
    discovery: dict | None
    artifacts: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: pictures still being drawn in background threads (:class:`evaluator.stages.BackgroundJob`); the caller
    #: waits for them (:meth:`wait_pictures`) before it returns the record
    pictures: list = field(default_factory=list)

    def wait_pictures(self) -> float:
        """Wait for the pictures still being drawn; returns the seconds their drawing took (re-raises its errors)."""
        seconds = sum(job.result()[1] for job in self.pictures)
        self.pictures = []
        return seconds


def run_stage(model_path: str | Path, arrays, x: np.ndarray, y: np.ndarray, params, *, output_name: str | None,
              output_kind: str, logits_output: str | None, ism_fn=None, out_dir: Path | None = None,
              stem: str = "result", logo_engine: str = "fast") -> StageResult:
    """Gradient attribution (or the ISM fallback), randomisation check and discovery for one model.

    x : ndarray, shape (N, 4, L). y : ndarray, shape (N, 12). ``arrays`` supplies ``motifs`` and ``ids``.
    Returns the two record sections (None when switched off) and the artifact names written to ``out_dir``.
    """
    from evaluator.attribution_benchmark import attribution_benchmark

    if not params.gradient_attribution:
        return StageResult(None, None)
    motifs = getattr(arrays, "motifs", None)
    if motifs is None:
        log.warning("the split carries no motif records: the attribution benchmark is skipped")
        return StageResult({"status": "skipped", "reason": "the split has no motif records"}, None)
    n = x.shape[0]
    outcome = attribution_benchmark(model_path, x, y, list(motifs)[:n], list(arrays.ids)[:n], params,
                                    output_name=output_name, output_kind=output_kind, logits_output=logits_output,
                                    ism_fn=ism_fn)
    artifacts: dict[str, str] = {}
    pictures = []
    if out_dir is not None:
        from evaluator.attribution_plots import example_maps, has_examples, pattern_logos
        from evaluator.stages import BackgroundJob

        if has_examples(outcome.examples):  # drawn beside the stages that follow (the caller waits for it)
            pictures.append(BackgroundJob(example_maps, outcome.examples, out_dir / f"{stem}.attribution_examples.png",
                                          name="attribution-examples"))
            artifacts["attribution_examples"] = f"{stem}.attribution_examples.png"
        if outcome.discovery and pattern_logos(outcome.discovery, out_dir / f"{stem}.patterns.png",
                                               engine=logo_engine, jaspar_release=params.jaspar_release) is not None:
            artifacts["pattern_logos"] = f"{stem}.patterns.png"
    return StageResult(outcome.section, outcome.discovery, artifacts, outcome.timings, pictures)


def headline(section: dict | None, discovery: dict | None) -> dict:
    """Leaderboard numbers: per method family the best-of (raw, corrected) AUROC/AUPR means, discovery match/coverage.

    Returns ``{"attr_<family>_auroc": float|None, "attr_<family>_aupr": ..., "discovery_match": ...,
    "discovery_coverage": int|None}``.
    """
    out: dict = {}
    methods = (section or {}).get("methods") or {}
    for fam in ("saliency", "grad_x_input", "integrated_gradients", "deeplift_shap", "ism"):
        for metric in ("auroc", "aupr"):
            values = [m[metric]["mean"] for name, m in methods.items()
                      if m.get("family") == fam and m.get(metric, {}).get("mean") is not None]
            # the corrected twin is the reported one when present (REFERENCE.md section 9)
            corrected = methods.get(f"{fam}_corrected", {}).get(metric, {}).get("mean")
            out[f"attr_{fam}_{metric}"] = corrected if corrected is not None else (values[0] if values else None)
    out["discovery_match"] = (discovery or {}).get("match_ground_truth_fraction")
    out["discovery_coverage"] = (discovery or {}).get("coverage_count") if discovery else None
    return out
