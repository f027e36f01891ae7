"""Re-scoring: which rows are stale, requeueing them, and ending a hidden-test round.

A row is **stale** when it has no score for its *current key*
(:class:`~submissions.store.ScoreKey`): the model's sha256, the service's
dataset version for its config, the running evaluator major and, for the
synthetic config, the current hidden-test round. Nothing is scored twice for
one key: :func:`rescore` skips rows whose current key is already scored,
the worker reuses a stored score if a duplicate job still reaches it, and the
store keeps the first record of a key.

Python API beside ``motifbench rescore`` and ``motifbench round``::

    from submissions.rescore import rescore, rotate_round, stale_ids
    rescore(store, stale=True)          # or ids=[...], or all=True
    rotate_round(store)                 # publish the old seed, new secret, re-score everything
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmark.errors import MotifbenchError
from submissions.store import FAILED, FINISHED, PENDING, RUNNING, ScoreKey, Store, Submission

log = logging.getLogger(__name__)

#: The config scored on hidden rounds (the only one with a published generator).
HIDDEN_CONFIG = "synthetic"


@dataclass(frozen=True)
class Context:
    """What "current" means for the service: evaluator major, dataset versions, round."""

    evaluator_major: int
    dataset_versions: dict[str, str]
    round_id: str | None

    def key(self, sub: Submission) -> ScoreKey:
        round_id = self.round_id if (self.round_id and sub.dataset_config == HIDDEN_CONFIG) else ""
        version = self.dataset_versions.get(sub.dataset_config, sub.dataset_version)
        return ScoreKey(sub.sha256, sub.dataset_config, version, self.evaluator_major, round_id)


def current_context(data: str | Path | None = None, home: Path | None = None, hidden: bool = True) -> Context:
    """The evaluator major running here, the dataset version of each config found, the current round."""
    from benchmark.errors import DatasetError
    from benchmark.loader import dataset_info
    from benchmark.rounds import current_round
    from evaluator import EVALUATOR_VERSION

    versions: dict[str, str] = {}
    for config in ("synthetic", "deepsea"):
        try:
            versions[config] = dataset_info(data, config, "test").version
        except DatasetError:
            continue
    round_ = current_round(home) if hidden else None
    return Context(int(EVALUATOR_VERSION.split(".")[0]), versions, round_.id if round_ else None)


def is_stale(store: Store, sub: Submission, context: Context) -> bool:
    """True when ``sub`` has no score for its current key."""
    return context.key(sub) not in set(store.scored_keys(sub.id))


def stale_ids(store: Store, context: Context) -> list[str]:
    """FINISHED submissions without a score for their current key, newest submission first."""
    subs = [s for s in store.list([FINISHED]) if is_stale(store, s, context)]
    return [s.id for s in sorted(subs, key=lambda s: (s.created_at, s.id), reverse=True)]


def rescore(store: Store, ids: Sequence[str] = (), *, all: bool = False, stale: bool = False,
            context: Context | None = None, data: str | Path | None = None, home: Path | None = None) -> list[str]:
    """Queue submissions for re-scoring; returns the ids queued.

    Parameters
    ----------
    ids : submission ids to re-score (FINISHED or FAILED).
    all : every FINISHED and FAILED submission.
    stale : every FINISHED submission without a score for its current key.
    context : what "current" means (default :func:`current_context`).

    A row whose current key is already scored is not queued (idempotent):
    re-running ``rescore`` changes nothing until the evaluator, the dataset or
    the round moves on.
    """
    if sum((bool(ids), all, stale)) != 1:
        raise MotifbenchError("say what to re-score: submission ids, or --all, or --stale (exactly one)")
    context = context or current_context(data, home)
    if stale:
        wanted = stale_ids(store, context)
    elif all:
        wanted = [s.id for s in sorted(store.list([FINISHED, FAILED]), key=lambda s: (s.created_at, s.id), reverse=True)]
    else:
        unknown = [i for i in ids if store.get(i) is None]
        if unknown:
            raise MotifbenchError(f"no submission with id {', '.join(unknown)}; see `motifbench queue`")
        wanted = list(ids)
    todo = []
    for sid in wanted:
        sub = store.get(sid)
        if sub is None or sub.state not in (FINISHED, FAILED):
            continue
        if sub.state == FINISHED and not is_stale(store, sub, context):
            continue  # already scored for the current key: nothing to do
        todo.append(sid)
    key_text = f"evaluator {context.evaluator_major}.x, round {context.round_id or '-'}"
    queued = store.requeue(todo, f"queued for re-scoring ({key_text})")
    if queued:
        log.info("queued %d submission(s) for re-scoring (%s)", len(queued), key_text)
    return queued


@dataclass(frozen=True)
class RoundRotation:
    """What :func:`rotate_round` did."""

    ended_id: str
    ended_commitment: str
    ended_seed: str
    started_id: str
    started_commitment: str
    requeued: list[str]


def rotate_round(store: Store, home: Path | None = None, data: str | Path | None = None) -> RoundRotation:
    """End the current round (its seed is published in the ledger), start a new one, re-score every row.

    Every finished synthetic submission is queued; each gets a record on the
    new round, and its record on the ended round stays in the history, where
    ``motifbench evaluate MODEL --hidden-seed SEED`` reproduces it.
    """
    from benchmark.rounds import rotate

    on_round = [s.id for s in store.list([FINISHED, PENDING, RUNNING])
                if s.dataset_config == HIDDEN_CONFIG and (s.state == FINISHED or s.rescore)]
    rotation = rotate(home)
    context = current_context(data, home)
    queued = rescore(store, stale=True, context=context)
    # a running worker that sees the new round while idle queues stale rows itself, maybe before the line
    # above: those rows are being re-scored on the new round all the same, so they count as queued
    for sid in on_round:
        sub = store.get(sid)
        if sid not in queued and sub is not None and (sub.rescore or not is_stale(store, sub, context)):
            queued.append(sid)
    return RoundRotation(rotation.ended.id, rotation.ended.commitment, rotation.ended.seed or "", rotation.started.id,
                         rotation.started.commitment, queued)
