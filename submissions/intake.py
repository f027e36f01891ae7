"""Submitting a model: validate everything, then store it and queue it, or store nothing.

Order of checks (cheapest first, and nothing executes the model until the
last one): manifest -> dataset version -> size cap while staging -> duplicate
-> file format -> static graph checks -> sandboxed trial run. Only a
submission that passes all of them is moved into the content-addressed
checkpoint store and inserted as PENDING; on any rejection the staged file is
deleted and the database is untouched.
"""
from __future__ import annotations

import fcntl
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from benchmark.datasets import DATASET_CONFIGS, dataset_config
from benchmark.errors import MotifbenchError
from submissions.errors import SubmissionRejected
from submissions.infra import describe, failed_for_disk, is_infrastructure_fault
from submissions.intake_log import TRIAL, ComputeBudget, IntakeLog
from submissions.limits import trial_batches
from submissions.manifest import Manifest, load_manifest, parse_manifest
from submissions.sandbox import INFRASTRUCTURE, OK, OUT_OF_MEMORY, REJECTED, TIMEOUT, SandboxLimits, run_in_sandbox
from submissions.sqlite_store import open_store
from submissions.store import FAILED, Store, Submission, submissions_home
from submissions.validate import (
    StagedFile,
    ValidationLimits,
    check_static,
    parse_onnx,
    stage_checkpoint,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetFacts:
    """What intake needs to know about the targeted dataset."""

    version: str
    length: int
    source: str | None


def _bare(version: str) -> str:
    return version[1:] if version.startswith("v") else version


def dataset_facts(data: str | Path | None, config: str) -> DatasetFacts:
    """Version and sequence length of ``config`` in the dataset at ``data`` (None = the data home's)."""
    try:
        from benchmark.loader import dataset_info

        info = dataset_info(data, config)
    except MotifbenchError as exc:
        raise SubmissionRejected(
            "dataset_unavailable", f"the targeted dataset config {config!r} is not available here: {exc}"
        ) from None
    source = None if data is None else str(Path(data).resolve()) if Path(str(data)).exists() else str(data)
    return DatasetFacts(info.version, int(info.sequence_length or dataset_config(config).length), source)


def _check_version(manifest: Manifest, facts: DatasetFacts) -> None:
    if _bare(manifest.dataset_version) != _bare(facts.version):
        raise SubmissionRejected(
            "dataset_version_mismatch",
            f"the manifest targets {manifest.dataset_config} version {manifest.dataset_version}, "
            f"but this service scores against version {facts.version}",
        )


def _trial(staged: StagedFile, manifest: Manifest, length: int, output_name: str, limits: ValidationLimits,
           workdir: Path, spent: list[float] | None = None) -> dict[str, Any]:
    kwargs = {
        "model": str(staged.path),
        "length": length,
        "output_kind": manifest.output_kind,
        "output_name": output_name,
        "batch": limits.trial_batch,
        "batches": [limits.trial_batch, *trial_batches(length)[1:]],
        "tap": manifest.first_layer_tap,
        "logits_output": manifest.logits_output,
    }
    sandbox = SandboxLimits(wall_seconds=limits.trial_seconds, memory_bytes=limits.trial_memory_bytes,
                            heartbeat_seconds=min(1.0, limits.trial_seconds))
    outcome = run_in_sandbox("trial", kwargs, sandbox, workdir, launcher=limits.trial_launcher)
    if spent is not None:
        spent.append(outcome.seconds)
    if outcome.status == OK:
        return {**outcome.result, "seconds": round(outcome.seconds, 3)}
    if outcome.status == REJECTED:
        raise SubmissionRejected(outcome.code or "trial_rejected", outcome.message)
    if outcome.status == TIMEOUT:
        raise SubmissionRejected(
            "trial_timeout",
            f"the trial batches ({', '.join(map(str, kwargs['batches']))} sequences) did not finish within "
            f"{limits.trial_seconds:g} s; the model must run in bounded time",
        )
    if outcome.status == OUT_OF_MEMORY:
        raise SubmissionRejected("trial_out_of_memory", f"the trial batch ran {outcome.message}")
    if outcome.status == INFRASTRUCTURE:
        raise SubmissionRejected("service_unavailable", f"the server could not run the trial ({outcome.message}); "
                                                        "this is not the model's fault: try again later")
    raise SubmissionRejected("trial_failed", f"the trial run failed: {outcome.message}")


def submit(
    model: str | Path | BinaryIO,
    manifest: Manifest | dict[str, Any] | str | Path,
    *,
    data: str | Path | None = None,
    store: Store | None = None,
    limits: ValidationLimits | None = None,
    baseline: bool = False,
    budget: ComputeBudget | None = None,
) -> Submission:
    """Validate a checkpoint + manifest and queue it as PENDING.

    Parameters
    ----------
    model : path or binary stream
        The ``.onnx`` file (a stream is copied in chunks and cut off at the size cap).
    manifest : Manifest, dict or path
        The manifest, parsed or as a JSON/YAML file.
    data : path or Hub id, optional
        The dataset the submission is scored against (default: the data home's);
        its version must match the manifest's.
    store : Store, optional
        Default: :func:`submissions.store.open_store` in the data home.
    limits : ValidationLimits, optional
        Size cap, op-set range and trial limits.
    baseline : bool
        Mark the row as a motifbench baseline (the leaderboard shows it apart).
    budget : ComputeBudget, optional
        Per-submitter trial + evaluation seconds (default
        :meth:`ComputeBudget.from_env`; baselines are exempt). Each trial's
        seconds are logged against the submitter, accepted or not.

    Returns
    -------
    Submission
        The new PENDING submission.

    Raises
    ------
    SubmissionRejected
        With a ``code`` naming the failed check; ``code == "duplicate"`` carries
        ``existing_id``. Nothing is stored.
    """
    limits = limits or ValidationLimits()
    if not isinstance(manifest, Manifest):
        manifest = parse_manifest(manifest) if isinstance(manifest, dict) else load_manifest(manifest)
    facts = dataset_facts(data, manifest.dataset_config)
    _check_version(manifest, facts)
    manifest_dict = manifest.to_dict()
    manifest_dict["dataset"]["version"] = facts.version  # one spelling, so duplicates are found
    own_store = store is None
    store = store or open_store()
    incoming = submissions_home() / "incoming"
    staged: StagedFile | None = None
    spent: list[float] = []
    try:
        sweep_incoming(incoming)
        with IntakeLog() as intake_log:
            if not baseline:
                budget = budget if budget is not None else ComputeBudget.from_env()
                if budget is not None:
                    budget.check(store, intake_log, manifest.submitter)
            try:
                with _intake_folder(incoming) as folder:
                    staged = stage_checkpoint(model, folder, limits.max_bytes)
                    existing = store.find(staged.sha256, manifest.dataset_config, facts.version)
                    if existing is not None and existing.state == FAILED and failed_for_disk(existing.reason):
                        requeued = store.requeue_failed(existing.id)  # the disk failed it, not the model
                        if requeued is not None:
                            log.info("requeued %s: it had failed for a full disk", existing.id)
                            return requeued
                    if existing is not None:
                        raise _duplicate(existing)
                    static = check_static(parse_onnx(staged.path), manifest, facts.length, limits)
                    trial = _trial(staged, manifest, facts.length, static.output_name, limits, folder / "trial", spent)
                    trial["opset"] = static.opset
                    store.checkpoints.put(staged.path, staged.sha256)
            finally:
                if spent:
                    intake_log.record(manifest.submitter, TRIAL, seconds=sum(spent))
        submission, created = store.add(
            manifest=manifest_dict, sha256=staged.sha256, size_bytes=staged.size, baseline=baseline,
            data_source=facts.source, trial=trial,
        )
        if not created:  # a concurrent submit of the same file won the race
            raise _duplicate(submission)
        log.info("queued %s (%s, sha256 %s)", submission.id, submission.model_name, staged.sha256[:12])
        return submission
    except OSError as exc:
        if is_infrastructure_fault(exc):
            raise SubmissionRejected("service_unavailable", f"the server cannot store the upload: "
                                                            f"{describe(incoming, exc)}") from None
        raise
    finally:
        if own_store:
            store.close()


#: Loose staging files from before intake folders (and of any other crash) are swept after this long.
STALE_STAGING_SECONDS = 3600.0


@contextmanager
def _intake_folder(incoming: Path) -> Iterator[Path]:
    """``incoming/intake-XXXX/``: one intake's staged upload and trial folder, locked while in use.

    The folder is removed when the intake ends, however it ends; if the
    process is killed, the lock dies with it and :func:`sweep_incoming` (run
    by every submit and by ``serve`` on start) removes the folder.
    """
    incoming.mkdir(parents=True, exist_ok=True)
    # locked before it gets the name the sweeper looks for, so a concurrent sweep never takes a live folder
    folder = Path(tempfile.mkdtemp(prefix=".new-", dir=incoming))
    lock = open(folder / ".lock", "w")  # noqa: SIM115 - held for the whole intake
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        named = incoming / ("intake-" + folder.name[len(".new-"):])
        os.rename(folder, named)
        folder = named
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lock.close()


def sweep_incoming(incoming: Path | None = None, now: float | None = None) -> list[Path]:
    """Remove staged uploads and trial folders that no running intake holds; returns what was removed."""
    incoming = incoming or submissions_home() / "incoming"
    if not incoming.is_dir():
        return []
    now = time.time() if now is None else now
    removed = []
    for entry in incoming.iterdir():
        try:
            if entry.is_dir() and entry.name.startswith("intake-"):
                with open(entry / ".lock", "a") as lock:
                    try:
                        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # a live intake holds it
                    shutil.rmtree(entry, ignore_errors=True)
            elif now - entry.lstat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
            else:
                continue
            removed.append(entry)
        except OSError:
            continue
    if removed:
        log.info("removed %d staged upload(s) of interrupted intakes from %s", len(removed), incoming)
    return removed


def _duplicate(existing: Submission) -> SubmissionRejected:
    return SubmissionRejected(
        "duplicate",
        f"this checkpoint (sha256 {existing.sha256[:12]}...) was already submitted for "
        f"{existing.dataset_config} {existing.dataset_version} as {existing.id} ({existing.state}); "
        "it is not evaluated again",
        existing_id=existing.id,
    )


def baseline_manifest(spec: dict[str, Any], dataset_version: str, submitter: str = "motifbench baselines") -> dict[str, Any]:
    """A manifest for a baselines run folder, from its spec.json record."""
    length = int(spec.get("input_length", 200))
    config = next((c.name for c in DATASET_CONFIGS.values() if c.length == length), "synthetic")
    zoo, activation = spec.get("zoo_name", "baseline"), spec.get("activation")
    convs = (spec.get("spec") or {}).get("convs") or [{}]
    architecture = {"framework": "pytorch", "zoo_name": str(zoo)}
    if activation:
        architecture["activation"] = str(activation)
    if isinstance(convs[0].get("pool"), int):
        architecture["first_layer_pool"] = convs[0]["pool"]
    trainable = (spec.get("parameters") or {}).get("trainable")
    if isinstance(trainable, int):
        architecture["params"] = trainable
    name = family = f"{zoo}-{activation}" if activation else str(zoo)
    if "seed" in spec:
        name += f"-seed{spec['seed']}"
    if isinstance(spec.get("family"), str) and spec["family"]:
        family = spec["family"]  # a bundled run's family names its protocol (baselines.bundle.family_name)
    seeds = {"family": family[:100]}  # baselines are families: the seeds of one zoo model and activation
    if isinstance(spec.get("seed"), int) and spec["seed"] >= 0:
        seeds["seed"] = spec["seed"]
    return {
        "model_name": name[:100],
        "submitter": submitter,
        "dataset": {"config": config, "version": dataset_version},
        "output_kind": "probabilities",
        "first_layer_tap": "first_layer",
        "description": f"motifbench baseline {zoo} ({activation}), trained by `motifbench train`",
        "license": "MIT",
        "architecture": architecture,
        **seeds,
    }


def submit_baseline(
    onnx_path: str | Path,
    spec: dict[str, Any],
    manifest: Manifest | dict[str, Any] | str | Path | None = None,
    *,
    data: str | Path | None = None,
    store: Store | None = None,
    limits: ValidationLimits | None = None,
) -> Submission:
    """Submit a baseline's ONNX export as a baseline (flag ``baseline``), like any submission.

    Parameters
    ----------
    onnx_path : path
        The exported model (``motifbench submit RUN_FOLDER --baseline`` exports the run folder first,
        see :mod:`motifbench.checkpoints`; a run folder's own ``model.onnx`` works too).
    spec : dict
        The run's ``spec.json``; without ``manifest`` the manifest is derived from it.
    """
    if not isinstance(spec, dict):
        raise SubmissionRejected("baseline_unreadable", "the baseline's spec.json does not hold a JSON object")
    if manifest is None:
        config = baseline_manifest(spec, "0.0.0")["dataset"]["config"]
        manifest = baseline_manifest(spec, dataset_facts(data, config).version)
    return submit(Path(onnx_path), manifest, data=data, store=store, limits=limits, baseline=True)
