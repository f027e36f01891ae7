"""submissions: intake, validation, the queue, the worker and the leaderboard export.

Public API (imported on first use)::

    from submissions import submit, open_store
    sub = submit("model.onnx", "manifest.yaml", data="path/or/hub-id")   # Submission (PENDING) or SubmissionRejected
    with open_store() as store:
        store.get(sub.id).state
"""
from benchmark.lazy import lazy_api

_API = {
    "submit": ("submissions.intake", "submit"),
    "submit_baseline": ("submissions.intake", "submit_baseline"),
    "SubmissionRejected": ("submissions.errors", "SubmissionRejected"),
    "open_store": ("submissions.sqlite_store", "open_store"),
    "Worker": ("submissions.worker", "Worker"),
    "WorkerConfig": ("submissions.worker", "WorkerConfig"),
    "Manifest": ("submissions.manifest", "Manifest"),
}
__all__ = sorted(_API)
__getattr__, __dir__ = lazy_api(__name__, _API, globals())
