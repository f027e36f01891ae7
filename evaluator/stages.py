"""The stages of one evaluation, each a function of arrays and the reference bundle.

:mod:`evaluator.pipeline` runs them in order and times them; each returns one
section of the result record (or the arrays the next stage needs).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from benchmark.datasets import N_CLASSES
from benchmark.errors import DatasetError, MotifbenchError
from evaluator import EVALUATOR_VERSION
from evaluator.onnx_model import ModelError, OnnxModel
from evaluator.params import EvalParams
from evaluator.reference import ReferenceBundle

log = logging.getLogger(__name__)


class EvaluationError(MotifbenchError):
    """The inputs are individually valid but cannot be evaluated together (e.g. label width)."""


def progress_bar(iterable, total: int, desc: str, enabled: bool):
    """``iterable`` wrapped in a tqdm bar on stderr when ``enabled``."""
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch", leave=False)


def check_arrays(arrays, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(arrays.x, dtype=np.float32)
    y = np.asarray(arrays.y)
    mask = np.asarray(arrays.mask, dtype=bool)
    if limit is not None:
        x, y, mask = x[:limit], y[:limit], mask[:limit]
    if x.ndim != 3 or x.shape[1] != 4 or x.shape[0] == 0:
        raise DatasetError(f"the split's sequences have shape {list(x.shape)}; expected [N>0, 4, L] one-hot")
    if y.shape != (x.shape[0], N_CLASSES):
        raise EvaluationError(f"the split's labels have shape {list(y.shape)}; expected [{x.shape[0]}, {N_CLASSES}]")
    if mask.shape != (x.shape[0], x.shape[2]):
        raise EvaluationError(f"the split's motif mask has shape {list(mask.shape)}; expected [{x.shape[0]}, {x.shape[2]}]")
    return np.ascontiguousarray(x), y, mask


def inference_pass(model: OnnxModel, x: np.ndarray, params: EvalParams, cache_bytes: int, progress: bool):
    n = x.shape[0]
    info = model.info
    keep = n * info.n_filters * info.tap_length * 4 <= cache_bytes
    outputs = np.empty((n, N_CLASSES), np.float32)
    maxima = np.full(info.n_filters, -np.inf)
    cached = np.empty((n, info.n_filters, info.tap_length), np.float32) if keep else None
    nonfinite = 0
    total = -(-n // (model.fixed_batch or params.batch_size))
    for start, out, acts in progress_bar(model.batches(x, params.batch_size), total, "inference", progress):
        stop = start + out.shape[0]
        outputs[start:stop] = out
        bad = ~np.isfinite(acts)
        if bad.any():
            nonfinite += int(bad.sum())
            acts = np.nan_to_num(acts, nan=0.0, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)
        np.maximum(maxima, acts.max(axis=(0, 2)), out=maxima)
        if cached is not None:
            cached[start:stop] = acts
    if nonfinite:
        log.warning("first-layer activations held %d NaN/inf values (NaN -> 0, inf -> float32 max)", nonfinite)
    return outputs, maxima, cached, nonfinite


def classification_section(y: np.ndarray, probabilities: np.ndarray, reference: ReferenceBundle) -> dict:
    """The record's ``results.classification`` from labels ``y`` and probabilities, both ``(N, 12)``."""
    from evaluator.classification import classification_scores

    scores = classification_scores(y, probabilities)
    names = reference.motif_set.names
    return {
        "macro_auroc": scores.macro_auroc,
        "macro_aupr": scores.macro_aupr,
        "macro_aupr_trapezoid": scores.macro_aupr_trapezoid,
        "per_class": [
            {"index": c, "tf": names[c], "n_positive": int(scores.n_positive[c]), "auroc": scores.auroc[c],
             "aupr": scores.aupr[c], "aupr_trapezoid": scores.aupr_trapezoid[c]}
            for c in range(N_CLASSES)
        ],
        "undefined_classes": [names[c] for c in scores.undefined_classes],
        "notes": ("aupr = average precision (sklearn average_precision_score); aupr_trapezoid = the papers' "
                  "auc(recall, precision) on precision_recall_curve, linear interpolation, optimistic. "
                  "Classes without positives or negatives in the split are null and left out of the macros."),
    }


