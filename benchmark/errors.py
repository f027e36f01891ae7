"""Errors a user can act on.

Every part raises subclasses of :class:`MotifbenchError` for bad input so the
CLI can print one clean line (and a specific exit code) instead of a traceback.
"""


class MotifbenchError(ValueError):
    """A user-facing error: the message says what was wrong and what was expected.

    A :class:`ValueError`, so callers can catch bad input the usual way.
    """

    exit_code: int = 2


class DatasetError(MotifbenchError):
    """A dataset folder, file or Hub id is missing, broken or inconsistent."""


class VerificationError(DatasetError):
    """`data verify` found a mismatch; the message names the file."""

    exit_code = 3
