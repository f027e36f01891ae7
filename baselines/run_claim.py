"""Claiming a grid cell, so several sweep processes can share one sweep folder.

A process that is about to train or evaluate a run folder first takes an
exclusive, non-blocking ``flock`` on a lock file beside it
(``OUT/<model>/<activation>/.seed<k>.lock``). A second process that finds the
lock held skips that cell (status ``busy``) and moves on to the next, so N
``motifbench sweep`` processes started on the same preset and folder split the
grid between them like workers on one queue. The kernel drops the lock when
its holder exits, crashes or is killed, so an interrupted run is claimed (and,
having no ``COMPLETE`` marker, retrained) by the next sweep that reaches it.
Lock files hold nothing and may stay behind. ``flock`` needs the folder on a
local file system or one that supports it (most NFS setups do; with Ray the
scheduler already runs each cell once).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from baselines.errors import BaselineError

#: How long a claim keeps trying before it calls the cell busy: a status probe holds the lock for a moment,
#: a sweep process for as long as it trains (minutes to hours).
CLAIM_PATIENCE_SECONDS = 1.0


def lock_path(run_dir: Path | str) -> Path:
    """The lock file of a run folder: a hidden file beside it (``.seed3.lock`` for ``.../seed3``)."""
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.lock"


def _try_lock(fd: int, operation: int, path: Path, patience: float) -> bool:
    """flock ``fd`` without blocking, retrying for ``patience`` seconds; False if it stays held elsewhere."""
    deadline = time.monotonic() + patience
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        except OSError as exc:
            if exc.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                raise BaselineError(
                    f"cannot lock {path}: the file system of the sweep folder has no file locks ({exc.strerror}); "
                    "run one sweep process per folder there, or use --runner ray"
                ) from exc
            raise


@contextlib.contextmanager
def claim(run_dir: Path | str, patience: float = CLAIM_PATIENCE_SECONDS) -> Iterator[bool]:
    """Hold the cell's lock for the ``with`` block; yields False (holding nothing) if another process has it.

    Examples
    --------
    >>> with claim("grid/cnn-25/relu/seed0") as mine:   # doctest: +SKIP
    ...     if mine:
    ...         train()
    """
    path = lock_path(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if not _try_lock(fd, fcntl.LOCK_EX, path, patience):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_claimed(run_dir: Path | str) -> bool:
    """Whether a sweep process holds the cell's lock right now (it is training or scoring it).

    Probes with a shared lock on a read-only handle, so it needs no write access and never makes a sweep
    that claims the cell at the same moment give up (claims retry for `CLAIM_PATIENCE_SECONDS`).
    """
    path = lock_path(run_dir)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # no lock file (never claimed) or not readable
    try:
        if not _try_lock(fd, fcntl.LOCK_SH, path, patience=0.0):
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
