"""Infrastructure faults: the server's disk, database or file system failed, not the model.

A job that meets one of these must never end FAILED as if the submitted model
were at fault: the worker hands it back to the queue (no attempt used) and
waits before trying again, and the operator is told what is wrong in words
("the disk holding ... is full") at once.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
from pathlib import Path

#: errno values that mean the machine, not the model, is in trouble.
INFRA_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO, errno.EMFILE, errno.ENFILE})
#: How those look inside a message that crossed a process boundary (the sandbox child's result).
_INFRA_TEXT = re.compile(r"\[Errno (%s)\]|No space left on device|Disk quota exceeded|database or disk is full|"
                         r"Read-only file system|disk I/O error" % "|".join(str(e) for e in sorted(INFRA_ERRNOS)))
#: Below this many free bytes the data home counts as full.
LOW_SPACE_BYTES = 1 << 20


class InfrastructureError(OSError):
    """The data home's disk or database failed; retry later, the submission is not at fault."""


def is_infrastructure_fault(exc: BaseException) -> bool:
    """True for disk-full, quota, read-only, I/O and file-table errors (and SQLite's "disk is full")."""
    if isinstance(exc, InfrastructureError):
        return True
    if isinstance(exc, OSError) and exc.errno in INFRA_ERRNOS:
        return True
    if isinstance(exc, sqlite3.OperationalError):  # SQLite's own words for a full disk / failing device
        return bool(_INFRA_TEXT.search(str(exc)))
    cause = exc.__cause__ or exc.__context__
    return cause is not None and cause is not exc and is_infrastructure_fault(cause)


def is_infrastructure_message(message: str | None) -> bool:
    """True when a child's error message reports an infrastructure fault (``[Errno 28] ...``)."""
    return bool(message and _INFRA_TEXT.search(message))


def free_bytes(path: Path) -> int | None:
    """Free bytes on the file system holding ``path`` (its nearest existing parent), None if unknown."""
    path = Path(path)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def disk_full(path: Path, threshold: int = LOW_SPACE_BYTES) -> bool:
    """True when the file system holding ``path`` has less than ``threshold`` bytes free."""
    free = free_bytes(path)
    return free is not None and free < threshold


def describe(path: Path, exc: BaseException | None = None, threshold: int = LOW_SPACE_BYTES) -> str:
    """One line for the operator, naming a full disk as such."""
    free = free_bytes(path)
    where = os.fspath(path)
    if free is not None and free < threshold:
        return f"the disk holding {where} is full ({free} bytes free); free space and retry"
    if exc is not None and is_infrastructure_fault(exc):
        return f"the disk holding {where} failed: {exc} (full, quota, read-only or I/O error); fix it and retry"
    return f"{where}: {exc}"


#: How a job failed by a full disk reads in a store written before infrastructure faults were retried:
#: the worker's own prefix, then an OSError / SQLite error with a disk errno (a model cannot write this prefix).
_LEGACY_DISK_FAILURE = re.compile(
    r"^(evaluation|worker) error: (OSError|PermissionError|sqlite3\.OperationalError|OperationalError): "
    r"(\[Errno (28|122|30|5)\]|database or disk is full|disk I/O error)")


def failed_for_disk(reason: str | None) -> bool:
    """True when a FAILED job's reason shows the server's disk failed it (the job may run again)."""
    return bool(reason and _LEGACY_DISK_FAILURE.match(reason))
