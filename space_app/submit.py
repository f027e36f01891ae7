"""The Submit tab's logic: form fields -> manifest -> :func:`submissions.intake.submit`.

Validation is the submissions part's (manifest schema, ONNX checks, sandboxed
trial run); this module only turns form fields into a manifest, decides who
the submitter is (Hugging Face login on a Space, a name field locally),
enforces the per-user rate limit on a Space, and words the outcome for a
person.
"""
from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.errors import MotifbenchError
from space_app.safe_text import md
from submissions.errors import SubmissionRejected
from submissions.manifest import DATASET_CONFIGS, OUTPUT_KINDS
from submissions.store import FAILED, FINISHED, Store, Submission

#: Form labels of manifest fields, so a schema error names what the user sees.
FIELD_LABELS = {
    "model_name": "Model name",
    "submitter": "Submitter",
    "dataset.config": "Dataset",
    "dataset.version": "Dataset version",
    "output_kind": "Output",
    "first_layer_tap": "First-layer tensor",
    "description": "Description",
    "links": "Links",
    "license": "License",
    "architecture.framework": "Framework",
    "architecture.activation": "First-layer activation",
    "architecture.first_layer_pool": "First-layer pool",
    "architecture.params": "Parameters",
}
DAY = 24 * 3600.0
#: Longest error message shown beside the form (messages quote user input).
MESSAGE_CHARS = 600


def on_space() -> bool:
    """True when running as a Hugging Face Space (Spaces set ``SPACE_ID``)."""
    return bool(os.environ.get("SPACE_ID"))


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_submissions`` per submitter within ``window_seconds``."""

    max_submissions: int = 5
    window_seconds: float = DAY

    @classmethod
    def from_env(cls) -> RateLimit | None:
        """On a Space: ``MOTIFBENCH_SUBMISSIONS_PER_DAY`` (default 5, 0 = unlimited); locally none."""
        if not on_space():
            return None
        n = int(os.environ.get("MOTIFBENCH_SUBMISSIONS_PER_DAY", "5"))
        return cls(n) if n > 0 else None

    def check(self, store: Store, submitter: str, now: float | None = None) -> None:
        """Raise ``SubmissionRejected("rate_limited")`` when ``submitter`` has used up the window.

        Counted: queued submissions, rejected attempts (:class:`submissions.intake_log.IntakeLog`)
        and uploads still being checked in the background.
        """
        from space_app.intake_queue import TICKETS
        from submissions.intake_log import REJECTED, IntakeLog

        now = time.time() if now is None else now
        since = now - self.window_seconds
        recent = [s.created_at for s in store.list() if s.submitter == submitter and s.created_at > since]
        with IntakeLog() as log:
            rejected = log.count(submitter, REJECTED, since)
            oldest_rejected = log.oldest(submitter, REJECTED, since)
        used = len(recent) + rejected + TICKETS.pending(submitter)
        if used >= self.max_submissions:
            oldest = min([*recent, *([oldest_rejected] if oldest_rejected else []), now])
            wait = oldest + self.window_seconds - now
            raise SubmissionRejected(
                "rate_limited",
                f"{submitter} has made {used} submission attempts ({rejected} rejected) in the last "
                f"{self.window_seconds / 3600:g} h; the limit is {self.max_submissions}. "
                f"Try again in {max(1, round(wait / 60))} min.",
            )


@dataclass(frozen=True)
class Outcome:
    """What the form shows after Submit: a message, and the new submission's id when accepted."""

    message: str
    submission_id: str | None = None
    accepted: bool = False
    #: True while the checks run in the background; ``submission_id`` is then the ticket id.
    pending: bool = False


def _int_or_none(text: Any, label: str) -> int | None:
    if text is None or str(text).strip() == "":
        return None
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise SubmissionRejected("manifest_invalid_field", f"{label} must be a whole number, got {text!r}") from None
    if value != int(value) or value < 0:
        raise SubmissionRejected("manifest_invalid_field", f"{label} must be a whole number >= 0, got {text!r}")
    return int(value)


def build_manifest(*, model_name: str, submitter: str, dataset_config: str, dataset_version: str,
                   output_kind: str, license: str, first_layer_tap: str = "", description: str = "",
                   links: str = "", framework: str = "", activation: str = "", first_layer_pool: Any = None,
                   params: Any = None) -> dict[str, Any]:
    """Form fields -> manifest dict (docs/submissions.md); blank optional fields are left out."""
    manifest: dict[str, Any] = {
        "model_name": (model_name or "").strip(),
        "submitter": (submitter or "").strip(),
        "dataset": {"config": dataset_config, "version": dataset_version},
        "output_kind": output_kind,
        "license": (license or "").strip(),
        "description": (description or "").strip(),
        "links": [u for u in re.split(r"[\s,]+", links or "") if u],
    }
    if first_layer_tap and first_layer_tap.strip():
        manifest["first_layer_tap"] = first_layer_tap.strip()
    arch = {
        "framework": (framework or "").strip() or None,
        "activation": (activation or "").strip() or None,
        "first_layer_pool": _int_or_none(first_layer_pool, "First-layer pool"),
        "params": _int_or_none(params, "Parameters"),
    }
    arch = {k: v for k, v in arch.items() if v is not None}
    if arch:
        manifest["architecture"] = arch
    return manifest


