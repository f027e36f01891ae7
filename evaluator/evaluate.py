"""The one door every model goes through: ONNX (or checkpoint) + dataset split -> result record.

Stages, each timed in the record:

1. ``load_data``: the split's one-hot arrays, labels and ground-truth mask (``benchmark.loader``).
2. ``load_model``: checkpoint export if needed, ONNX Runtime session, tap found, shape probe.
3. ``inference``: one pass over the split in batches: predictions, each filter's
   maximum activation; the activations are kept in memory when they fit
   ``cache_bytes``, otherwise a second pass recomputes them for stage 5.
4. ``classification``: AUROC / auPR per class and macro.
5. ``ppm``: NMI or KE PPMs, streamed over batches, then IC clipping.
6. ``tomtom``: informative filters vs JASPAR CORE vertebrates (MEME-faithful).
7. ``recovery``: match-JASPAR, match-ground-truth, coverage, per-TF counts.
8. ``attribution``: ISM on the first ``ism_sequences`` positive sequences.
9. ``logos``: filter and ground-truth logo grids.

Artifacts beside the record (``<stem>`` = the record's file name without
``.json``): ``<stem>.filters.png``, ``<stem>.ground_truth.png``,
``<stem>.filters.meme`` (exactly what Tomtom compared: run MEME's ``tomtom`` on
it to check us) and ``<stem>.tomtom.tsv``.
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from benchmark.datasets import N_CLASSES
from benchmark.errors import DatasetError, MotifbenchError
from evaluator import EVALUATOR_VERSION
from evaluator.model_source import BASELINE_CHECKPOINT, ModelSource, onnx_source
from evaluator.onnx_model import ModelError, OnnxModel
from evaluator.params import EvalParams
from evaluator.ppm import single_threaded_blas
from evaluator.record import SCHEMA_VERSION, to_jsonable, utc_now, validate_record, write_record

log = logging.getLogger(__name__)

#: Activations are kept in memory for the PPM stage up to this many bytes (else recomputed).
DEFAULT_CACHE_BYTES = 1 << 30


class EvaluationError(MotifbenchError):
    """The inputs are individually valid but cannot be evaluated together (e.g. label width)."""


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        log.debug("stage %s ...", name)
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 4)


def _progress(iterable, total: int, desc: str, enabled: bool):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit="batch", leave=False)


def evaluate(model: str | Path, data: str | Path | None = None, config: str = "synthetic", split: str = "test",
             out_dir: str | Path | None = None, params: EvalParams | None = None, tap: str | None = None,
             output_kind: str | None = None, progress: bool = True, *, revision: str | None = None,
             record_name: str = "result.json", model_name: str | None = None, logo_engine: str = "fast",
             threads: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
             logits_output: str | None = None, source: ModelSource | None = None) -> dict:
    """Evaluate one model on one dataset split and return the result record.

    Parameters
    ----------
    model: an ``.onnx`` file.
    data: dataset repo folder or Hub id; None = the data home's default dataset.
    config, split, revision: which split (``revision`` pins a Hub tag or commit).
    out_dir: where the record (``record_name``) and its artifacts are written; None = not written.
    params: every number-changing setting (:class:`EvalParams`; defaults = the papers').
    tap: declared first-layer tensor name (else found, see :func:`evaluator.onnx_model.find_tap`).
    output_kind: ``"probabilities"`` or ``"logits"`` if declared (else guessed from the graph).
    progress: tqdm bars on stderr.
    logits_output: name of a ``[batch, 12]`` logits tensor used by ISM only (default: the one named by
        the ONNX metadata key ``motifbench.logits_output``, else ISM uses the prediction output).
    model_name: name for the record (default: file stem / spec name).
    logo_engine: ``"fast"`` or ``"logomaker"`` (same picture, see :mod:`evaluator.logos`).
    threads: ONNX Runtime intra-op threads (default: all CPUs this process may use).
    cache_bytes: keep activations in memory up to this size, else recompute them.
    source: provenance when ``model`` was converted from something else (a baseline checkpoint,
        see :mod:`motifbench.checkpoints`); default: the ONNX file itself.
    """
    from benchmark.loader import load_split

    params = params or EvalParams()
    timer = _Timer()
    with timer.stage("load_data"):
        arrays = load_split(data, config=config, split=split, revision=revision, limit=params.limit)
    return evaluate_arrays(model, arrays, out_dir=out_dir, params=params, tap=tap, output_kind=output_kind,
                           progress=progress, record_name=record_name, model_name=model_name,
                           logo_engine=logo_engine, threads=threads, cache_bytes=cache_bytes, timer=timer,
                           logits_output=logits_output, source=source)


def evaluate_arrays(model: str | Path, arrays, out_dir: str | Path | None = None, params: EvalParams | None = None,
                    tap: str | None = None, output_kind: str | None = None, progress: bool = True, *,
                    record_name: str = "result.json", model_name: str | None = None, logo_engine: str = "fast",
                    threads: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
                    timer: _Timer | None = None, logits_output: str | None = None,
                    source: ModelSource | None = None) -> dict:
    """:func:`evaluate` on a split already in memory (an object with the loader's ``SplitArrays`` fields)."""
    params = params or EvalParams()
    timer = timer or _Timer()
    start_total = time.perf_counter() - sum(timer.seconds.values())
    x, y, mask = _check_arrays(arrays, params.limit)
    n, _, length = x.shape
    out_dir = Path(out_dir) if out_dir is not None else None
    stem = record_name[:-5] if record_name.endswith(".json") else record_name

    with timer.stage("load_model"):
        source = source or onnx_source(model)
        onnx_model = OnnxModel(source.onnx_path, length, tap=tap, output_kind=output_kind, threads=threads,
                               logits_output=logits_output)
    info = onnx_model.info

    with timer.stage("inference"):
        outputs, maxima, cached, nonfinite = _inference_pass(onnx_model, x, params, cache_bytes, progress)
    probabilities = onnx_model.to_probabilities(outputs)

    with timer.stage("classification"):
        classification = _classification_section(y, probabilities)

    with timer.stage("ppm"), single_threaded_blas():
        ppms, clipped, window, offset = _ppm_stage(onnx_model, x, maxima, cached, params, progress)
    del cached

    with timer.stage("tomtom"):
        hits, tested_ids, filter_ids, target_names, n_targets = _tomtom_stage(clipped, params, out_dir, stem)

    with timer.stage("recovery"):
        recovery = _recovery_section(hits, filter_ids, tested_ids, target_names, ppms, clipped)

    attribution = None
    if params.attribution and params.ism_sequences > 0:
        with timer.stage("attribution"):
            attribution = _attribution_section(onnx_model, arrays, x, y, mask, probabilities, params)

    artifacts: dict[str, str] = {}
    if out_dir is not None:
        with timer.stage("logos"):
            artifacts = _logos_stage(ppms, clipped, recovery, out_dir, stem, logo_engine)
        if source.kind == BASELINE_CHECKPOINT:
            artifacts["onnx"] = _keep_beside(Path(source.onnx_path), out_dir)
        artifacts["filters_meme"] = f"{stem}.filters.meme"
        artifacts["tomtom_tsv"] = f"{stem}.tomtom.tsv"
        artifacts["record"] = record_name

    timer.seconds["total"] = round(time.perf_counter() - start_total, 4)
    record = _assemble(source, info, arrays, n, length, params, window, offset, nonfinite, classification,
                       recovery, attribution, timer.seconds, artifacts, n_targets, model_name, onnx_model)
    if out_dir is not None:
        write_record(record, out_dir / record_name)
    else:
        validate_record(record)
    return record


# ----------------------------------------------------------------------------- stages


def _check_arrays(arrays, limit: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _inference_pass(model: OnnxModel, x: np.ndarray, params: EvalParams, cache_bytes: int, progress: bool):
    n = x.shape[0]
    info = model.info
    keep = n * info.n_filters * info.tap_length * 4 <= cache_bytes
    outputs = np.empty((n, N_CLASSES), np.float32)
    maxima = np.full(info.n_filters, -np.inf)
    cached = np.empty((n, info.n_filters, info.tap_length), np.float32) if keep else None
    nonfinite = 0
    total = -(-n // (model.fixed_batch or params.batch_size))
    for start, out, acts in _progress(model.batches(x, params.batch_size), total, "inference", progress):
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


def _classification_section(y: np.ndarray, probabilities: np.ndarray) -> dict:
    from benchmark.motifs import load_motif_set
    from evaluator.classification import classification_scores

    scores = classification_scores(y, probabilities)
    names = load_motif_set().names
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


def _ppm_stage(model: OnnxModel, x: np.ndarray, maxima: np.ndarray, cached, params: EvalParams, progress: bool):
    from evaluator.ppm import PPMAccumulator, clip_ppm

    info = model.info
    if params.ppm_method == "nmi":
        window = params.nmi_window
    else:
        window = params.ke_window or info.filter_width  # ke_window None = the kernel width
        if not window:
            raise ModelError("ke_window=None asks for the first conv's kernel width, which could not be read from "
                             "the graph; give --ke-window")
    acc = PPMAccumulator(params.ppm_method, maxima, window, x.shape[2], info.tap_length, params.activation_threshold)
    step = params.batch_size
    if cached is not None:
        for start in range(0, x.shape[0], step):
            acc.update(x[start:start + step], cached[start:start + step])
    else:
        total = -(-x.shape[0] // (model.fixed_batch or step))
        for start, _, acts in _progress(model.batches(x, step), total, "activations", progress):
            acts = np.nan_to_num(acts, nan=0.0, posinf=np.finfo(np.float32).max, neginf=np.finfo(np.float32).min)
            acc.update(x[start:start + acts.shape[0]], acts)
    ppms = acc.result()
    clipped = [clip_ppm(p, params.ic_threshold, params.ic_pad, params.ic_eps) for p in ppms.ppms]
    return ppms, clipped, window, ppms.offset


def _tomtom_stage(clipped, params: EvalParams, out_dir: Path | None, stem: str):
    from benchmark.jaspar import core_vertebrates
    from evaluator.meme_io import MemeMotif, read_meme, write_meme
    from evaluator.tomtom import format_tsv, jaspar_targets, tomtom

    filter_ids = [f"filter{i}" for i in range(len(clipped))]
    queries = [MemeMotif(fid, "", c.ppm, c.ppm.shape[0]) for fid, c in zip(filter_ids, clipped) if c.ppm is not None]
    meme_path = out_dir / f"{stem}.filters.meme" if out_dir is not None else None
    if meme_path is not None:
        meme_path.parent.mkdir(parents=True, exist_ok=True)
    # Tomtom reads back what the file holds (6 decimals) so our numbers are what MEME would compute on it.
    text = write_meme(queries, meme_path) if queries else ""
    queries = read_meme(text) if queries else []
    targets = jaspar_targets(params.jaspar_release)
    target_names = {m.matrix_id: m.name for m in core_vertebrates(params.jaspar_release)}
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


def _recovery_section(hits, filter_ids, tested_ids, target_names, ppms, clipped) -> dict:
    from benchmark.motifs import load_motif_set
    from evaluator.recovery import motif_recovery

    recovery = motif_recovery(hits, filter_ids, tested_ids, load_motif_set(), target_names)
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


def _attribution_section(model: OnnxModel, arrays, x, y, mask, probabilities, params: EvalParams) -> dict | None:
    from evaluator.attribution import choose_classes, ism_delta, position_scores, score_against_mask, select_sequences

    idx = select_sequences(y, mask, params.ism_sequences)
    if idx.size == 0:
        log.warning("no positive sequence with a recorded motif instance: attribution skipped")
        return None
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
    }


def _keep_beside(onnx_path: Path, out_dir: Path) -> str:
    """The converted ONNX file's name in ``out_dir``, copied there if it was made elsewhere."""
    target = out_dir / onnx_path.name
    if onnx_path.resolve() != target.resolve():
        import shutil

        shutil.copyfile(onnx_path, target)
    return target.name


def _logos_stage(ppms, clipped, recovery, out_dir: Path, stem: str, engine: str) -> dict[str, str]:
    from benchmark.motifs import load_motif_set
    from evaluator.logos import filter_logos, ground_truth_logos

    shown = [c.ppm if c.ppm is not None else full for c, full in zip(clipped, ppms.ppms)]
    filter_logos(shown, recovery, out_dir / f"{stem}.filters.png", engine=engine)
    ground_truth_logos(load_motif_set(), out_dir / f"{stem}.ground_truth.png", engine=engine)
    return {"filter_logos": f"{stem}.filters.png", "ground_truth_logos": f"{stem}.ground_truth.png"}


def _assemble(source: ModelSource, info, arrays, n: int, length: int, params: EvalParams, window: int, offset: int,
              nonfinite: int, classification: dict, recovery: dict, attribution: dict | None, timings: dict,
              artifacts: dict, n_targets: int, model_name: str | None, onnx_model: OnnxModel) -> dict:
    import onnxruntime

    from benchmark.jaspar import core_vertebrates_sha256
    from benchmark.versions import motifbench_version
    from evaluator.tomtom import TOMTOM_METHOD

    ds = arrays.info
    ds_dict = ds.as_dict() if hasattr(ds, "as_dict") else dict(vars(ds))
    tomtom_method = dict(TOMTOM_METHOD)
    tomtom_method.update(dist=params.tomtom_dist, thresh=params.tomtom_thresh, evalue=params.tomtom_evalue,
                         min_overlap=params.tomtom_min_overlap, motif_pseudo=params.tomtom_motif_pseudo,
                         n_targets=n_targets)
    record = {
        "schema_version": SCHEMA_VERSION,
        "created": utc_now(),
        "evaluator_version": EVALUATOR_VERSION,
        "motifbench_version": motifbench_version(),
        "model": {
            "name": model_name or source.name,
            "given_path": source.given_path,
            "kind": source.kind,
            "onnx_sha256": info.sha256,
            "checkpoint_sha256": source.checkpoint_sha256,
            "framework": source.framework or (info.producer.split()[0] if info.producer else None),
            "producer": info.producer,
            "opset": info.opset,
            "input_name": info.input_name,
            "output_name": info.output_name,
            "output_kind": info.output_kind,
            "output_kind_source": info.output_kind_source,
            "tap_name": info.tap_name,
            "tap_source": info.tap_source,
            "tap_path": info.tap_path,
            "tap_axes": info.tap_axes,
            "tap_has_activation": info.tap_has_activation,
            "tap_notes": info.tap_notes,
            "logits_output": info.logits_output,
            "logits_output_source": info.logits_output_source,
            "n_filters": info.n_filters,
            "filter_width": info.filter_width,
            "input_length": info.input_length,
            "tap_length": info.tap_length,
            "spec": source.spec,
        },
        "dataset": {
            "source": str(ds_dict.get("source")),
            "config": str(ds_dict.get("config")),
            "split": str(ds_dict.get("split")),
            "version": ds_dict.get("version"),
            "revision": ds_dict.get("revision"),
            "files_sha256": dict(ds_dict.get("files_sha256") or {}),
            "content_sha256": ds_dict.get("content_sha256"),
            "ground_truth": bool(ds_dict.get("ground_truth", True)),
            "n_sequences": int(n),
            "sequence_length": int(length),
        },
        "jaspar": {
            "release": params.jaspar_release,
            "collection": "CORE vertebrates (latest version of each matrix)",
            "n_matrices": n_targets,
            "sha256": core_vertebrates_sha256(params.jaspar_release),
        },
        "parameters": {
            "eval": params.as_dict(),
            "tomtom_method": tomtom_method,
            "derived": {"ppm_window": int(window), "tap_offset": int(offset), "tap_nonfinite_values": int(nonfinite)},
        },
        "results": {"classification": classification, "motif_recovery": recovery, "attribution": attribution},
        "timings_seconds": timings,
        "artifacts": artifacts,
        "environment": {"onnxruntime": onnxruntime.__version__, "providers": info.extra.get("providers"),
                        "threads": info.extra.get("threads")},
    }
    return to_jsonable(record)
