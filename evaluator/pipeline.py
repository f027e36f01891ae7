"""The one door every model goes through: ONNX file + dataset split -> :class:`EvaluationResult`.

Stages, each timed in the record:

1. ``load_data``: the split's one-hot arrays, labels and ground-truth mask (``benchmark.loader``).
2. ``load_model``: ONNX Runtime session, tap found, shape probe (checkpoints are exported
   to ONNX by the caller, see :mod:`motifbench.checkpoints`).
3. ``inference``: one pass over the split in batches: predictions, each filter's
   maximum activation; the activations are kept in memory when they fit
   ``cache_bytes``, otherwise a second pass recomputes them for stage 5.
4. ``classification``: AUROC / auPR per class and macro.
5. ``ppm``: NMI or KE PPMs, streamed over batches, then IC clipping.
6. ``tomtom``: informative filters vs JASPAR CORE vertebrates (MEME-faithful).
7. ``recovery``: match-JASPAR, match-ground-truth, coverage, per-TF counts.
8. ``attribution``: ISM on the first ``ism_sequences`` positive sequences.
9. ``gradient_attribution``: the class-specific attribution benchmark, randomisation check and
   (opt-in) motif discovery (:mod:`evaluator.attribution_stage`), for every model.
10. ``uncertainty``: bootstrap intervals of every headline number (:mod:`evaluator.intervals`; off with
    ``intervals=None``); the classification bootstrap runs in a thread from stage 4 on, the motif-recovery
    bootstrap in another from stage 7 on, beside 8, 9 and 11.
11. ``logos``: filter and ground-truth logo grids.

A model without a findable first-layer tap skips stages 5-7 and the filter logos: its
``motif_recovery`` is None (n/a), everything else is scored.

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

from evaluator import EVALUATOR_VERSION
from evaluator.model_source import BASELINE_CHECKPOINT, ModelSource, onnx_source
from evaluator.onnx_model import OnnxModel
from evaluator.params import EvalParams
from evaluator.preload import evaluation_modules, preload
from evaluator.ppm import single_threaded_blas
from evaluator.record import SCHEMA_VERSION, to_jsonable, utc_now, validate_record, write_record
from evaluator.reference import ReferenceBundle, load_reference
from evaluator.result import EvaluationResult
from evaluator.uncertainty import BootstrapSettings
from evaluator.stages import (
    EvaluationError,
    attribution_section,
    check_arrays,
    classification_section,
    inference_pass,
    keep_beside,
    ppm_stage,
    start_logos,
    recovery_section,
    tomtom_stage,
)

__all__ = ["DEFAULT_CACHE_BYTES", "EvaluationError", "evaluate", "evaluate_arrays"]

log = logging.getLogger(__name__)

#: Activations are kept in memory for the PPM stage up to this many bytes (else recomputed).
DEFAULT_CACHE_BYTES = 1 << 30
#: Intervals are on by default: every number a user cites carries one.
DEFAULT_INTERVALS = BootstrapSettings()


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


def evaluate(model: str | Path, *, data: str | Path | None = None, config: str = "synthetic", split: str = "test",
             revision: str | None = None, out_dir: str | Path | None = None, params: EvalParams | None = None,
             tap: str | None = None, output_kind: str | None = None, logits_output: str | None = None,
             progress: bool = True, record_name: str = "result.json", model_name: str | None = None,
             logo_engine: str = "fast", threads: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
             source: ModelSource | None = None, reference: ReferenceBundle | None = None,
             intervals: BootstrapSettings | None = DEFAULT_INTERVALS, round_info: dict | None = None) -> EvaluationResult:
    """Evaluate one ONNX model on one dataset split.

    Parameters
    ----------
    model : path
        An ``.onnx`` file: input float32 ``[batch, 4, L]`` (A,C,G,T), output ``[batch, 12]``.
    data : path or str, optional
        Dataset repo folder or Hub id; None = the data home's default dataset.
    config, split, revision : str
        Which split (``revision`` pins a Hub tag or commit).
    out_dir : path, optional
        Where the record (``record_name``) and its artifacts are written; None = nothing written.
    params : EvalParams, optional
        Every number-changing setting (defaults = the papers').
    tap : str, optional
        Declared first-layer tensor name (else found, see :func:`evaluator.onnx_tap.find_tap`).
    output_kind : {"probabilities", "logits"}, optional
        What the prediction output holds (else the metadata, else guessed from the graph).
    logits_output : str, optional
        A ``[batch, 12]`` logits tensor for ISM only (default: the one named by the ONNX metadata
        key ``motifbench.logits_output``, else ISM uses the prediction output).
    progress : bool
        tqdm bars on stderr.
    model_name : str, optional
        Name for the record (default: the file stem, or the checkpoint's spec name).
    logo_engine : {"fast", "logomaker"}
        Same picture, see :mod:`evaluator.logos`.
    threads : int, optional
        ONNX Runtime intra-op threads (default: all CPUs this process may use).
    cache_bytes : int
        Keep activations in memory up to this size, else recompute them.
    source : ModelSource, optional
        Provenance when ``model`` was converted from something else (a baseline checkpoint, see
        :mod:`motifbench.checkpoints`); default: the ONNX file itself.
    reference : ReferenceBundle, optional
        Motif set and JASPAR targets (default: :func:`evaluator.reference.load_reference` of
        ``params.jaspar_release``).
    intervals : BootstrapSettings, optional
        Bootstrap settings of the record's ``results.uncertainty`` (None = no intervals; docs/rounds.md).
    round_info : dict, optional
        ``{"id", "commitment"}`` of the hidden-test round the split belongs to (recorded as ``round``).

    Returns
    -------
    EvaluationResult
        ``.to_record()`` is the result record (also written to ``out_dir``); ``.summary()`` the CLI table.
    """
    from benchmark.loader import load_split

    params = params or EvalParams()
    timer = _Timer()
    with timer.stage("load_data"):
        arrays = load_split(data, config=config, split=split, revision=revision, limit=params.limit)
    return evaluate_arrays(model, arrays, out_dir=out_dir, params=params, tap=tap, output_kind=output_kind,
                           progress=progress, record_name=record_name, model_name=model_name,
                           logo_engine=logo_engine, threads=threads, cache_bytes=cache_bytes, timer=timer,
                           logits_output=logits_output, source=source, reference=reference, intervals=intervals,
                           round_info=round_info)


def evaluate_arrays(model: str | Path, arrays, *, out_dir: str | Path | None = None, params: EvalParams | None = None,
                    tap: str | None = None, output_kind: str | None = None, logits_output: str | None = None,
                    progress: bool = True, record_name: str = "result.json", model_name: str | None = None,
                    logo_engine: str = "fast", threads: int | None = None, cache_bytes: int = DEFAULT_CACHE_BYTES,
                    timer: _Timer | None = None, source: ModelSource | None = None,
                    reference: ReferenceBundle | None = None, intervals: BootstrapSettings | None = DEFAULT_INTERVALS,
                    round_info: dict | None = None) -> EvaluationResult:
    """:func:`evaluate` on a split already in memory.

    ``arrays`` has the loader's ``SplitArrays`` fields: ``x : ndarray, shape (N, 4, L)``,
    ``y : ndarray, shape (N, 12)``, ``mask : ndarray, shape (N, L)``, ``ids`` and ``info``.
    """
    params = params or EvalParams()
    if intervals is not None and params.bootstrap_resamples != intervals.resamples:
        from dataclasses import replace

        # one resample count for every interval of the record: the attribution benchmark's too (recorded as used)
        params = replace(params, bootstrap_resamples=intervals.resamples)
    timer = timer or _Timer()
    reference = reference or load_reference(params.jaspar_release)
    if reference.release != params.jaspar_release:
        raise EvaluationError(f"the reference bundle is JASPAR {reference.release} but params.jaspar_release is "
                              f"{params.jaspar_release}")
    start_total = time.perf_counter() - sum(timer.seconds.values())
    x, y, mask = check_arrays(arrays, params.limit)
    n, _, length = x.shape
    out_dir = Path(out_dir) if out_dir is not None else None
    stem = record_name[:-5] if record_name.endswith(".json") else record_name

    with timer.stage("load_model"):
        source = source or onnx_source(model)
        onnx_model = OnnxModel(source.onnx_path, length, tap=tap, output_kind=output_kind, threads=threads,
                               logits_output=logits_output)
    info = onnx_model.info
    # torch and matplotlib import in a thread from here on, beside inference, PPMs, Tomtom and ISM (native code
    # that frees the GIL), not beside the Python-heavy loading above, which they would only slow down
    preload(evaluation_modules(params.attribution and params.gradient_attribution, out_dir is not None))

    has_tap = info.tap_name is not None
    with timer.stage("inference"):
        if has_tap:
            outputs, maxima, cached, nonfinite = inference_pass(onnx_model, x, params, cache_bytes, progress)
        else:  # no first-layer tap: predictions only; first-layer recovery is n/a (never zero)
            outputs, nonfinite = onnx_model.predict(x, params.batch_size), 0
    probabilities = onnx_model.to_probabilities(outputs)

    classification_job = None
    if intervals is not None:  # the classification bootstrap runs beside every later stage
        from evaluator.intervals import start_classification_intervals

        classification_job = start_classification_intervals(y, probabilities, intervals)

    with timer.stage("classification"):
        classification = classification_section(y, probabilities, reference)

    recovery, window, offset, accumulator = None, None, None, None
    if has_tap:
        with timer.stage("ppm"), single_threaded_blas():
            ppms, clipped, window, offset, accumulator = ppm_stage(onnx_model, x, maxima, cached, params, progress,
                                                                   per_sequence=intervals is not None)
        del cached

        with timer.stage("tomtom"):
            hits, tested_ids, filter_ids, target_names, _ = tomtom_stage(clipped, params, out_dir, stem, reference)

        with timer.stage("recovery"):
            recovery = recovery_section(hits, filter_ids, tested_ids, target_names, ppms, clipped, reference)

    logo_job = None
    if out_dir is not None and has_tap:  # drawn in a thread beside attribution (ONNX Runtime / torch free the GIL)
        logo_job = start_logos(ppms, clipped, recovery, out_dir, stem, logo_engine, reference)

    recovery_job = None
    if intervals is not None and accumulator is not None:  # the recovery bootstrap runs beside attribution and logos
        from evaluator.intervals import start_recovery_intervals

        recovery_job = start_recovery_intervals(accumulator, params, intervals)
    del accumulator

    attribution = attribution_scores = None
    if params.attribution and params.ism_sequences > 0:
        with timer.stage("attribution"):
            attribution, attribution_scores = attribution_section(onnx_model, arrays, x, y, mask, probabilities,
                                                                  params)

    stage = _gradient_stage(onnx_model, source, arrays, x, y, params, out_dir, stem, logo_engine, timer)

    uncertainty = None
    if intervals is not None:  # classification and attribution intervals, then the recovery bootstrap's result
        # (the main thread helps with its last Tomtom blocks before it waits for the pictures)
        from evaluator.intervals import uncertainty_section

        with timer.stage("uncertainty"), single_threaded_blas():
            uncertainty = uncertainty_section(y, probabilities, attribution_scores, recovery_job, intervals,
                                              timer.seconds, classification=classification_job)

    artifacts: dict[str, str] = dict(stage.artifacts) if stage is not None else {}
    if out_dir is not None:
        if logo_job is not None or (stage is not None and stage.pictures):
            with timer.stage("logos_wait"):  # what the main thread still waits for; "logos" is the drawing's own time
                names, seconds = logo_job.result() if logo_job is not None else ({}, 0.0)
                seconds += stage.wait_pictures() if stage is not None else 0.0
            artifacts.update(names)
            timer.seconds["logos"] = round(seconds, 4)
        if has_tap:
            artifacts["filters_meme"] = f"{stem}.filters.meme"
            artifacts["tomtom_tsv"] = f"{stem}.tomtom.tsv"
        if source.kind == BASELINE_CHECKPOINT:
            artifacts["onnx"] = keep_beside(Path(source.onnx_path), out_dir)
        artifacts["record"] = record_name

    with timer.stage("record"):
        record = _assemble(source, info, arrays, n, length, params, window, offset, nonfinite, classification,
                       recovery, attribution, timer.seconds, artifacts, reference, model_name,
                           uncertainty=uncertainty, round_info=round_info)
        if stage is not None:
            record["results"]["gradient_attribution"] = to_jsonable(stage.gradient_attribution)
            record["results"]["discovery"] = to_jsonable(stage.discovery)
    timer.seconds["total"] = round(time.perf_counter() - start_total, 4)  # checking and writing it come after
    record["timings_seconds"] = dict(timer.seconds)
    if out_dir is not None:
        write_record(record, out_dir / record_name)
    else:
        validate_record(record)
    return EvaluationResult.from_record(record)


def _gradient_stage(onnx_model: OnnxModel, source: ModelSource, arrays, x, y, params: EvalParams, out_dir, stem: str,
                    logo_engine: str, timer: _Timer):
    """Class-specific gradient attribution, randomisation check and discovery (:mod:`evaluator.attribution_stage`)."""
    if not (params.attribution and params.gradient_attribution):
        return None
    from evaluator.attribution import ism_delta
    from evaluator.attribution_stage import run_stage

    info = onnx_model.info
    with timer.stage("gradient_attribution"):
        stage = run_stage(source.onnx_path, arrays, x, y, params, output_name=info.output_name,
                          output_kind=info.output_kind, logits_output=info.logits_output,
                          ism_fn=lambda xs, ks: ism_delta(onnx_model, xs, ks, params.ism_batch_mutants,
                                                          params.ism_logit_eps),
                          out_dir=out_dir, stem=stem, logo_engine=logo_engine)
    for name, seconds in stage.timings.items():
        timer.seconds[f"attribution_{name}"] = seconds
    return stage


def _assemble(source: ModelSource, info, arrays, n: int, length: int, params: EvalParams, window: int, offset: int,
              nonfinite: int, classification: dict, recovery: dict, attribution: dict | None, timings: dict,
              artifacts: dict, reference: ReferenceBundle, model_name: str | None, *,
              uncertainty: dict | None = None, round_info: dict | None = None) -> dict:
    import onnxruntime

    from benchmark.versions import motifbench_version
    from evaluator.tomtom import TOMTOM_METHOD

    ds = arrays.info
    ds_dict = ds.as_dict() if hasattr(ds, "as_dict") else dict(vars(ds))
    tomtom_method = dict(TOMTOM_METHOD)
    tomtom_method.update(dist=params.tomtom_dist, thresh=params.tomtom_thresh, evalue=params.tomtom_evalue,
                         min_overlap=params.tomtom_min_overlap, motif_pseudo=params.tomtom_motif_pseudo,
                         n_targets=reference.n_targets)
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
            "tap_missing": info.tap_missing,
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
            "n_matrices": reference.n_targets,
            "sha256": reference.sha256,
        },
        "parameters": {
            "eval": params.as_dict(),
            "tomtom_method": tomtom_method,
            "derived": {"ppm_window": None if window is None else int(window),
                        "tap_offset": None if offset is None else int(offset), "tap_nonfinite_values": int(nonfinite)},
        },
        "results": {"classification": classification, "motif_recovery": recovery, "attribution": attribution,
                    **({"uncertainty": uncertainty} if uncertainty is not None else {})},
        "timings_seconds": timings,
        "artifacts": artifacts,
        "environment": {"onnxruntime": onnxruntime.__version__, "providers": info.extra.get("providers"),
                        "threads": info.extra.get("threads")},
    }
    if round_info is not None:
        record["round"] = {"id": round_info.get("id"), "commitment": round_info["commitment"]}
    return to_jsonable(record)
