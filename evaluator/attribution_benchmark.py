"""The attribution benchmark stage: class-specific scores per method, the randomisation check, discovery.

One function, :func:`attribution_benchmark`, used by :mod:`evaluator.evaluate`
for every model (with or without a first-layer tap). It

1. draws one explained class per positive sequence (model-independent, seeded) and keeps the
   first ``attribution_sequences`` sequences with an instance of it (split order);
2. converts the ONNX model to PyTorch and checks it against ONNX Runtime
   (:mod:`evaluator.onnx_to_torch`); on failure records the reason and falls back to ISM;
3. computes each method's maps (:mod:`evaluator.attribution_methods`) and scores them
   (:mod:`evaluator.attribution_score`) with bootstrap CIs;
4. runs the cascading randomisation check (:mod:`evaluator.randomisation`);
5. runs TF-MoDISco on the corrected-saliency hypothetical contributions (ISM's centred deltas in the
   fallback) and scores its patterns with Tomtom (:mod:`evaluator.discovery`).

Memory: maps are ``S x 4 x L`` float32 per method (500 x 4 x 1000 x 4 B = 8 MB for 1,000-nt
DeepSEA inputs); the torch passes run ``batch`` sequences at a time (IG: one step at a time), so the
autograd graph holds one batch of activations.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from evaluator.attribution_methods import (FAST_METHODS, SLOW_METHODS, MethodSpec, compute_maps, correct,
                                           expand_methods, family, position_scores)
from evaluator.attribution_score import (METRICS, choose_explained_classes, class_masks, informative_columns,
                                         summarise)

log = logging.getLogger(__name__)

#: The map TF-MoDISco reads (Majdandzic-corrected gradients, REFERENCE.md section 9).
DISCOVERY_MAP = "saliency_corrected"
#: Methods re-run by the randomisation check (cheap ones).
RANDOMISATION_METHODS = ("saliency", "grad_x_input_corrected")
N_EXAMPLES = 4


@contextmanager
def torch_single_thread():
    """Torch on one intra-op thread for the attribution passes, restored afterwards.

    Measured on the shared 2-core machine: a CNN-25 backward pass over 64 sequences took 26 ms on one
    thread and 230 ms on two (contention); one thread also keeps the float sums' order fixed.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class AttributionOutcome:
    """The record section, the discovery section, and what the plots need."""

    section: dict
    discovery: dict | None
    timings: dict[str, float]
    examples: dict = field(default_factory=dict)


