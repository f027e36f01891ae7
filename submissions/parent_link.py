"""Tie a child service process (the evaluation worker) to the life of the process that started it.

``motifbench serve`` starts ``motifbench worker`` as a child. If ``serve`` is
killed (even with SIGKILL, which runs no clean-up), an orphaned worker would
keep claiming and scoring jobs with old code after a restart or upgrade. Two
independent mechanisms stop it:

- Linux's parent-death signal: the worker asks the kernel (``prctl
  PR_SET_PDEATHSIG``) to send it SIGTERM when its parent dies;
- a pipe: the parent keeps the write end of a pipe open and never writes; the
  worker watches the read end, and end-of-file (every write end closed, which
  the kernel does when the parent dies) means the parent is gone. This works
  where ``prctl`` does not (other systems, a parent thread that exited).

Either way the worker gets SIGTERM, which hands a running job back to the
queue. The parent passes ``MOTIFBENCH_PARENT_PID`` and ``MOTIFBENCH_PARENT_FD``
in the child's environment (see :func:`child_link`); the child calls
:func:`die_with_parent` first thing.
"""
from __future__ import annotations

import ctypes
import os
import select
import signal
import sys
import threading

PID_ENV, FD_ENV = "MOTIFBENCH_PARENT_PID", "MOTIFBENCH_PARENT_FD"
_PR_SET_PDEATHSIG = 1


def child_link() -> tuple[dict[str, str], int, int]:
    """For the parent: ``(env additions, read fd to pass to the child, write fd to keep open)``."""
    read_fd, write_fd = os.pipe()
    os.set_inheritable(read_fd, True)
    return {PID_ENV: str(os.getpid()), FD_ENV: str(read_fd)}, read_fd, write_fd


def _set_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch_pipe(fd: int, sig: int) -> None:
    def loop() -> None:
        try:
            while True:
                ready, _, _ = select.select([fd], [], [])
                if ready and not os.read(fd, 1):  # EOF: every write end is closed, the parent is gone
                    break
        except OSError:
            pass
        os.kill(os.getpid(), sig)

    threading.Thread(target=loop, name="parent-watch", daemon=True).start()


def die_with_parent(sig: int = signal.SIGTERM) -> bool:
    """In the child: arrange to receive ``sig`` when the parent named in the environment dies.

    Returns True when a parent link was set up (False when started by hand,
    without the environment variables). Exits at once if the parent is already gone.
    """
    pid, fd = os.environ.pop(PID_ENV, None), os.environ.pop(FD_ENV, None)
    if not pid:
        return False
    _set_pdeathsig(sig)
    if os.getppid() != int(pid):  # the parent died before the signal was armed
        os.kill(os.getpid(), sig)
    if fd is not None:
        try:
            _watch_pipe(int(fd), sig)
        except (ValueError, OSError):
            pass
    return True
