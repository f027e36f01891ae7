"""evaluator: scores ONE model (ONNX, or a baseline checkpoint exported to ONNX).

It runs the model on a dataset split, measures classification, turns the
first-layer activations into PPMs, compares them with JASPAR through a
MEME-faithful Tomtom, scores attribution maps against the ground-truth motif
positions and writes one result record (see ``docs/evaluator.md``).

``EVALUATOR_VERSION`` is semver: the major part bumps whenever a number in the
record changes meaning (the leaderboard never mixes majors); minor for new
fields or options; patch for fixes that leave every number unchanged.
"""

EVALUATOR_VERSION = "2.0.0"

__all__ = ["EVALUATOR_VERSION"]
