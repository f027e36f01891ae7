"""The one rule for "is this output a probability?": [0, 1] up to float32 round-off.

ONNX Runtime's vectorised Sigmoid is not exactly bounded: on float32 inputs
near 17.5-18 it returns ``1.0000001`` (one ulp above 1; 20 of the 16.8 M
float32 values in [10, 40] do, measured with onnxruntime 1.32). A plain
``Conv -> Relu -> ReduceMax -> MatMul -> Sigmoid`` model therefore failed a
strict ``<= 1`` check now and then. Values within :data:`PROBABILITY_TOLERANCE`
of [0, 1] are accepted and clipped; anything further out is refused with the
offending values printed with every digit they hold. A float16 output (the
validator accepts them) gets the same 8 ulps of its own precision
(:func:`tolerance_for`): one rounding of a float16 probability already moves
it by 0.001.
"""
from __future__ import annotations

import numpy as np

#: How far outside [0, 1] a float32 probability may stray (about 8 ulps at 1.0).
PROBABILITY_TOLERANCE = 1e-6


def tolerance_for(dtype=None) -> float:
    """Round-off allowed for outputs of ``dtype``: 8 ulps at 1.0, never less than :data:`PROBABILITY_TOLERANCE`."""
    if dtype is None or not np.issubdtype(np.dtype(dtype), np.floating):
        return PROBABILITY_TOLERANCE
    return max(PROBABILITY_TOLERANCE, 8 * float(np.finfo(np.dtype(dtype)).eps))


def format_value(value: float) -> str:
    """Shortest text that round-trips the value (``1.0000001``, not ``1``).

    A float32 value is printed with float32's digits; a float64 output (a
    model computing in double) with float64's, so a value just past the
    tolerance never prints as one inside it.
    """
    value = float(value)
    single = np.float32(value)
    if float(single) == value or not np.isfinite(value):
        return np.format_float_positional(single, unique=True, trim="-")
    return np.format_float_positional(value, unique=True, trim="-")


def probability_range_problem(lo: float, hi: float, tolerance: float | None = None, dtype=None) -> str | None:
    """Why outputs spanning ``[lo, hi]`` are not probabilities, or None when they are.

    ``tolerance`` defaults to :func:`tolerance_for` the outputs' ``dtype`` (float32's when not given).
    """
    tolerance = tolerance_for(dtype) if tolerance is None else tolerance
    if lo >= -tolerance and hi <= 1.0 + tolerance:
        return None
    kind = np.dtype(dtype).name if dtype is not None else "float32"
    return (f"has values in [{format_value(lo)}, {format_value(hi)}], outside [0, 1] by more than {kind} "
            f"round-off ({tolerance:g})")


def clip_probabilities(out: np.ndarray) -> np.ndarray:
    """Probabilities as float64, clipped into [0, 1] (removes the accepted round-off)."""
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)