def plain_words(exc: SubmissionRejected) -> str:
    """The rejection as a person reads it: form labels instead of manifest paths."""
    text = exc.detail
    for path, label in sorted(FIELD_LABELS.items(), key=lambda kv: -len(kv[0])):
        text = text.replace(f"manifest field {path!r}", f"the field “{label}”")
        text = text.replace(f"required field {path!r}", f"field “{label}”")
    return text


def dataset_version(config: str, data: str | Path | None = None) -> str:
    """The version of ``config`` this service scores against (the local dataset's manifest)."""
    from benchmark.loader import dataset_info

    return dataset_info(data, config).version


def available_configs(data: str | Path | None = None) -> dict[str, str]:
    """``{config: version}`` for each dataset config present locally."""
    out = {}
    for config in DATASET_CONFIGS:
        try:
            out[config] = dataset_version(config, data)
        except MotifbenchError:
            continue
    return out


def submit_form(model_file: str | None, fields: dict[str, Any], store: Store, *,
                data: str | Path | None = None, rate_limit: RateLimit | None = None,
                background: bool = False) -> Outcome:
    """Validate and queue one form submission; every failure becomes a plain-words message.

    Parameters
    ----------
    model_file : path of the uploaded ``.onnx`` (None when nothing was uploaded).
    fields : keyword arguments of :func:`build_manifest` except ``dataset_version``.
    store : the submissions store.
    data : dataset folder (default: the data home's).
    rate_limit : per-submitter limit (None = unlimited); rejected attempts count too.
    background : run the file checks and the trial in the background pool
        (:mod:`space_app.intake_queue`) and return at once with ``pending`` and a
        ticket id; what the app does, so a trial never holds a request slot.
    """
    submitter = (fields.get("submitter") or "").strip()
    try:
        if not model_file:
            raise SubmissionRejected("file_missing", "choose the model's .onnx file to upload first")
        if not submitter:
            raise SubmissionRejected("manifest_missing_field", "say who is submitting (the Submitter field)")
        if rate_limit is not None:
            rate_limit.check(store, submitter)
        config = fields.get("dataset_config")
        if config not in DATASET_CONFIGS:
            raise SubmissionRejected("manifest_invalid_field", f"Dataset must be one of {', '.join(DATASET_CONFIGS)}")
        if fields.get("output_kind") not in OUTPUT_KINDS:
            raise SubmissionRejected("manifest_invalid_field", f"Output must be one of {', '.join(OUTPUT_KINDS)}")
        try:
            version = dataset_version(config, data)
        except MotifbenchError as exc:
            raise SubmissionRejected("dataset_unavailable", f"this service has no {config} dataset: {exc}") from None
        manifest = build_manifest(dataset_version=version, **fields)
    except MotifbenchError as exc:
        if getattr(exc, "code", None) != "rate_limited":  # a refused-for-rate attempt does not extend the window
            _log_rejection(submitter, exc)
        return _rejected(exc)
    if background:
        from space_app.intake_queue import TICKETS

        ticket = TICKETS.start(submitter, _intake, Path(model_file), manifest, data)
        return Outcome(f"**Checking** the upload (file format, graph, a sandboxed trial run): ticket `{ticket}`. "
                       "The result appears here in a moment.", ticket, accepted=False, pending=True)
    return _intake(Path(model_file), manifest, data, store)


def _intake(model_file: Path, manifest: dict[str, Any], data: str | Path | None, store: Store | None = None) -> Outcome:
    """The full intake (:func:`submissions.intake.submit`) as an Outcome; rejections are logged."""
    from submissions.intake import submit
    from submissions.sqlite_store import open_store

    own = store is None
    store = store or open_store()
    try:
        sub = submit(model_file, manifest, data=data, store=store)
    except MotifbenchError as exc:
        _log_rejection(manifest.get("submitter", ""), exc)
        return _rejected(exc)
    finally:
        if own:
            store.close()
    return Outcome(
        f"**Accepted** as `{sub.id}`: state **{sub.state}**. The worker evaluates submissions in order; "
        "this page updates the state below, and the row appears on the leaderboard when it is FINISHED.",
        sub.id,
        True,
    )


def _rejected(exc: MotifbenchError) -> Outcome:
    if isinstance(exc, SubmissionRejected):
        code = exc.code if re.fullmatch(r"[a-z0-9_]{1,60}", exc.code or "") else "rejected"  # codes are ours
        return Outcome(f"**Not accepted** ({code}): {md(plain_words(exc), MESSAGE_CHARS)}", exc.existing_id)
    return Outcome(f"**Not accepted**: {md(exc, MESSAGE_CHARS)}")


def _log_rejection(submitter: str, exc: BaseException) -> None:
    """Count a rejected attempt against its submitter (the rate limit reads it)."""
    if not submitter:
        return
    from submissions.intake_log import REJECTED, IntakeLog

    try:
        with IntakeLog() as log:
            log.record(submitter, REJECTED, getattr(exc, "code", type(exc).__name__))
    except MotifbenchError:
        pass


def status_text(sub: Submission | None) -> str:
    """One line on a submission's progress, for the Submit tab's status box."""
    if sub is None:
        return ""
    line = f"`{sub.id}` {md(sub.model_name)}: **{sub.state}**"
    if sub.state == FINISHED:
        line += " · its row is on the Leaderboard tab"
    elif sub.state == FAILED:
        line += f" · reason: {md(sub.reason, MESSAGE_CHARS)}"
    return line
