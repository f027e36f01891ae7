"""Why a submission was turned away, in words and as a machine-readable code.

The CLI prints the message; the Space shows it beside the upload form; scripts
and tests branch on :attr:`SubmissionRejected.code`, which never changes wording.
"""
from __future__ import annotations

from benchmark.errors import MotifbenchError


class SubmissionRejected(MotifbenchError):
    """A submission failed validation; nothing was stored.

    Parameters
    ----------
    code : str
        Stable machine-readable reason, e.g. ``"not_onnx"``, ``"external_data"``,
        ``"duplicate"`` (see docs/submissions.md for the full list).
    message : str
        What was wrong and what was expected, for the submitter.
    existing_id : str, optional
        For ``code == "duplicate"``: the id of the submission already holding
        this checkpoint for the same dataset config and version.
    """

    exit_code = 4
    #: Longest message kept: messages quote submitted names and values, which must not echo back whole.
    max_message_chars = 1000

    def __init__(self, code: str, message: str, existing_id: str | None = None) -> None:
        message = str(message)
        if len(message) > self.max_message_chars:
            message = message[: self.max_message_chars - 1] + "…"
        super().__init__(f"[{code}] {message}")
        self.code = code
        self.detail = message
        self.existing_id = existing_id


class StoreError(MotifbenchError):
    """The queue database or checkpoint store is missing, locked or inconsistent."""