def ppm_stage(model: OnnxModel, x: np.ndarray, maxima: np.ndarray, cached, params: EvalParams, progress: bool,
              per_sequence: bool = False):
    """PPMs, clipped PPMs, window, offset, and (``per_sequence``) the accumulator that keeps per-sequence sums."""
    from evaluator.ppm import PPMAccumulator, clip_ppm
    from evaluator.recovery_uncertainty import PerSequencePPMs

    info = model.info
    if params.ppm_method == "nmi":
        window = params.nmi_window
    else:
        window = params.ke_window or info.filter_width  # ke_window None = the kernel width
        if not window:
            raise ModelError("ke_window=None asks for the first conv's kernel width, which could not be read from "
                             "the graph; give --ke-window")
    builder = PerSequencePPMs if per_sequence else PPMAccumulator  # per-sequence sums feed the recovery bootstrap
    acc = builder(params.ppm_method, maxima, window, x.shape[2], info.tap_length, params.activation_threshold)
    step = params.batch_size
    if cached is not None:
        for start in range(0, x.shape[0], step):
            acc.update(x[start:start + step], cached[start:start + step])
    else:
        total = -(-x.shape[0] // (model.fixed_batch or step))
        for start, _, acts in progress_bar(model.batches(x, step), total, "activations", progress):
            acts = np.nan_to_num(acts, nan=0.0, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)
            acc.update(x[start:start + acts.shape[0]], acts)
    ppms = acc.result()
    clipped = [clip_ppm(p, params.ic_threshold, params.ic_pad, params.ic_eps) for p in ppms.ppms]
    return ppms, clipped, window, ppms.offset, (acc if per_sequence else None)


def tomtom_stage(clipped, params: EvalParams, out_dir: Path | None, stem: str, reference: ReferenceBundle):
    """Informative filter PPMs vs the reference's JASPAR targets; the hits table (and its TSV/MEME files)."""
    from evaluator.meme_io import MemeMotif, read_meme, write_meme
    from evaluator.tomtom import format_tsv, tomtom

    filter_ids = [f"filter{i}" for i in range(len(clipped))]
    queries = [MemeMotif(fid, "", c.ppm, c.ppm.shape[0]) for fid, c in zip(filter_ids, clipped) if c.ppm is not None]
    meme_path = out_dir / f"{stem}.filters.meme" if out_dir is not None else None
    if meme_path is not None:
        meme_path.parent.mkdir(parents=True, exist_ok=True)
    # Tomtom reads back what the file holds (6 decimals) so our numbers are what MEME would compute on it.
    text = write_meme(queries, meme_path) if queries else ""
    queries = read_meme(text) if queries else []
    targets = list(reference.targets)
    target_names = reference.target_names
    if queries:
        hits = tomtom(queries, targets, dist=params.tomtom_dist, min_overlap=params.tomtom_min_overlap,
                      motif_pseudo=params.tomtom_motif_pseudo, evalue=params.tomtom_evalue, thresh=params.tomtom_thresh)
    else:
        import pandas as pd

        from evaluator.tomtom import COLUMNS

        hits = pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS})
    if out_dir is not None:
        flag = "-evalue " if params.tomtom_evalue else ""
        command = (f"tomtom -dist {params.tomtom_dist} {flag}-thresh {params.tomtom_thresh} "
                   f"-min-overlap {params.tomtom_min_overlap} -motif-pseudo {params.tomtom_motif_pseudo} "
                   f"{stem}.filters.meme JASPAR{params.jaspar_release}_CORE_vertebrates.meme")
        (out_dir / f"{stem}.tomtom.tsv").write_text(format_tsv(hits, [f"motifbench evaluator {EVALUATOR_VERSION}",
                                                                      f"equivalent MEME command: {command}"]))
    return hits, [q.id for q in queries], filter_ids, target_names, len(targets)


def recovery_section(hits, filter_ids, tested_ids, target_names, ppms, clipped, reference: ReferenceBundle) -> dict:
    """The record's ``results.motif_recovery`` from the Tomtom hits and the filter PPMs."""
    from evaluator.recovery import motif_recovery

    recovery = motif_recovery(hits, filter_ids, tested_ids, reference.motif_set, target_names)
    for entry, clip, full, nwin, mx in zip(recovery["filters"], clipped, ppms.ppms, ppms.n_windows, ppms.max_activation):
        entry["n_windows"] = int(nwin)
        entry["max_activation"] = float(mx)
        entry["clip"] = [clip.start, clip.end] if clip.ppm is not None else None
        shown = clip.ppm if clip.ppm is not None else full
        entry["ppm"] = np.round(shown, 6).tolist()
    recovery["notes"] = (
        "Denominators are all first-layer filters. Filters whose PPM has no position above the IC threshold "
        "(untested_filters) are not sent to Tomtom and count as matching nothing. A filter matches ground truth "
        "when any of its hits at the threshold is an accepted ID of a ground-truth TF; filters_per_tf counts a "
        "filter under every TF it matches; coverage = TFs with at least one matching filter. ppm = the clipped "
        "PPM Tomtom saw (the full window for untested filters), rows A,C,G,T."
    )
    return recovery


