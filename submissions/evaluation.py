"""Child-side evaluation of one queued submission: the evaluator's one door, nothing else.

Runs inside the sandboxed child started by the worker (see
:mod:`submissions.run_job`); the worker never imports the evaluator's heavy
paths itself, so a model that crashes ONNX Runtime takes down only the child.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


def evaluate_submission(
    model: str,
    data: str | None,
    config: str,
    split: str,
    out_dir: str | None,
    params: dict[str, Any] | None,
    tap: str | None,
    output_kind: str | None,
    model_name: str | None = None,
    threads: int = 1,
    logits_output: str | None = None,
) -> dict[str, Any]:
    """Score one stored checkpoint with :func:`evaluator.evaluate` and return its result record.

    Parameters mirror the evaluator's; ``params`` is ``EvalParams.as_dict()``
    (possibly partial: missing keys keep their defaults); ``threads`` caps
    ONNX Runtime so parallel workers do not oversubscribe the CPUs.
    """
    from evaluator import EvalParams, evaluate

    result = evaluate(
        Path(model),
        data=data,
        config=config,
        split=split,
        out_dir=Path(out_dir) if out_dir else None,
        params=EvalParams.from_dict(params or {}),
        tap=tap,
        output_kind=output_kind,
        progress=False,
        model_name=model_name,
        threads=threads,
        logits_output=logits_output,
    )
    return result.to_record()
