"""The submissions store: what every queue and results backend must offer.

:class:`Store` is the interface the intake, the worker, the exports and the
Space program against; :class:`~submissions.sqlite_store.SQLiteStore` is the
default implementation (all SQL lives there; ``sqlite_store.open_store()`` opens the data home's), so a server database can replace
it later without touching callers. Checkpoint bytes are not in the database:
they live content-addressed by sha256 under the data home
(:class:`CheckpointFiles`), written to a temporary file and renamed into place.

Job life cycle::

    FINISHED | FAILED --requeue (re-score)--> PENDING
    PENDING --claim--> RUNNING --finish--> FINISHED
                          |    --fail----> FAILED (reason)
                          '-- heartbeat stale --> PENDING (attempts < max) | FAILED
"""
from __future__ import annotations

import abc
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

from benchmark.paths import data_home

PENDING, RUNNING, FINISHED, FAILED = "PENDING", "RUNNING", "FINISHED", "FAILED"
STATES = (PENDING, RUNNING, FINISHED, FAILED)


def submissions_home(home: Path | None = None) -> Path:
    """Root of the submissions service state: ``<data home>/submissions``."""
    return (home or data_home()) / "submissions"


def iso(ts: float | None) -> str | None:
    """Epoch seconds -> ISO-8601 UTC (what people and JSON exports read)."""
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Submission:
    """One row of the store: a checkpoint, its manifest, and its job state.

    Times are epoch seconds (UTC); ``record`` is the evaluator's result record
    once FINISHED; ``reason`` says why a FAILED job failed.
    """

    id: str
    state: str
    model_name: str
    submitter: str
    dataset_config: str
    dataset_version: str
    sha256: str
    size_bytes: int
    baseline: bool
    manifest: dict[str, Any]
    created_at: float
    data_source: str | None = None
    trial: dict[str, Any] = field(default_factory=dict)
    started_at: float | None = None
    finished_at: float | None = None
    heartbeat_at: float | None = None
    attempts: int = 0
    worker_id: str | None = None
    reason: str | None = None
    record: dict[str, Any] | None = None
    #: True while queued or running as a re-score (the record is the previous score until it finishes).
    rescore: bool = False

    def summary(self) -> dict[str, Any]:
        """JSON-ready row without the (large) record, for ``motifbench queue --json``."""
        return {
            "id": self.id,
            "state": self.state,
            "model_name": self.model_name,
            "submitter": self.submitter,
            "dataset_config": self.dataset_config,
            "dataset_version": self.dataset_version,
            "sha256": self.sha256,
            "baseline": self.baseline,
            "attempts": self.attempts,
            "worker_id": self.worker_id,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "heartbeat_at": iso(self.heartbeat_at),
            "reason": self.reason,
            "rescore": self.rescore,
        }


class ScoreKey(NamedTuple):
    """What a score is of: nothing is scored twice for the same key (``round_id`` "" = the public test)."""

    sha256: str
    dataset_config: str
    dataset_version: str
    evaluator_major: int
    round_id: str


