"""Run one untrusted-model task in a child process with wall-time and memory limits.

The child is ``python -m submissions.run_job TASK.json``: a fresh interpreter
(nothing inherited from the worker but the environment), which caps its own
address space with ``resource.setrlimit(RLIMIT_AS)`` before importing anything
heavy and asks the kernel to kill it if its parent dies (``PR_SET_PDEATHSIG``),
so a SIGKILLed worker never leaves an orphan evaluation running. The parent
waits in short slices, calling ``heartbeat`` between them, and SIGKILLs the
child's whole process group at the wall-clock deadline.

Two launchers: ``"spawn"`` starts a fresh interpreter per task (simplest, and
cheapest for one-off CLI submits); ``"forkserver"`` forks each task from a warm
server process that imported the evaluator once (:mod:`submissions.warm_server`), which
saves the ~2-3 s of imports per job a long-running worker would otherwise pay.
Either way the task runs in its own process with its own limits.

The outcome is classified into something a submitter can act on: finished,
rejected (with the validation code), timeout, out of memory, evaluator error
(with its message) or crash (with the signal).
"""
from __future__ import annotations

import json
import logging
import threading
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.rounds import SECRET_ENV
from submissions.warm_server import WarmServer

log = logging.getLogger(__name__)

#: Environment that keeps numeric libraries to one thread and glibc from
#: reserving an arena per thread (which would eat the address-space limit).
CHILD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
    "PYTHONUNBUFFERED": "1",
}

#: Variables never handed to a child that runs a submitted model: the hidden-test round secret
#: (``benchmark.rounds.SECRET_ENV``, how a Hugging Face Space passes it) stays in the worker.
WITHHELD_ENV = (SECRET_ENV,)

LAUNCHERS = ("spawn", "forkserver")

_PR_SET_DUMPABLE = 4


def guard_process_secrets() -> bool:
    """Keep this process's environment from other processes of its user when it holds the round secret.

    With the secret in :data:`SECRET_ENV` (a Hugging Face Space), a process
    that started with it (``serve``, the worker) still shows it in
    ``/proc/PID/environ`` after any ``os.environ`` change. ``PR_SET_DUMPABLE
    0`` makes those entries readable only to root (and the process itself),
    so a sandboxed child running as the same user cannot read the secret
    from its worker's ``/proc`` entry. Returns True when the guard was set.
    """
    if not os.environ.get(SECRET_ENV):
        return False
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):  # not Linux: nothing like /proc/PID/environ to guard
        return False


def child_environment() -> dict[str, str]:
    """The environment of a sandboxed child: the caller's, minus :data:`WITHHELD_ENV`, plus :data:`CHILD_ENV`."""
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD_ENV}
    return {**env, **CHILD_ENV}


OK, REJECTED, ERROR, TIMEOUT, OUT_OF_MEMORY, CRASHED, ABANDONED, INFRASTRUCTURE = (
    "ok", "rejected", "error", "timeout", "out_of_memory", "crashed", "abandoned", "infrastructure",
)


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one child.

    Parameters
    ----------
    wall_seconds : float
        Wall-clock limit; the child is SIGKILLed when it passes.
    memory_bytes : int or None
        RLIMIT_AS of the child (virtual address space, so leave room for the
        interpreter and libraries: ~1 GiB); None for no limit.
    heartbeat_seconds : float
        How often the parent calls ``heartbeat`` while the child runs.
    """

    wall_seconds: float = 1800.0
    memory_bytes: int | None = 6 * 1024**3
    heartbeat_seconds: float = 5.0


@dataclass
class SandboxOutcome:
    """What happened to the child. ``message`` is meant for the submitter."""

    status: str
    result: Any = None
    code: str | None = None
    message: str = ""
    returncode: int | None = None
    seconds: float = 0.0
    log_tail: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == OK


def run_in_sandbox(
    task: str,
    kwargs: dict[str, Any],
    limits: SandboxLimits,
    workdir: Path,
    heartbeat: Callable[[], bool] | None = None,
    launcher: str = "spawn",
) -> SandboxOutcome:
    """Run ``task`` (``"trial"`` or ``"evaluate"``) with ``kwargs`` in a limited child.

    Parameters
    ----------
    task : str
        Name of a task in :data:`submissions.run_job.TASKS`.
    kwargs : dict
        JSON-able keyword arguments of the task.
    limits : SandboxLimits
    workdir : Path
        Holds the task file, the result file and the child's log.
    heartbeat : callable, optional
        Called every ``limits.heartbeat_seconds``; returning False means the job
        is no longer ours (the store gave it to another worker) and the child
        is killed at once with status ``"abandoned"``.
    launcher : {"spawn", "forkserver"}
        Fresh interpreter per task, or a fork of the warm server.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f"launcher must be one of {LAUNCHERS}, got {launcher!r}")
    workdir.mkdir(parents=True, exist_ok=True)
    task_file, result_file, log_file = workdir / "task.json", workdir / "result.json", workdir / "child.log"
    result_file.unlink(missing_ok=True)
    task_file.write_text(
        json.dumps(
            {
                "task": task,
                "kwargs": kwargs,
                "result_path": str(result_file),
                "memory_bytes": limits.memory_bytes,
                "parent_pid": os.getpid(),
            }
        )
    )
    if launcher == "forkserver":
        # waits until the server is ready (its start-up is not the job's time), heartbeating meanwhile
        server = warm_up(task, heartbeat, limits.heartbeat_seconds)
        start = time.monotonic()
        with server.lock:
            # a forked child starts with the server's environment: hand it the caller's of now
            # (through the pipe, never written to the run folder), without the round secret
            pid = server.start(str(task_file), str(log_file), env=child_environment())
            child = _ForkedChild(server, pid)
            status = _wait(child, limits, start, heartbeat)
            returncode = child.returncode
    else:
        start = time.monotonic()
        with log_file.open("wb") as log_out:
            child = subprocess.Popen(
                [sys.executable, "-m", "submissions.run_job", str(task_file)],
                stdin=subprocess.DEVNULL,
                stdout=log_out,
                stderr=subprocess.STDOUT,
                env=child_environment(),
                start_new_session=True,  # its own process group: one kill reaches any grandchild
            )
            status = _wait(child, limits, start, heartbeat)
            returncode = child.returncode
    seconds = time.monotonic() - start
    tail = _tail(log_file)
    outcome = _classify(status, returncode, result_file, limits, tail)
    outcome.seconds, outcome.returncode, outcome.log_tail = seconds, returncode, tail
    return outcome


