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
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path


def lock_path(run_dir: Path | str) -> Path:
    """The lock file of a run folder: a hidden file beside it (``.seed3.lock`` for ``.../seed3``)."""
    run_dir = Path(run_dir)
    return run_dir.parent / f".{run_dir.name}.lock"


@contextlib.contextmanager
def claim(run_dir: Path | str) -> Iterator[bool]:
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
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_claimed(run_dir: Path | str) -> bool:
    """Whether another process holds the cell's lock right now (a live sweep is training or scoring it)."""
    path = lock_path(run_dir)
    if not path.exists():
        return False
    with claim(run_dir) as mine:
        return not mine
