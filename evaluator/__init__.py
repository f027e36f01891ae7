"""evaluator: scores ONE model (an ONNX file) on a dataset split.

It runs the model on a dataset split, measures classification, turns the
first-layer activations into PPMs, compares them with JASPAR through a
MEME-faithful Tomtom, scores attribution maps against the ground-truth motif
positions and writes one result record (see ``docs/evaluator.md``).

Public API (imported on first use, so ``import evaluator`` stays cheap)::

    from evaluator import evaluate, EvalParams
    result = evaluate("model.onnx", data="path/or/hub-id", params=EvalParams(ppm_method="ke"))
    result.recovery.coverage_count, result.classification.macro_auroc
    result.to_record()   # the JSON record; result.summary() the CLI table

    from evaluator.tomtom import tomtom                         # MEME-exact Tomtom (the module evaluator.tomtom)
    from evaluator import read_meme, jaspar_targets

``EVALUATOR_VERSION`` is semver: the major part bumps whenever a number in the
record changes meaning (the leaderboard never mixes majors); minor for new
fields or options; patch for fixes that leave every number unchanged.
"""
from __future__ import annotations

import importlib
from typing import Any

EVALUATOR_VERSION = "2.0.0"

#: Public name -> the module that defines it.
_API = {
    "evaluate": "evaluator.pipeline",
    "evaluate_arrays": "evaluator.pipeline",
    "EvaluationError": "evaluator.stages",
    "EvaluationResult": "evaluator.result",
    "EvalParams": "evaluator.params",
    "ModelSource": "evaluator.model_source",
    "ReferenceBundle": "evaluator.reference",
    "load_reference": "evaluator.reference",
    "jaspar_targets": "evaluator.tomtom",
    "read_meme": "evaluator.meme_io",
    "write_meme": "evaluator.meme_io",
    "read_record": "evaluator.record",
    "inspect_model": "evaluator.onnx_model",
}

__all__ = ["EVALUATOR_VERSION", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(importlib.import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evaluator' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