def select(y: np.ndarray, motifs: list, names: list[str], n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (split order) and explained classes of the first ``n`` sequences that have one."""
    classes = choose_explained_classes(y, motifs, names, seed)
    idx = np.flatnonzero(classes >= 0)[:n]
    return idx, classes[idx]


def attribution_benchmark(*args, **kwargs) -> AttributionOutcome:
    """:func:`run_attribution_benchmark` with torch on one thread (see :func:`torch_single_thread`)."""
    with torch_single_thread():
        return run_attribution_benchmark(*args, **kwargs)


def run_attribution_benchmark(model_path, x: np.ndarray, y: np.ndarray, motifs: list, ids: list, params, *,
                          output_name: str | None, output_kind: str, logits_output: str | None,
                          ism_fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None) -> AttributionOutcome:
    """Run the whole stage on a split.

    Parameters
    ----------
    model_path : the ONNX file. x : ndarray, shape (N, 4, L) one-hot. y : ndarray, shape (N, 12).
    motifs : per-row motif records. ids : row IDs. params : :class:`evaluator.params.EvalParams`.
    output_name, output_kind, logits_output : as resolved for ONNX Runtime (the converter differentiates the
        same logits ISM uses).
    ism_fn : ``(x (S,4,L), classes (S,)) -> delta (S,4,L)`` ISM deltas (:func:`evaluator.attribution.ism_delta`);
        used for the fallback and, with ``slow_attribution``, as one more method.
    """
    from benchmark.motifs import load_motif_set
    from evaluator.onnx_to_torch import ConversionError, convert_model

    timings: dict[str, float] = {}
    names = load_motif_set().names
    idx, classes = select(y, motifs, names, params.attribution_sequences, params.attribution_seed)
    section: dict = {"n_sequences_requested": params.attribution_sequences, "n_sequences": int(idx.size),
                     "class_choice": ("per sequence, one positive class with a recorded instance, drawn with "
                                      f"numpy default_rng({params.attribution_seed}) (model-independent)"),
                     "ground_truth": ("own = instance positions of the explained class's TF with generating-PWM "
                                      "information > 0.01 bits; distractors = other TFs' instances; "
                                      "background = the rest"),
                     "metrics": list(METRICS), "bootstrap": {"resamples": params.bootstrap_resamples,
                                                             "level": 0.95, "seed": params.attribution_seed}}
    if idx.size == 0:
        section.update(status="skipped", reason="no positive sequence with a recorded instance of its class")
        return AttributionOutcome(section, None, timings)
    xs = np.ascontiguousarray(x[idx], np.float32)
    masks = class_masks([motifs[i] for i in idx], classes, xs, names, informative_columns())
    section["sequence_ids"] = [str(ids[i]) for i in idx]
    section["explained_classes"] = [names[k] for k in classes]

    families = FAST_METHODS + (SLOW_METHODS if params.slow_attribution else ())
    methods = expand_methods(families)
    spec = MethodSpec(ig_steps=params.ig_steps, shap_shuffles=params.shap_shuffles, shap_seed=params.attribution_seed)
    convert_kwargs = {"output_name": output_name, "logits_output": logits_output, "output_kind": output_kind,
                      "probe": xs[:16]}
    t0 = time.perf_counter()
    converted, reason = None, None
    try:
        converted = convert_model(model_path, xs.shape[2], **convert_kwargs)
    except ConversionError as exc:
        reason = str(exc)
        log.warning("gradient attribution unavailable, falling back to ISM: %s", reason)
    timings["conversion"] = round(time.perf_counter() - t0, 4)

    maps: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    errors: dict[str, str] = {}
    per_method_seconds: dict[str, float] = {}
    if converted is not None:
        maps, notes, errors, per_method_seconds = _gradient_maps(converted.module, xs, classes, families, spec)
        if not maps:  # every gradient method failed: nothing from the converter is trusted, ISM is scored instead
            reason = "gradient pass failed: " + "; ".join(f"{k}: {v}" for k, v in errors.items())
            log.warning("gradient attribution unavailable, falling back to ISM: %s", reason)
            section["conversion"] = {**converted.as_dict(), "error": reason}
            converted = None
        else:
            section["status"] = "gradients"
            section["conversion"] = converted.as_dict()
    else:
        section["conversion"] = {"error": reason}
    if converted is None:
        section["status"] = "ism-fallback"
        errors = {}
    if errors:
        section["method_errors"] = errors
    n_ism = 0
    # class-specific ISM: every selected sequence in the fallback (the only map there), else the first
    # ism_sequences of them with slow_attribution
    want = xs.shape[0] if converted is None else (min(xs.shape[0], params.ism_sequences)
                                                   if params.slow_attribution else 0)
    if ism_fn is not None and want > 0:
        t = time.perf_counter()
        n_ism = want
        delta = np.asarray(ism_fn(xs[:n_ism], classes[:n_ism]), np.float32)
        # centred deltas are ISM's hypothetical contributions: sum_c x (delta - mean_c delta) = -mean_c delta
        maps["ism"] = correct(delta)
        notes["ism"] = f"scored on the first {n_ism} sequences"
        per_method_seconds["ism"] = round(time.perf_counter() - t, 4)
    section["methods"] = {}
    section["parameters"] = spec.as_dict()
    for m, a in maps.items():
        n_use = n_ism if m == "ism" else xs.shape[0]
        scores = position_scores(m, a[:n_use], xs[:n_use])
        sub = _sub_masks(masks, n_use)
        section["methods"][m] = {"family": family(m), "corrected": m.endswith("_corrected") or m == "ism",
                                 **summarise(scores, sub, params.bootstrap_resamples, params.attribution_seed)}
    section["notes"] = notes
    for name, seconds in per_method_seconds.items():  # timings, not results: results must be deterministic
        timings[f"method_{name}"] = seconds

    if converted is not None and params.randomisation_sequences > 0:
        from evaluator.randomisation import cascading_randomisation

        t = time.perf_counter()
        n_r = min(params.randomisation_sequences, xs.shape[0])
        original = {m: section["methods"][m]["auroc"]["mean"] for m in RANDOMISATION_METHODS if m in section["methods"]}
        section["randomisation"] = cascading_randomisation(
            model_path, xs.shape[2], xs[:n_r], classes[:n_r], _sub_masks(masks, n_r), tuple(original),
            convert_kwargs, _subset_means(maps, xs, masks, n_r, tuple(original)), seed=params.attribution_seed)
        timings["randomisation"] = round(time.perf_counter() - t, 4)

    for m, a in maps.items():
        if not np.any(a) and not (m.endswith("_corrected") and family(m) in notes):  # one note per family
            notes[m] = ("zero everywhere (the class logit does not move with the input): scored as a constant map, "
                        "AUROC 0.5, mass fractions undefined")
    discovery = None
    if params.discovery:
        from evaluator.discovery import ModiscoSettings, discover, no_patterns

        source = DISCOVERY_MAP if DISCOVERY_MAP in maps else ("ism" if "ism" in maps else None)
        if source is not None and not np.any(maps[source]):
            discovery = no_patterns(f"the {source} map is zero everywhere: TF-MoDISco has no seqlets to find",
                                    params.jaspar_release)
            discovery["source_map"] = source
        elif source is not None:
            t = time.perf_counter()
            n_d = n_ism if source == "ism" else xs.shape[0]
            hyp, xd = maps[source][:n_d], xs[:n_d]
            settings = ModiscoSettings(n_leiden_runs=params.modisco_leiden_runs)
            discovery = discover(xd, hyp, settings, params.jaspar_release)
            discovery["source_map"] = source
            discovery["settings"] = settings.as_dict()
            timings["discovery"] = round(time.perf_counter() - t, 4)
    examples = _examples(xs, maps, masks, classes, names, section["sequence_ids"])
    return AttributionOutcome(section, discovery, timings, examples)


def _gradient_maps(module, xs, classes, families, spec):
    """Maps of every gradient family (saliency and grad x input share one backward pass), failures recorded.

    Returns (maps, notes, errors, seconds): a family whose computation raises, or whose map holds a non-finite
    value, is left out with the reason in ``errors`` (never a crash, never a NaN score).
    """
    maps: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    errors: dict[str, str] = {}
    seconds: dict[str, float] = {}
    passes = [tuple(f for f in families if f in ("saliency", "grad_x_input"))]
    passes += [(f,) for f in families if f not in passes[0]]
    for group in (p for p in passes if p):
        t = time.perf_counter()
        try:
            got = compute_maps(module, xs, classes, expand_methods(group), spec)
        except Exception as exc:  # noqa: BLE001 - a graph op the method cannot handle; the record says which
            for f in group:
                errors[f] = f"{type(exc).__name__}: {exc}"
            log.warning("attribution method(s) %s failed: %s", "+".join(group), exc)
            continue
        finally:
            seconds["+".join(group)] = round(time.perf_counter() - t, 4)
        for f in group:
            if not all(np.isfinite(got.maps[m]).all() for m in expand_methods((f,))):
                errors[f] = "the map has non-finite values (NaN/inf gradients through the graph): not scored"
                continue
            maps.update({m: got.maps[m] for m in expand_methods((f,))})
            if f in got.notes:
                notes[f] = got.notes[f]
    return maps, notes, errors, seconds


def _sub_masks(masks, n: int):
    from evaluator.attribution_score import ClassMasks

    return ClassMasks(masks.own[:n], masks.distractor[:n], masks.background[:n])


def _subset_means(maps, xs, masks, n: int, methods: tuple[str, ...]) -> dict[str, float]:
    from evaluator.attribution_score import per_sequence_metrics

    out = {}
    for m in methods:
        per = per_sequence_metrics(position_scores(m, maps[m][:n], xs[:n]), _sub_masks(masks, n), ("auroc",))["auroc"]
        out[m] = float(np.nanmean(per)) if np.isfinite(per).any() else None
    return out


def _examples(xs, maps, masks, classes, names, ids) -> dict:
    """A few sequences' actual contributions ``x * A`` summed over bases, with their own/distractor spans."""
    source = next((m for m in ("grad_x_input_corrected", "ism", *maps) if m in maps), None)
    if source is None:
        return {}
    n = min(N_EXAMPLES, xs.shape[0])
    return {"method": source, "ids": list(ids[:n]), "classes": [names[k] for k in classes[:n]],
            "contributions": (maps[source][:n] * xs[:n]).sum(axis=1), "own": masks.own[:n],
            "distractor": masks.distractor[:n]}
