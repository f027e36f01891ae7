"""Child-side evaluation of one queued submission: the evaluator's one door, nothing else.

Runs inside the sandboxed child started by the worker (see
:mod:`submissions.run_job`); the worker never imports the evaluator's heavy
paths itself, so a model that crashes ONNX Runtime takes down only the child.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any


#: Headline numbers of the public-test pass kept in a hidden-round record (``public_test``).
PUBLIC_SUMMARY = {
    "macro_auroc": ("classification", "macro_auroc"),
    "macro_aupr": ("classification", "macro_aupr"),
    "match_ground_truth_fraction": ("motif_recovery", "match_ground_truth_fraction"),
    "match_jaspar_fraction": ("motif_recovery", "match_jaspar_fraction"),
    "coverage": ("motif_recovery", "coverage"),
}


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
    intervals: dict[str, Any] | None = None,
    hidden_draw: str | None = None,
    round_info: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Score one stored checkpoint and return its result record.

    Parameters mirror the evaluator's; ``params`` is ``EvalParams.as_dict()``
    (possibly partial: missing keys keep their defaults); ``threads`` caps
    ONNX Runtime so parallel workers do not oversubscribe the CPUs;
    ``intervals`` holds ``BootstrapSettings`` fields (None: no intervals).

    With ``hidden_draw`` (a round's test written by the worker) the record is
    the hidden-test evaluation, with ``round`` = ``round_info`` and a
    ``public_test`` summary from a lighter public-test pass (no attribution,
    no intervals, no artifacts) that gives the public-minus-hidden gap.
    """
    from dataclasses import replace

    from benchmark.hidden_test import load_draw
    from evaluator import EvalParams, evaluate, evaluate_arrays
    from evaluator.uncertainty import BootstrapSettings

    eval_params = EvalParams.from_dict(params or {})
    settings = BootstrapSettings(**intervals) if intervals is not None else None
    common = dict(tap=tap, output_kind=output_kind, progress=False, model_name=model_name, threads=threads,
                  logits_output=logits_output)
    if hidden_draw is None:
        return evaluate(Path(model), data=data, config=config, split=split, out_dir=Path(out_dir) if out_dir else None,
                        params=eval_params, intervals=settings, **common).to_record()
    public = evaluate(Path(model), data=data, config=config, split=split, out_dir=None,
                      params=replace(eval_params, attribution=False), intervals=None, **common).to_record()
    arrays = load_draw(hidden_draw)
    arrays.info = replace(arrays.info, version=public["dataset"]["version"])  # the public data it belongs with
    record = evaluate_arrays(Path(model), arrays, out_dir=Path(out_dir) if out_dir else None, params=eval_params,
                             intervals=settings, round_info=round_info, **common).to_record()
    results = public["results"]
    record["public_test"] = {
        "dataset": {k: public["dataset"][k] for k in ("source", "config", "split", "version", "content_sha256")},
        **{name: (results.get(section) or {}).get(key) for name, (section, key) in PUBLIC_SUMMARY.items()},
    }
    from evaluator.record import validate_record, write_record

    if out_dir:
        write_record(record, Path(out_dir) / "result.json")
    else:
        validate_record(record)
    return record
