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

import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from evaluator.uncertainty import BootstrapSettings, bootstrap_counts, classification_intervals, mean_interval
from evaluator.work_share import HelpedFuture, WorkShare


def start_recovery_intervals(ppm_accumulator, params, settings: BootstrapSettings) -> HelpedFuture | None:
    """Start the motif-recovery bootstrap in a background thread; None when there is nothing to resample.

    It needs only the per-sequence PPM sums, so it runs while the main thread
    does attribution (ONNX Runtime) and logos; its Tomtom work then costs
    little wall time where a second core is free (the worker runs ONNX Runtime
    on one thread). Its Tomtom queries run in this one thread, not on the
    process's pool of one thread per core: ONNX Runtime's intra-op threads
    already take every core during attribution, and one more runnable thread
    (not one per core) is all the bootstrap adds to the machine's load.
    The result is the same as running it inline: nothing in it depends on
    timing. Returns a future of ``(intervals dict, seconds)``; an exception in
    the job is raised, with its message, where the future's result is taken.
    Taking the result first helps: the waiting thread runs the Tomtom blocks
    nobody has started yet (:mod:`evaluator.work_share`), so once the main
    thread is done with its own stages both cores finish the bootstrap.
    """
    if ppm_accumulator is None or settings.recovery_resamples <= 0:
        return None
    share = WorkShare()

    def job():  # no threadpoolctl here: its limits are process-wide, the main thread sets them
        from evaluator.recovery_uncertainty import recovery_intervals

        start = time.perf_counter()
        counts = bootstrap_counts(ppm_accumulator.n_sequences, settings.recovery_resamples,
                                  np.random.default_rng([settings.seed, 1]))
        out = recovery_intervals(ppm_accumulator, params, counts, settings.level, workers=1, share=share)
        return out, time.perf_counter() - start

    return HelpedFuture(_in_background(job, "recovery-bootstrap"), share)


def start_classification_intervals(y: np.ndarray, probabilities: np.ndarray, settings: BootstrapSettings) -> Future:
    """Start the classification bootstrap in a background thread, right after inference.

    It needs only the labels and the probabilities, so it runs beside the
    PPM, Tomtom and attribution stages (NumPy frees the GIL in its loops)
    instead of after them. Same numbers as inline. A future of the
    ``classification`` dict of :func:`~evaluator.uncertainty.classification_intervals`.
    """
    return _in_background(lambda: classification_intervals(y, probabilities, settings), "classification-bootstrap")


def _in_background(job, name: str) -> Future:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    try:
        return executor.submit(job)
    finally:
        executor.shutdown(wait=False)


def uncertainty_section(y: np.ndarray, probabilities: np.ndarray, attribution_scores,
                        recovery: Future | HelpedFuture | None,
                        settings: BootstrapSettings, timings: dict | None = None,
                        classification: Future | None = None) -> dict:
    """Intervals for one evaluation.

    Parameters
    ----------
    y : ndarray, shape (N, 12)
        Labels of the scored split.
    probabilities : ndarray, shape (N, 12)
        The model's predicted probabilities.
    attribution_scores : evaluator.attribution.AttributionScores or None
        Per-sequence ISM scores (None when attribution was skipped).
    recovery : Future or None
        From :func:`start_recovery_intervals` (waited for here).
    settings : BootstrapSettings
    timings : dict, optional
        Receives ``recovery_intervals``: the background bootstrap's own seconds.
    classification : Future, optional
        From :func:`start_classification_intervals` (else computed here).
    """
    attribution = None
    if attribution_scores is not None:
        attribution = {"mean_auroc": mean_interval(attribution_scores.auroc, settings, seed_offset=2),
                       "mean_aupr": mean_interval(attribution_scores.aupr, settings, seed_offset=2)}
    classification = (classification.result() if classification is not None
                      else classification_intervals(y, probabilities, settings))
    recovery_out = None
    if recovery is not None:
        recovery_out, seconds = recovery.result()
        if timings is not None:
            timings["recovery_intervals"] = round(seconds, 4)
    return {
        "settings": settings.as_dict(),
        "classification": classification,
        "motif_recovery": recovery_out,
        "attribution": attribution,
    }
