"""Gradient attribution maps for a converted model (:mod:`evaluator.onnx_to_torch`).

Every method returns a **hypothetical map** ``A`` of shape ``(S, 4, L)`` (a
value for every base at every position, what TF-MoDISco needs) and is turned
into one score per position by :func:`position_scores`. For sequence ``x``
(one-hot ``(4, L)``) and the explained class ``k`` with logit ``f_k``:

=========================  ==========================================================  ==========================
method                     map ``A[c, i]``                                             position score ``s_i``
=========================  ==========================================================  ==========================
``saliency``               ``g[c, i] = d f_k / d x[c, i]``                              ``max_c |A[c, i]|``
``grad_x_input``           ``g[c, i]``                                                  ``|sum_c x[c, i] A[c, i]|``
``integrated_gradients``   ``mean_{t} g(t x)[c, i]`` (``t`` = midpoints of ``steps``)   ``|sum_c x[c, i] A[c, i]|``
``deeplift_shap``          tangermeme DeepLIFT/SHAP hypothetical contributions,         ``|sum_c x[c, i] A[c, i]|``
                           dinucleotide-shuffled references
=========================  ==========================================================  ==========================

Each has a ``*_corrected`` twin with the gradient correction of Majdandzic et
al. (Genome Biology 2023): ``A'[c, i] = A[c, i] - mean_b A[b, i]``, which
removes the component orthogonal to the one-hot simplex (no sequence can move
along it). For integrated gradients the baseline is the all-zero (all-``N``)
sequence, so ``x * A`` is the usual ``(x - 0) * mean gradient``.

Saliency, gradient x input and IG are a few lines of autograd written here
because each sequence explains its own class (one backward pass serves every
class in a batch), and one pass yields both the raw and corrected maps;
DeepLIFT/SHAP's rescale rules are not hand-written: tangermeme's
``deep_lift_shap`` is used (captum's DeepLiftShap reported convergence deltas
near 4 on converted graphs, issue 11).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

#: Every method this module computes; ``ism`` is computed by :mod:`evaluator.attribution`.
BASE_METHODS: tuple[str, ...] = ("saliency", "grad_x_input", "integrated_gradients", "deeplift_shap")
#: Default set: one backward pass. IG (``ig_steps`` passes) and DeepLIFT/SHAP (``shap_shuffles`` references)
#: are opt-in (``slow_attribution``; the service worker always runs them): measured on the shared 2-core
#: machine under load, IG took 14 s and DeepLIFT/SHAP 12-50 s for 500 CNN-25 sequences, saliency 0.7 s.
FAST_METHODS: tuple[str, ...] = ("saliency", "grad_x_input")
SLOW_METHODS: tuple[str, ...] = ("integrated_gradients", "deeplift_shap")
#: How each method's map becomes one score per position.
SCORE_RULE = {"saliency": "max_abs", "grad_x_input": "abs_x_input", "integrated_gradients": "abs_x_input",
              "deeplift_shap": "abs_x_input", "ism": "abs_x_input"}


def family(method: str) -> str:
    """``"saliency_corrected"`` -> ``"saliency"``."""
    return method[:-len("_corrected")] if method.endswith("_corrected") else method


def correct(a: np.ndarray) -> np.ndarray:
    """Majdandzic gradient correction: subtract the per-position mean over the 4 bases.

    a : ndarray, shape (S, 4, L). Returns the same shape.
    """
    return a - a.mean(axis=1, keepdims=True)


def position_scores(method: str, maps: np.ndarray, x: np.ndarray) -> np.ndarray:
    """One non-negative score per position.

    method : a method name (``*_corrected`` allowed). maps : ndarray, shape (S, 4, L).
    x : ndarray, shape (S, 4, L) one-hot. Returns ndarray, shape (S, L).
    """
    if SCORE_RULE[family(method)] == "max_abs":
        return np.abs(maps).max(axis=1) * (x.sum(axis=1) > 0)
    return np.abs((maps * x).sum(axis=1))


@dataclass
class MethodSpec:
    """Parameters of the gradient methods (recorded verbatim)."""

    ig_steps: int = 16
    shap_shuffles: int = 20
    shap_seed: int = 0
    batch_size: int = 64

    def as_dict(self) -> dict:
        return {"ig_steps": self.ig_steps, "ig_baseline": "all-zero (N) sequence", "ig_rule": "midpoint Riemann",
                "shap_shuffles": self.shap_shuffles, "shap_references": "dinucleotide shuffles (tangermeme)",
                "shap_seed": self.shap_seed, "batch_size": self.batch_size}


@dataclass
class AttributionMaps:
    """Hypothetical maps per method, ``(S, 4, L)`` float32 each, plus notes (e.g. DeepLIFT convergence)."""

    maps: dict[str, np.ndarray]
    notes: dict[str, str] = field(default_factory=dict)


def _class_gradients(module, x: np.ndarray, classes: np.ndarray, batch_size: int, scale: float = 1.0) -> np.ndarray:
    import torch

    out = np.empty(x.shape, np.float32)
    for start in range(0, len(x), batch_size):
        xb = torch.from_numpy(np.ascontiguousarray(x[start:start + batch_size] * scale, np.float32))
        xb.requires_grad_(True)
        kb = torch.from_numpy(np.asarray(classes[start:start + batch_size], np.int64))
        logits = module(xb)
        picked = logits.gather(1, kb[:, None]).sum()
        # an output that does not depend on the input (a constant model, or one reached only through
        # Shape-like ops) has no autograd path: its gradient is zero, not an error
        grad = torch.autograd.grad(picked, xb, allow_unused=True)[0] if picked.requires_grad else None
        out[start:start + len(xb)] = 0.0 if grad is None else grad.numpy()
    return out


def gradients(module, x: np.ndarray, classes: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """``d logit_k / d x`` for each sequence's own class.

    module : torch module returning ``(B, 12)`` logits. x : ndarray, shape (S, 4, L).
    classes : int ndarray, shape (S,). Returns float32 ndarray, shape (S, 4, L).
    """
    return _class_gradients(module, x, classes, batch_size)


def integrated_gradients(module, x: np.ndarray, classes: np.ndarray, steps: int = 16,
                         batch_size: int = 64) -> np.ndarray:
    """Path-averaged gradient from the all-zero baseline (midpoint rule); multiply by ``x`` for IG.

    Returns float32 ndarray, shape (S, 4, L): ``mean_t g(t x)`` with ``t = (j + 0.5) / steps``.
    """
    total = np.zeros(x.shape, np.float64)
    for j in range(steps):
        total += _class_gradients(module, x, classes, batch_size, scale=(j + 0.5) / steps)
    return (total / steps).astype(np.float32)


def deeplift_shap(module, x: np.ndarray, classes: np.ndarray, n_shuffles: int = 20, seed: int = 0,
                  batch_size: int = 64) -> tuple[np.ndarray, str]:
    """tangermeme DeepLIFT/SHAP hypothetical contributions, one call per explained class.

    Returns (float32 ndarray, shape (S, 4, L), a note with the number of convergence warnings).
    """
    import torch
    from onnx2torch.node_converters.activations import OnnxErf
    from onnx2torch.node_converters.functions import OnnxFunction
    from tangermeme._deep_lift_utils import _nonlinear
    from tangermeme.deep_lift_shap import deep_lift_shap as tm_deep_lift_shap

    fixed = getattr(module, "fixed_batch", None)
    if fixed is not None:
        # tangermeme runs [inputs; references] as one batch and its hooks pair the two halves inside every layer;
        # a fixed-batch graph is run in padded chunks, which would pair the wrong rows (or fail): not computed
        raise ValueError(f"the graph has a fixed batch dimension ({fixed}); DeepLIFT/SHAP needs a free one")
    extra = {OnnxFunction: _nonlinear, OnnxErf: _nonlinear}
    out = np.empty(x.shape, np.float32)
    n_warn = 0
    for k in np.unique(classes):
        idx = np.flatnonzero(classes == k)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            attr = tm_deep_lift_shap(module, torch.from_numpy(np.ascontiguousarray(x[idx], np.float32)),
                                     target=int(k), n_shuffles=n_shuffles, hypothetical=True, random_state=seed,
                                     batch_size=batch_size, additional_nonlinear_ops=extra, only_warn=True,
                                     device="cpu")
        n_warn += sum("onvergence" in str(w.message) for w in caught)
        out[idx] = attr.detach().numpy()
    note = (f"{n_warn} tangermeme convergence warning(s) (delta > 1e-3) over {len(np.unique(classes))} class "
            "group(s); ops without a DeepLIFT rule (e.g. products of two activations in attention) are treated as "
            "linear, so maps of such models are approximate")
    return out, note


def compute_maps(module, x: np.ndarray, classes: np.ndarray, methods: tuple[str, ...],
                 spec: MethodSpec | None = None) -> AttributionMaps:
    """Maps for every requested method (``*_corrected`` twins share the raw method's passes).

    x : ndarray, shape (S, 4, L). classes : int ndarray, shape (S,). Returns :class:`AttributionMaps`.
    """
    spec = spec or MethodSpec()
    wanted = {family(m) for m in methods}
    unknown = wanted - set(BASE_METHODS)
    if unknown:
        raise ValueError(f"unknown attribution method(s) {sorted(unknown)}; known: {BASE_METHODS}")
    raw: dict[str, np.ndarray] = {}
    notes: dict[str, str] = {}
    if wanted & {"saliency", "grad_x_input"}:
        g = gradients(module, x, classes, spec.batch_size)
        raw["saliency"] = raw["grad_x_input"] = g
    if "integrated_gradients" in wanted:
        raw["integrated_gradients"] = integrated_gradients(module, x, classes, spec.ig_steps, spec.batch_size)
    if "deeplift_shap" in wanted:
        raw["deeplift_shap"], notes["deeplift_shap"] = deeplift_shap(module, x, classes, spec.shap_shuffles,
                                                                     spec.shap_seed, spec.batch_size)
    maps = {m: (correct(raw[family(m)]) if m.endswith("_corrected") else raw[m]) for m in methods}
    return AttributionMaps(maps, notes)


def expand_methods(families: tuple[str, ...]) -> tuple[str, ...]:
    """Each family with its corrected twin: ``("saliency",)`` -> ``("saliency", "saliency_corrected")``."""
    return tuple(m for f in families for m in (f, f"{f}_corrected"))