_WARM: dict[str, WarmServer] = {}
_WARM_LOCK = threading.Lock()


def warm_up(profile: str = "evaluate", heartbeat: Callable[[], object] | None = None,
            every: float = 5.0) -> WarmServer:
    """This process's fork server for ``profile`` (a task name), started on first use and again if it died.

    A worker calls it before claiming a job, so a job's lease never waits on the server's imports;
    ``heartbeat`` (called every ``every`` seconds while a server starts) covers a restart mid-job.
    Raises RuntimeError if the server does not start.
    """
    with _WARM_LOCK:
        server = _WARM.get(profile)
        if server is None or not server.alive:
            server = _WARM[profile] = WarmServer(child_environment(), profile, while_starting=heartbeat,
                                                 every=every)
        return server


class _ForkedChild:
    """A task forked by the warm server, with the ``wait``/``kill`` calls :func:`_wait` makes."""

    def __init__(self, server: WarmServer, pid: int) -> None:
        self.server, self.pid = server, pid
        self.returncode: int | None = None

    def wait(self, timeout: float) -> None:
        code = self.server.wait(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired("forked task", timeout)
        self.returncode = code

    def kill(self) -> None:
        self.returncode = self.server.kill(self.pid)


def _wait(proc: subprocess.Popen | _ForkedChild, limits: SandboxLimits, start: float, heartbeat: Callable[[], bool] | None) -> str | None:
    """Wait for the child, heartbeating; return TIMEOUT/ABANDONED if we killed it, else None."""
    deadline = start + limits.wall_seconds
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill(proc)
                return TIMEOUT
            try:
                proc.wait(timeout=min(limits.heartbeat_seconds, remaining))
                return None
            except subprocess.TimeoutExpired:
                pass
            if heartbeat is not None and heartbeat() is False:
                _kill(proc)
                return ABANDONED
    except BaseException:  # KeyboardInterrupt / SIGTERM in the worker: never leave the child behind
        _kill(proc)
        raise


def _kill(proc: subprocess.Popen | _ForkedChild) -> None:
    if isinstance(proc, _ForkedChild):
        proc.kill()
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def _tail(log_file: Path, lines: int = 20) -> list[str]:
    try:
        with log_file.open("rb") as f:
            f.seek(max(0, log_file.stat().st_size - 8192))
            return f.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []


def _gib(n: int | None) -> str:
    return "unlimited" if n is None else f"{n / 1024**3:.2g} GiB"


def _classify(killed: str | None, returncode: int | None, result_file: Path, limits: SandboxLimits, tail: list[str]) -> SandboxOutcome:
    if killed == TIMEOUT:
        return SandboxOutcome(TIMEOUT, message=f"timed out: still running after the {limits.wall_seconds:g} s wall-time limit")
    if killed == ABANDONED:
        return SandboxOutcome(ABANDONED, message="abandoned: the job was reassigned while it ran")
    if result_file.is_file():
        try:
            payload = json.loads(result_file.read_text())
        except (OSError, json.JSONDecodeError):
            payload = None
        if isinstance(payload, dict):
            kind = payload.get("kind")
            if kind == OK:
                return SandboxOutcome(OK, result=payload.get("result"))
            if kind == INFRASTRUCTURE:  # classified by exception type in the child, never by message text
                return SandboxOutcome(INFRASTRUCTURE, message=f"server fault, retried later: {payload.get('message', '')}")
            if kind == REJECTED:
                return SandboxOutcome(REJECTED, code=payload.get("code"), message=payload.get("message", ""))
            if kind == OUT_OF_MEMORY:
                return SandboxOutcome(
                    OUT_OF_MEMORY,
                    message=f"out of memory: the model needed more than the {_gib(limits.memory_bytes)} limit "
                    f"({payload.get('message', '')})",
                )
            return SandboxOutcome(ERROR, message=f"evaluation error: {payload.get('message', 'unknown error')}")
    text = "\n".join(tail).lower()
    if returncode == 75:  # run_job could not write its result file (a full disk)
        return SandboxOutcome(INFRASTRUCTURE, message="server fault, retried later: the result file could not be written")
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.Signals._value2member_map_ else str(-returncode)
        if "bad_alloc" in text or "memoryerror" in text or "cannot allocate" in text or returncode == -signal.SIGKILL:
            return SandboxOutcome(
                OUT_OF_MEMORY,
                message=f"out of memory: the child died ({name}) while exceeding the {_gib(limits.memory_bytes)} limit",
            )
        return SandboxOutcome(CRASHED, message=f"crashed: the evaluation process died with {name}")
    last = next((line for line in reversed(tail) if line.strip()), "no output")
    return SandboxOutcome(CRASHED, message=f"crashed: the evaluation process exited with code {returncode} ({last[:300]})")
