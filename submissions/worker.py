"""The evaluation worker: claim a job, score it in a limited child, record the outcome, repeat.

Guarantees (each backed by a test):

- two workers never run the same job: claiming is one atomic store transaction;
- a job is never lost: a worker that dies stops heartbeating, and the next
  worker to look puts its job back to PENDING (``recover_stale``);
- a job is never recorded twice: ``finish``/``fail`` only apply while the job
  is still RUNNING under this worker's id, and a worker whose heartbeat is
  refused (the job was handed on) kills its child and records nothing;
- a job that keeps killing workers ends FAILED after ``max_attempts`` tries;
- whatever one job does (hang, eat memory, crash, raise), the worker records
  a reason and moves on to the next.
"""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from submissions import export
from submissions.errors import StoreError
from submissions.infra import describe, disk_full, is_infrastructure_fault
from submissions.sandbox import ABANDONED, INFRASTRUCTURE, OK, SandboxLimits, SandboxOutcome, run_in_sandbox, warm_up
from submissions.hidden_rounds import HiddenRounds
from submissions.rescore import HIDDEN_CONFIG
from submissions.store import FAILED, FINISHED, PENDING, Store, Submission, submissions_home

log = logging.getLogger(__name__)

#: JobResult state of a job handed back after an infrastructure fault (it stays PENDING).
RETRY = "RETRY"
#: The round's hidden test handed to the child, in the attempt's folder; deleted when the child is done
#: (and, for a worker that died first, when its job is recovered).
HIDDEN_DRAW = "hidden-test.npz"


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker evaluates.

    Parameters
    ----------
    data : str, optional
        Dataset folder or Hub id to score against; default: the one recorded
        at submission (or the data home's).
    split : str
        Split scored (``"test"``).
    eval_params : dict
        ``evaluator.params.EvalParams`` fields to override (e.g. ``{"limit": 200}``).
    time_limit : float
        Wall-clock seconds one evaluation may take.
    memory_limit : int or None
        Address-space bytes of the evaluation child.
    heartbeat_seconds : float
        How often the running job's heartbeat is written.
    stale_after : float
        A RUNNING job whose heartbeat is older than this was orphaned by a dead
        worker and is requeued. Must comfortably exceed ``heartbeat_seconds``.
    max_attempts : int
        Claims allowed per job before a job that keeps killing workers is FAILED.
    poll_seconds : float
        Sleep between looks at an empty queue.
    threads : int
        ONNX Runtime threads of each evaluation (one per worker keeps
        several workers from fighting over the cores).
    launcher : {"forkserver", "spawn"}
        Fork evaluations from a warm server that imported the evaluator once
        (default), or start a fresh interpreter for each.
    artifacts : bool
        Let the evaluator write its artifacts (filter logos, Tomtom tables) to
        the job's run folder, copied to ``results/<id>/`` on finish; off
        saves ~1 s per job.
    hidden : bool
        Score synthetic submissions on the current hidden-test round (the
        secret is created on first start; docs/rounds.md), plus a public-test
        pass for the public-minus-hidden gap. Off: the public test only.
    intervals : dict or None
        ``evaluator.uncertainty.BootstrapSettings`` fields for the record's
        bootstrap intervals (``{}`` = defaults); None skips them.
    rescore_when_idle : bool
        With nothing queued, queue stale rows (older evaluator major, dataset
        version or round) for re-scoring, newest submission first.
    """

    data: str | None = None
    split: str = "test"
    eval_params: dict[str, Any] = field(default_factory=dict)
    time_limit: float = 1800.0
    memory_limit: int | None = 6 * 1024**3
    heartbeat_seconds: float = 5.0
    stale_after: float = 60.0
    max_attempts: int = 3
    poll_seconds: float = 5.0
    threads: int = 1
    launcher: str = "forkserver"
    artifacts: bool = True
    hidden: bool = True
    intervals: dict[str, Any] | None = field(default_factory=dict)
    rescore_when_idle: bool = True
    #: Seconds to wait after an infrastructure fault (doubling per fault in a row, capped).
    fault_backoff: float = 2.0
    fault_backoff_max: float = 60.0
    #: With ``once``: give up after this many infrastructure faults in a row.
    max_faults_once: int = 3
    #: Tries to record a finished/failed job while the database refuses writes.
    record_retries: int = 5
    #: Back up the queue database with SQLite's online backup API about once an hour.
    backups: bool = True
    #: Below this many free bytes in the data home no job is claimed, and a job that
    #: crashes or errors is handed back rather than failed (the disk, not the model).
    min_free_bytes: int = 64 * 1024**2


@dataclass(frozen=True)
class JobResult:
    """What one worker did with one claimed job."""

    id: str
    state: str  # FINISHED, FAILED, or "ABANDONED" (handed to another worker; nothing recorded)
    reason: str | None
    seconds: float


def new_worker_id() -> str:
    """``host:pid:random``: unique per worker process, readable in ``motifbench queue``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    """One worker process's loop over the store.

    Parameters
    ----------
    store : Store
    config : WorkerConfig
    worker_id : str, optional
        Default :func:`new_worker_id`.
    home : Path, optional
        Data home for run folders and exports (default: the current one).
    """

    def __init__(self, store: Store, config: WorkerConfig | None = None, worker_id: str | None = None,
                 home: Path | None = None) -> None:
        self.store = store
        self.config = config or WorkerConfig()
        self.worker_id = worker_id or new_worker_id()
        self.root = submissions_home(home)
        self.home = home
        self.hidden = HiddenRounds(home) if self.config.hidden else None
        self._tried: set = set()  # (submission id, score key) this worker queued for re-scoring
        #: True only while a job's child is running: the one moment an interrupt
        #: (SIGTERM) may cut in, since the job is then simply handed back.
        self.interruptible = False
        #: Infrastructure faults in a row (reset by a job that ends normally).
        self.faults = 0
        self._should_stop: Callable[[], bool] | None = None

    def run(self, once: bool = False, max_jobs: int | None = None, should_stop: Callable[[], bool] | None = None) -> list[JobResult]:
        """Serve jobs until told to stop.

        Parameters
        ----------
        once : bool
            Return as soon as the queue has no PENDING job (instead of polling).
        max_jobs : int, optional
            Return after this many jobs.
        should_stop : callable, optional
            Checked between jobs; True ends the loop.
        """
        done: list[JobResult] = []
        self._should_stop = should_stop
        log.info("worker %s serving %s", self.worker_id, self.root)
        while not (should_stop and should_stop()):
            if max_jobs is not None and len(done) >= max_jobs:
                break
            if disk_full(self.root, self.config.min_free_bytes):  # claim nothing until there is room to work
                self._back_off(describe(self.root, threshold=self.config.min_free_bytes))
                if once and self.faults >= self.config.max_faults_once:
                    break
                continue
            try:
                self.recover()
                if self.config.launcher == "forkserver" and self.store.counts().get(PENDING):
                    self._warm_up()
                job = self.store.claim(self.worker_id)
                if job is None and self.config.rescore_when_idle and self._queue_stale():
                    job = self.store.claim(self.worker_id)
            except StoreError as exc:  # full disk, locked or damaged database: wait, never die
                self._back_off(f"the store is unavailable: {exc}")
                if once and self.faults >= self.config.max_faults_once:
                    break
                continue
            if job is None:
                if once:
                    break
                time.sleep(self.config.poll_seconds)
                continue
            try:
                result = self.process(job)
            except StoreError as exc:  # could not record it: the stale heartbeat requeues it later
                result = JobResult(job.id, RETRY, f"the store is unavailable: {exc}", 0.0)
            if result.state == RETRY:
                self._back_off(result.reason or "infrastructure fault")
                if once and self.faults >= self.config.max_faults_once:
                    break
                continue
            self.faults = 0
            done.append(result)
            self._maybe_backup()
        return done

    def _warm_up(self) -> None:
        """Start (or restart) the fork server before claiming: its imports take seconds, far longer on a busy
        machine, and a claimed job waiting on them could outlive ``stale_after`` and be taken twice."""
        try:
            warm_up("evaluate")
        except Exception:  # the job's own start retries it and reports the failure as the job's outcome
            log.exception("the warm fork server did not start")

    def context(self):
        """What "current" means for this worker (evaluator major, dataset versions, its round)."""
        from submissions.rescore import current_context

        return current_context(self.config.data, self.home, hidden=self.config.hidden)

    def _queue_stale(self) -> list[str]:
        """Queue stale rows once per (row, key) per worker: a row whose re-score cannot reach the current key
        (e.g. it names another dataset folder) is not requeued forever."""
        from submissions.rescore import rescore, stale_ids

        try:
            context = self.context()
            keyed = {sid: context.key(self.store.get(sid)) for sid in stale_ids(self.store, context)}
            todo = [sid for sid, key in keyed.items() if (sid, key) not in self._tried]
            queued = rescore(self.store, todo, context=context) if todo else []
        except Exception:  # a broken dataset folder must not stop new submissions being served
            log.exception("looking for stale rows failed")
            return []
        self._tried.update((sid, keyed[sid]) for sid in queued)
        return queued

    def _back_off(self, why: str) -> None:
        """Sleep longer after each consecutive infrastructure fault (capped), saying why."""
        self.faults += 1
        delay = min(self.config.fault_backoff * 2 ** (self.faults - 1), self.config.fault_backoff_max)
        log.error("worker %s: %s; retrying in %.1f s (fault %d in a row)", self.worker_id, why, delay, self.faults)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline and not (self._should_stop and self._should_stop()):
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))  # SIGTERM ends the wait

    def _maybe_backup(self) -> None:
        """An online backup of the queue database every hour or so (store_health.rotate_backups)."""
        path = getattr(self.store, "path", None)
        if path is None or not self.config.backups:
            return
        try:
            from submissions.store_health import rotate_backups

            made = rotate_backups(path)
            if made is not None:
                log.info("backed up the queue database to %s", made)
        except Exception:  # a failed backup must not stop the queue
            log.exception("backing up %s failed", path)

    def recover(self) -> None:
        """Requeue (or fail) jobs whose workers died."""
        for item in self.store.recover_stale(self.config.stale_after, self.config.max_attempts):
            log.warning("job %s had a silent worker: now %s (attempt %d)", item.id, item.new_state, item.attempts)
            for attempt in range(1, item.attempts + 1):  # a dead worker never deleted its hidden draw
                export.attempt_dir(item.id, attempt, self.root).joinpath(HIDDEN_DRAW).unlink(missing_ok=True)
            if item.new_state in (FAILED, FINISHED):  # FINISHED: a failed re-score kept its earlier record
                self._export(item.id, artifacts=False)

    def process(self, job: Submission) -> JobResult:
        """Evaluate one claimed job and record FINISHED or FAILED; never raises for the job's faults."""
        start = time.monotonic()
        if job.rescore:
            known = self.store.score(self.context().key(job))
            if known is not None:  # this key was scored already: reuse it, never score a key twice
                if self.store.finish(job.id, self.worker_id, known):
                    self._export(job.id)
                    return JobResult(job.id, FINISHED, "already scored for this key", time.monotonic() - start)
        log.info("job %s (%s) attempt %d: evaluating", job.id, job.model_name, job.attempts)
        self.interruptible = True
        try:
            outcome = self._evaluate(job)
        except (KeyboardInterrupt, SystemExit):
            self.store.release(job.id, self.worker_id)  # stopping cleanly: someone else takes it
            raise
        except Exception as exc:  # our own fault (store, disk): never the model's
            log.exception("job %s: worker error", job.id)
            if is_infrastructure_fault(exc) or isinstance(exc, StoreError):
                outcome = SandboxOutcome(INFRASTRUCTURE, message=describe(self.root, exc))
            else:
                outcome = SandboxOutcome("error", message=f"worker error: {type(exc).__name__}: {exc}")
        finally:
            self.interruptible = False
        seconds = time.monotonic() - start
        if outcome.status not in (OK, ABANDONED, INFRASTRUCTURE) and disk_full(self.root, self.config.min_free_bytes):
            # a crash or error while the data home is full is the disk's doing until shown otherwise
            outcome = SandboxOutcome(INFRASTRUCTURE, message=f"{describe(self.root, threshold=self.config.min_free_bytes)} "
                                                             f"(the evaluation ended: {outcome.message[:200]})")
        if outcome.status == INFRASTRUCTURE:  # the server failed, not the model: back to PENDING, no attempt used
            try:
                self.store.release(job.id, self.worker_id)
            except StoreError:  # the store is down too: the job's heartbeat goes stale and it is requeued
                log.exception("job %s: could not hand it back", job.id)
            log.error("job %s handed back to the queue: %s", job.id, outcome.message)
            return JobResult(job.id, RETRY, outcome.message, seconds)
        if outcome.status == ABANDONED:
            log.warning("job %s was handed to another worker while running; nothing recorded", job.id)
            return JobResult(job.id, "ABANDONED", outcome.message, seconds)
        if outcome.status == OK:
            record = outcome.result if isinstance(outcome.result, dict) else {"result": outcome.result}
            if self._record(self.store.finish, job, record):
                log.info("job %s FINISHED in %.1f s", job.id, seconds)
                self._export(job.id, artifacts_from=self._run_dir(job) / "out")
                return JobResult(job.id, FINISHED, None, seconds)
            return JobResult(job.id, "ABANDONED", "job no longer ours at finish", seconds)
        reason = outcome.message or outcome.status
        if self._record(self.store.fail, job, reason):
            kept = job.rescore and job.record is not None  # the store kept it FINISHED with its earlier record
            log.warning("job %s %s: %s", job.id, "re-score FAILED (its earlier record stays)" if kept else "FAILED",
                        reason)
            self._export(job.id, artifacts=not kept)
            return JobResult(job.id, FAILED, reason, seconds)
        return JobResult(job.id, "ABANDONED", "job no longer ours at fail", seconds)

    def _record(self, action: Callable[[str, str, Any], bool], job: Submission, value: Any) -> bool:
        """``store.finish`` / ``store.fail``, retried while the database cannot be written (full disk)."""
        for attempt in range(self.config.record_retries):
            try:
                return action(job.id, self.worker_id, value)
            except StoreError as exc:
                if attempt + 1 == self.config.record_retries:
                    raise
                self._back_off(f"cannot record job {job.id}: {exc}")
        return False

    def _evaluate(self, job: Submission) -> SandboxOutcome:
        checkpoint = self.store.checkpoints.path(job.sha256)
        if not checkpoint.is_file():
            return SandboxOutcome("error", message=f"the stored checkpoint {checkpoint.name} is missing; resubmit")
        run_dir = self._run_dir(job)
        kwargs = {
            "model": str(checkpoint),
            "data": self.config.data or job.data_source,
            "config": job.dataset_config,
            "split": self.config.split,
            "out_dir": str(run_dir / "out") if self.config.artifacts else None,
            "params": _fitted_params(self.config.eval_params, job.trial),
            "tap": job.manifest.get("first_layer_tap"),
            "logits_output": job.manifest.get("logits_output"),
            "output_kind": job.manifest.get("output_kind"),
            "model_name": job.model_name,
            "threads": self.config.threads,
            "intervals": self.config.intervals,
        }
        limits = SandboxLimits(
            wall_seconds=self.config.time_limit,
            memory_bytes=self.config.memory_limit,
            heartbeat_seconds=self.config.heartbeat_seconds,
        )
        draw = None
        if self.hidden is not None and job.dataset_config == HIDDEN_CONFIG:
            # the worker draws the hidden test; the child gets sequences and ground truth, never the seed
            draw, round_info = self.hidden.write_draw(run_dir / HIDDEN_DRAW, job.dataset_version)
            self.store.heartbeat(job.id, self.worker_id)  # drawing the test took a while: renew the lease
            kwargs.update(hidden_draw=str(draw), round_info=round_info)
        try:
            return run_in_sandbox("evaluate", kwargs, limits, run_dir, launcher=self.config.launcher,
                                  heartbeat=lambda: self.store.heartbeat(job.id, self.worker_id))
        finally:
            if draw is not None:
                draw.unlink(missing_ok=True)  # the round's test stays secret until the round ends

    def _run_dir(self, job: Submission) -> Path:
        return export.attempt_dir(job.id, job.attempts, self.root)

    def _export(self, submission_id: str, artifacts_from: Path | None = None, artifacts: bool = True) -> None:
        try:
            export.export_submission(self.store, submission_id, self.root, artifacts_from=artifacts_from,
                                     artifacts=artifacts)
        except Exception:  # an export problem must not stop the queue; `queue --export` rebuilds
            log.exception("exporting %s failed", submission_id)


def _fitted_params(eval_params: dict, trial: dict | None) -> dict:
    """The worker's evaluation parameters, with ISM batched no larger than the trial found to fit in memory."""
    params = dict(eval_params)
    fitted = (trial or {}).get("ism_batch_mutants")
    if fitted:
        from evaluator import EvalParams

        params["ism_batch_mutants"] = min(int(fitted), int(params.get("ism_batch_mutants", EvalParams.ism_batch_mutants)))
    return params
