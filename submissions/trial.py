"""The trial run: load a checked checkpoint in ONNX Runtime and run one small batch.

This module runs *inside* the sandboxed child (:mod:`submissions.run_job`),
never in the intake process: building a session or running a hostile graph
may hang or allocate without bound, and the child's time and memory limits
are what contain it. It returns plain JSON-able facts or raises
:class:`~submissions.errors.SubmissionRejected`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmark.datasets import N_CLASSES
from submissions.errors import SubmissionRejected



def _random_onehot(batch: int, length: int, seed: int = 0) -> np.ndarray:
    """Random one-hot sequences, shape=(batch, 4, length), float32 A,C,G,T."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 4, size=(batch, length))
    x = np.zeros((batch, 4, length), dtype=np.float32)
    np.put_along_axis(x, idx[:, None, :], 1.0, axis=1)
    return x


def _inspect(path: Path, length: int, tap: str | None, output_kind: str, logits_output: str | None = None) -> dict[str, Any]:
    """Find the tap the way the evaluator will, mapping its errors to rejection codes."""
    from evaluator.onnx_model import ModelError, ModelOutputError, TapNotFoundError, inspect_model

    try:
        info = inspect_model(path, length, tap=tap, output_kind=output_kind, logits_output=logits_output)
    except TapNotFoundError as exc:
        raise SubmissionRejected("tap_not_found", str(exc)) from None
    except ModelOutputError as exc:
        raise SubmissionRejected("output_mismatch", str(exc)) from None
    except ModelError as exc:
        _raise_if_memory(exc)
        raise SubmissionRejected("invalid_model", str(exc)) from None
    # tap None: no findable first layer; accepted, scored without first-layer recovery (info.tap_missing says why)
    return {"tap": info.tap_name, "tap_source": info.tap_source, "n_filters": info.n_filters,
            "tap_missing": info.tap_missing,
            "filter_width": info.filter_width, "output_name": info.output_name}


def run_trial(
    model: str, length: int, output_kind: str, output_name: str, batch: int = 8, tap: str | None = None,
    logits_output: str | None = None, batches: list[int] | None = None,
) -> dict[str, Any]:
    """Check the checkpoint with the ONNX checker, then run batches of random sequences.

    Every size in ``batches`` (default ``[batch]``) is run, each with its own
    random sequences: the intake passes the sizes the evaluator will use
    (:func:`submissions.limits.trial_batches`), so a graph whose output or
    cost depends on the batch size fails here, not in the worker.

    Parameters
    ----------
    model : str
        Path of the staged ``.onnx`` file.
    length : int
        Sequence length L of the targeted dataset config; the batch is
        ``float32 [batch, 4, L]``.
    output_kind : {"probabilities", "logits"}
        What the manifest says the prediction output holds; probabilities
        must lie in [0, 1].
    output_name : str
        The prediction output found by the static checks.
    tap : str, optional
        The declared first-layer tap.

    Returns
    -------
    dict
        ``{"output_shape", "min", "max", "tap", "tap_source", "n_filters", ...}``.
    """
    import onnx
    import onnxruntime as ort

    from evaluator.output_range import probability_range_problem

    path = Path(model)
    proto = onnx.ModelProto()
    proto.ParseFromString(path.read_bytes())
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise SubmissionRejected("invalid_onnx", f"the ONNX checker rejects the model: {str(exc).splitlines()[0]}") from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types; the message is what matters
        _raise_if_memory(exc)
        raise SubmissionRejected("onnxruntime_load", f"ONNX Runtime cannot load the model: {_first_line(exc)}") from None
    input_name = session.get_inputs()[0].name
    fixed = session.get_inputs()[0].shape[0]
    sizes = [fixed] if isinstance(fixed, int) and fixed > 0 else list(batches or [batch])  # fixed batch: its own size
    lo, hi, shape = np.inf, -np.inf, None
    ran, ism_batch = [], None
    for seed, size in enumerate(sizes):
        # The largest size is the evaluator's in silico mutagenesis call (a multiple of 3L mutants). A model
        # whose activations at that size exceed the memory limit (attention is quadratic in L) is not at
        # fault: halve it while it stays a multiple of 3L and above the inference batch, and record the size
        # that fits so the worker's ISM uses it (results do not depend on how mutants are batched).
        shrinkable = len(sizes) > 1 and size == max(sizes) and size > sorted(sizes)[-2]
        while True:
            try:
                y = _run_batch(session, input_name, output_name, _random_onehot(size, length, seed), output_kind)
                break
            except MemoryError:
                smaller = (size // 2) // (3 * length) * (3 * length)
                if not shrinkable or smaller < max(3 * length, sorted(sizes)[-2]):
                    raise
                size = smaller
        if shrinkable:
            ism_batch = size
        ran.append(size)
        lo, hi, shape = min(lo, float(y.min())), max(hi, float(y.max())), shape or list(y.shape)
    facts = _inspect(path, length, tap, output_kind, logits_output)
    fitted = {"ism_batch_mutants": ism_batch} if ism_batch is not None and ism_batch < max(sizes) else {}
    return {"output_shape": shape, "min": lo, "max": hi, "batches": ran, **fitted, **facts}


def _run_batch(session, input_name: str, output_name: str, x: np.ndarray, output_kind: str) -> np.ndarray:
    """One trial batch ``x`` float32 (B, 4, L) -> outputs (B, 12), checked for shape, finiteness and range."""
    from evaluator.output_range import probability_range_problem

    batch, _, length = x.shape
    name = _short(output_name)
    try:
        (y,) = session.run([output_name], {input_name: x})
    except Exception as exc:
        _raise_if_memory(exc)
        raise SubmissionRejected("trial_run_error", f"the model failed on a batch [{batch}, 4, {length}]: {_first_line(exc)}") from None
    y = np.asarray(y)
    if y.shape != (batch, N_CLASSES):
        raise SubmissionRejected(
            "output_mismatch", f"on a batch of {batch} the output {name} has shape {list(y.shape)[:4]}; expected [{batch}, {N_CLASSES}]"
        )
    if not np.all(np.isfinite(y)):
        raise SubmissionRejected("non_finite_output",
                                 f"the model outputs NaN or inf on a batch of {batch} random one-hot sequences ({name})")
    lo, hi = float(y.min()), float(y.max())
    problem = probability_range_problem(lo, hi, dtype=y.dtype) if output_kind == "probabilities" else None
    if problem:
        raise SubmissionRejected(
            "probabilities_out_of_range",
            f"the manifest declares probabilities but the output {problem} on a batch of {batch} random one-hot "
            "sequences; "
            "declare output_kind 'logits' or add a sigmoid",
        )
    return y


def _short(name: str, limit: int = 60) -> str:
    return repr(name[:limit]) + ("..." if len(name) > limit else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:500]


def _raise_if_memory(exc: BaseException) -> None:
    text = str(exc).lower()
    if isinstance(exc, MemoryError) or "bad_alloc" in text or "failed to allocate" in text or "out of memory" in text:
        raise MemoryError(_first_line(exc)) from None
