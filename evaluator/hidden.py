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
                    round_id: str | None = None, progress: bool = True, **kwargs) -> dict:
    """Evaluate ``model`` on the hidden test drawn from ``seed`` (32 bytes); returns the record.

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
