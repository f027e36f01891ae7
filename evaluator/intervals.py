"""The evaluation's uncertainty stage: every headline number's bootstrap interval, in one record section.

``results.uncertainty`` (schema 1.1.0, optional, so older records stay valid)::

    settings        resamples, recovery_resamples, seed, level, method
    classification  macro_auroc, macro_aupr: [lo, hi]; per_class: [{auroc, aupr}] x 12
    motif_recovery  match_ground_truth_fraction, match_jaspar_fraction, coverage: [lo, hi]; resamples; tomtom_queries
    attribution     mean_auroc, mean_aupr: [lo, hi] (null without ISM)

Classification and attribution draw from ``default_rng(seed)`` and
``default_rng([seed, 2])``, recovery from ``default_rng([seed, 1])``, so the
record's seed reproduces every interval.
"""
from __future__ import annotations

import numpy as np

from evaluator.uncertainty import BootstrapSettings, bootstrap_counts, classification_intervals, mean_interval


def uncertainty_section(y: np.ndarray, probabilities: np.ndarray, attribution_scores, ppm_accumulator, params,
                        settings: BootstrapSettings) -> dict:
    """Intervals for one evaluation.

    Parameters
    ----------
    y : ndarray, shape (N, 12)
        Labels of the scored split.
    probabilities : ndarray, shape (N, 12)
        The model's predicted probabilities.
    attribution_scores : evaluator.attribution.AttributionScores or None
        Per-sequence ISM scores (None when attribution was skipped).
    ppm_accumulator : evaluator.recovery_uncertainty.PerSequencePPMs or None
        The accumulator that built the PPMs (None: no recovery intervals).
    params : evaluator.params.EvalParams
    settings : BootstrapSettings
    """
    from evaluator.recovery_uncertainty import recovery_intervals

    recovery = None
    if ppm_accumulator is not None and settings.recovery_resamples > 0:
        counts = bootstrap_counts(ppm_accumulator.n_sequences, settings.recovery_resamples,
                                  np.random.default_rng([settings.seed, 1]))
        recovery = recovery_intervals(ppm_accumulator, params, counts, settings.level)
    attribution = None
    if attribution_scores is not None:
        attribution = {"mean_auroc": mean_interval(attribution_scores.auroc, settings, seed_offset=2),
                       "mean_aupr": mean_interval(attribution_scores.aupr, settings, seed_offset=2)}
    return {
        "settings": settings.as_dict(),
        "classification": classification_intervals(y, probabilities, settings),
        "motif_recovery": recovery,
        "attribution": attribution,
    }
