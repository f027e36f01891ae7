"""Are the converted module's gradients the ONNX model's? A directional finite-difference check.

The output check in :func:`evaluator.onnx_to_torch.convert_model` compares values; a graph can match
ONNX Runtime's values and still give gradients that are not the model's (an op whose torch backward
differs from the function ONNX Runtime computes, or an infinite derivative such as ``sqrt`` at 0). So
before any map is trusted, for a few probe sequences ``x`` and a seeded random direction ``v`` per
sequence, the torch directional derivative ``g . v`` (``g = d sum_k f_k / d x``) is compared with ONNX
Runtime's central difference ``(F(x + h v) - F(x - h v)) / 2h`` on the same logits ``F = sum_k f_k``.

Per sequence the relative error is ``|fd - g.v| / (|fd| + |g.v| + floor)``; the check passes when the
median over sequences is at most ``rtol`` (0.05). The median (not the maximum) because a ReLU or max-pool
kink within ``h`` of a probe, or two windows tied for a maximum, makes a single sequence's central
difference differ from either one-sided derivative while the gradient is right; a gradient that is
wrong is wrong for most sequences.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Step, sequences checked, tolerance on the median relative error.
STEP, N_CHECK, RTOL = 1e-2, 8, 0.05


def directional_check(module, reference: Callable[[np.ndarray], np.ndarray], probe: np.ndarray, seed: int = 0,
                      step: float = STEP, n_check: int = N_CHECK, rtol: float = RTOL) -> tuple[bool, float]:
    """(passed, median relative error) of torch gradients against ONNX Runtime finite differences.

    module : torch module, ``(B, 4, L) -> (B, 12)`` logits. reference : ONNX Runtime's logits,
    ``ndarray (B, 4, L) float32 -> ndarray (B, 12) float64``. probe : ndarray, shape (P, 4, L).
    """
    import torch

    x = np.ascontiguousarray(probe[:n_check], np.float32)
    v = np.random.default_rng(seed).standard_normal(x.shape).astype(np.float32)
    v /= np.linalg.norm(v.reshape(len(x), -1), axis=1)[:, None, None]
    xt = torch.from_numpy(x).requires_grad_(True)
    out = module(xt).sum()
    grad = torch.autograd.grad(out, xt, allow_unused=True)[0] if out.requires_grad else None
    g = np.zeros(x.shape, np.float64) if grad is None else grad.double().numpy()
    analytic = (g * v).sum(axis=(1, 2))
    plus = reference(x + step * v).sum(axis=1)
    minus = reference(x - step * v).sum(axis=1)
    fd = (plus - minus) / (2 * step)
    scale = np.abs(reference(x)).sum(axis=1)
    floor = 1e-6 * (1.0 + scale) / step  # float32 rounding of the summed logits, amplified by 1/step
    rel = np.abs(fd - analytic) / (np.abs(fd) + np.abs(analytic) + floor)
    rel = np.where(np.isfinite(analytic), rel, np.inf)
    median = float(np.median(rel))
    return median <= rtol, median