def attribution_section(model: OnnxModel, arrays, x, y, mask, probabilities, params: EvalParams):
    """The record's attribution section and the per-sequence scores behind it (both None when nothing to score)."""
    from evaluator.attribution import choose_classes, ism_delta, position_scores, score_against_mask, select_sequences

    idx = select_sequences(y, mask, params.ism_sequences)
    if idx.size == 0:
        log.warning("no positive sequence with a recorded motif instance: attribution skipped")
        return None, None
    classes = choose_classes(y[idx], probabilities[idx])
    delta = ism_delta(model, x[idx], classes, params.ism_batch_mutants, params.ism_logit_eps)
    scores = score_against_mask(position_scores(delta, x[idx]), mask[idx])
    ids = list(arrays.ids)
    return {
        "method": "ism",
        "n_sequences_requested": params.ism_sequences,
        "n_sequences_scored": scores.n_scored,
        "mean_auroc": scores.mean_auroc,
        "mean_aupr": scores.mean_aupr,
        "mean_aupr_trapezoid": scores.mean_aupr_trapezoid,
        "sequence_ids": [str(ids[i]) for i in idx],
        "class_choice": "per sequence, the positive class with the highest predicted probability",
        "score_definition": ("delta[c,i] = logit_k(x with base c at i) - logit_k(x) (0 at the reference base); "
                             "score[i] = sum_c x[c,i] (delta[c,i] - mean_c delta[c,i]) = -mean_c delta[c,i]"),
        "positives": "positions inside a recorded motif instance (the dataset's motifs column)",
        **model.ism_output,
    }, scores


def keep_beside(onnx_path: Path, out_dir: Path) -> str:
    """The converted ONNX file's name in ``out_dir``, copied there if it was made elsewhere."""
    target = out_dir / onnx_path.name
    if onnx_path.resolve() != target.resolve():
        import shutil

        shutil.copyfile(onnx_path, target)
    return target.name


class BackgroundJob:
    """``fn(*args)`` running in a daemon thread; :meth:`result` waits for it and hands back its value.

    For pictures that no number depends on: drawing holds the GIL in Python while the stages that
    follow spend their time in ONNX Runtime and torch kernels that release it.
    """

    def __init__(self, fn, *args, name: str = "background"):
        import threading

        self._fn, self._args = fn, args
        self._out: tuple[object, float] | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import time

        start = time.perf_counter()
        try:
            value = self._fn(*self._args)
        except BaseException as exc:  # handed to the caller by result()
            self._error = exc
            return
        self._out = (value, time.perf_counter() - start)

    def result(self) -> tuple[object, float]:
        """``(what fn returned, seconds it took)``; re-raises what it raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._out


class LogoJob(BackgroundJob):
    """:func:`logos_stage` running in a background thread; :meth:`result` waits for it."""

    def __init__(self, *args):
        super().__init__(lambda *a: logos_stage(*a), *args, name="logos")  # looked up when run (tests patch it)


def start_logos(ppms, clipped, recovery, out_dir: Path, stem: str, engine: str, reference: ReferenceBundle) -> LogoJob:
    """Draw the logos (:func:`logos_stage`) in a background thread.

    Drawing is matplotlib (Python, holding the GIL), while the stages that
    follow spend their time in ONNX Runtime and torch kernels that release
    it, so on two cores the pictures cost little wall time. Nothing drawn
    feeds a number; only the PNG files depend on it.
    """
    return LogoJob(ppms, clipped, recovery, out_dir, stem, engine, reference)


def logos_stage(ppms, clipped, recovery, out_dir: Path, stem: str, engine: str,
                reference: ReferenceBundle) -> dict[str, str]:
    """Each filter above the ground-truth motif it matches (one cell per filter), and the 12 truth logos.

    Returns the artifact names (``filter_logos`` is the paired figure, ``*.filter_pairs.png``).
    """
    from evaluator.logo_pairs import PAIRS_SUFFIX, filter_match_pairs
    from evaluator.logos import ground_truth_logos

    shown = [c.ppm if c.ppm is not None else full for c, full in zip(clipped, ppms.ppms)]
    filter_match_pairs(shown, recovery, reference.motif_set, out_dir / f"{stem}{PAIRS_SUFFIX}",
                       targets={m.id: m.ppm for m in reference.targets})
    ground_truth_logos(reference.motif_set, out_dir / f"{stem}.ground_truth.png", engine=engine)
    return {"filter_logos": f"{stem}{PAIRS_SUFFIX}", "ground_truth_logos": f"{stem}.ground_truth.png"}