def score_key(sha256: str, dataset_config: str, dataset_version: str, record: dict[str, Any]) -> ScoreKey:
    """The key of a result record: the record's own dataset version and evaluator major, and its round."""
    dataset = record.get("dataset") if isinstance(record.get("dataset"), dict) else {}
    version = str(dataset.get("version") or dataset_version)
    try:
        major = int(str(record.get("evaluator_version", "0")).lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    round_info = record.get("round") if isinstance(record.get("round"), dict) else {}
    return ScoreKey(sha256, dataset_config, version, major, str(round_info.get("id") or ""))


@dataclass(frozen=True)
class Recovered:
    """A RUNNING job whose worker stopped heartbeating, and what became of it."""

    id: str
    new_state: str
    attempts: int


class CheckpointFiles:
    """Checkpoints stored once per content: ``<root>/<sha[:2]>/<sha>.onnx``, read-only.

    Writes go to a temporary file in the same folder and are renamed into
    place, so a reader never sees half a checkpoint and a crash leaves at
    worst a stray temporary file, never a wrong one.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / f"{sha256}.onnx"

    def put(self, source: Path, sha256: str) -> Path:
        """Store ``source`` (already hashed) under its sha256 and return the stored path."""
        dest = self.path(sha256)
        if dest.is_file():
            return dest
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-")
        os.close(fd)
        try:
            shutil.copyfile(source, tmp)
            os.chmod(tmp, 0o444)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest


class Store(abc.ABC):
    """Queue + results store. Every state change is atomic; workers are identified by ``worker_id``.

    Methods that act for a worker (``heartbeat``, ``finish``, ``fail``,
    ``release``) only change a job that is RUNNING *and owned by that
    worker*, and return False otherwise: a worker that lost its job (its
    heartbeat went stale and another worker took it) can never overwrite the
    other worker's result.
    """

    checkpoints: CheckpointFiles

    @abc.abstractmethod
    def add(
        self,
        *,
        manifest: dict[str, Any],
        sha256: str,
        size_bytes: int,
        baseline: bool = False,
        data_source: str | None = None,
        trial: dict[str, Any] | None = None,
    ) -> tuple[Submission, bool]:
        """Queue a validated checkpoint (already in :attr:`checkpoints`) as PENDING.

        Returns ``(submission, created)``; ``created`` is False when the same
        sha256 was already submitted for the same dataset config and version,
        in which case the existing submission is returned unchanged.
        """

    @abc.abstractmethod
    def get(self, submission_id: str) -> Submission | None:
        """One submission by id, or None."""

    @abc.abstractmethod
    def find(self, sha256: str, dataset_config: str, dataset_version: str) -> Submission | None:
        """The submission holding this checkpoint for this dataset config and version, if any."""

    @abc.abstractmethod
    def list(self, states: Sequence[str] | None = None, limit: int | None = None) -> list[Submission]:
        """Submissions (oldest first), optionally only in ``states``."""

    @abc.abstractmethod
    def counts(self) -> dict[str, int]:
        """Number of submissions in each state (every state present, zeros included)."""

    @abc.abstractmethod
    def claim(self, worker_id: str) -> Submission | None:
        """Atomically move the oldest PENDING job to RUNNING for ``worker_id`` (attempts + 1)."""

    @abc.abstractmethod
    def heartbeat(self, submission_id: str, worker_id: str) -> bool:
        """Record that ``worker_id`` is still running the job; False if the job is no longer its."""

    @abc.abstractmethod
    def finish(self, submission_id: str, worker_id: str, record: dict[str, Any]) -> bool:
        """RUNNING -> FINISHED with the result record."""

    @abc.abstractmethod
    def fail(self, submission_id: str, worker_id: str, reason: str) -> bool:
        """RUNNING -> FAILED with a reason the submitter can act on.

        A failed **re-score** of a row that has a record goes back to FINISHED
        with that earlier record instead (the reason says the re-score failed),
        so a re-score never removes a finished row from the leaderboard.
        """

    @abc.abstractmethod
    def release(self, submission_id: str, worker_id: str) -> bool:
        """RUNNING -> PENDING without using up an attempt (the worker is shutting down cleanly)."""

    @abc.abstractmethod
    def requeue_failed(self, submission_id: str) -> Submission | None:
        """FAILED -> PENDING with attempts and reason cleared (a failure that was the server's, not the
        model's); None when the job is not FAILED."""

    @abc.abstractmethod
    def recover_stale(self, stale_after: float, max_attempts: int) -> list[Recovered]:
        """Jobs RUNNING with a heartbeat older than ``stale_after`` seconds: their worker died.

        Each goes back to PENDING if it has been tried fewer than
        ``max_attempts`` times, else to FAILED with a reason saying it kept
        killing its worker.
        """

    @abc.abstractmethod
    def requeue(self, submission_ids: Sequence[str], reason: str) -> list[str]:
        """FINISHED or FAILED -> PENDING for a re-score (after new work, newest first); the record stays.

        The current record and every earlier one stay in the score history
        (:meth:`history`), so a leaderboard view of an older evaluator major,
        dataset version or round keeps its rows. Returns the ids requeued
        (others were PENDING or RUNNING already, or unknown).
        """

    @abc.abstractmethod
    def scored_keys(self, submission_id: str) -> list[ScoreKey]:
        """Every :class:`ScoreKey` this submission has a record for, oldest first."""

    @abc.abstractmethod
    def score(self, key: ScoreKey) -> dict[str, Any] | None:
        """The record scored for ``key``, if any."""

    @abc.abstractmethod
    def history(self, submission_id: str) -> list[tuple[ScoreKey, dict[str, Any], float]]:
        """``(key, record, scored_at)`` of every score of this submission, oldest first."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
