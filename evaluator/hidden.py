"""Scoring on a round's hidden test: from a seed (verification) or from a draw the worker handed over.

``evaluate_hidden(model, seed)`` regenerates a round's hidden test from its
published seed (``motifbench evaluate MODEL --hidden-seed SEED``) and scores
it exactly as the service did, so anyone can check every score of an ended
round. ``evaluate_draw(model, path, round_info)`` is the sandboxed child's
side: the worker drew the test and wrote it to ``path`` (sequences and ground
truth, not the seed).
"""
from __future__ import annotations

from pathlib import Path

from benchmark.hidden_test import hidden_split, load_draw
from benchmark.rounds import commitment, find_round


def _dataset_version(data) -> str:
    """The public dataset version the hidden test belongs with (the data home's, or ``data``'s)."""
    from benchmark.errors import DatasetError
    from benchmark.loader import dataset_info

    try:
        return dataset_info(data, "synthetic", "test").version
    except DatasetError:
        return "unversioned"


def evaluate_hidden(model: str | Path, seed: bytes, *, data=None, dataset_version: str | None = None,
                    round_id: str | None = None, progress: bool = True, **kwargs):
    """Evaluate ``model`` on the hidden test drawn from ``seed`` (32 bytes); returns the ``EvaluationResult``
    (``.to_record()`` is the record).

    ``round_id`` defaults to the local ledger's round with this commitment (if
    any); ``dataset_version`` to the data home's (or ``data``'s) dataset
    version. Other keyword arguments are :func:`evaluator.evaluate_arrays`'s.
    """
    from evaluator.pipeline import evaluate_arrays

    seal = commitment(seed)
    if round_id is None:
        known = find_round(seal)
        round_id = known.id if known is not None else None
    split = hidden_split(seed, dataset_version or _dataset_version(data), progress=progress)
    return evaluate_arrays(model, split, progress=progress, round_info={"id": round_id, "commitment": seal}, **kwargs)


def evaluate_draw(model: str | Path, draw: str | Path, round_info: dict, **kwargs) -> dict:
    """Evaluate ``model`` on a hidden draw written by :func:`benchmark.hidden_test.save_draw`."""
    from evaluator.pipeline import evaluate_arrays

    return evaluate_arrays(model, load_draw(draw), round_info=round_info, **kwargs)


#: Record parts that describe a run, not its scores: when and where it ran, how long it took, the
#: service's extra public-test pass (``public_test``), artifact file names, the path the model was read from.
RUN_FACTS = ("created", "environment", "timings_seconds", "public_test", "artifacts", "model.given_path")


def record_leaves(record: dict) -> dict[str, object]:
    """Every leaf of a record by its dotted path (``results.classification.macro_auroc``), run facts left out.

    NaN leaves become the string ``"nan"`` so that equal records compare equal.
    """
    found: dict[str, object] = {}

    def walk(value, path: str) -> None:
        if path.startswith(RUN_FACTS):
            return
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        else:
            found[path] = "nan" if isinstance(value, float) and value != value else value

    walk(record, "")
    return found


def record_differences(expected: dict, got: dict) -> list[tuple[str, object, object]]:
    """``(path, expected, got)`` for every leaf (run facts aside) that is not exactly equal, sorted by path."""
    want, have = record_leaves(expected), record_leaves(got)
    return [(path, want.get(path), have.get(path)) for path in sorted(set(want) | set(have))
            if want.get(path, _MISSING) != have.get(path, _MISSING)]


_MISSING = object()


def verify_record(model: str | Path, record: dict, seed: bytes, *, threads: int | None = 1,
                  progress: bool = False) -> tuple[dict, list[tuple[str, object, object]]]:
    """Re-score ``model`` on the hidden test of ``seed`` with ``record``'s own settings; compare every number.

    The record names everything the evaluation depended on: the round's
    commitment (checked against ``seed``), the dataset version, the
    evaluation parameters (``parameters.eval``), the bootstrap settings
    (``results.uncertainty.settings``), and the tap, output kind and logits
    output the submission declared. Returns the new record and
    :func:`record_differences` (empty when every number was reproduced).
    """
    from benchmark.errors import MotifbenchError
    from evaluator.params import EvalParams
    from evaluator.uncertainty import BootstrapSettings

    round_info = record.get("round") or {}
    if round_info.get("commitment") != commitment(seed):
        raise MotifbenchError("this seed is not the record's round: sha256(seed) differs from the record's "
                              "round.commitment (take the seed of round "
                              f"{round_info.get('id') or '?'} from `motifbench round show`)")
    info = record.get("model") or {}
    declared = {name: info.get(key) if info.get(f"{source}_source") == "declared" else None
                for name, key, source in (("tap", "tap_name", "tap"), ("output_kind", "output_kind", "output_kind"),
                                          ("logits_output", "logits_output", "logits_output"))}
    settings = ((record.get("results") or {}).get("uncertainty") or {}).get("settings")
    intervals = None if settings is None else BootstrapSettings(
        **{k: settings[k] for k in ("resamples", "recovery_resamples", "seed", "level") if k in settings})
    again = evaluate_hidden(model, seed, dataset_version=(record.get("dataset") or {}).get("version"),
                            round_id=round_info.get("id"), params=EvalParams.from_dict(record["parameters"]["eval"]),
                            intervals=intervals, model_name=info.get("name"), threads=threads, progress=progress,
                            **declared).to_record()
    return again, record_differences(record, again)
