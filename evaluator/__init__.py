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
from benchmark.lazy import lazy_api

EVALUATOR_VERSION = "2.4.0"

_API = {
    "evaluate": ("evaluator.pipeline", "evaluate"),
    "evaluate_arrays": ("evaluator.pipeline", "evaluate_arrays"),
    "EvaluationError": ("evaluator.stages", "EvaluationError"),
    "EvaluationResult": ("evaluator.result", "EvaluationResult"),
    "EvalParams": ("evaluator.params", "EvalParams"),
    "ModelSource": ("evaluator.model_source", "ModelSource"),
    "ReferenceBundle": ("evaluator.reference", "ReferenceBundle"),
    "load_reference": ("evaluator.reference", "load_reference"),
    "jaspar_targets": ("evaluator.tomtom", "jaspar_targets"),
    "read_meme": ("evaluator.meme_io", "read_meme"),
    "write_meme": ("evaluator.meme_io", "write_meme"),
    "read_record": ("evaluator.record", "read_record"),
    "inspect_model": ("evaluator.onnx_model", "inspect_model"),
    "evaluate_hidden": ("evaluator.hidden", "evaluate_hidden"),
    "verify_record": ("evaluator.hidden", "verify_record"),
}
__all__ = ["EVALUATOR_VERSION", *sorted(_API)]
__getattr__, __dir__ = lazy_api(__name__, _API, globals())
